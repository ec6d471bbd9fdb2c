"""How a separate `holdspace health` process (and systemd's watchdog) learns whether the bot is well.

The running bot writes a small heartbeat file next to the database (``<database>.health``, 0600):
whether it is connected to Discord, whether its scheduler task is alive, when its current scheduler
pass began and since when work has been overdue. It rewrites the file at every connect, resume and
disconnect, and every ``HEARTBEAT_EVERY`` in between. `holdspace health` only reads that file: it
needs no key and no Discord connection, and a bot that is hung or gone stops refreshing the file, so
an old heartbeat is itself a failure. Nothing personal is in the file.

Under systemd (``Type=notify``, ``WatchdogSec=``) the same writer tells systemd READY=1 once connected
and WATCHDOG=1 at every heartbeat while the scheduler is current, so a hung bot is restarted. A lost
Discord connection does not stop the pings: discord.py is reconnecting, and a restart would not help.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.files import write_private_atomically
from bot.services.discord_clock import ClockOffset

if TYPE_CHECKING:
    from bot.app import HoldspaceBot

log = logging.getLogger(__name__)

HEARTBEAT_EVERY = timedelta(seconds=30)
#: A heartbeat older than this means the bot is not running (or hung).
STALE_AFTER = timedelta(seconds=120)
#: A scheduler pass running this long, or work overdue this long, means the scheduler is stalled.
SCHEDULER_GRACE = timedelta(minutes=5)


def heartbeat_path(database: Path) -> Path:
    return Path(f"{database}.health")


@dataclass(frozen=True)
class Heartbeat:
    written_at: datetime
    pid: int
    connected: bool
    ever_connected: bool
    since: datetime  # when ``connected`` last changed
    stopped: bool
    servers: int
    scheduler_running: bool
    pass_started_at: datetime | None
    overdue_since: datetime | None
    clock_offset_ms: int | None = None  # Discord's clock minus the host's, once measured

    def to_json(self) -> str:
        data: dict[str, Any] = asdict(self)
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = value.isoformat()
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Heartbeat:
        data = json.loads(text)

        def when(key: str) -> datetime | None:
            value = data.get(key)
            return None if value is None else datetime.fromisoformat(value)

        written, since = when("written_at"), when("since")
        if written is None or since is None:
            raise ValueError("a heartbeat needs written_at and since")
        return cls(
            written_at=written,
            pid=int(data["pid"]),
            connected=bool(data["connected"]),
            ever_connected=bool(data.get("ever_connected", True)),
            since=since,
            stopped=bool(data.get("stopped", False)),
            servers=int(data.get("servers", 0)),
            scheduler_running=bool(data["scheduler_running"]),
            pass_started_at=when("pass_started_at"),
            overdue_since=when("overdue_since"),
            clock_offset_ms=None if data.get("clock_offset_ms") is None else int(data["clock_offset_ms"]),
        )


@dataclass(frozen=True)
class Verdict:
    ok: bool
    line: str


def read_heartbeat(path: Path) -> Heartbeat | None:
    try:
        return Heartbeat.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _ago(now: datetime, then: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def judge(heartbeat: Heartbeat | None, now: datetime, path: Path) -> Verdict:
    """Healthy means: the bot wrote recently, is connected to Discord and its scheduler is current.

    Only the heartbeat's age is measured against ``now``; the rest is judged as of the heartbeat, by
    the bot's own clock, so a separate process with a slightly different clock judges it the same.
    """
    if heartbeat is None:
        return Verdict(False, f"not running: no heartbeat at {path} (is `holdspace run` started?)")
    if heartbeat.stopped:
        return Verdict(False, f"not running: holdspace stopped {_ago(now, heartbeat.written_at)}")
    if now - heartbeat.written_at > STALE_AFTER:
        return Verdict(False, f"not running or hung: the last heartbeat was {_ago(now, heartbeat.written_at)}")
    at = heartbeat.written_at
    if not heartbeat.connected and not heartbeat.ever_connected:
        return Verdict(False, f"starting: not connected to Discord yet ({_ago(at, heartbeat.since)})")
    if not heartbeat.connected:
        return Verdict(False, f"disconnected from Discord since {_ago(at, heartbeat.since)}; reconnecting")
    if not heartbeat.scheduler_running:
        return Verdict(False, "the scheduler has stopped: expiry, reminders and session ends are not running")
    if heartbeat.pass_started_at is not None and at - heartbeat.pass_started_at > SCHEDULER_GRACE:
        return Verdict(False, f"the scheduler is stalled: its current pass began {_ago(at, heartbeat.pass_started_at)}")
    if heartbeat.overdue_since is not None and at - heartbeat.overdue_since > SCHEDULER_GRACE:
        return Verdict(False, f"the scheduler is behind: work due {_ago(at, heartbeat.overdue_since)} is not done")
    servers = "1 server" if heartbeat.servers == 1 else f"{heartbeat.servers} servers"
    return Verdict(True, f"healthy: connected to {servers}, scheduler current; {_clock_text(heartbeat)}")


def _clock_text(heartbeat: Heartbeat) -> str:
    # A clock far off is reported, not judged unhealthy: holdspace keeps Discord's time for deadlines.
    if heartbeat.clock_offset_ms is None:
        return "clock offset from Discord not measured yet"
    return ClockOffset(timedelta(milliseconds=heartbeat.clock_offset_ms), heartbeat.written_at, 0).report()


def notify_systemd(message: str) -> bool:
    """Send ``message`` to systemd's notification socket, if holdspace runs under one (sd_notify)."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # the abstract namespace
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(message.encode(), address)
    except OSError:
        log.warning("could not notify systemd (%s)", message.split("=", 1)[0])
        return False
    return True


def scheduler_current(heartbeat: Heartbeat) -> bool:
    """The scheduler part of :func:`judge`: alive, no pass stuck, nothing long overdue."""
    at = heartbeat.written_at
    return (
        heartbeat.scheduler_running
        and (heartbeat.pass_started_at is None or at - heartbeat.pass_started_at <= SCHEDULER_GRACE)
        and (heartbeat.overdue_since is None or at - heartbeat.overdue_since <= SCHEDULER_GRACE)
    )


class HeartbeatWriter:
    """Keeps the heartbeat file of one running bot current."""

    def __init__(self, bot: HoldspaceBot, path: Path) -> None:
        self.bot = bot
        self.path = path
        self.connected = False
        self.ever_connected = False
        self.since = bot.clock.now()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def attach(self) -> None:
        self.bot.add_listener(self._on_up, "on_ready")
        self.bot.add_listener(self._on_up, "on_resumed")
        self.bot.add_listener(self._on_down, "on_disconnect")

    async def _on_up(self) -> None:
        if not self.connected:
            self.connected, self.since = True, self.bot.clock.now()
            if self.ever_connected:
                log.info("connected to Discord again")
            else:
                notify_systemd("READY=1")
            self.ever_connected = True
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="holdspace-heartbeat")
        await self.write()

    async def _on_down(self) -> None:
        if self.connected:
            self.connected, self.since = False, self.bot.clock.now()
            log.warning("lost the connection to Discord; reconnecting")
        await self.write()

    async def _loop(self) -> None:
        clock = self.bot.clock
        while True:
            await clock.sleep_until(clock.now() + HEARTBEAT_EVERY)
            try:
                await self.write()
            except Exception:
                log.exception("could not write the health heartbeat")

    async def write(self, *, stopped: bool = False) -> Heartbeat:
        async with self._lock:
            scheduler = self.bot.scheduler
            now = self.bot.clock.now()
            earliest: datetime | None = None
            if not stopped:
                with contextlib.suppress(Exception):  # a closed database says nothing about health
                    earliest = await scheduler.earliest_due()
            beat = Heartbeat(
                written_at=now,
                pid=os.getpid(),
                connected=self.connected and not stopped,
                ever_connected=self.ever_connected,
                since=self.since,
                stopped=stopped,
                servers=len(self.bot.guilds),
                scheduler_running=scheduler.running,
                pass_started_at=scheduler.pass_started_at,
                overdue_since=earliest if earliest is not None and earliest < now else None,
                clock_offset_ms=_offset_ms(self.bot.discord_clock.current()),
            )
            await asyncio.to_thread(write_private_atomically, self.path, beat.to_json())
            if stopped:
                notify_systemd("STOPPING=1")
            elif self.ever_connected and scheduler_current(beat):
                notify_systemd("WATCHDOG=1")
            return beat

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(OSError):
            await self.write(stopped=True)


def _offset_ms(offset: ClockOffset | None) -> int | None:
    return None if offset is None else round(offset.offset.total_seconds() * 1000)
