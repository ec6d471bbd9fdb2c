"""Start-up steps shared by the commands that need the database: settings, key, checked database."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from pathlib import Path

import bot.storage
from bot.config import Settings, read_key_text
from bot.crypto import KeyRing
from bot.logs import register_secret
from bot.storage.db import Database
from bot.storage.keycheck import open_checked_database


def load_key_ring(settings: Settings, environ: Mapping[str, str] | None = None) -> KeyRing:
    text = read_key_text(settings, environ)
    register_secret(text)
    return KeyRing.parse(text)


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
    return await open_checked_database(settings.database, ring, migrate=migrate)
