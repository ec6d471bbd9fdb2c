"""Expiring messages: the rows the expiry queue works from, the rooms it watches, group settings.

Only ids and due times are stored (see migrations/0005_expiry.sql). Times are milliseconds since
the Unix epoch; a message's own time comes from its snowflake id. Every function that changes more
than one row does so in one transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiosqlite

from bot.core.expiry import DISCORD_EPOCH_MS, snowflake_ms
from bot.storage.db import Database
from bot.storage.times import from_ms
from bot.storage.times import to_ms as ms  # the expiry service writes due times with store.ms

# SQL expression: when the message of this row was posted (ms since the Unix epoch).
_POSTED_MS = f"((message_id >> 22) + {DISCORD_EPOCH_MS})"
_CHUNK = 500  # ids per IN (...) list, well under SQLite's parameter limit


@dataclass(frozen=True)
class Room:
    channel_id: int
    group_id: str
    parent_id: int | None
    cursor_id: int
    watch_from_id: int = 0  # the room is the group's from this message id on


@dataclass(frozen=True)
class PendingRow:
    channel_id: int
    message_id: int
    group_id: str
    pinned: bool
    attempts: int
    due_ms: int | None = None


@dataclass(frozen=True)
class NewMessage:
    """A message to record: ``due_ms`` None means it does not expire by age (yet)."""

    channel_id: int
    message_id: int
    group_id: str
    due_ms: int | None
    pinned: bool = False


def _pending(r: sqlite3.Row) -> PendingRow:
    return PendingRow(
        int(r["channel_id"]), int(r["message_id"]), str(r["group_id"]), bool(r["pinned"]), int(r["attempts"])
    )


@dataclass(frozen=True)
class GroupExpirySettings:
    ttl: timedelta | None
    expire_at_session_end: bool
    keep_pinned: bool


@dataclass(frozen=True)
class QueueStatus:
    pending: int  # rows with a due time
    waiting: int  # rows without one (no ttl, or pinned and kept)
    next_due: datetime | None
    failures: dict[str, int]  # last_error -> rows that failed at least once and are still queued
    held: int
    session_kept: int = 0  # ground-rules reminders of a running session (removed at its end)


def _chunks(values: Sequence[int], size: int = _CHUNK) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# -- settings ----------------------------------------------------------------------------------


async def retime_group(db: Database, group_id: str, settings: GroupExpirySettings) -> int:
    """Re-time a group's pending rows to its (new) settings; returns the rows re-timed.

    Called inside the transaction that stores the settings, so both happen or neither does.
    """
    async with db.transaction() as conn:
        count = await _retime(conn, "group_id = ?", (group_id,), settings)
        await apply_promises(conn, group_id)
        return count


async def _retime(
    conn: aiosqlite.Connection, where: str, params: tuple[object, ...], settings: GroupExpirySettings
) -> int:
    """Due time from the message's own time and the ttl; pinned rows kept where keep_pinned."""
    ttl_ms = None if settings.ttl is None else int(settings.ttl.total_seconds() * 1000)
    cursor = await conn.execute(
        "UPDATE expiry_messages SET due_ms = CASE "
        "WHEN pinned = 1 AND ? = 1 THEN NULL "
        f"WHEN ? IS NULL THEN NULL ELSE {_POSTED_MS} + ? END "
        f"WHERE {where} AND COALESCE(last_error, '') != 'session'",
        (int(settings.keep_pinned), ttl_ms, ttl_ms, *params),
    )
    return int(cursor.rowcount or 0)


# -- rooms -------------------------------------------------------------------------------------


async def rooms(db: Database) -> list[Room]:
    rows = await db.fetchall("SELECT channel_id, group_id, parent_id, cursor_id, watch_from_id FROM expiry_rooms")
    return [
        Room(
            int(r["channel_id"]),
            str(r["group_id"]),
            None if r["parent_id"] is None else int(r["parent_id"]),
            int(r["cursor_id"]),
            int(r["watch_from_id"]),
        )
        for r in rows
    ]


async def cursor_of(db: Database, channel_id: int, default: int) -> int:
    """The stored cursor of a room (``default`` if the room is not stored)."""
    value = await db.fetchval("SELECT cursor_id FROM expiry_rooms WHERE channel_id = ?", (channel_id,))
    return default if value is None else max(int(value), default)


async def add_room(db: Database, room: Room) -> bool:
    """Start watching a room at ``room.cursor_id``; False if it was already watched (nothing changes)."""
    result = await db.execute(
        "INSERT OR IGNORE INTO expiry_rooms (channel_id, group_id, parent_id, cursor_id, watch_from_id) "
        "VALUES (?, ?, ?, ?, ?)",
        (room.channel_id, room.group_id, room.parent_id, room.cursor_id, room.watch_from_id),
    )
    return result.rowcount > 0


async def move_room(db: Database, room: Room) -> None:
    """A room that belonged to a deleted group now belongs to ``room.group_id`` from ``room.cursor_id``.

    Rows still pending from the old group stay as they are.
    """
    await db.execute(
        "UPDATE expiry_rooms SET group_id = ?, parent_id = ?, cursor_id = ?, watch_from_id = ? WHERE channel_id = ?",
        (room.group_id, room.parent_id, room.cursor_id, room.watch_from_id, room.channel_id),
    )


async def drop_room(db: Database, channel_id: int) -> int:
    """Stop watching a room that no longer exists; its pending rows are moot. Returns rows dropped."""
    async with db.transaction() as conn:
        cursor = await conn.execute(
            "DELETE FROM expiry_messages WHERE channel_id = ? OR channel_id IN "
            "(SELECT channel_id FROM expiry_rooms WHERE parent_id = ?)",
            (channel_id, channel_id),
        )
        await conn.execute("DELETE FROM expiry_rooms WHERE channel_id = ? OR parent_id = ?", (channel_id, channel_id))
        return int(cursor.rowcount or 0)


# -- recording ---------------------------------------------------------------------------------


async def record(db: Database, messages: Sequence[NewMessage], cursors: dict[int, int]) -> int | None:
    """Insert rows (existing ones are left as they are) and advance room cursors, in one transaction.

    A row's due time is worked out here, inside the transaction, from the group's settings as they
    are at this moment (and from any end-of-session promise covering the message), unless the row
    brings its own (``due_ms``: a purge). A settings change commits in its own transaction and then
    re-times what is stored, so every row follows the settings, whichever of the two comes first.
    Returns the earliest due time written (ms), if any.
    """
    if not messages and not cursors:
        return None
    async with db.transaction() as conn:
        if messages:
            await conn.executemany(
                "INSERT INTO expiry_messages (channel_id, message_id, group_id, due_ms, pinned) "
                "SELECT ?1, ?2, ?3, COALESCE(?4, CASE "
                "WHEN ?5 = 1 AND COALESCE(g.keep_pinned, 1) = 1 THEN NULL "
                "WHEN g.ttl_seconds IS NULL THEN NULL ELSE ?6 + g.ttl_seconds * 1000 END), ?5 "
                "FROM (SELECT 1) LEFT JOIN groups g ON g.id = ?3 WHERE true "
                "ON CONFLICT (channel_id, message_id) DO NOTHING",
                [
                    (m.channel_id, m.message_id, m.group_id, m.due_ms, int(m.pinned), snowflake_ms(m.message_id))
                    for m in messages
                ],
            )
            for group_id in {m.group_id for m in messages}:
                await apply_promises(conn, group_id)
        if cursors:
            await conn.executemany(
                "UPDATE expiry_rooms SET cursor_id = MAX(cursor_id, ?) WHERE channel_id = ?",
                [(cursor_id, channel_id) for channel_id, cursor_id in cursors.items()],
            )
        if not messages:
            return None
        earliest = None
        for channel_id in {m.channel_id for m in messages}:
            ids = [m.message_id for m in messages if m.channel_id == channel_id]
            row = await (
                await conn.execute(
                    "SELECT MIN(due_ms) AS earliest FROM expiry_messages "
                    "WHERE channel_id = ? AND message_id BETWEEN ? AND ?",
                    (channel_id, min(ids), max(ids)),
                )
            ).fetchone()
            if row is not None and row["earliest"] is not None:
                found = int(row["earliest"])
                earliest = found if earliest is None else min(earliest, found)
        return earliest


async def apply_promises(conn: aiosqlite.Connection, group_id: str, *, all_rooms: bool = False) -> int:
    """End-of-session promises of the group win over a later due time (kept pinned rows stay).

    Only in the rooms a promise still waits to read, unless ``all_rooms`` (when it is made): a room
    read through the end after the promise was made has no unknown session messages left.
    """
    promises = await (
        await conn.execute("SELECT id, from_id, to_id, due_ms FROM expiry_promises WHERE group_id = ?", (group_id,))
    ).fetchall()
    changed = 0
    for promise in promises:
        promise_id, from_id, to_id, due_ms = promise["id"], promise["from_id"], promise["to_id"], promise["due_ms"]
        rooms = (
            "" if all_rooms else "AND channel_id IN (SELECT channel_id FROM expiry_promise_rooms WHERE promise_id = ?) "
        )
        cursor = await conn.execute(
            "UPDATE expiry_messages SET due_ms = ?, last_error = NULL WHERE group_id = ? "
            "AND message_id >= ? AND message_id < ? AND (due_ms IS NULL OR due_ms > ?) "
            + rooms
            + "AND NOT (pinned = 1 AND COALESCE((SELECT keep_pinned FROM groups WHERE id = ?), 1) = 1)",
            (due_ms, group_id, from_id, to_id, due_ms, *(() if all_rooms else (promise_id,)), group_id),
        )
        changed += int(cursor.rowcount or 0)
    return changed


async def forget(db: Database, channel_id: int, message_ids: Sequence[int]) -> int:
    """Remove rows (deleted, by holdspace or anyone else); returns how many there were."""
    removed = 0
    if not message_ids:
        return 0
    async with db.transaction() as conn:
        for chunk in _chunks(list(message_ids)):
            marks = ",".join("?" * len(chunk))
            cursor = await conn.execute(
                f"DELETE FROM expiry_messages WHERE channel_id = ? AND message_id IN ({marks})",
                (channel_id, *chunk),
            )
            removed += int(cursor.rowcount or 0)
    return removed


# -- the queue ---------------------------------------------------------------------------------


async def next_due(db: Database) -> datetime | None:
    value = await db.fetchval("SELECT MIN(due_ms) AS due_ms FROM expiry_messages")
    return from_ms(value)


async def due(db: Database, now: datetime, *, limit: int) -> list[PendingRow]:
    rows = await db.fetchall(
        "SELECT channel_id, message_id, group_id, pinned, attempts FROM expiry_messages "
        "WHERE due_ms <= ? ORDER BY due_ms LIMIT ?",
        (ms(now), limit),
    )
    return [_pending(r) for r in rows]


async def still_due(db: Database, channel_id: int, message_ids: Sequence[int], now: datetime) -> set[int]:
    """Which of ``message_ids`` are still queued and due at ``now`` (a settings change may re-time)."""
    found: set[int] = set()
    for chunk in _chunks(list(message_ids)):
        marks = ",".join("?" * len(chunk))
        rows = await db.fetchall(
            f"SELECT message_id FROM expiry_messages WHERE channel_id = ? AND due_ms <= ? AND message_id IN ({marks})",
            (channel_id, ms(now), *chunk),
        )
        found.update(int(r["message_id"]) for r in rows)
    return found


async def _set_due(
    db: Database,
    channel_id: int,
    message_ids: Sequence[int],
    due_ms: int | None,
    *,
    error: str | None,
    count_attempt: bool,
) -> None:
    bump = "attempts + 1" if count_attempt else "attempts"
    async with db.transaction() as conn:
        for chunk in _chunks(list(message_ids)):
            marks = ",".join("?" * len(chunk))
            await conn.execute(
                f"UPDATE expiry_messages SET due_ms = ?, attempts = {bump}, last_error = ?, "
                "claimed_by = NULL, claim_until_ms = NULL "
                f"WHERE channel_id = ? AND message_id IN ({marks})",
                (due_ms, error, channel_id, *chunk),
            )


async def retry_later(db: Database, channel_id: int, message_ids: Sequence[int], when: datetime, error: str) -> None:
    """A failed attempt: keep the rows, count the attempt, try again at ``when``."""
    await _set_due(db, channel_id, message_ids, ms(when), error=error, count_attempt=True)


async def postpone(db: Database, channel_id: int, message_ids: Sequence[int], when: datetime, reason: str) -> None:
    """Not a failure (held by a report, waiting for the pins check): look again at ``when``."""
    await _set_due(db, channel_id, message_ids, ms(when), error=reason, count_attempt=False)


async def release_postponed(db: Database, channel_id: int, reason: str, now: datetime) -> int:
    """Rows of a room postponed for ``reason`` that can go now (e.g. its pins were checked)."""
    result = await db.execute(
        "UPDATE expiry_messages SET due_ms = ?, last_error = NULL "
        "WHERE channel_id = ? AND last_error = ? AND due_ms > ?",
        (ms(now), channel_id, reason, ms(now)),
    )
    return result.rowcount


async def park_pinned(db: Database, channel_id: int, message_ids: Sequence[int]) -> None:
    """Pinned messages the group keeps: no due time until they are unpinned or the setting changes."""
    await _set_due(db, channel_id, message_ids, None, error="pinned", count_attempt=False)


async def make_due(db: Database, channel_id: int, message_id: int, now: datetime) -> bool:
    """A hold was released: the message is due now (unless it is a kept pinned one, due NULL)."""
    result = await db.execute(
        "UPDATE expiry_messages SET due_ms = ?, last_error = NULL "
        "WHERE channel_id = ? AND message_id = ? AND due_ms IS NOT NULL",
        (ms(now), channel_id, message_id),
    )
    return result.rowcount > 0


async def set_pinned(
    db: Database, channel_id: int, message_id: int, pinned: bool, settings: GroupExpirySettings
) -> bool:
    """A message was pinned or unpinned: store it and re-time the row. False if there is no row."""
    async with db.transaction() as conn:
        cursor = await conn.execute(
            "UPDATE expiry_messages SET pinned = ? WHERE channel_id = ? AND message_id = ? AND pinned != ?",
            (int(pinned), channel_id, message_id, int(pinned)),
        )
        if not cursor.rowcount:
            return False
        await _retime(conn, "channel_id = ? AND message_id = ?", (channel_id, message_id), settings)
        return True


async def reconcile_pins(db: Database, channel_id: int, pinned_ids: set[int], settings: GroupExpirySettings) -> int:
    """Make the pinned flags of a room match its pins as read from Discord; returns rows changed."""
    changed = 0
    async with db.transaction() as conn:
        rows = await db.fetchall(
            "SELECT message_id, pinned FROM expiry_messages WHERE channel_id = ? AND (pinned = 1"
            + (f" OR message_id IN ({','.join('?' * len(pinned_ids))})" if pinned_ids else "")
            + ")",
            (channel_id, *sorted(pinned_ids)),
        )
        for row in rows:
            message_id, was = int(row["message_id"]), bool(row["pinned"])
            now_pinned = message_id in pinned_ids
            if was != now_pinned:
                await conn.execute(
                    "UPDATE expiry_messages SET pinned = ? WHERE channel_id = ? AND message_id = ?",
                    (int(now_pinned), channel_id, message_id),
                )
                await _retime(conn, "channel_id = ? AND message_id = ?", (channel_id, message_id), settings)
                changed += 1
    return changed


async def make_group_due(db: Database, group_id: str, min_message_id: int, now: datetime) -> int:
    """Everything of a group posted at or after ``min_message_id`` becomes due now (session end).

    Kept pinned rows (due NULL and pinned) stay as they are; the deletion pass reports them.
    """
    result = await db.execute(
        "UPDATE expiry_messages SET due_ms = ? WHERE group_id = ? AND message_id >= ? "
        "AND NOT (pinned = 1 AND due_ms IS NULL)",
        (ms(now), group_id, min_message_id),
    )
    return result.rowcount


async def group_rows(db: Database, group_id: str, min_message_id: int = 0) -> list[PendingRow]:
    rows = await db.fetchall(
        "SELECT channel_id, message_id, group_id, pinned, attempts FROM expiry_messages "
        "WHERE group_id = ? AND message_id >= ? ORDER BY channel_id, message_id",
        (group_id, min_message_id),
    )
    return [_pending(r) for r in rows]


async def status(db: Database, group_id: str) -> QueueStatus:
    row = await db.fetchone(
        "SELECT COUNT(due_ms) AS pending, COUNT(*) - COUNT(due_ms) AS waiting, MIN(due_ms) AS next_due_ms, "
        "SUM(CASE WHEN last_error = 'held' THEN 1 ELSE 0 END) AS held, "
        "SUM(CASE WHEN last_error = 'session' THEN 1 ELSE 0 END) AS session_kept "
        "FROM expiry_messages WHERE group_id = ?",
        (group_id,),
    )
    failures = await db.fetchall(
        "SELECT last_error, COUNT(*) AS n FROM expiry_messages WHERE group_id = ? AND attempts > 0 "
        "AND last_error NOT IN ('held', 'session', 'pins', 'pinned') "
        "AND last_error IS NOT NULL GROUP BY last_error",
        (group_id,),
    )
    assert row is not None
    return QueueStatus(
        pending=int(row["pending"]),
        waiting=int(row["waiting"]),
        next_due=from_ms(row["next_due_ms"]),
        failures={str(r["last_error"]): int(r["n"]) for r in failures},
        held=int(row["held"] or 0),
        session_kept=int(row["session_kept"] or 0),
    )


async def keep_for_session(db: Database, channel_id: int, message_ids: Sequence[int]) -> None:
    """Ground-rules reminders of a running session: no due time until the session ends."""
    await _set_due(db, channel_id, message_ids, None, error="session", count_attempt=False)


async def due_now(db: Database, group_id: str, messages: Sequence[tuple[int, int]], now_ms: int) -> None:
    """These messages go now, whatever the ttl (a session's reminders at its end); rows are added if missing."""
    async with db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO expiry_messages (channel_id, message_id, group_id, due_ms) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (channel_id, message_id) DO UPDATE SET due_ms = excluded.due_ms, last_error = NULL",
            [(channel_id, message_id, group_id, now_ms) for channel_id, message_id in messages],
        )
