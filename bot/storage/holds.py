"""Held messages: messages that must not expire while a case about them is open.

A hold lasts until its case closes or until ``until_ms`` (the group's ``max_hold_days``), whichever
comes first. The expiry feature calls :func:`held_message_ids` before deleting and leaves held
messages alone; when a hold ends holdspace dispatches ``holdspace_hold_released(channel_id,
message_id)`` so expiry can resume.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bot.storage.db import Database
from bot.storage.times import from_ms, to_ms

__all__ = [
    "Hold",
    "add_hold",
    "held_message_ids",
    "holds_of_case",
    "release_case",
    "release_one",
    "still_held",
]

_CHUNK = 500


@dataclass(frozen=True)
class Hold:
    channel_id: int
    message_id: int
    case_id: str
    until: datetime


async def add_hold(db: Database, channel_id: int, message_id: int, case_id: str, until: datetime) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO message_holds (channel_id, message_id, case_id, until_ms) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (channel_id, message_id, case_id) DO UPDATE SET until_ms = excluded.until_ms",
            (channel_id, message_id, case_id, to_ms(until)),
        )


async def held_message_ids(db: Database, channel_id: int, message_ids: Iterable[int], now: datetime) -> set[int]:
    """Which of ``message_ids`` in ``channel_id`` are held at ``now`` and must not be deleted yet."""
    ids = list(dict.fromkeys(int(m) for m in message_ids))
    held: set[int] = set()
    now_ms = to_ms(now)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        rows = await db.fetchall(
            f"SELECT DISTINCT message_id FROM message_holds WHERE channel_id = ? AND until_ms > ? "
            f"AND message_id IN ({marks})",
            (channel_id, now_ms, *chunk),
        )
        held.update(int(r["message_id"]) for r in rows)
    return held


async def still_held(db: Database, channel_id: int, message_id: int, now: datetime) -> bool:
    return bool(await held_message_ids(db, channel_id, [message_id], now))


async def holds_of_case(db: Database, case_id: str) -> list[Hold]:
    rows = await db.fetchall(
        "SELECT channel_id, message_id, case_id, until_ms FROM message_holds WHERE case_id = ? "
        "ORDER BY channel_id, message_id",
        (case_id,),
    )
    return [
        Hold(int(r["channel_id"]), int(r["message_id"]), str(r["case_id"]), from_ms(r["until_ms"])) for r in rows
    ]


async def release_case(db: Database, case_id: str, now: datetime) -> list[tuple[int, int]]:
    """Remove every hold of a case; return the (channel, message) pairs no other case still holds."""
    async with db.transaction() as conn:
        rows = await db.fetchall("SELECT channel_id, message_id FROM message_holds WHERE case_id = ?", (case_id,))
        pairs = [(int(r["channel_id"]), int(r["message_id"])) for r in rows]
        await conn.execute("DELETE FROM message_holds WHERE case_id = ?", (case_id,))
        released: list[tuple[int, int]] = []
        for channel_id, message_id in pairs:
            if not await _held_by_any(db, channel_id, message_id, now):
                released.append((channel_id, message_id))
    return released


async def release_one(db: Database, case_id: str, channel_id: int, message_id: int, now: datetime) -> bool:
    """Remove one hold (its time ran out); True when no other case still holds the message."""
    async with db.transaction() as conn:
        await conn.execute(
            "DELETE FROM message_holds WHERE case_id = ? AND channel_id = ? AND message_id = ?",
            (case_id, channel_id, message_id),
        )
        still = await _held_by_any(db, channel_id, message_id, now)
    return not still


async def _held_by_any(db: Database, channel_id: int, message_id: int, now: datetime) -> bool:
    """Does any case still hold this message at ``now``? (Called inside the caller's transaction.)"""
    row = await db.fetchone(
        "SELECT 1 FROM message_holds WHERE channel_id = ? AND message_id = ? AND until_ms > ?",
        (channel_id, message_id, to_ms(now)),
    )
    return row is not None
