"""What every benchmark shares: results with targets, the sandbox stage, and holdspace in its own process.

The layout is production's: the sandbox (standing in for Discord) runs in the benchmark's process and
the real holdspace bot runs as ``holdspace run`` in a second process (``benchmarks/botproc.py``), with
production client options, talking to the sandbox over HTTP and the gateway on 127.0.0.1. Times are
taken on the sandbox's side (when a gateway frame left it, when a request reached it), so they
include everything holdspace does in between. ``time.monotonic()`` is the system-wide monotonic
clock on Linux, so times taken in both processes are comparable.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import gc
import json
import math
import os
import platform
import py_compile
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.bootstrap import open_database
from bot.clock import SystemClock
from bot.config import load_settings
from bot.core.records import GroupInfo
from bot.crypto import KeyRing, generate_key
from bot.sandbox import RateLimitConfig, Sandbox, wire
from bot.sandbox import permissions as P
from bot.sandbox.gateway import GUILD_MEMBERS
from bot.sandbox.world import Application, Channel, Guild, Member, User
from bot.storage import consents as consent_store
from bot.storage import groups as group_store
from bot.storage import guilds as guild_store

ROOT = Path(__file__).resolve().parents[1]

#: The model of Discord's rate limits in docs/sandbox.md: 5 requests per 5 s per route and major
#: parameter, 50 requests per second per bot overall.
DISCORD_LIMITS = RateLimitConfig(route_limit=5, route_window=5.0, global_limit=50)
NO_LIMITS = RateLimitConfig()

BOT_PERMISSIONS = (
    P.VIEW_CHANNEL
    | P.SEND_MESSAGES
    | P.MANAGE_MESSAGES
    | P.READ_MESSAGE_HISTORY
    | P.MANAGE_CHANNELS
    | P.MANAGE_ROLES
    | P.MOVE_MEMBERS
    | P.CONNECT
    | P.EMBED_LINKS
    | P.VIEW_AUDIT_LOG
    | P.KICK_MEMBERS
    | P.BAN_MEMBERS
    | P.MANAGE_NICKNAMES
    | P.MANAGE_THREADS
)

DISCONNECT = ("PATCH", "/guilds/{guild_id}/members/{user_id}")


# -- results -------------------------------------------------------------------------------------------


@dataclass
class Result:
    key: str
    value: float | int | None
    unit: str
    text: str
    target: str
    ok: bool | None  # None: information only
    bench: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


class Results:
    def __init__(self) -> None:
        self.items: list[Result] = []
        self.bench = ""

    def add(
        self,
        key: str,
        value: float | int | None,
        unit: str,
        text: str,
        target: str = "information only",
        ok: bool | None = None,
        **detail: Any,
    ) -> Result:
        r = Result(key, value, unit, text, target, ok, self.bench, detail)
        self.items.append(r)
        mark = "info" if ok is None else ("ok  " if ok else "MISS")
        print(f"{mark} {key}: {text} (target: {target})", flush=True)
        return r

    @property
    def missed(self) -> list[Result]:
        return [r for r in self.items if r.ok is False]


RESULTS = Results()


def pct(values: Iterable[float], q: float) -> float:
    """The q-quantile by the nearest-rank method (p99 of 100 values is the 99th smallest)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def median(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.median(values) if values else math.nan


def least_time(count: int, limits: RateLimitConfig, *, route: str | None = None) -> float:
    """The least time from the first to the last of ``count`` requests to one bucket under ``limits``."""
    limit, window = limits.overrides.get(route or "", (limits.route_limit, limits.route_window))
    by_route = (math.ceil(count / limit) - 1) * window
    by_global = 0.0
    if limits.global_limit is not None:
        by_global = (math.ceil(count / limits.global_limit) - 1) * limits.global_window
    return max(by_route, by_global, 0.0)


def within_least(elapsed: float, least: float) -> tuple[bool, float]:
    """'Within 10% of the least time the limits allow'; for a handful of requests (least time 0 or
    tiny) the bound is the first-reaction bound of 100 ms beyond the least time instead."""
    bound = max(least * 1.1, least + 0.1)
    return elapsed <= bound, bound


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "load_average_1m": round(load[0], 2),
    }


# -- gateway frame times --------------------------------------------------------------------------------


class FrameLog:
    """When each dispatch frame left the sandbox (after its send), by sequence number and event name.

    Taken by wrapping aiohttp's ``WebSocketResponse.send_str`` in this process (only the sandbox
    serves WebSockets here), so the sandbox itself is unchanged.
    """

    def __init__(self) -> None:
        self.sent: dict[int, float] = {}
        self.by_event: dict[str, list[tuple[int, float]]] = {}
        self._original: Any = None

    def install(self) -> None:
        original = web.WebSocketResponse.send_str
        log = self

        async def send_str(ws: web.WebSocketResponse, data: str, compress: int | None = None) -> None:
            await original(ws, data, compress=compress)
            fields = wire.dispatch_fields(data)
            if fields is not None:
                name, seq, _, _ = fields
                now = time.monotonic()
                log.sent[seq] = now
                log.by_event.setdefault(name, []).append((seq, now))

        self._original = original
        setattr(web.WebSocketResponse, "send_str", send_str)  # noqa: B010

    def uninstall(self) -> None:
        if self._original is not None:
            setattr(web.WebSocketResponse, "send_str", self._original)  # noqa: B010
            self._original = None

    def first(self, event: str, after: float = 0.0) -> float | None:
        for _, at in self.by_event.get(event, []):
            if at >= after:
                return at
        return None


# -- the world ------------------------------------------------------------------------------------------


@dataclass
class GroupRooms:
    info: GroupInfo
    text: Channel
    voice: Channel
    members: list[Member]  # enrolled and consenting


@dataclass
class Stage:
    """A sandbox with a server set up the way a practice using holdspace has it, and its database."""

    sb: Sandbox
    tmp: Path
    owner: User
    guild: Guild
    app: Application
    facilitator_role: Any
    moderator_role: Any
    log_channel: Channel
    groups: list[GroupRooms] = field(default_factory=list)
    others: list[Member] = field(default_factory=list)  # members of the server in no group
    bots: list[Member] = field(default_factory=list)  # other bots holding Administrator
    key: str = field(default_factory=generate_key)
    frames: FrameLog = field(default_factory=FrameLog)

    @property
    def config_path(self) -> Path:
        return self.tmp / "config.toml"

    @property
    def database(self) -> Path:
        return self.tmp / "holdspace.sqlite3"

    def settings(self) -> Any:
        return load_settings(self.config_path)

    def ring(self) -> KeyRing:
        return KeyRing.parse(self.key)


def write_config(stage: Stage, extra: str = "") -> None:
    stage.config_path.write_text(
        '[bot]\ndatabase = "holdspace.sqlite3"\nlog_level = "warning"\n' + extra, encoding="utf-8"
    )


@contextlib.asynccontextmanager
async def stage(
    *,
    groups: int = 1,
    per_group: int = 8,
    others: int = 0,
    bots: int = 0,
    ttl: timedelta | None = timedelta(hours=24),
    limits: RateLimitConfig = NO_LIMITS,
    config_extra: str = "",
) -> AsyncIterator[Stage]:
    """A fresh sandbox world and holdspace database: ``groups`` groups of ``per_group`` consenting
    members each, ``others`` further members of the server, ``bots`` other bots holding
    Administrator (not allowed by the guard)."""
    with tempfile.TemporaryDirectory(prefix="hs-bench-") as raw:
        tmp = Path(raw)
        sb = Sandbox(clock=SystemClock(), check_spec=False, rate_limits=RateLimitConfig(**vars(NO_LIMITS)))
        frames = FrameLog()
        frames.install()
        try:
            async with sb:
                st = _build(sb, tmp, groups=groups, per_group=per_group, others=others, bots=bots)
                st.frames = frames
                write_config(st, config_extra)
                await _seed(st, ttl)
                set_limits(st, limits)
                # The world stands in for Discord: its garbage-collector passes over thousands of
                # members must not land inside a measurement and count as holdspace's time.
                gc.collect()
                gc.freeze()
                yield st
        finally:
            gc.unfreeze()
            frames.uninstall()


def set_limits(st: Stage, limits: RateLimitConfig) -> None:
    st.sb.ratelimiter.config = RateLimitConfig(
        limits.route_limit, limits.route_window, limits.global_limit, limits.global_window, dict(limits.overrides)
    )


def _build(sb: Sandbox, tmp: Path, *, groups: int, per_group: int, others: int, bots: int) -> Stage:
    owner = sb.create_user("owner")
    guild = sb.create_guild("Practice", owner=owner)
    app = sb.create_application("holdspace", owner=owner, intents_enabled=GUILD_MEMBERS)
    guild.add_bot(app, permissions=BOT_PERMISSIONS)
    facilitator = guild.create_role("Facilitator", position=1)
    moderator = guild.create_role("Moderator", position=1)
    log_channel = guild.create_text_channel("mod-log")
    st = Stage(sb, tmp, owner, guild, app, facilitator, moderator, log_channel)
    for i in range(groups):
        text = guild.create_text_channel(f"group-{i}")
        voice = guild.create_voice_channel(f"group-{i}-voice")
        members = [guild.add_member(sb.create_user(f"m{i}-{j}")) for j in range(per_group)]
        info = GroupInfo(
            id=uuid.uuid4().hex,
            guild_id=guild.id,
            name=f"Group {i}",
            text_channel_id=text.id,
            voice_channel_id=voice.id,
        )
        st.groups.append(GroupRooms(info, text, voice, members))
    st.others = [guild.add_member(sb.create_user(f"o{j}")) for j in range(others)]
    for j in range(bots):
        other = sb.create_application(f"otherbot{j}", owner=owner)
        st.bots.append(guild.add_bot(other, permissions=P.ADMINISTRATOR))
    _settle_rooms(st)
    return st


def _settle_rooms(st: Stage) -> None:
    """Give each group room the overwrites holdspace keeps there (as after an earlier run), so the
    measured runs start from a settled server; the warm-up run corrects whatever differs."""
    from bot.core import overwrites as ow
    from bot.core.guard import BOT_DENY

    me = st.app.bot.id
    for g in st.groups:
        rooms = ow.GroupRooms(text_channel_id=g.text.id, voice_channel_id=g.voice.id)
        want = ow.desired_for_channel(rooms, [m.id for m in g.members], st.facilitator_role.id, me, st.guild.id)
        for b in st.bots:
            want[ow.Target(ow.MEMBER, b.id)] = ow.Want(deny=BOT_DENY)
        for channel in (g.text, g.voice):
            channel.overwrites = {
                t.id: P.Overwrite(t.id, P.ROLE_OVERWRITE if t.kind == ow.ROLE else P.MEMBER_OVERWRITE, w.allow, w.deny)
                for t, w in want.items()
            }


async def _seed(st: Stage, ttl: timedelta | None) -> None:
    """Write the server's set-up, the groups, enrolments and consents as holdspace would have them."""
    settings = st.settings()
    ring = st.ring()
    db = await open_database(settings, ring)
    now = datetime.now(UTC)
    try:
        await guild_store.save(
            db,
            guild_store.GuildRow(
                st.guild.id, st.facilitator_role.id, st.moderator_role.id, st.log_channel.id, None, None, "UTC"
            ),
            now,
        )
        for g in st.groups:
            info = GroupInfo.with_defaults(
                settings.defaults,
                id=g.info.id,
                guild_id=g.info.guild_id,
                name=g.info.name,
                text_channel_id=g.info.text_channel_id,
                voice_channel_id=g.info.voice_channel_id,
                ttl=ttl,
            )
            g.info = await group_store.insert_group(db, ring, info, "Be kind. What is said here stays here.", now)
            for m in g.members:
                await group_store.enrol(db, ring, g.info.id, m.id, now)
                await consent_store.record(
                    db,
                    ring,
                    group_id=g.info.id,
                    member_id=m.id,
                    answer="agree",
                    at=now,
                    method="command",
                    version=g.info.agreement_version,
                    sha256=g.info.agreement_sha256,
                )
    finally:
        await db.close()


# -- holdspace in its own process -----------------------------------------------------------------------


def compile_holdspace() -> None:
    """Compile holdspace's modules to bytecode once, as installing it does (pip, the container image):
    otherwise, where ``PYTHONDONTWRITEBYTECODE`` is set, every bot process would compile its sources
    afresh at start and the start-up figures would measure the compiler."""
    import compileall

    for package in ("bot", "cogs", "benchmarks"):
        compileall.compile_dir(ROOT / package, quiet=1, invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)


class BotProcess:
    """``holdspace run`` against the sandbox, in a child process (benchmarks/botproc.py)."""

    def __init__(self, st: Stage, *, breakage: str | None = None, gateway: str | None = None) -> None:
        self.st = st
        self.gateway = gateway or st.sb.gateway_url  # a relay of the sandbox's gateway (loadgen), if given
        self.breakage = breakage if breakage is not None else os.environ.get("HOLDSPACE_BENCH_BREAK", "")
        self.proc: subprocess.Popen[bytes] | None = None
        self.spawned_at = 0.0
        self.log_path = st.tmp / f"bot-{int(time.time() * 1000)}.log"

    def start(self) -> None:
        env = dict(os.environ)
        env.update(
            {
                "HOLDSPACE_TOKEN": self.st.app.token,
                "HOLDSPACE_KEY": self.st.key,
                "HOLDSPACE_CONFIG": str(self.st.config_path),
                "HOLDSPACE_BENCH_API": self.st.sb.api_base,
                "HOLDSPACE_BENCH_GATEWAY": self.gateway,
                "HOLDSPACE_BENCH_BREAK": self.breakage,
                "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
            }
        )
        self._log = self.log_path.open("wb")
        self.spawned_at = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.botproc", "run"], env=env, stdout=self._log, stderr=self._log, cwd=ROOT
        )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def rss_mib(self) -> tuple[float, float]:
        """(current RSS, peak RSS) of the bot process in MiB, from /proc."""
        values: dict[str, float] = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024
        return values.get("VmRSS", math.nan), values.get("VmHWM", math.nan)

    async def wait_ready(self, timeout: float = 60.0) -> None:
        """Until holdspace's gateway session is live and every GUILD_CREATE has left the sandbox."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"holdspace exited with {self.proc.returncode}: {self.tail()}")
            live = self.st.sb.gateway.live_sessions(self.st.app)
            if live and self.st.frames.first("GUILD_CREATE", self.spawned_at) is not None:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"holdspace did not connect: {self.tail()}")
            await asyncio.sleep(0.01)

    async def wait_quiet(self, quiet: float = 1.0, timeout: float = 120.0) -> None:
        """Until holdspace has sent no request for ``quiet`` seconds (its start-up work is done)."""
        deadline = time.monotonic() + timeout
        while True:
            reqs = self.st.sb.requests
            last = max((r.started for r in reqs[-50:]), default=self.spawned_at)
            last = max(last, self.spawned_at)
            now = time.monotonic()
            if now - last >= quiet:
                return
            if now > deadline:
                raise TimeoutError("holdspace did not settle")
            await asyncio.sleep(0.05)

    def tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    async def stop(self, timeout: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        proc = self.proc
        await wait_for(lambda: proc.poll() is not None, timeout, 0.05)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


@contextlib.asynccontextmanager
async def holdspace(
    st: Stage, *, ready: bool = True, quiet: float | None = 3.0, gateway: str | None = None
) -> AsyncIterator[BotProcess]:
    bot = BotProcess(st, gateway=gateway)
    bot.start()
    try:
        if ready:
            await bot.wait_ready()
            if quiet is not None:
                await bot.wait_quiet(quiet)
        yield bot
    finally:
        await bot.stop()


async def warm_up(st: Stage) -> None:
    """Run holdspace once so the rooms carry what it wants (as after any earlier run), then stop it."""
    limits = st.sb.ratelimiter.config
    set_limits(st, NO_LIMITS)
    try:
        async with holdspace(st, quiet=3.0):
            pass
    finally:
        set_limits(st, limits)


def requests_since(st: Stage, since: float) -> list[Any]:
    """The requests that reached the sandbox at ``since`` or later. They are kept in the order they came
    (each stamped as it is appended), so a burst's wait looks at the burst's requests only, not at every
    request of the run ten times a second while holdspace works beside it."""
    requests = st.sb.requests
    return requests[bisect.bisect_left(requests, since, key=lambda r: r.started) :]


def disconnects(st: Stage, since: float = 0.0, user_ids: set[int] | None = None) -> dict[int, float]:
    """user id -> arrival time of the first disconnect request for them since ``since``."""
    out: dict[int, float] = {}
    for r in requests_since(st, since):
        if r.method != "PATCH" or r.route != DISCONNECT[1]:
            continue
        if not isinstance(r.json, dict) or "channel_id" not in r.json or r.json["channel_id"] is not None:
            continue
        uid = int(r.path.rsplit("/", 1)[1])
        if user_ids is not None and uid not in user_ids:
            continue
        out.setdefault(uid, r.started)
    return out


def disconnect_finishes(st: Stage, since: float = 0.0) -> dict[int, float]:
    out: dict[int, float] = {}
    for r in requests_since(st, since):
        if r.method != "PATCH" or r.route != DISCONNECT[1] or not r.finished:
            continue
        if isinstance(r.json, dict) and r.json.get("channel_id", 0) is None and r.status < 300:
            out.setdefault(int(r.path.rsplit("/", 1)[1]), r.finished)
    return out


async def wait_for(predicate: Callable[[], Any], timeout: float, poll: float = 0.01) -> bool:
    """Poll ``predicate`` until it holds; False on timeout (a benchmark reports it, never hangs)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(poll)


# -- watching the database from outside -------------------------------------------------------------------


class RowWatcher:
    """Notes when each expiring-message row first became visible to another connection (committed).

    Runs in a thread with its own read-only SQLite connection (WAL: readers see committed data only),
    polling every ``interval`` seconds; a row's time is therefore at most one interval (plus a query)
    after its commit.
    """

    def __init__(self, database: Path, *, interval: float = 0.002) -> None:
        self.database = database
        self.interval = interval
        self.seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RowWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        conn = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, check_same_thread=False)
        last = 0
        try:
            while not self._stop.is_set():
                rows = conn.execute(
                    "SELECT message_id FROM expiry_messages WHERE message_id > ? ORDER BY message_id", (last,)
                ).fetchall()
                now = time.monotonic()
                for (mid,) in rows:
                    self.seen.setdefault(mid, now)
                if rows:
                    last = rows[-1][0]
                time.sleep(self.interval)
        finally:
            conn.close()


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n", encoding="utf-8")


@contextlib.asynccontextmanager
async def database(st: Stage) -> AsyncIterator[Any]:
    """holdspace's database, opened while holdspace is stopped (to set up a scenario)."""
    db = await open_database(st.settings(), st.ring())
    try:
        yield db
    finally:
        await db.close()


def wall(monotonic: float) -> float:
    """A monotonic time as a wall-clock timestamp."""
    return monotonic + (time.time() - time.monotonic())
