"""Small named values the bot keeps about itself (the last synced command set, ...)."""

from __future__ import annotations

from bot.storage.db import Database


async def get(db: Database, key: str) -> str | None:
    row = await db.fetchone("SELECT value FROM meta WHERE key = ?", (key,))
    return None if row is None else str(row["value"])


async def put(db: Database, key: str, value: str) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
