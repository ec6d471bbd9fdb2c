from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from bot.crypto import KeyRing, generate_key
from bot.errors import HoldspaceError
from bot.storage.db import Database
from bot.storage.keycheck import WrongKeyError, check_key, open_checked_database, verify_or_store_key


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _kid(key: str) -> str:
    return key.split(":")[0]


async def _create(path: Path, key: str) -> None:
    db = await open_checked_database(path, KeyRing.parse(key))
    await db.set_meta("something", "value")
    await db.close()


async def test_first_start_stores_then_accepts_same_key(tmp_path: Path) -> None:
    key = generate_key()
    path = tmp_path / "hs.db"
    db = await open_checked_database(path, KeyRing.parse(key))
    try:
        rows = await db.fetchall("SELECT kid, check_value FROM key_check")
        assert [(r["kid"], bytes(r["check_value"])) for r in rows] == [(_kid(key), KeyRing.parse(key).check_value())]
        material = base64.urlsafe_b64decode(key.split(":")[1] + "=")
        assert material not in bytes(rows[0]["check_value"])
    finally:
        await db.close()
    db = await open_checked_database(path, KeyRing.parse(key))
    try:
        state = await check_key(db, KeyRing.parse(key))
        assert state is not None and not state.rotation_pending
        assert await db.fetchval("SELECT count(*) FROM key_check") == 1
    finally:
        await db.close()


async def test_wrong_key_refused_naming_expected_kid_and_file_unchanged(tmp_path: Path) -> None:
    right, wrong = generate_key(), generate_key()
    path = tmp_path / "hs.db"
    await _create(path, right)
    before = _digest(path)
    with pytest.raises(WrongKeyError) as info:
        await open_checked_database(path, KeyRing.parse(wrong))
    message = str(info.value)
    assert isinstance(info.value, HoldspaceError)
    assert _kid(right) in message and _kid(wrong) in message
    assert "HOLDSPACE_KEY" in message and "\n" not in message
    assert right.split(":")[1] not in message and wrong.split(":")[1] not in message
    assert _digest(path) == before
    # and again, with no migrations pending either way, the file stays untouched
    with pytest.raises(WrongKeyError):
        await open_checked_database(path, KeyRing.parse(wrong), migrate=False)
    assert _digest(path) == before
    # the right key still works afterwards
    db = await open_checked_database(path, KeyRing.parse(right))
    assert await db.get_meta("something") == "value"
    await db.close()


async def test_same_kid_different_material_refused(tmp_path: Path) -> None:
    right = generate_key()
    impostor = f"{_kid(right)}:{generate_key().split(':')[1]}"
    path = tmp_path / "hs.db"
    await _create(path, right)
    before = _digest(path)
    with pytest.raises(WrongKeyError, match="same id, different key"):
        await open_checked_database(path, KeyRing.parse(impostor))
    assert _digest(path) == before


async def test_verify_without_migration_is_explained(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "hs.db")
    try:
        assert await check_key(db, KeyRing.generate()) is None
        with pytest.raises(HoldspaceError, match="migrate"):
            await verify_or_store_key(db, KeyRing.generate())
    finally:
        await db.close()


async def test_new_current_key_is_recorded_and_old_one_still_required(tmp_path: Path) -> None:
    old, new = generate_key(), generate_key()
    path = tmp_path / "hs.db"
    await _create(path, old)
    db = await open_checked_database(path, KeyRing.parse(f"{new},{old}"))
    try:
        state = await verify_or_store_key(db, KeyRing.parse(f"{new},{old}"))
        assert state.rotation_pending
        assert state.kids_in_use == (_kid(new), _kid(old))
    finally:
        await db.close()
    # the old key is still needed until a rotation completes; the new one too
    for ring_text, missing in ((new, old), (old, new)):
        before = _digest(path)
        with pytest.raises(WrongKeyError) as info:
            await open_checked_database(path, KeyRing.parse(ring_text))
        assert _kid(missing) in str(info.value)
        assert _digest(path) == before
