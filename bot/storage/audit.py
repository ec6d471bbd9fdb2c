"""The audit log's rows: appending to the hash chain, reading it back, retention.

Appends are serialised: the last entry's sequence number and hash are read inside the same
``BEGIN IMMEDIATE`` write transaction that inserts the new entry (one writer at a time), so two
appends can never chain onto the same predecessor.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.audit_chain import (
    GENESIS_HASH,
    ChainEntry,
    VerifyResult,
    canonical_entry,
    entry_hash,
    verify_chain,
)
from bot.crypto import DecryptionError, KeyRing
from bot.storage import fields
from bot.storage.db import Database
from bot.storage.times import from_ms, to_ms

__all__ = [
    "AuditEntry",
    "anchor",
    "append",
    "entries",
    "prune_before",
    "register_fields",
    "verify",
]

TABLE = "audit_log"


def register_fields() -> None:
    """Tell ``holdspace rotate-key`` about the encrypted payload (the hash covers the plaintext)."""
    fields.register_encrypted(TABLE, "payload", row_key=("id",))


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    guild_id: int
    action: str
    payload: dict[str, Any]
    hash: bytes


async def append(
    db: Database, ring: KeyRing, *, guild_id: int, action: str, payload: Mapping[str, Any], now: datetime
) -> int:
    """Append one entry (``payload`` must already carry its salt); returns its sequence number."""
    document = dict(payload)
    entry_id = uuid.uuid4().hex
    at_ms = to_ms(now)
    async with db.transaction() as conn:
        last = await db.fetchone("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        if last is None:
            last = await db.fetchone("SELECT seq, hash FROM audit_anchor WHERE id = 1")
        prev_seq, prev_hash = (int(last["seq"]), bytes(last["hash"])) if last is not None else (0, GENESIS_HASH)
        seq = prev_seq + 1
        digest = entry_hash(
            prev_hash,
            canonical_entry(seq=seq, at_ms=at_ms, guild_id=guild_id, action=action, payload=document),
        )
        blob = ring.encrypt_json(document, table=TABLE, column="payload", row=entry_id)
        await conn.execute(
            "INSERT INTO audit_log (seq, id, at_ms, guild_id, action, payload, prev_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, entry_id, at_ms, guild_id, action, blob, prev_hash, digest),
        )
    return seq


async def anchor(db: Database) -> tuple[int, bytes]:
    row = await db.fetchone("SELECT seq, hash FROM audit_anchor WHERE id = 1")
    return (0, GENESIS_HASH) if row is None else (int(row["seq"]), bytes(row["hash"]))


async def _chain_entries(db: Database, ring: KeyRing, guild_id: int | None) -> list[ChainEntry]:
    if guild_id is None:
        rows = await db.fetchall(
            "SELECT seq, id, at_ms, guild_id, action, payload, prev_hash, hash FROM audit_log ORDER BY seq"
        )
    else:
        rows = await db.fetchall(
            "SELECT seq, id, at_ms, guild_id, action, payload, prev_hash, hash FROM audit_log "
            "WHERE guild_id = ? ORDER BY seq",
            (guild_id,),
        )
    result = []
    for r in rows:
        payload: dict[str, Any] | None = None
        error: str | None = None
        try:
            decoded = ring.decrypt_json(r["payload"], table=TABLE, column="payload", row=str(r["id"]))
            if isinstance(decoded, dict):
                payload = decoded
            else:
                error = "the payload is not a JSON object"
        except (DecryptionError, ValueError, TypeError) as exc:
            error = type(exc).__name__ if not isinstance(exc, DecryptionError) else "altered or moved"
        result.append(
            ChainEntry(
                seq=int(r["seq"]),
                at_ms=int(r["at_ms"]),
                guild_id=int(r["guild_id"]),
                action=str(r["action"]),
                payload=payload,
                prev_hash=bytes(r["prev_hash"]),
                hash=bytes(r["hash"]),
                payload_error=error,
            )
        )
    return result


async def verify(db: Database, ring: KeyRing) -> VerifyResult:
    """Check the whole chain from the anchor to the newest entry."""
    anchor_seq, anchor_hash = await anchor(db)
    return verify_chain(await _chain_entries(db, ring, None), anchor_seq=anchor_seq, anchor_hash=anchor_hash)


async def entries(db: Database, ring: KeyRing, guild_id: int) -> list[AuditEntry]:
    """A guild's entries, oldest first, decrypted (entries that do not decrypt are left out)."""
    result = []
    for e in await _chain_entries(db, ring, guild_id):
        if e.payload is None:
            continue
        result.append(
            AuditEntry(
                seq=e.seq,
                at=from_ms(e.at_ms),
                guild_id=e.guild_id,
                action=e.action,
                payload=dict(e.payload),
                hash=e.hash,
            )
        )
    return result


async def prune_before(db: Database, before: datetime) -> int:
    """Retention: remove the oldest entries written before ``before`` and move the anchor past them.

    Only a prefix of the chain is removed (entries are in time order), so the rest stays verifiable
    from the anchor. Returns how many entries were removed.
    """
    async with db.transaction() as conn:
        last = await db.fetchone(
            "SELECT seq, hash FROM audit_log WHERE at_ms < ? ORDER BY seq DESC LIMIT 1", (to_ms(before),)
        )
        if last is None:
            return 0
        cursor = await conn.execute("DELETE FROM audit_log WHERE seq <= ?", (int(last["seq"]),))
        removed = int(cursor.rowcount or 0)
        await cursor.close()
        await conn.execute(
            "INSERT INTO audit_anchor (id, seq, hash, pruned_before_ms) VALUES (1, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, "
            "pruned_before_ms = excluded.pruned_before_ms",
            (int(last["seq"]), bytes(last["hash"]), to_ms(before)),
        )
    return removed


register_fields()
