"""The durable scheduler: fires on time with the injected clock, wakes early, retries, survives restarts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.crypto import KeyRing
from bot.scheduler import RetryLater, Scheduler, Timer
from bot.storage import migrations
from bot.storage.db import Database


async def eventually(predicate: Callable[[], bool], timeout: float = 2.0) -> None:
    """Let the event loop run until ``predicate`` holds (no fixed sleeps)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.001)


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing.generate()


async def open_db(path: Path) -> Database:
    db = await Database.open(path)
    await migrations.migrate(db)
    return db


async def test_timer_fires_when_the_clock_passes_its_due_time(tmp_path: Path, ring: KeyRing) -> None:
    clock = FakeClock()
    db = await open_db(tmp_path / "hs.db")
    scheduler = Scheduler(clock, db, ring)
    fired: list[Timer] = []

    async def handler(timer: Timer) -> None:
        fired.append(timer)

    scheduler.timers.register("ping", handler)
    scheduler.start()
    await scheduler.schedule("ping", clock.now() + timedelta(minutes=10), {"member": 1234})
    await eventually(lambda: clock.sleeping > 0)
    clock.advance(timedelta(minutes=9))
    for _ in range(20):
        await asyncio.sleep(0)
    assert fired == []
    clock.advance(timedelta(minutes=1))
    await eventually(lambda: len(fired) == 1)
    assert fired[0].payload == {"member": 1234}
    assert await db.fetchval("SELECT COUNT(*) FROM timers") == 0
    await scheduler.stop()
    await db.close()


async def test_an_earlier_timer_wakes_the_sleeping_task(tmp_path: Path, ring: KeyRing) -> None:
    clock = FakeClock()
    db = await open_db(tmp_path / "hs.db")
    scheduler = Scheduler(clock, db, ring)
    fired: list[str] = []

    async def handler(timer: Timer) -> None:
        fired.append(timer.payload["name"])

    scheduler.timers.register("ping", handler)
    scheduler.start()
    await scheduler.schedule("ping", clock.now() + timedelta(hours=5), {"name": "late"})
    await scheduler.schedule("ping", clock.now() + timedelta(minutes=1), {"name": "early"})
    await eventually(lambda: clock.sleeping > 0)
    clock.advance(timedelta(minutes=1))
    await eventually(lambda: fired == ["early"])
    await scheduler.stop()
    await db.close()


async def test_failed_handler_keeps_the_timer_and_retries(tmp_path: Path, ring: KeyRing) -> None:
    clock = FakeClock()
    db = await open_db(tmp_path / "hs.db")
    scheduler = Scheduler(clock, db, ring)
    attempts: list[int] = []

    async def handler(timer: Timer) -> None:
        attempts.append(timer.attempts)
        if len(attempts) == 1:
            raise RuntimeError("Discord was down")
        if len(attempts) == 2:
            raise RetryLater(timedelta(minutes=2))

    scheduler.timers.register("flaky", handler)
    await scheduler.schedule("flaky", clock.now(), {})
    await scheduler.run_once()
    assert attempts == [0]
    assert await db.fetchval("SELECT COUNT(*) FROM timers") == 1
    clock.advance(timedelta(minutes=1))
    await scheduler.run_once()
    assert attempts == [0, 1]
    clock.advance(timedelta(minutes=1))
    await scheduler.run_once()
    assert attempts == [0, 1]
    clock.advance(timedelta(minutes=1))
    await scheduler.run_once()
    assert attempts == [0, 1, 2]
    assert await db.fetchval("SELECT COUNT(*) FROM timers") == 0
    await db.close()


async def test_timers_survive_a_restart_and_keyed_timers_replace(tmp_path: Path, ring: KeyRing) -> None:
    clock = FakeClock()
    db = await open_db(tmp_path / "hs.db")
    scheduler = Scheduler(clock, db, ring)
    await scheduler.schedule("end", clock.now() + timedelta(hours=1), {"v": 1}, key="session-1")
    await scheduler.schedule("end", clock.now() + timedelta(hours=2), {"v": 2}, key="session-1")
    await db.close()

    db = await open_db(tmp_path / "hs.db")
    scheduler = Scheduler(clock, db, ring)
    seen: list[int] = []

    async def handler(timer: Timer) -> None:
        seen.append(timer.payload["v"])

    scheduler.timers.register("end", handler)
    clock.advance(timedelta(hours=1))
    await scheduler.run_once()
    assert seen == []
    clock.advance(timedelta(hours=1))
    await scheduler.run_once()
    assert seen == [2]
    await db.close()


async def test_payload_is_not_stored_in_clear(tmp_path: Path, ring: KeyRing) -> None:
    clock = FakeClock()
    db = await open_db(tmp_path / "hs.db")
    scheduler = Scheduler(clock, db, ring)
    await scheduler.schedule("dm", clock.now(), {"member": 987654321098765432})
    await db.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"987654321098765432" not in raw
