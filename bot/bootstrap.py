"""Start-up steps shared by the commands that need the database: settings, key, checked database."""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Mapping
from pathlib import Path

import bot.storage
from bot.config import Settings, read_key_text
from bot.crypto import KeyRing
from bot.errors import HoldspaceError
from bot.logs import register_secret
from bot.storage.db import Database
from bot.storage.keycheck import open_checked_database


def load_key_ring(settings: Settings, environ: Mapping[str, str] | None = None) -> KeyRing:
    key = read_key_text(settings, environ)
    register_secret(key.text)
    return KeyRing.parse(key.text, source=key.source)


def import_storage_modules() -> None:
    """Import every storage module so each registers its encrypted columns (rotation needs all)."""
    for info in pkgutil.iter_modules([str(Path(bot.storage.__file__).parent)]):
        module = importlib.import_module(f"bot.storage.{info.name}")
        register = getattr(module, "register_fields", None)
        if callable(register):
            register()


async def open_database(settings: Settings, ring: KeyRing, *, migrate: bool = True) -> Database:
    """Open the database, refuse a wrong key before writing anything, then migrate."""
    import_storage_modules()
    return await open_checked_database(settings.database, ring, migrate=migrate, anchor_copy=settings.anchor_copy)


async def check_database(settings: Settings, ring: KeyRing) -> str:
    """What `holdspace check` says of the database; raises what would stop `holdspace run` from using it.

    Read-only apart from tightening a database others could read: the folder must exist and be
    writable (SQLite keeps -wal and -shm files beside the database), an existing database must
    accept this key and have a migration history this version understands.
    """
    from bot.services.discord_clock import stored_offset
    from bot.storage import migrations
    from bot.storage.keycheck import check_key

    path = settings.database
    folder = path.parent
    if not folder.is_dir():
        raise HoldspaceError(
            f"the folder {folder} for the database does not exist; create it (mkdir -p {folder}) "
            "or change [bot] database"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise HoldspaceError(
            f"the folder {folder} is not writable by this user; holdspace keeps the database and its "
            "-wal and -shm files there, so fix its owner or permissions"
        )
    if not path.exists():
        return f"database {path}: will be created at the first `holdspace run` (its folder is writable)"
    if not os.access(path, os.R_OK | os.W_OK):
        raise HoldspaceError(f"the database {path} is not readable and writable by this user; fix its owner")
    import_storage_modules()
    db = await Database.open(path)
    try:
        await check_key(db, ring)
        pending = await migrations.pending(db)
        offset = None if pending else await stored_offset(db)
        anchor = None if pending else await anchor_problem(db, ring, settings)
    finally:
        await db.close()
    if pending:
        return (
            f"database {path}: key {ring.current_kid} accepted; {len(pending)} migration(s) will be applied "
            "at the next start (back it up first: `holdspace backup`)"
        )
    clock = "clock: not measured yet (holdspace measures it against Discord's while it runs)"
    if offset is not None:
        clock = f"clock: {offset.report()} (measured {offset.measured_at:%Y-%m-%d %H:%M} UTC)"
    found = f"database {path}: key {ring.current_kid} accepted, schema up to date\n{clock}"
    return found if anchor is None else f"{found}\n{anchor}"


async def anchor_problem(db: Database, ring: KeyRing, settings: Settings) -> str | None:
    """What `holdspace check` says when no anchor of the groups' records holds (docs/privacy.md)."""
    from bot.storage import consent_anchor

    if not await db.table_exists("groups") or not await db.fetchval("SELECT 1 FROM groups LIMIT 1"):
        return None
    copies = () if settings.anchor_copy is None else (settings.anchor_copy,)
    anchor = consent_anchor.read_all(consent_anchor.anchor_path(db), copies, ring)
    if anchor.existed and anchor.trusted:
        return None
    what = "no anchor of the groups' records was found" if not anchor.existed else "the anchor does not hold"
    return (
        f"records: {what}; at the next start every group with records fails closed (its members consent "
        "again, a case is opened). If this database is the one to trust as it stands, run "
        "`holdspace integrity accept` first"
    )
