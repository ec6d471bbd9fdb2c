"""Key rotation: re-encrypt every registered field and blind index under the ring's current key.

Work goes table by table in batches of ``batch_size`` rows (by rowid), each batch in its own
transaction, so a rotation can be interrupted at any point and resumed by running it again: fields
already under the current key are skipped (their key id is in the blob header) and blind indexes
already equal to the current key's index are left alone. Readers keep working throughout because
they decrypt with any key of the ring and look up with ``ring.blind_indexes``.

When every registered column is done, a final check makes sure no field of any table (registered or
not) is still encrypted under another key of the database; only then are the old keys' rows removed
from ``key_check`` and the older keys may be dropped from HOLDSPACE_KEY.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.clock import Clock, SystemClock
from bot.crypto import HEADER_LEN, MIN_BLOB_LEN, KeyRing, blob_kid
from bot.errors import HoldspaceError
from bot.storage import consent_anchor
from bot.storage.db import Database
from bot.storage.fields import REGISTRY, BlindIndexColumn, EncryptedColumn, Registry, row_key
from bot.storage.keycheck import verify_or_store_key

__all__ = [
    "RotationError",
    "RotationProgress",
    "RotationReport",
    "RotationStatus",
    "rotate_key",
    "rotation_status",
]

log = logging.getLogger(__name__)

_OWN_TABLES = {"schema_migrations", "key_check", "key_rotation", "meta"}


class RotationError(HoldspaceError):
    """The rotation cannot proceed or cannot be completed safely."""


@dataclass(frozen=True)
class RotationProgress:
    table: str
    rows_scanned: int  # in this table so far
    fields_reencrypted: int  # in the whole run so far
    indexes_updated: int  # in the whole run so far


@dataclass
class RotationReport:
    current_kid: str
    retired_kids: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    rows_scanned: int = 0
    fields_reencrypted: int = 0
    indexes_updated: int = 0
    batches: int = 0


@dataclass(frozen=True)
class RotationStatus:
    kids_in_use: tuple[str, ...]  # key ids listed in key_check (fields may be under any of them)
    target_kid: str | None  # the key a started rotation re-encrypts towards, if one was started
    started_at: str | None
    updated_at: str | None
    fields_reencrypted: int
    indexes_updated: int

    @property
    def in_progress(self) -> bool:
        return self.target_kid is not None or len(self.kids_in_use) > 1


ProgressCallback = Callable[[RotationProgress], Awaitable[None] | None]


async def _columns_of(db: Database, table: str) -> set[str]:
    rows = await db.fetchall("SELECT name FROM pragma_table_info(?)", (table,))
    return {str(r["name"]) for r in rows}


async def _check_table(
    db: Database, table: str, enc: list[EncryptedColumn], idx: list[BlindIndexColumn]
) -> None:
    if not await db.table_exists(table):
        raise RotationError(
            f"table {table} is registered for encryption but does not exist; run `holdspace migrate` first"
        )
    sql = await db.fetchval("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
    if "WITHOUT ROWID" in str(sql).upper():
        raise RotationError(f"table {table} has encrypted fields but is WITHOUT ROWID; make it a rowid table")
    columns = await _columns_of(db, table)
    enc_names = {c.column for c in enc}
    needed = {c.column for c in enc} | {k for c in enc for k in c.row_key} | {c.column for c in idx}
    for index in idx:
        if index.source_column not in enc_names:
            raise RotationError(
                f"blind index {table}.{index.column} is built from {index.source_column}, "
                "which is not registered as an encrypted column of the same table"
            )
    absent = sorted(needed - columns)
    if absent:
        raise RotationError(
            f"table {table} lacks registered column(s) {', '.join(absent)}; check the registry"
        )


async def _rotate_table(
    db: Database,
    ring: KeyRing,
    table: str,
    enc: list[EncryptedColumn],
    idx: list[BlindIndexColumn],
    batch_size: int,
    report: RotationReport,
    progress: ProgressCallback | None,
    clock: Clock,
) -> None:
    key_cols = sorted({k for c in enc for k in c.row_key})
    selected = key_cols + [c.column for c in enc] + [c.column for c in idx]
    select_sql = f"SELECT rowid AS rowid, {', '.join(selected)} FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?"
    current = ring.current_kid
    last_rowid = -(2**63)
    scanned = 0
    while True:
        async with db.transaction() as conn:
            rows = await db.fetchall(select_sql, (last_rowid, batch_size))
            if not rows:
                break
            for row in rows:
                updates: dict[str, bytes] = {}
                plain: dict[str, str] = {}
                for col in enc:
                    blob = row[col.column]
                    if not isinstance(blob, bytes):
                        continue  # nothing encrypted there
                    blob = bytes(blob)
                    rk = row_key([row[k] for k in col.row_key])
                    needs_index = any(i.source_column == col.column for i in idx)
                    if blob_kid(blob) != current:
                        data = ring.decrypt(blob, table=table, column=col.column, row=rk)
                        updates[col.column] = ring.encrypt(data, table=table, column=col.column, row=rk)
                        report.fields_reencrypted += 1
                        if needs_index:
                            plain[col.column] = data.decode("utf-8")
                    elif needs_index:
                        plain[col.column] = ring.decrypt_str(blob, table=table, column=col.column, row=rk)
                for index in idx:
                    source = plain.get(index.source_column)
                    if source is None:
                        continue
                    value = ring.blind_index(index.indexed(source), purpose=index.purpose)
                    stored = row[index.column]
                    if stored is None or bytes(stored) != value:
                        updates[index.column] = value
                        report.indexes_updated += 1
                if updates:
                    assignments = ", ".join(f"{name} = ?" for name in updates)
                    await conn.execute(
                        f"UPDATE {table} SET {assignments} WHERE rowid = ?",
                        (*updates.values(), row["rowid"]),
                    )
            last_rowid = int(rows[-1]["rowid"])
            scanned += len(rows)
            await conn.execute(
                "UPDATE key_rotation SET updated_at = ?, fields_reencrypted = ?, indexes_updated = ? "
                "WHERE target_kid = ?",
                (clock.now().isoformat(), report.fields_reencrypted, report.indexes_updated, current),
            )
        report.rows_scanned += len(rows)
        report.batches += 1
        if progress is not None:
            result = progress(
                RotationProgress(table, scanned, report.fields_reencrypted, report.indexes_updated)
            )
            if inspect.isawaitable(result):
                await result


async def _leftovers(db: Database, old_kids: list[str]) -> list[str]:
    """Every table.column that still holds a field under one of ``old_kids`` (any table)."""
    if not old_kids:
        return []
    found: list[str] = []
    tables = await db.fetchall(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    placeholders = ", ".join("?" for _ in old_kids)
    old_bytes = [kid.encode("ascii") for kid in old_kids]
    for trow in tables:
        table = str(trow["name"])
        if table in _OWN_TABLES:
            continue
        for column in sorted(await _columns_of(db, table)):
            hit = await db.fetchval(
                f'SELECT 1 FROM "{table}" WHERE typeof("{column}") = \'blob\' '
                f'AND length("{column}") >= ? AND substr("{column}", 1, 1) = x\'01\' '
                f'AND substr("{column}", 2, ?) IN ({placeholders}) LIMIT 1',
                (MIN_BLOB_LEN, HEADER_LEN - 1, *old_bytes),
            )
            if hit:
                found.append(f"{table}.{column}")
    return found


async def rotate_key(
    db: Database,
    ring: KeyRing,
    *,
    batch_size: int = 200,
    progress: ProgressCallback | None = None,
    registry: Registry | None = None,
    clock: Clock | None = None,
) -> RotationReport:
    """Re-encrypt every registered field and blind index under ``ring.current_kid``; resumable.

    The ring must hold the new (current) key first and every older key the database still uses.
    ``progress`` (sync or async) is called after each committed batch; an exception from it stops
    the rotation with all committed batches kept, and running ``rotate_key`` again continues.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    reg = registry or REGISTRY
    clock = clock or SystemClock()
    state = await verify_or_store_key(db, ring, clock=clock)
    current = ring.current_kid
    report = RotationReport(current_kid=current)
    now = clock.now().isoformat()
    await db.execute(
        "INSERT INTO key_rotation (target_kid, started_at, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (target_kid) DO NOTHING",
        (current, now, now),
    )
    encrypted = reg.encrypted_columns()
    indexes = reg.blind_index_columns()
    for table in reg.tables():
        enc = [c for c in encrypted if c.table == table]
        idx = [c for c in indexes if c.table == table]
        await _check_table(db, table, enc, idx)
        report.tables.append(table)
        await _rotate_table(db, ring, table, enc, idx, batch_size, report, progress, clock)
        log.info("rotated table %s to key %s", table, current)
    old_kids = [k for k in state.kids_in_use if k != current]
    async with db.transaction() as conn:
        # Within the completing transaction nobody can write under an old key any more.
        left = await _leftovers(db, old_kids)
        if left:
            raise RotationError(
                f"fields under an old key remain in {', '.join(left)}, which the rotation does not know; "
                "register those columns (import their storage modules) and run the rotation again"
            )
        await conn.execute("DELETE FROM key_rotation")
        await conn.execute("DELETE FROM key_check WHERE kid <> ?", (current,))
    report.retired_kids = old_kids
    consent_anchor.resign(db, ring)  # the consent chains' anchor, signed with the new key too
    log.info("key rotation to %s complete; retired %s", current, ", ".join(old_kids) or "nothing")
    return report


async def rotation_status(db: Database) -> RotationStatus:
    """What ``key_check`` and ``key_rotation`` say about keys in use and a rotation under way."""
    kids = tuple(str(r["kid"]) for r in await db.fetchall("SELECT kid FROM key_check ORDER BY created_at, kid"))
    row = await db.fetchone(
        "SELECT target_kid, started_at, updated_at, fields_reencrypted, indexes_updated "
        "FROM key_rotation ORDER BY started_at DESC LIMIT 1"
    )
    if row is None:
        return RotationStatus(kids, None, None, None, 0, 0)
    return RotationStatus(
        kids,
        str(row["target_kid"]),
        str(row["started_at"]),
        str(row["updated_at"]),
        int(row["fields_reencrypted"]),
        int(row["indexes_updated"]),
    )
