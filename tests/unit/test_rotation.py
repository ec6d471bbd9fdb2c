from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from bot.crypto import KeyRing, blob_kid, generate_key
from bot.storage.db import DEFAULT_MIGRATIONS_DIR, Database
from bot.storage.fields import Registry, row_key
from bot.storage.keycheck import WrongKeyError, open_checked_database
from bot.storage.rotation import RotationError, RotationProgress, rotate_key, rotation_status

FEATURE_SQL = """
CREATE TABLE members (
    id TEXT PRIMARY KEY,
    member BLOB NOT NULL,
    member_idx BLOB NOT NULL,
    note BLOB
);
CREATE INDEX members_member_idx ON members (member_idx);
CREATE TABLE pairs (
    guild TEXT NOT NULL,
    seq INTEGER NOT NULL,
    secret BLOB,
    PRIMARY KEY (guild, seq)
);
"""


def _registry() -> Registry:
    reg = Registry()
    reg.register_encrypted("members", "member")
    reg.register_encrypted("members", "note")
    reg.register_blind_index("members", "member_idx", "member", purpose="member")
    reg.register_encrypted("pairs", "secret", row_key=("guild", "seq"))
    return reg


@pytest.fixture
def mig_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "migrations"
    directory.mkdir()
    for source in sorted(DEFAULT_MIGRATIONS_DIR.glob("0001_*.sql")):
        (directory / source.name).write_text(source.read_text())
    (directory / "0002_test_feature.sql").write_text(FEATURE_SQL)
    return directory


async def _insert(db: Database, ring: KeyRing, count: int) -> dict[str, int]:
    ids: dict[str, int] = {}
    for i in range(count):
        rid = uuid.uuid4().hex
        member = 100000000000000000 + i
        rk = row_key((rid,))
        await db.execute(
            "INSERT INTO members (id, member, member_idx, note) VALUES (?, ?, ?, ?)",
            (
                rid,
                ring.encrypt(str(member), table="members", column="member", row=rk),
                ring.blind_index(member, purpose="member"),
                ring.encrypt(f"note {i}", table="members", column="note", row=rk) if i % 2 else None,
            ),
        )
        ids[rid] = member
        await db.execute(
            "INSERT INTO pairs (guild, seq, secret) VALUES (?, ?, ?)",
            ("g1", i, ring.encrypt(f"pair {i}", table="pairs", column="secret", row=row_key(("g1", i)))),
        )
    return ids


async def _find(db: Database, ring: KeyRing, member: int) -> str | None:
    indexes = ring.blind_indexes(member, purpose="member")
    marks = ", ".join("?" for _ in indexes)
    row = await db.fetchone(f"SELECT id FROM members WHERE member_idx IN ({marks})", indexes)
    return None if row is None else str(row["id"])


async def _assert_all_under(db: Database, ring: KeyRing, new: str, ids: dict[str, int]) -> None:
    """Every field and index is under the current key and readable with the new key alone."""
    only_new = KeyRing.parse(new)
    for row in await db.fetchall("SELECT id, member, member_idx, note FROM members"):
        rk = row_key((row["id"],))
        assert blob_kid(row["member"]) == ring.current_kid
        assert only_new.decrypt_str(row["member"], table="members", column="member", row=rk) == str(
            ids[row["id"]]
        )
        assert bytes(row["member_idx"]) == only_new.blind_index(ids[row["id"]], purpose="member")
        if row["note"] is not None:
            assert only_new.decrypt_str(row["note"], table="members", column="note", row=rk).startswith(
                "note"
            )
    for row in await db.fetchall("SELECT guild, seq, secret FROM pairs"):
        text = only_new.decrypt_str(
            row["secret"], table="pairs", column="secret", row=row_key((row["guild"], row["seq"]))
        )
        assert text == f"pair {row['seq']}"


async def test_full_rotation(tmp_path: Path, mig_dir: Path) -> None:
    old, new = generate_key(), generate_key()
    path = tmp_path / "hs.db"
    db = await open_checked_database(path, KeyRing.parse(old), migrations_dir=mig_dir)
    ids = await _insert(db, KeyRing.parse(old), 25)
    await db.close()

    ring = KeyRing.parse(f"{new},{old}")
    db = await open_checked_database(path, ring, migrations_dir=mig_dir)
    try:
        report = await rotate_key(db, ring, batch_size=7, registry=_registry())
        assert report.retired_kids == [ring.kids[1]]
        assert report.fields_reencrypted == 25 + 12 + 25
        assert report.indexes_updated == 25
        assert report.tables == ["members", "pairs"]
        await _assert_all_under(db, ring, new, ids)
        assert [r["kid"] for r in await db.fetchall("SELECT kid FROM key_check")] == [ring.current_kid]
        assert await db.fetchval("SELECT count(*) FROM key_rotation") == 0
        again = await rotate_key(db, ring, batch_size=7, registry=_registry())
        assert again.fields_reencrypted == 0 and again.indexes_updated == 0
    finally:
        await db.close()
    # the old key can now be dropped from HOLDSPACE_KEY
    db = await open_checked_database(path, KeyRing.parse(new), migrations_dir=mig_dir)
    try:
        member = next(iter(ids.values()))
        assert await _find(db, KeyRing.parse(new), member) is not None
    finally:
        await db.close()


async def test_interrupted_rotation_resumes(tmp_path: Path, mig_dir: Path) -> None:
    old, new = generate_key(), generate_key()
    path = tmp_path / "hs.db"
    db = await open_checked_database(path, KeyRing.parse(old), migrations_dir=mig_dir)
    ids = await _insert(db, KeyRing.parse(old), 30)
    await db.close()

    ring = KeyRing.parse(f"{new},{old}")
    db = await open_checked_database(path, ring, migrations_dir=mig_dir)
    calls: list[RotationProgress] = []

    def stop_after_first(progress: RotationProgress) -> None:
        calls.append(progress)
        raise KeyboardInterrupt

    try:
        with pytest.raises(KeyboardInterrupt):
            await rotate_key(db, ring, batch_size=10, progress=stop_after_first, registry=_registry())
        assert len(calls) == 1 and calls[0].rows_scanned == 10
        kids = [blob_kid(r["member"]) for r in await db.fetchall("SELECT member FROM members ORDER BY rowid")]
        assert kids.count(ring.current_kid) == 10 and kids.count(ring.kids[1]) == 20
        # both keys still required; look-ups work for rotated and not-yet-rotated rows
        assert {r["kid"] for r in await db.fetchall("SELECT kid FROM key_check")} == set(ring.kids)
        status = await rotation_status(db)
        assert status.in_progress and status.target_kid == ring.current_kid
        assert status.fields_reencrypted == 15  # first batch of members: 10 member ids + 5 notes
        for member in ids.values():
            assert await _find(db, ring, member) is not None
    finally:
        await db.close()

    # the half-done rotation still needs the old key
    with pytest.raises(WrongKeyError):
        await open_checked_database(path, KeyRing.parse(new), migrations_dir=mig_dir)

    db = await open_checked_database(path, ring, migrations_dir=mig_dir)
    try:

        async def async_progress(progress: RotationProgress) -> None:
            calls.append(progress)

        report = await rotate_key(db, ring, batch_size=10, progress=async_progress, registry=_registry())
        assert report.retired_kids == [ring.kids[1]]
        await _assert_all_under(db, ring, new, ids)
        status = await rotation_status(db)
        assert not status.in_progress and status.kids_in_use == (ring.current_kid,)
    finally:
        await db.close()
    db = await open_checked_database(path, KeyRing.parse(new), migrations_dir=mig_dir)
    await db.close()


async def test_rotation_refuses_to_retire_a_key_still_used_elsewhere(tmp_path: Path, mig_dir: Path) -> None:
    old, new = generate_key(), generate_key()
    path = tmp_path / "hs.db"
    db = await open_checked_database(path, KeyRing.parse(old), migrations_dir=mig_dir)
    await _insert(db, KeyRing.parse(old), 3)
    await db.close()
    ring = KeyRing.parse(f"{new},{old}")
    db = await open_checked_database(path, ring, migrations_dir=mig_dir)
    try:
        partial = Registry()
        partial.register_encrypted("members", "member")
        with pytest.raises(RotationError, match=r"members\.note"):
            await rotate_key(db, ring, registry=partial)
        assert {r["kid"] for r in await db.fetchall("SELECT kid FROM key_check")} == set(ring.kids)
    finally:
        await db.close()


async def test_rotation_needs_every_old_key(tmp_path: Path, mig_dir: Path) -> None:
    old, new = generate_key(), generate_key()
    path = tmp_path / "hs.db"
    db = await open_checked_database(path, KeyRing.parse(old), migrations_dir=mig_dir)
    await db.close()
    db = await Database.open(path, migrations_dir=mig_dir)
    try:
        with pytest.raises(WrongKeyError):
            await rotate_key(db, KeyRing.parse(new), registry=_registry())
    finally:
        await db.close()


async def test_rotation_reports_unmigrated_tables(tmp_path: Path) -> None:
    ring = KeyRing.generate()
    db = await open_checked_database(tmp_path / "hs.db", ring)
    try:
        reg = Registry()
        reg.register_encrypted("not_there_yet", "x")
        with pytest.raises(RotationError, match="migrate"):
            await rotate_key(db, ring, registry=reg)
    finally:
        await db.close()


def test_registry_validation() -> None:
    reg = Registry()
    reg.register_encrypted("t", "c")
    reg.register_encrypted("t", "c")  # same again is fine
    with pytest.raises(ValueError):
        reg.register_encrypted("t", "c", row_key=("other",))
    with pytest.raises(ValueError):
        reg.register_encrypted("t; DROP", "c")
    with pytest.raises(ValueError):
        reg.register_encrypted("t", "id", row_key=("id",))
    assert row_key(("abc",)) == "abc"
    assert row_key((7,)) == "7"
    assert row_key(("a|1", "b")) != row_key(("a", "1|b"))
    with pytest.raises(TypeError):
        row_key("abc")
    with pytest.raises(ValueError):
        row_key(())
