"""Storage of expiring messages: rows, cursors, re-timing, pins, holds and the group-commit recorder."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.expiry import due_time, snowflake_floor
from bot.services.expiry import Recorder
from bot.storage import expiry as store
from bot.storage.db import Database
from bot.storage.expiry import GroupExpirySettings, NewMessage, Room
from bot.storage.migrations import migrate

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
G = "g1"
TEXT, VOICE, THREAD = 9001, 9002, 9003
HOUR = timedelta(hours=1)
KEEP = GroupExpirySettings(ttl=HOUR, expire_at_session_end=True, keep_pinned=True)


def sf(when: datetime, low: int = 0) -> int:
    return snowflake_floor(when) | low


def row(channel: int, message_id: int, ttl: timedelta | None = HOUR, *, pinned: bool = False) -> NewMessage:
    due = due_time(message_id, ttl)
    return NewMessage(channel, message_id, G, None if due is None else store.ms(due), pinned)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "expiry.sqlite3")
    await migrate(database)
    await store.add_room(database, Room(TEXT, G, None, 0))
    await store.add_room(database, Room(VOICE, G, None, 0))
    await store.add_room(database, Room(THREAD, G, TEXT, 0))
    try:
        yield database
    finally:
        await database.close()


async def ids_of(db: Database, channel: int) -> list[int]:
    rows = await db.fetchall("SELECT message_id FROM expiry_messages WHERE channel_id = ? ORDER BY 1", (channel,))
    return [int(r["message_id"]) for r in rows]


async def test_only_ids_and_due_times_are_stored(db: Database) -> None:
    columns = [r["name"] for r in await db.fetchall("PRAGMA table_info(expiry_messages)")]
    assert set(columns) == {
        "channel_id", "message_id", "group_id", "due_ms", "pinned", "attempts", "last_error",
        "claimed_by", "claim_until_ms",  # which process works on the row, and until when
    }


async def test_record_is_idempotent_and_advances_cursors(db: Database) -> None:
    m1, m2 = sf(NOW, 1), sf(NOW, 2)
    await store.record(db, [row(TEXT, m1), row(TEXT, m2)], {TEXT: m2})
    await store.record(db, [row(TEXT, m1, ttl=None)], {TEXT: m1})  # duplicate, older cursor
    assert await ids_of(db, TEXT) == [m1, m2]
    rooms = {r.channel_id: r for r in await store.rooms(db)}
    assert rooms[TEXT].cursor_id == m2  # never moves backwards
    assert await store.next_due(db) == NOW + HOUR  # the duplicate did not change the due time


async def test_add_room_does_not_move_an_existing_start(db: Database) -> None:
    assert not await store.add_room(db, Room(TEXT, G, None, 12345))
    rooms = {r.channel_id: r for r in await store.rooms(db)}
    assert rooms[TEXT].cursor_id == 0


async def test_due_rows_in_order_and_limited(db: Database) -> None:
    msgs = [row(TEXT, sf(NOW + timedelta(minutes=i), i)) for i in range(5)]
    await store.record(db, msgs, {})
    due = await store.due(db, NOW + HOUR + timedelta(minutes=2), limit=10)
    assert [r.message_id for r in due] == [m.message_id for m in msgs[:3]]
    assert len(await store.due(db, NOW + 2 * HOUR, limit=2)) == 2


async def test_forget_removes_rows(db: Database) -> None:
    msgs = [row(TEXT, sf(NOW, i)) for i in range(3)]
    await store.record(db, msgs, {})
    assert await store.forget(db, TEXT, [msgs[0].message_id, 424242]) == 1
    assert await ids_of(db, TEXT) == [msgs[1].message_id, msgs[2].message_id]


async def test_retry_counts_attempts_and_postpone_does_not(db: Database) -> None:
    m = sf(NOW, 1)
    await store.record(db, [row(TEXT, m)], {})
    await store.retry_later(db, TEXT, [m], NOW + 2 * HOUR, "blocked")
    await store.postpone(db, TEXT, [m], NOW + 3 * HOUR, "held")
    (pending,) = await store.due(db, NOW + 3 * HOUR, limit=5)
    assert pending.attempts == 1
    status = await store.status(db, G)
    assert status.held == 1 and status.next_due == NOW + 3 * HOUR
    await store.retry_later(db, TEXT, [m], NOW + 4 * HOUR, "retry")
    assert (await store.status(db, G)).failures == {"retry": 1}


async def test_still_due_sees_re_timing(db: Database) -> None:
    m1, m2 = sf(NOW, 1), sf(NOW, 2)
    await store.record(db, [row(TEXT, m1), row(TEXT, m2)], {})
    await store.retry_later(db, TEXT, [m2], NOW + 5 * HOUR, "retry")
    assert await store.still_due(db, TEXT, [m1, m2, 77], NOW + HOUR) == {m1}


async def test_settings_change_re_times_every_pending_row(db: Database) -> None:
    posted = [NOW - timedelta(minutes=10 * i) for i in range(4)]
    msgs = [row(TEXT, sf(t, i)) for i, t in enumerate(posted)] + [row(THREAD, sf(NOW, 9), ttl=None)]
    await store.record(db, msgs, {})
    await store.record(db, [NewMessage(VOICE, sf(NOW, 10), "other", store.ms(NOW))], {})
    count = await store.retime_group(db, G, GroupExpirySettings(timedelta(days=7), True, True))
    assert count == 5
    due = {r["message_id"]: r["due_ms"] for r in await db.fetchall("SELECT message_id, due_ms FROM expiry_messages")}
    for m, t in zip(msgs, [*posted, NOW], strict=True):
        assert due[m.message_id] == store.ms(t + timedelta(days=7))
    assert due[sf(NOW, 10)] == store.ms(NOW)  # another group's row is untouched
    await store.retime_group(db, G, GroupExpirySettings(None, True, True))
    assert (await store.status(db, G)).pending == 0
    assert (await store.status(db, G)).waiting == 5  # kept, not lost


async def test_pinned_rows_park_and_come_back(db: Database) -> None:
    m = sf(NOW, 1)
    await store.record(db, [row(TEXT, m)], {})
    assert await store.set_pinned(db, TEXT, m, True, KEEP)
    assert await store.next_due(db) is None
    assert not await store.set_pinned(db, TEXT, m, True, KEEP)  # no change
    assert await store.set_pinned(db, TEXT, m, False, KEEP)
    assert await store.next_due(db) == NOW + HOUR
    # keep_pinned off: a pinned row keeps its due time
    off = GroupExpirySettings(HOUR, True, False)
    assert await store.set_pinned(db, TEXT, m, True, off)
    assert await store.next_due(db) == NOW + HOUR


async def test_reconcile_pins(db: Database) -> None:
    a, b, c = sf(NOW, 1), sf(NOW, 2), sf(NOW, 3)
    await store.record(db, [row(TEXT, a), row(TEXT, b, pinned=True), row(TEXT, c)], {})
    changed = await store.reconcile_pins(db, TEXT, {a, 999}, KEEP)
    assert changed == 2
    rows = await db.fetchall("SELECT message_id, pinned, due_ms FROM expiry_messages")
    flags = {r["message_id"]: (r["pinned"], r["due_ms"]) for r in rows}
    assert flags[a] == (1, None)
    assert flags[b] == (0, store.ms(NOW + HOUR))
    assert flags[c] == (0, store.ms(NOW + HOUR))


async def test_make_due_and_release_postponed(db: Database) -> None:
    a, b = sf(NOW, 1), sf(NOW, 2)
    await store.record(db, [row(TEXT, a), row(TEXT, b)], {})
    await store.postpone(db, TEXT, [a], NOW + 5 * HOUR, "held")
    await store.postpone(db, TEXT, [b], NOW + 5 * HOUR, "pins")
    assert await store.make_due(db, TEXT, a, NOW)
    assert not await store.make_due(db, TEXT, 31337, NOW)
    assert await store.release_postponed(db, TEXT, "pins", NOW) == 1
    assert {r.message_id for r in await store.due(db, NOW, limit=5)} == {a, b}


async def test_session_end_makes_the_session_s_messages_due(db: Database) -> None:
    started = NOW - HOUR
    before, during, pinned = sf(started - timedelta(minutes=1), 1), sf(started, 2), sf(NOW, 3)
    await store.record(db, [row(TEXT, before, ttl=None), row(THREAD, during, ttl=None), row(TEXT, pinned)], {})
    await store.set_pinned(db, TEXT, pinned, True, KEEP)
    count = await store.make_group_due(db, G, snowflake_floor(started), NOW)
    assert count == 1
    assert [r.message_id for r in await store.due(db, NOW, limit=10)] == [during]
    rows = await store.group_rows(db, G, snowflake_floor(started))
    assert {(r.message_id, r.pinned) for r in rows} == {(during, False), (pinned, True)}


async def test_drop_room_drops_its_threads_too(db: Database) -> None:
    await store.record(db, [row(TEXT, sf(NOW, 1)), row(THREAD, sf(NOW, 2)), row(VOICE, sf(NOW, 3))], {})
    assert await store.drop_room(db, TEXT) == 2
    assert {r.channel_id for r in await store.rooms(db)} == {VOICE}
    assert await ids_of(db, VOICE) == [sf(NOW, 3)]


async def test_recorder_commits_in_batches_before_returning(db: Database) -> None:
    committed: list[int] = []
    recorder = Recorder(db, delay=0.01, on_commit=lambda rows, earliest: committed.append(len(rows)))
    msgs = [row(TEXT, sf(NOW, i)) for i in range(300)]
    await asyncio.gather(*(recorder.add(m, advance_cursor=True) for m in msgs))
    assert len(await ids_of(db, TEXT)) == 300  # every add returned only after its commit
    assert sum(committed) == 300 and len(committed) <= 3
    rooms = {r.channel_id: r for r in await store.rooms(db)}
    assert rooms[TEXT].cursor_id == msgs[-1].message_id


async def test_recorder_only_advances_cursors_when_told(db: Database) -> None:
    recorder = Recorder(db, delay=0.0)
    await recorder.add(row(VOICE, sf(NOW, 5)), advance_cursor=False)
    rooms = {r.channel_id: r for r in await store.rooms(db)}
    assert rooms[VOICE].cursor_id == 0 and await ids_of(db, VOICE) == [sf(NOW, 5)]


async def test_recorder_failure_is_reported_not_swallowed(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    failed: list[set[int]] = []
    recorder = Recorder(db, delay=0.0, on_failure=failed.append)

    async def broken(*args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "record", broken)
    monkeypatch.setattr(asyncio, "sleep", _no_sleep)
    with pytest.raises(RuntimeError):
        await recorder.add(row(TEXT, sf(NOW, 1)), advance_cursor=True)
    assert failed == [{TEXT}]


_real_sleep = asyncio.sleep


async def _no_sleep(delay: float, *args: object) -> None:
    await _real_sleep(0)
