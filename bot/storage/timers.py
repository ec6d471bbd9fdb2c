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
            "UPDATE timers SET due_ms = ?, attempts = attempts + 1, last_error = ?, claimed_by = NULL, "
            "claim_until_ms = NULL WHERE id = ?",
            (to_ms(due_at), error[:200], timer_id),
        )


async def delete(db: Database, timer_id: str) -> None:
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM timers WHERE id = ?", (timer_id,))


async def delete_by_key(db: Database, kind: str, key: str) -> bool:
    async with db.transaction() as conn:
        cursor = await conn.execute("DELETE FROM timers WHERE kind = ? AND key = ?", (kind, key))
        return (cursor.rowcount or 0) > 0


# -- claims (see migrations/0010_expiry_lanes.sql): a process runs only the timers it holds -----------


async def claim_due(
    db: Database, now: datetime, *, kinds: tuple[str, ...], owner: str, lease_until: datetime, limit: int
) -> list[TimerRow]:
    """Claim due timers nobody else holds (or whose holder's lease ran out); returns those claimed."""
    if not kinds:
        return []
    marks = ",".join("?" * len(kinds))
    async with db.transaction() as conn:
        rows = await (
            await conn.execute(
                f"SELECT id, kind, due_ms, payload, attempts FROM timers WHERE due_ms <= ? AND kind IN ({marks}) "
                "AND (claimed_by IS NULL OR claim_until_ms < ?) ORDER BY due_ms LIMIT ?",
                (to_ms(now), *kinds, to_ms(now), limit),
            )
        ).fetchall()
        if rows:
            ids = [r["id"] for r in rows]
            await conn.execute(
                f"UPDATE timers SET claimed_by = ?, claim_until_ms = ? WHERE id IN ({','.join('?' * len(ids))})",
                (owner, to_ms(lease_until), *ids),
            )
    return [TimerRow(r["id"], r["kind"], from_ms(r["due_ms"]), r["payload"], r["attempts"]) for r in rows]


async def next_free_due(db: Database, *, kinds: tuple[str, ...], now: datetime) -> datetime | None:
    """The earliest due time of timers not held by a live claim (or when such a claim runs out)."""
    if not kinds:
        return None
    marks = ",".join("?" * len(kinds))
    row = await db.fetchone(
        f"SELECT MIN(CASE WHEN claimed_by IS NULL OR claim_until_ms < ? THEN due_ms "
        f"ELSE MAX(due_ms, claim_until_ms) END) AS next_ms FROM timers WHERE kind IN ({marks})",
        (to_ms(now), *kinds),
    )
    return from_ms(row["next_ms"]) if row and row["next_ms"] is not None else None


async def release(db: Database, timer_id: str, owner: str) -> None:
    await db.execute(
        "UPDATE timers SET claimed_by = NULL, claim_until_ms = NULL WHERE id = ? AND claimed_by = ?", (timer_id, owner)
    )


async def finish(db: Database, timer_id: str, owner: str) -> None:
    """The handler succeeded: the timer goes, unless it was replaced meanwhile (same key, new row)."""
    async with db.transaction() as conn:
        await conn.execute(
            "DELETE FROM timers WHERE id = ? AND (claimed_by = ? OR claimed_by IS NULL)", (timer_id, owner)
        )
