"""`holdspace run` and `holdspace health` as an admin meets them, against the sandbox: one line and
exit 2 when Discord cannot be reached at start, no voice-library warnings, a ready line with counts,
reconnection with back-off after an outage, and a separate `health` process that tells connected,
disconnected and a stalled scheduler apart."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import stat
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import discord
import pytest
from discord.http import Route

from bot.app import HoldspaceBot
from bot.cli import main
from bot.clock import FakeClock
from bot.config import load_settings
from bot.crypto import generate_key
from bot.errors import HoldspaceError
from bot.health import SCHEDULER_GRACE, heartbeat_path, read_heartbeat
from bot.runner import run_bot
from bot.sandbox import FAST_CLIENT_OPTIONS, Sandbox, point_discord_at
from bot.sandbox.settle import WAIT_TIMEOUT
from bot.scheduler import Timer
from tests.conftest import StandardWorld
from tests.e2e.conftest import build_holdspace_world


@pytest.fixture
def clock() -> FakeClock:
    # `holdspace health` is a separate process reading the wall clock: the bot's clock starts there too.
    return FakeClock(datetime.now(UTC))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An admin's folder: config.toml naming the database and a key file, as the README sets it up."""
    monkeypatch.chdir(tmp_path)
    for name in ("HOLDSPACE_KEY", "HOLDSPACE_TOKEN", "HOLDSPACE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "config.toml").write_text('[bot]\ndatabase = "hs.sqlite3"\nkey_file = "hs.key"\n')
    key = tmp_path / "hs.key"
    key.write_text(generate_key() + "\n")
    key.chmod(0o600)
    return tmp_path


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_run_with_discord_unreachable_is_one_line_and_exit_2(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOLDSPACE_TOKEN", "MTIzNDU2Nzg5MDEyMzQ1Njc4.abc.def")
    monkeypatch.setattr(Route, "BASE", f"http://127.0.0.1:{closed_port()}/api/v10")
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("holdspace:")]
    assert len(lines) == 1 and "Traceback" not in err
    assert "cannot reach Discord" in lines[0] and "network" in lines[0]
    assert "MTIzNDU2Nzg5MDEyMzQ1Njc4" not in err


async def test_discord_down_at_start_is_one_clear_error(home: Path, sandbox: Sandbox) -> None:
    world = build_holdspace_world(sandbox)
    point_discord_at(sandbox)
    sandbox.down = True
    with pytest.raises(HoldspaceError, match="Discord answered 503") as caught:
        await run_bot(load_settings(home / "config.toml"), world.token, **FAST_CLIENT_OPTIONS)
    assert "\n" not in str(caught.value)


class Running:
    """`holdspace run` in a task, with the bot it built."""

    def __init__(self, home: Path, sb: Sandbox, world: StandardWorld, clock: FakeClock) -> None:
        self.home, self.sb, self.world, self.clock = home, sb, world, clock
        self.settings = load_settings(home / "config.toml")
        self.bot: HoldspaceBot | None = None
        self.task: asyncio.Task[None] | None = None

    def _created(self, bot: HoldspaceBot) -> None:
        self.bot = bot

    async def start(self) -> HoldspaceBot:
        point_discord_at(self.sb)
        self.task = asyncio.create_task(
            run_bot(self.settings, self.world.token, clock=self.clock, on_created=self._created, **FAST_CLIENT_OPTIONS)
        )
        await until(lambda: self.bot is not None and self.bot.is_ready(), self.task)
        assert self.bot is not None
        return self.bot

    async def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def health(self) -> tuple[int, str]:
        """`holdspace health` as a watchdog runs it: a separate process."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "--config", str(self.home / "config.toml"), "health",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await proc.communicate()
        assert proc.returncode is not None
        return proc.returncode, out.decode().strip()

    def beat(self) -> dict[str, object]:
        beat = read_heartbeat(heartbeat_path(self.settings.database))
        assert beat is not None
        return beat.__dict__


async def until(
    condition: Callable[[], object], task: asyncio.Task[None] | None = None, timeout: float = WAIT_TIMEOUT
) -> None:
    """Wait for a condition (not for a time); fail early if ``task`` ended."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if task is not None and task.done():
            task.result()
            raise AssertionError("holdspace stopped")
        if loop.time() > deadline:
            raise AssertionError("the condition did not come true in time")
        await asyncio.sleep(0.005)


@pytest.fixture
async def running(home: Path, sandbox: Sandbox, clock: FakeClock) -> AsyncIterator[Running]:
    world = build_holdspace_world(sandbox)
    runner = Running(home, sandbox, world, clock)
    try:
        yield runner
    finally:
        await runner.stop()


async def test_start_logs_a_ready_line_and_no_voice_library_warnings(
    running: Running, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # As on a machine without PyNaCl and davey, where discord.py would warn at every start.
    monkeypatch.setattr(discord.VoiceClient, "warn_nacl", True)
    monkeypatch.setattr(discord.VoiceClient, "warn_dave", True)
    with caplog.at_level(logging.INFO):
        await running.start()
        await until(lambda: "ready:" in caplog.text)
    assert "PyNaCl" not in caplog.text and "davey" not in caplog.text
    ready = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ready:")]
    assert ready == ["ready: 1 server, 0 groups"]


async def test_health_connected_disconnected_and_back_after_an_outage(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    assert (await running.health())[0] == 1, "not running yet"
    with caplog.at_level(logging.INFO):
        await running.start()
        await until(lambda: running.beat()["connected"])
        code, line = await running.health()
        assert code == 0
        assert line == "healthy: connected to 1 server, scheduler current; clock offset from Discord not measured yet"

        resumes = running.sb.gateway.resume_count
        await running.sb.go_down()
        await until(lambda: not running.beat()["connected"])
        code, line = await running.health()
        assert code == 1 and line.startswith("disconnected from Discord")

        # discord.py keeps trying with back-off; each failed attempt is one line, not a traceback.
        await until(lambda: running.sb.gateway.refused_while_down >= 1)
        await until(lambda: "Discord is unreachable" in caplog.text)
        unreachable = [r for r in caplog.records if "Discord is unreachable" in r.getMessage()]
        assert all(r.exc_info is None for r in unreachable)
        running.sb.come_back()
        await until(lambda: running.sb.gateway.resume_count > resumes, running.task)
        await until(lambda: running.beat()["connected"])
    assert (await running.health())[0] == 0
    assert running.task is not None and not running.task.done()


@pytest.fixture
def systemd_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """The notification socket systemd gives a Type=notify service."""
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.setblocking(False)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    try:
        yield sock
    finally:
        sock.close()


def notifications(sock: socket.socket) -> list[str]:
    received: list[str] = []
    with contextlib.suppress(BlockingIOError):
        while True:
            received.append(sock.recv(256).decode())
    return received


async def test_health_reports_a_stalled_scheduler(
    running: Running, clock: FakeClock, systemd_socket: socket.socket
) -> None:
    bot = await running.start()
    sent: list[str] = []

    def ready_and_fed() -> bool:
        sent.extend(notifications(systemd_socket))
        return {"READY=1", "WATCHDOG=1"} <= set(sent)

    await until(ready_and_fed)
    assert sent.index("READY=1") < sent.index("WATCHDOG=1")
    stuck = asyncio.Event()

    async def hangs(timer: Timer) -> None:
        stuck.set()
        await asyncio.Event().wait()  # a handler that never returns (say, a hung network call)

    bot.scheduler.timers.register("test-hang", hangs)
    await bot.scheduler.schedule("test-hang", clock.now(), {})
    await asyncio.wait_for(stuck.wait(), 5)
    assert (await running.health())[0] == 0, "a pass that just began is fine"
    before = running.beat()["written_at"]
    notifications(systemd_socket)
    clock.advance(SCHEDULER_GRACE + timedelta(minutes=1))  # the heartbeat wakes and writes again
    await until(lambda: running.beat()["written_at"] != before)
    code, line = await running.health()
    assert code == 1 and line.startswith("the scheduler is stalled")
    # systemd's watchdog is no longer fed, so systemd restarts the hung bot.
    assert "WATCHDOG=1" not in notifications(systemd_socket)


async def test_health_reports_a_stopped_scheduler_and_a_stopped_bot(running: Running, clock: FakeClock) -> None:
    bot = await running.start()
    await bot.scheduler.stop()
    before = running.beat()["written_at"]
    clock.advance(timedelta(seconds=31))
    await until(lambda: running.beat()["written_at"] != before)
    code, line = await running.health()
    assert code == 1 and "scheduler has stopped" in line
    await running.stop()
    code, line = await running.health()
    assert code == 1 and line.startswith("not running: holdspace stopped")


async def test_the_files_a_run_leaves_are_owner_only(running: Running, home: Path) -> None:
    old = os.umask(0o022)
    try:
        await running.start()
        await until(lambda: heartbeat_path(running.settings.database).exists())
    finally:
        os.umask(old)
    await running.stop()
    written = {p.name: stat.S_IMODE(p.stat().st_mode) for p in home.iterdir() if p.name != "config.toml"}
    assert {"hs.sqlite3", "hs.sqlite3.health", "hs.key"} <= set(written)
    assert set(written.values()) == {0o600}, written
