"""Set-up shared by the unit tests: a migrated database file, a key ring, and a working folder the
`holdspace` command runs in (its config, key and migrated database)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.crypto import KeyRing, generate_key
from bot.storage.db import Database
from bot.storage.migrations import migrate


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """A database file with every migration applied, closed after the test."""
    database = await Database.open(tmp_path / "hs.sqlite3")
    await migrate(database)
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing.generate()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holdspace's commands run in: its config names hs.db, its key is in HOLDSPACE_KEY, and
    the database is migrated."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HOLDSPACE_CONFIG", raising=False)
    monkeypatch.setenv("HOLDSPACE_KEY", generate_key())
    (tmp_path / "config.toml").write_text('[bot]\ndatabase = "hs.db"\n', encoding="utf-8")
    assert main(["migrate"]) == 0
    return tmp_path


def workdir_ring() -> KeyRing:
    """The key ring of the working folder's ``HOLDSPACE_KEY``."""
    return KeyRing.parse(os.environ["HOLDSPACE_KEY"])


def rotate_key(monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """Rotate the working folder's records to a new key with `holdspace rotate-key` (both keys given,
    the new one first), then leave only the new key set. Returns (old key, new key)."""
    old = os.environ["HOLDSPACE_KEY"]
    new = generate_key()
    monkeypatch.setenv("HOLDSPACE_KEY", f"{new},{old}")
    assert main(["rotate-key", "--batch-size", "1"]) == 0
    monkeypatch.setenv("HOLDSPACE_KEY", new)
    return old, new
