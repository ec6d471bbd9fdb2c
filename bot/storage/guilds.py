"""Per-server set-up: the facilitator and moderator roles, the log and lobby channels, the time zone."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from bot.storage.db import Database
from bot.storage.times import to_ms


@dataclass(frozen=True)
class GuildRow:
    guild_id: int
    facilitator_role_id: int | None
    moderator_role_id: int | None
    log_channel_id: int | None
    lobby_channel_id: int | None
    lobby_message_id: int | None
    timezone: str
    language: str = "en"


_COLUMNS = (
    "guild_id, facilitator_role_id, moderator_role_id, log_channel_id, lobby_channel_id, lobby_message_id, timezone, "
    "language"
)


def _row(r: sqlite3.Row) -> GuildRow:
    return GuildRow(**{column: r[column] for column in r.keys()})  # noqa: SIM118 (Row has no __iter__ of keys)


async def load_all(db: Database) -> list[GuildRow]:
    return [_row(r) for r in await db.fetchall(f"SELECT {_COLUMNS} FROM guild_settings")]


async def get(db: Database, guild_id: int) -> GuildRow | None:
    r = await db.fetchone(f"SELECT {_COLUMNS} FROM guild_settings WHERE guild_id = ?", (guild_id,))
    return None if r is None else _row(r)


async def save(db: Database, row: GuildRow, now: datetime) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO guild_settings (guild_id, facilitator_role_id, moderator_role_id, log_channel_id, "
            "lobby_channel_id, lobby_message_id, timezone, language, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (guild_id) DO UPDATE SET facilitator_role_id = excluded.facilitator_role_id, "
            "moderator_role_id = excluded.moderator_role_id, log_channel_id = excluded.log_channel_id, "
            "lobby_channel_id = excluded.lobby_channel_id, lobby_message_id = excluded.lobby_message_id, "
            "timezone = excluded.timezone, language = excluded.language, updated_ms = excluded.updated_ms",
            (
                row.guild_id,
                row.facilitator_role_id,
                row.moderator_role_id,
                row.log_channel_id,
                row.lobby_channel_id,
                row.lobby_message_id,
                row.timezone,
                row.language,
                to_ms(now),
            ),
        )


async def is_known(db: Database, guild_id: int) -> bool:
    """Whether holdspace holds anything of server ``guild_id`` (set-up, groups, cases or audit)."""
    row = await db.fetchone(
        "SELECT 1 FROM guild_settings WHERE guild_id = :g UNION ALL SELECT 1 FROM groups WHERE guild_id = :g "
        "UNION ALL SELECT 1 FROM cases WHERE guild_id = :g UNION ALL SELECT 1 FROM audit_log WHERE guild_id = :g "
        "LIMIT 1",
        {"g": guild_id},
    )
    return row is not None
