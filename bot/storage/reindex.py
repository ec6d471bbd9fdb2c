"""Blind indexes brought to the purposes the fields registry declares (bot/storage/fields.py).

Each blind-index column has its own purpose, so the same person gives unrelated fingerprints in,
say, a case's reporter column and a group's enrolments: the file alone does not link a reporter to
their groups. When a purpose changes, the indexes written under the old one are recomputed from
their (decrypted) source columns once, atomically, at the next open; a signature of the registry's
purposes in ``meta`` says whether that is needed.
"""

from __future__ import annotations

import hashlib
import json

from bot.crypto import DecryptionError, KeyRing
from bot.storage import meta
from bot.storage.db import Database
from bot.storage.fields import REGISTRY, Registry, row_key

META_KEY = "blind_index_purposes"


def signature(registry: Registry) -> str:
    items = sorted(
        (c.table, c.column, c.source_column, c.purpose, *(["fold"] if c.fold else []))
        for c in registry.blind_index_columns()
    )
    return hashlib.sha256(json.dumps(items).encode()).hexdigest()


async def reindex(db: Database, ring: KeyRing, registry: Registry | None = None) -> int:
    """Recompute the blind indexes whose purpose changed; returns how many were rewritten."""
    reg = registry or REGISTRY
    if not await db.table_exists("meta"):
        return 0
    wanted = signature(reg)
    if await meta.get(db, META_KEY) == wanted:
        return 0
    sources = {(c.table, c.column): c for c in reg.encrypted_columns()}
    changed = 0
    async with db.transaction() as conn:
        for index in reg.blind_index_columns():
            source = sources.get((index.table, index.source_column))
            if source is None or not await db.table_exists(index.table):
                continue
            keys = ", ".join(source.row_key)
            rows = await db.fetchall(
                f"SELECT rowid AS rid, {keys}, {index.source_column} AS src, {index.column} AS idx FROM {index.table}"
            )
            for row in rows:
                if not isinstance(row["src"], bytes):
                    continue  # nothing encrypted there (yet)
                try:
                    plain = ring.decrypt_str(
                        row["src"],
                        table=index.table,
                        column=index.source_column,
                        row=row_key([row[k] for k in source.row_key]),
                    )
                except DecryptionError:
                    continue  # a row that does not hold is judged where it is read
                value = ring.blind_index(index.indexed(plain), purpose=index.purpose)
                if row["idx"] is None or bytes(row["idx"]) != value:
                    await conn.execute(
                        f"UPDATE {index.table} SET {index.column} = ? WHERE rowid = ?", (value, row["rid"])
                    )
                    changed += 1
        await conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (META_KEY, wanted),
        )
    return changed
