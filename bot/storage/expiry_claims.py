"""Claims on expiring-message rows: a process acts only on the rows it holds (see
migrations/0010_expiry_lanes.sql). The claim is taken in the statement that picks the rows, with a
lease end, so a second process skips them while the lease runs and takes them over after it."""

from __future__ import annotations

from collections.abc import Iterable

from bot.storage.db import Database
from bot.storage.expiry import PendingRow


async def claim_due(db: Database, channel_id: int, owner: str, now_ms: int, lease_ms: int) -> list[PendingRow]:
    """Claim the channel's rows due at ``now_ms`` that nobody else holds; returns the rows held now."""
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE expiry_messages SET claimed_by = ?, claim_until_ms = ? WHERE channel_id = ? AND due_ms <= ? "
            "AND (claimed_by IS NULL OR claimed_by = ? OR claim_until_ms < ?)",
            (owner, now_ms + lease_ms, channel_id, now_ms, owner, now_ms),
        )
        rows = await (
            await conn.execute(
                "SELECT channel_id, message_id, group_id, pinned, attempts, due_ms FROM expiry_messages "
                "WHERE channel_id = ? AND claimed_by = ? AND due_ms IS NOT NULL ORDER BY due_ms, message_id",
                (channel_id, owner),
            )
        ).fetchall()
    return [
        PendingRow(
            int(r["channel_id"]),
            int(r["message_id"]),
            str(r["group_id"]),
            bool(r["pinned"]),
            int(r["attempts"]),
            int(r["due_ms"]),
        )
        for r in rows
    ]


async def renew_claims(db: Database, channel_id: int, owner: str, until_ms: int) -> None:
    await db.execute(
        "UPDATE expiry_messages SET claim_until_ms = ? WHERE channel_id = ? AND claimed_by = ?",
        (until_ms, channel_id, owner),
    )


async def release_claims(db: Database, owner: str, channel_id: int | None = None) -> int:
    """Give up claims (a lane that stops, a process that shuts down); the rows stay pending."""
    where, params = (
        ("claimed_by = ?", (owner,))
        if channel_id is None
        else (
            "claimed_by = ? AND channel_id = ?",
            (owner, channel_id),
        )
    )
    result = await db.execute(
        f"UPDATE expiry_messages SET claimed_by = NULL, claim_until_ms = NULL WHERE {where}", params
    )
    return result.rowcount


async def channels_due(db: Database, now_ms: int, skip: Iterable[int] = ()) -> list[int]:
    """Channels with rows due at ``now_ms`` that no live claim holds (``skip``: channels already worked)."""
    skipped = sorted(set(skip))
    marks = ",".join("?" * len(skipped))
    rows = await db.fetchall(
        "SELECT DISTINCT channel_id FROM expiry_messages WHERE due_ms <= ? "
        "AND (claimed_by IS NULL OR claim_until_ms < ?)" + (f" AND channel_id NOT IN ({marks})" if skipped else ""),
        (now_ms, now_ms, *skipped),
    )
    return [int(r["channel_id"]) for r in rows]


async def next_free_due(db: Database, skip: Iterable[int] = ()) -> int | None:
    """The earliest time (ms) at which some row not yet worked on is due or its claim runs out."""
    skipped = sorted(set(skip))
    marks = ",".join("?" * len(skipped))
    extra = f" AND channel_id NOT IN ({marks})" if skipped else ""
    free = await db.fetchval(f"SELECT MIN(due_ms) FROM expiry_messages WHERE claimed_by IS NULL{extra}", skipped)
    held = await db.fetchval(
        f"SELECT MIN(MAX(claim_until_ms, due_ms)) FROM expiry_messages WHERE claimed_by IS NOT NULL "
        f"AND due_ms IS NOT NULL{extra}",
        skipped,
    )
    values = [int(v) for v in (free, held) if v is not None]
    return min(values) if values else None


async def channel_next_due(db: Database, channel_id: int, owner: str) -> int | None:
    """When the channel's next row becomes due (rows held by another process left out)."""
    value = await db.fetchval(
        "SELECT MIN(due_ms) FROM expiry_messages WHERE channel_id = ? AND (claimed_by IS NULL OR claimed_by = ?)",
        (channel_id, owner),
    )
    return None if value is None else int(value)




async def nth_due(db: Database, channel_id: int, n: int) -> int | None:
    """When the channel's ``n``-th pending row (by due time) becomes due: a full bulk request is ready."""
    value = await db.fetchval(
        "SELECT due_ms FROM expiry_messages WHERE channel_id = ? AND due_ms IS NOT NULL "
        "ORDER BY due_ms LIMIT 1 OFFSET ?",
        (channel_id, n - 1),
    )
    return None if value is None else int(value)
