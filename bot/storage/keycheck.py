"""Recognise the encryption key a database was written with, without storing the key.

``key_check`` holds (key id, HKDF-derived check value) for every key whose fields may be in the
database: one row normally, several while a rotation is pending or running. Start-up is refused with
:class:`WrongKeyError` unless the key ring holds every one of them with a matching check value; on
that failure nothing at all is written to the database.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from bot.clock import Clock, SystemClock
from bot.crypto import KeyRing
from bot.errors import HoldspaceError
from bot.storage import migrations
from bot.storage.db import Database, storage_problem

__all__ = ["KeyState", "WrongKeyError", "check_key", "open_checked_database", "verify_or_store_key"]

log = logging.getLogger(__name__)


class WrongKeyError(HoldspaceError):
    """The key ring (HOLDSPACE_KEY or the key file) does not hold the key(s) the database was encrypted with."""


@dataclass(frozen=True)
class KeyState:
    current_kid: str
    kids_in_use: tuple[str, ...]  # every key id fields may be encrypted under, current first
    first_start: bool = False

    @property
    def rotation_pending(self) -> bool:
        """True while fields under other keys than the current one may remain (run rotate-key)."""
        return any(k != self.current_kid for k in self.kids_in_use)


def _kids(kids: list[str]) -> str:
    return ", ".join(kids)


async def _stored(db: Database) -> list[tuple[str, bytes]]:
    rows = await db.fetchall("SELECT kid, check_value FROM key_check ORDER BY created_at, kid")
    return [(str(r["kid"]), bytes(r["check_value"])) for r in rows]


def _verify(ring: KeyRing, stored: list[tuple[str, bytes]]) -> None:
    missing = [kid for kid, _ in stored if not ring.has(kid)]
    if missing:
        word = "key" if len(missing) == 1 else "keys"
        it = "it" if len(missing) == 1 else "them"
        raise WrongKeyError(
            f"the database was encrypted with {word} {_kids(missing)}, but {ring.source} does not contain "
            f"{it} (it holds {_kids(list(ring.kids))}). Put the {word} with id {_kids(missing)} in {ring.source}."
        )
    mismatched = [kid for kid, value in stored if not ring.matches_check(kid, value)]
    if mismatched:
        raise WrongKeyError(
            f"{ring.source} holds a key with id {_kids(mismatched)}, but it is not the key this database "
            f"was encrypted with (same id, different key). Put the original key with id "
            f"{_kids(mismatched)} in {ring.source}."
        )


async def check_key(db: Database, ring: KeyRing) -> KeyState | None:
    """Read-only check; None if the database has no key check yet (new or not yet migrated)."""
    if not await db.table_exists("key_check"):
        return None
    stored = await _stored(db)
    if not stored:
        return None
    _verify(ring, stored)
    kids = [kid for kid, _ in stored]
    in_use = [ring.current_kid] + [k for k in kids if k != ring.current_kid]
    return KeyState(ring.current_kid, tuple(in_use))


async def verify_or_store_key(db: Database, ring: KeyRing, *, clock: Clock | None = None) -> KeyState:
    """Verify the ring against ``key_check`` or, on first start, record the current key.

    If the ring is right but its current key is new to the database (the operator put a new key
    first), that key is recorded as in use too: new fields will be written under it, and the older
    keys stay required until ``rotate_key`` has finished.
    """
    if not await db.table_exists("key_check"):
        raise HoldspaceError("the database has no key_check table; run `holdspace migrate` first")
    await check_key(db, ring)  # read-only first: a wrong key never even starts a write transaction
    now = (clock or SystemClock()).now().isoformat()
    async with db.transaction() as conn:
        stored = await _stored(db)  # inside the transaction: what this write will build on
        _verify(ring, stored)  # raises before anything is written; the rollback writes nothing
        first = not stored
        if ring.current_kid not in {kid for kid, _ in stored}:
            await conn.execute(
                "INSERT INTO key_check (kid, check_value, created_at) VALUES (?, ?, ?)",
                (ring.current_kid, ring.check_value(ring.current_kid), now),
            )
            if not first:
                log.warning(
                    "the current key %s is new to this database; run `holdspace rotate-key` to "
                    "re-encrypt the fields under it",
                    ring.current_kid,
                )
    kids = [kid for kid, _ in stored if kid != ring.current_kid]
    return KeyState(ring.current_kid, (ring.current_kid, *kids), first_start=first)


async def open_checked_database(
    path: Path | str,
    ring: KeyRing,
    *,
    migrations_dir: Path | None = None,
    migrate: bool = True,
    clock: Clock | None = None,
    anchor_copy: Path | None = None,
) -> Database:
    """Open, verify the key (before anything is written), migrate, then record the key check.

    On a wrong key the database is closed again and :class:`WrongKeyError` is raised with the
    database file left byte-for-byte unchanged.
    """
    db = await Database.open(path, migrations_dir=migrations_dir)
    from bot.storage import consent_anchor

    consent_anchor.keep_copy(db, anchor_copy)
    try:
        await check_key(db, ring)
        await db.check_writable()
        if migrate:
            await migrations.migrate(db, migrations_dir, clock=clock)
        elif await migrations.pending(db, migrations_dir):
            raise HoldspaceError("the database needs migrations; run `holdspace migrate` first")
        await verify_or_store_key(db, ring, clock=clock)
        if migrate:
            from bot.storage.consents import seal_legacy
            from bot.storage.rebind import rebind
            from bot.storage.records_check import accept
            from bot.storage.reindex import reindex

            chained = await seal_legacy(db, ring)  # consent events of older versions: chained
            await rebind(db, ring)  # records of older versions: bound to their group and server
            await reindex(db, ring)  # blind indexes written under a purpose that has changed since
            if chained:  # the first anchor of a file that had none: the file as it was is the start
                await accept(db, ring)
    except sqlite3.Error as exc:
        await db.close()
        problem = storage_problem(Path(path), exc)
        raise HoldspaceError(f"cannot use the database {path}: {problem or exc}") from None
    except BaseException:
        await db.close()
        raise
    return db
