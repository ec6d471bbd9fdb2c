"""Personal fields stored through the crypto layer never appear in clear in the database files."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from bot.crypto import KeyRing, generate_key
from bot.storage.db import DEFAULT_MIGRATIONS_DIR
from bot.storage.fields import Registry, row_key
from bot.storage.keycheck import open_checked_database
from bot.storage.rotation import rotate_key

MEMBER_ID = 123456789012345678
NAME = "Margarethe Quisenberry"
FREE_TEXT = "I have been struggling with panic attacks since the accident"

FEATURE_SQL = """
CREATE TABLE scan_people (
    id TEXT PRIMARY KEY,
    member BLOB NOT NULL,
    member_idx BLOB NOT NULL,
    name BLOB NOT NULL,
    story BLOB NOT NULL,
    details BLOB NOT NULL
);
CREATE INDEX scan_people_member_idx ON scan_people (member_idx);
"""


def _needles() -> dict[str, bytes]:
    needles = {
        "member id (decimal)": str(MEMBER_ID).encode(),
        "member id (64-bit big-endian)": MEMBER_ID.to_bytes(8, "big"),
        "member id (64-bit little-endian)": MEMBER_ID.to_bytes(8, "little"),
        "name": NAME.encode(),
        "name (utf-16)": NAME.encode("utf-16-le"),
        "free text": FREE_TEXT.encode(),
        "free text fragment": FREE_TEXT.split()[4].encode(),  # "panic"
    }
    return needles


def _scan(directory: Path) -> list[str]:
    found = []
    files = [p for p in directory.iterdir() if p.name.startswith("hs.db")]
    assert any(p.name == "hs.db" for p in files)
    for path in files:
        data = path.read_bytes()
        for label, needle in _needles().items():
            if needle in data:
                found.append(f"{label} in {path.name}")
    return found


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path]:
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    for source in sorted(DEFAULT_MIGRATIONS_DIR.glob("0001_*.sql")):
        (migrations / source.name).write_text(source.read_text())
    (migrations / "0002_scan.sql").write_text(FEATURE_SQL)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    return migrations, data_dir


@pytest.mark.parametrize("rotate", [False, True])
async def test_personal_fields_never_in_clear(setup: tuple[Path, Path], rotate: bool) -> None:
    migrations, data_dir = setup
    path = data_dir / "hs.db"
    old_key = generate_key()
    ring = KeyRing.parse(old_key)
    db = await open_checked_database(path, ring, migrations_dir=migrations)
    for n in range(50):
        rid = uuid.uuid4().hex
        rk = row_key((rid,))
        await db.execute(
            "INSERT INTO scan_people (id, member, member_idx, name, story, details) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                rid,
                ring.encrypt(str(MEMBER_ID), table="scan_people", column="member", row=rk),
                ring.blind_index(MEMBER_ID, purpose="member"),
                ring.encrypt(NAME, table="scan_people", column="name", row=rk),
                ring.encrypt(f"{FREE_TEXT} ({n})", table="scan_people", column="story", row=rk),
                ring.encrypt_json(
                    {"member": MEMBER_ID, "name": NAME}, table="scan_people", column="details", row=rk
                ),
            ),
        )
    # while open: the -wal file holds the fresh pages
    assert _scan(data_dir) == []
    row = await db.fetchone(
        "SELECT id, name FROM scan_people WHERE member_idx IN (?)",
        (ring.blind_index(MEMBER_ID, purpose="member"),),
    )
    assert row is not None
    assert ring.decrypt_str(row["name"], table="scan_people", column="name", row=row["id"]) == NAME
    await db.close()
    assert _scan(data_dir) == []

    if rotate:
        new_ring = KeyRing.parse(f"{generate_key()},{old_key}")
        reg = Registry()
        for column in ("member", "name", "story", "details"):
            reg.register_encrypted("scan_people", column)
        reg.register_blind_index("scan_people", "member_idx", "member", purpose="member")
        db = await open_checked_database(path, new_ring, migrations_dir=migrations)
        await rotate_key(db, new_ring, batch_size=7, registry=reg)
        assert _scan(data_dir) == []
        await db.close()
        assert _scan(data_dir) == []


async def test_the_scan_would_see_clear_text(setup: tuple[Path, Path]) -> None:
    """Control: the same scan finds plaintext written without encryption (in the -wal and main file)."""
    migrations, data_dir = setup
    ring = KeyRing.generate()
    db = await open_checked_database(data_dir / "hs.db", ring, migrations_dir=migrations)
    await db.set_meta("leak", f"{MEMBER_ID} {NAME} {FREE_TEXT}")
    assert any("hs.db-wal" in hit for hit in _scan(data_dir))
    await db.close()
    assert any(hit.endswith("in hs.db") for hit in _scan(data_dir))
