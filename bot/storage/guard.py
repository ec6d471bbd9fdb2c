"""The guard's own facts: each server's action for non-allowed bots and its allowed bots.

Bot ids are stored encrypted (row key: the row id) with a blind index (purpose "bot"); look-ups use
every key in the ring so they keep working during a key rotation. The guard cog mirrors what it
reads and writes here into ``bot.state`` (write-through: database first, memory after the commit).
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from bot.core.guard import ACTIONS
from bot.crypto import KeyRing
from bot.storage.db import Database
from bot.storage.fields import register_blind_index, register_encrypted
from bot.storage.times import to_ms

register_encrypted("guard_allowed_bots", "bot_id", row_key=("id",))
register_blind_index("guard_allowed_bots", "bot_index", "bot_id", "bot")

BOT_PURPOSE = "bot"


@dataclass
class GuardFacts:
    """Everything stored, per server."""

    actions: dict[int, str] = field(default_factory=dict)
    allowed: dict[int, set[int]] = field(default_factory=dict)


async def load_all(db: Database, ring: KeyRing) -> GuardFacts:
    facts = GuardFacts()
    for row in await db.fetchall("SELECT guild_id, bot_action FROM guard_settings"):
        facts.actions[int(row["guild_id"])] = str(row["bot_action"])
    for row in await db.fetchall("SELECT id, guild_id, bot_id FROM guard_allowed_bots"):
        facts.allowed.setdefault(int(row["guild_id"]), set()).add(_bot_id(ring, row))
    return facts


async def allowed_bots(db: Database, ring: KeyRing, guild_id: int) -> set[int]:
    rows = await db.fetchall("SELECT id, bot_id FROM guard_allowed_bots WHERE guild_id = ?", (guild_id,))
    return {_bot_id(ring, r) for r in rows}


def _bot_id(ring: KeyRing, row: sqlite3.Row) -> int:
    return int(ring.decrypt_str(row["bot_id"], table="guard_allowed_bots", column="bot_id", row=str(row["id"])))


async def _find(db: Database, ring: KeyRing, guild_id: int, bot_id: int) -> list[str]:
    indexes = ring.blind_indexes(bot_id, purpose=BOT_PURPOSE)
    marks = ", ".join("?" for _ in indexes)
    rows = await db.fetchall(
        f"SELECT id FROM guard_allowed_bots WHERE guild_id = ? AND bot_index IN ({marks})",
        (guild_id, *indexes),
    )
    return [str(r["id"]) for r in rows]


async def allow_bot(db: Database, ring: KeyRing, guild_id: int, bot_id: int, now: datetime) -> bool:
    """Put ``bot_id`` on the server's allowlist; False when it already was."""
    async with db.transaction() as conn:
        if await _find(db, ring, guild_id, bot_id):
            return False
        row_id = uuid.uuid4().hex
        await conn.execute(
            "INSERT INTO guard_allowed_bots (id, guild_id, bot_id, bot_index, added_ms) VALUES (?, ?, ?, ?, ?)",
            (
                row_id,
                guild_id,
                ring.encrypt(str(bot_id), table="guard_allowed_bots", column="bot_id", row=row_id),
                ring.blind_index(bot_id, purpose=BOT_PURPOSE),
                to_ms(now),
            ),
        )
    return True


async def deny_bot(db: Database, ring: KeyRing, guild_id: int, bot_id: int) -> bool:
    """Take ``bot_id`` off the server's allowlist; False when it was not on it."""
    async with db.transaction() as conn:
        ids = await _find(db, ring, guild_id, bot_id)
        for row_id in ids:
            await conn.execute("DELETE FROM guard_allowed_bots WHERE id = ?", (row_id,))
    return bool(ids)


async def set_action(db: Database, guild_id: int, action: str, now: datetime) -> None:
    if action not in ACTIONS:
        raise ValueError("the action must be one of " + ", ".join(ACTIONS))
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO guard_settings (guild_id, bot_action, updated_ms) VALUES (?, ?, ?) "
            "ON CONFLICT (guild_id) DO UPDATE SET bot_action = excluded.bot_action, "
            "updated_ms = excluded.updated_ms",
            (guild_id, action, to_ms(now)),
        )


async def get_action(db: Database, guild_id: int) -> str | None:
    value = await db.fetchval("SELECT bot_action FROM guard_settings WHERE guild_id = ?", (guild_id,))
    return None if value is None else str(value)
