"""Durable timers: the rows the scheduler's timer source works from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.storage.db import Database
from bot.storage.fields import register_encrypted
from bot.storage.times import from_ms, to_ms

register_encrypted("timers", "payload", row_key=("id",))


@dataclass(frozen=True)
class TimerRow:
    id: str
    kind: str
    due_at: datetime
    payload: bytes
    attempts: int


async def upsert(
    db: Database, timer_id: str, kind: str, key: str | None, due_at: datetime, payload: bytes
) -> str:
    async with db.transaction() as conn:
        if key is not None:
            await conn.execute("DELETE FROM timers WHERE kind = ? AND key = ?", (kind, key))
        await conn.execute(
            "INSERT INTO timers (id, kind, key, due_ms, payload, attempts) VALUES (?, ?, ?, ?, ?, 0)",
            (timer_id, kind, key, to_ms(due_at), payload),
        )
    return timer_id


async def next_due(db: Database, *, kinds: tuple[str, ...]) -> datetime | None:
    if not kinds:
        return None
    marks = ",".join("?" * len(kinds))
    row = await db.fetchone(f"SELECT MIN(due_ms) AS due_ms FROM timers WHERE kind IN ({marks})", kinds)
    return None if row is None else from_ms(row["due_ms"])


async def due(db: Database, now: datetime, *, kinds: tuple[str, ...], limit: int) -> list[TimerRow]:
    if not kinds:
        return []
    marks = ",".join("?" * len(kinds))
    rows = await db.fetchall(
        f"SELECT id, kind, due_ms, payload, attempts FROM timers WHERE due_ms <= ? AND kind IN ({marks})"
        " ORDER BY due_ms LIMIT ?",
        (to_ms(now), *kinds, limit),
    )
    return [TimerRow(r["id"], r["kind"], from_ms(r["due_ms"]), r["payload"], r["attempts"]) for r in rows]


async def due_time(db: Database, kind: str, key: str) -> datetime | None:
    row = await db.fetchone("SELECT due_ms FROM timers WHERE kind = ? AND key = ?", (kind, key))
    return from_ms(row["due_ms"]) if row else None


async def reschedule(db: Database, timer_id: str, due_at: datetime, error: str) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE timers SET due_ms = ?, attempts = attempts + 1, last_error = ? WHERE id = ?",
            (to_ms(due_at), error[:200], timer_id),
        )


async def delete(db: Database, timer_id: str) -> None:
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM timers WHERE id = ?", (timer_id,))


async def delete_by_key(db: Database, kind: str, key: str) -> bool:
    async with db.transaction() as conn:
        cursor = await conn.execute("DELETE FROM timers WHERE kind = ? AND key = ?", (kind, key))
        return (cursor.rowcount or 0) > 0
