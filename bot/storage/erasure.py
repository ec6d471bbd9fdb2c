"""Erasure requests written down by ``holdspace forget``, until the running bot has carried them out.

The member id is encrypted and has no blind index: a request is read only to be carried out, and its
row goes once it is done.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from bot.crypto import KeyRing
from bot.storage import fields
from bot.storage.db import Database
from bot.storage.times import from_ms, to_ms

TABLE = "erasure_requests"


def register_fields() -> None:
    fields.register_encrypted(TABLE, "member_id", row_key=("id",))


@dataclass(frozen=True)
class ErasureRequest:
    id: str
    guild_id: int
    member_id: int
    requested_at: datetime


async def add(db: Database, ring: KeyRing, guild_id: int, member_id: int, now: datetime) -> str:
    request_id = uuid.uuid4().hex
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO erasure_requests (id, guild_id, member_id, requested_ms) VALUES (?, ?, ?, ?)",
            (
                request_id,
                guild_id,
                ring.encrypt(str(int(member_id)), table=TABLE, column="member_id", row=request_id),
                to_ms(now),
            ),
        )
    return request_id


async def pending(db: Database, ring: KeyRing) -> list[ErasureRequest]:
    rows = await db.fetchall("SELECT id, guild_id, member_id, requested_ms FROM erasure_requests ORDER BY requested_ms")
    return [
        ErasureRequest(
            id=str(r["id"]),
            guild_id=int(r["guild_id"]),
            member_id=int(ring.decrypt_str(r["member_id"], table=TABLE, column="member_id", row=str(r["id"]))),
            requested_at=from_ms(int(r["requested_ms"])),
        )
        for r in rows
    ]


async def done(db: Database, request_id: str) -> None:
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM erasure_requests WHERE id = ?", (request_id,))


register_fields()
