"""Claims: a process acts only on the rows and timers it holds, so two could never do the same work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.core.expiry import snowflake_floor
from bot.services.discord_clock import DiscordClock, stored_offset
from bot.storage import expiry as store
from bot.storage import expiry_claims as claims
from bot.storage import timers as timer_store
from bot.storage.db import Database
from bot.storage.expiry import NewMessage, Room
from bot.storage.migrations import migrate

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
TEXT = 10


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "claims.sqlite3")
    await migrate(database)
    await store.add_room(database, Room(TEXT, "g", None, 0))
    yield database
    await database.close()


async def due_rows(db: Database, count: int) -> list[int]:
    ids = [snowflake_floor(NOW - timedelta(hours=2)) + i for i in range(count)]
    due = store.ms(NOW - timedelta(minutes=1))
    await store.record(db, [NewMessage(TEXT, i, "g", due) for i in ids], {})
    return ids


async def test_a_second_process_gets_none_of_the_rows_the_first_holds(db: Database) -> None:
    ids = await due_rows(db, 5)
    now = store.ms(NOW)
    first = await claims.claim_due(db, TEXT, "one", now, 120_000)
    second = await claims.claim_due(db, TEXT, "two", now, 120_000)
    assert sorted(r.message_id for r in first) == ids and second == []
    assert await claims.channels_due(db, now) == []
    # The first process dies: after its lease the rows are free again, and taken by the other.
    later = now + 120_001
    assert await claims.next_free_due(db) == now + 120_000
    taken = await claims.claim_due(db, TEXT, "two", later, 120_000)
    assert sorted(r.message_id for r in taken) == ids


async def test_released_claims_make_rows_available_at_once(db: Database) -> None:
    await due_rows(db, 3)
    now = store.ms(NOW)
    await claims.claim_due(db, TEXT, "one", now, 120_000)
    await claims.release_claims(db, "one", TEXT)
    assert await claims.channels_due(db, now) == [TEXT]


async def test_a_timer_is_claimed_by_one_process_only(db: Database) -> None:
    await timer_store.upsert(db, "t1", "kind", None, NOW, b"payload")
    lease = NOW + timedelta(minutes=5)
    first = await timer_store.claim_due(db, NOW, kinds=("kind",), owner="one", lease_until=lease, limit=10)
    second = await timer_store.claim_due(db, NOW, kinds=("kind",), owner="two", lease_until=lease, limit=10)
    assert [t.id for t in first] == ["t1"] and second == []
    assert await timer_store.next_free_due(db, kinds=("kind",), now=NOW) == lease
    await timer_store.finish(db, "t1", "one")
    assert await timer_store.next_free_due(db, kinds=("kind",), now=NOW) is None


async def test_the_discord_clock_follows_the_median_of_recent_readings(db: Database) -> None:
    clock = FakeClock(NOW)
    discord_clock = DiscordClock(clock)
    assert discord_clock.now() == NOW and discord_clock.current() is None
    discord_clock.attach(db)
    ahead = timedelta(minutes=10)  # the host is ten minutes ahead of Discord
    for late in (0.05, 0.02, 3.0):  # one reading arrived late: the median ignores it
        discord_clock.observe(snowflake_floor(NOW - ahead - timedelta(seconds=late)))
    assert abs((discord_clock.offset + ahead).total_seconds()) < 0.1
    assert discord_clock.to_host(NOW - ahead) - NOW < timedelta(seconds=0.1)
    current = discord_clock.current()
    assert current is not None and current.too_far and "ahead of" in current.text()
    for _ in range(100):
        stored = await stored_offset(db)
        if stored is not None:
            break
        await clock.sleep_until(clock.now())
    assert stored is not None and round(stored.offset.total_seconds()) == -600
