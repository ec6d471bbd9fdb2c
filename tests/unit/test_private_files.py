"""Every file holdspace writes is readable by its owner only, whatever the umask it was started with."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.crypto import KeyRing
from bot.errors import HoldspaceError
from bot.files import write_private_atomically
from bot.storage.consent_anchor import Anchor
from bot.storage.db import Database


@pytest.fixture
def lax_umask(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A umask of 022 (files 0644 by default) that holdspace cannot change: only explicit modes count."""
    old = os.umask(0o022)
    monkeypatch.setattr(os, "umask", lambda mask: 0o022)
    try:
        yield
    finally:
        monkeypatch.undo()
        os.umask(old)


def modes(folder: Path, *, skip: tuple[str, ...] = ()) -> dict[str, int]:
    return {
        str(p.relative_to(folder)): stat.S_IMODE(p.stat().st_mode)
        for p in folder.rglob("*")
        if p.is_file() and p.name not in skip
    }


def test_every_file_the_command_line_writes_is_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lax_umask: None
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("HOLDSPACE_KEY", "HOLDSPACE_TOKEN", "HOLDSPACE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "config.toml").write_text('[bot]\ndatabase = "data/hs.sqlite3"\nkey_file = "hs.key"\n')
    (tmp_path / "data").mkdir()
    (tmp_path / "backups").mkdir()
    assert main(["keygen", "--output", "hs.key"]) == 0
    assert main(["migrate"]) == 0
    assert main(["check"]) == 0
    assert main(["backup", "backups/one.sqlite3"]) == 0
    assert main(["backup", "backups/one.sqlite3", "--overwrite"]) == 0
    assert main(["backup", "backups/two.sqlite3"]) == 0
    # An export needs a server holdspace knows: record a set-up row the way /setup configure does.
    import asyncio

    async def know_a_server() -> None:
        db = await Database.open(tmp_path / "data/hs.sqlite3")
        await db.execute("INSERT INTO guild_settings (guild_id, timezone, updated_ms) VALUES (42, 'UTC', 0)")
        await db.close()

    asyncio.run(know_a_server())
    for what in ("consents", "cases", "audit"):
        assert main(["export", what, "--guild", "42", "--format", "json", "--output", f"{what}.json"]) == 0
    written = modes(tmp_path, skip=("config.toml",))
    assert {"hs.key", "data/hs.sqlite3", "backups/one.sqlite3", "backups/two.sqlite3", "audit.json"} <= set(written)
    assert written == dict.fromkeys(written, 0o600)


async def test_the_database_and_its_wal_and_shm_are_owner_only(tmp_path: Path, lax_umask: None) -> None:
    db = await Database.open(tmp_path / "hs.sqlite3")
    await db.execute("CREATE TABLE t (v INTEGER)")
    await db.execute("INSERT INTO t VALUES (1)")
    assert {"hs.sqlite3", "hs.sqlite3-wal", "hs.sqlite3-shm"} <= set(modes(tmp_path))
    assert set(modes(tmp_path).values()) == {0o600}
    await db.backup(tmp_path / "copy.sqlite3")
    await db.close()
    assert set(modes(tmp_path).values()) == {0o600}


def test_the_heartbeat_file_is_owner_only(tmp_path: Path, lax_umask: None) -> None:
    write_private_atomically(tmp_path / "hs.sqlite3.health", "{}")
    write_private_atomically(tmp_path / "hs.sqlite3.health", "{}")
    assert modes(tmp_path) == {"hs.sqlite3.health": 0o600}


async def test_a_database_others_could_read_is_tightened(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "hs.sqlite3"
    db = await Database.open(path)
    await db.execute("CREATE TABLE t (v INTEGER)")
    await db.close()
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if file.exists():
            file.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        db = await Database.open(path)
    await db.close()
    assert set(modes(tmp_path).values()) == {0o600}
    assert "readable by its owner only" in caplog.text


async def test_a_database_others_could_read_that_cannot_be_tightened_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "hs.sqlite3"
    path.touch(mode=0o644)
    path.chmod(0o644)

    def not_owner(*args: object, **kwargs: object) -> None:
        raise PermissionError("not the owner")

    monkeypatch.setattr(os, "chmod", not_owner)
    with pytest.raises(HoldspaceError, match=r"can be read by others.*chmod 600"):
        await Database.open(path)


def test_the_consent_anchor_is_owner_only(tmp_path: Path, lax_umask: None) -> None:
    anchor = Anchor(tmp_path / "hs.sqlite3.anchor")
    ring = KeyRing.generate()
    anchor.save(ring)
    anchor.save(ring)  # written again (atomically replaced): still owner-only
    assert modes(tmp_path) == {"hs.sqlite3.anchor": 0o600}
