"""A server's default agreement: the template its new groups start from, every version kept.

Each version is a row: the template encrypted (row key: the row id) with its SHA-256 in clear, or no
body at all where a server manager went back to holdspace's own default. Groups that exist keep
their own agreement; only groups created afterwards start from the current version.
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass
from datetime import datetime

from bot.crypto import KeyRing, hash_text
from bot.storage.db import Database
from bot.storage.fields import register_encrypted
from bot.storage.times import from_ms, to_ms

register_encrypted("server_agreements", "body", row_key=("id",))


@dataclass(frozen=True)
class ServerAgreement:
    guild_id: int
    version: int
    template: str | None  # None: holdspace's own default
    sha256: str | None
    created_at: datetime


def _agreement(ring: KeyRing, row: sqlite3.Row) -> ServerAgreement:
    body = row["body"]
    template = None if body is None else ring.decrypt_str(body, table="server_agreements", column="body", row=row["id"])
    return ServerAgreement(
        int(row["guild_id"]), int(row["version"]), template, row["sha256"], from_ms(row["created_ms"])
    )


async def current(db: Database, ring: KeyRing, guild_id: int) -> ServerAgreement | None:
    """The server's latest version (None: it never had one of its own)."""
    row = await db.fetchone(
        "SELECT id, guild_id, version, sha256, body, created_ms FROM server_agreements WHERE guild_id = ? "
        "ORDER BY version DESC LIMIT 1",
        (guild_id,),
    )
    return None if row is None else _agreement(ring, row)


async def history(db: Database, ring: KeyRing, guild_id: int) -> list[ServerAgreement]:
    """Every version, oldest first."""
    rows = await db.fetchall(
        "SELECT id, guild_id, version, sha256, body, created_ms FROM server_agreements WHERE guild_id = ? "
        "ORDER BY version",
        (guild_id,),
    )
    return [_agreement(ring, r) for r in rows]


async def add_version(
    db: Database, ring: KeyRing, guild_id: int, template: str | None, now: datetime, *, after: int
) -> int | None:
    """Store ``template`` (None: holdspace's own default) as the next version, unless another version
    was stored since version ``after`` (0: none): then None and nothing is stored."""
    row_id = uuid.uuid4().hex
    async with db.transaction() as conn:
        row = await db.fetchone(
            "SELECT COALESCE(MAX(version), 0) AS version FROM server_agreements WHERE guild_id = ?", (guild_id,)
        )
        latest = int(row["version"]) if row is not None else 0
        if latest != after:
            return None
        await conn.execute(
            "INSERT INTO server_agreements (id, guild_id, version, sha256, body, created_ms) VALUES (?, ?, ?, ?, ?, ?)",
            (
                row_id,
                guild_id,
                latest + 1,
                None if template is None else hash_text(template),
                None
                if template is None
                else ring.encrypt(template, table="server_agreements", column="body", row=row_id),
                to_ms(now),
            ),
        )
    return latest + 1
