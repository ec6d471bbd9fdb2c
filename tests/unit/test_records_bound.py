"""Records of an older database bound to their group and server at the next start (migration 0013
and bot.storage.rebind), each column with its own blind-index purpose, and key rotation afterwards."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from bot.core.consent_chain import GENESIS, Head, link
from bot.crypto import KeyRing, generate_key
from bot.storage import cases as case_store
from bot.storage import consent_anchor, migrations
from bot.storage import consents as consent_store
from bot.storage import groups as group_store
from bot.storage.db import DEFAULT_MIGRATIONS_DIR, Database
from bot.storage.fields import row_key
from bot.storage.keycheck import open_checked_database, verify_or_store_key
from bot.storage.rotation import rotate_key

AT = datetime(2026, 3, 1, tzinfo=UTC)
GROUP = "a" * 32
NAME = "Tuesday circle"


def _older_migrations(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations-0012"
    folder.mkdir()
    for path in sorted(DEFAULT_MIGRATIONS_DIR.glob("*.sql")):
        if int(path.name[:4]) <= 12:
            shutil.copy(path, folder / path.name)
    return folder


async def _older_file(tmp_path: Path, ring: KeyRing) -> Path:
    """A database as the release before 0013 left it: names in the clear, roster rows bound to their
    row only, consents bound to (row, group) and chained, one purpose "member" for everything."""
    path = tmp_path / "hs.db"
    db = await Database.open(path)
    await migrations.migrate(db, _older_migrations(tmp_path))
    await verify_or_store_key(db, ring)
    await db.execute(
        "INSERT INTO groups (id, guild_id, name, name_key, text_channel_id, voice_channel_id, reconsent_after_days, "
        "facilitators_consent, lock_between_sessions, expire_at_session_end, keep_pinned, auto_reminder_gap_seconds, "
        "max_hold_days, created_ms) VALUES (?, 1, ?, ?, 10, 11, 365, 0, 0, 0, 0, 7200, 14, 0)",
        (GROUP, NAME, group_store.name_key(NAME)),
    )
    for table, row_id in (("enrolments", "e" * 32), ("group_facilitators", "f" * 32)):
        await db.execute(
            f"INSERT INTO {table} (id, group_id, member_index, member_id, created_ms) VALUES (?, ?, ?, ?, 0)",
            (
                row_id,
                GROUP,
                ring.blind_index(7, purpose="member"),
                ring.encrypt("7", table=table, column="member_id", row=row_id),
            ),
        )
    consent_id = "c" * 32
    facts = {
        "id": consent_id, "group_id": GROUP, "member_id": 7, "answer": "agree", "version": 1, "sha256": "s",
        "method": "command", "at": AT.isoformat(), "reason": None,
    }
    where = row_key((consent_id, GROUP))
    await db.execute(
        "INSERT INTO consents (id, seq, group_id, member_index, member_id, data) VALUES (?, 1, ?, ?, ?, ?)",
        (
            consent_id,
            GROUP,
            ring.blind_index(7, purpose="member"),
            ring.encrypt("7", table="consents", column="member_id", row=where),
            ring.encrypt_json(
                {"answer": "agree", "method": "command", "at": AT.isoformat(), "version": 1, "sha256": "s",
                 "epoch": 1, "n": 1, "prev": GENESIS},
                table="consents", column="data", row=where,
            ),
        ),
    )
    await db.execute("INSERT INTO meta (key, value) VALUES (?, '1')", (consent_store.SEALED_META,))
    consent_anchor.replace_heads(db, ring, {GROUP: Head(1, 1, link(GENESIS, facts))})
    await db.close()
    return path


async def _whole(path: Path, ring: KeyRing) -> None:
    db = await open_checked_database(path, ring)
    try:
        (group,) = await group_store.load_all(db, ring)
        assert group.name == NAME
        assert await group_store.name_taken(db, ring, 1, "  tuesday  CIRCLE")
        rosters = await group_store.load_rosters(db, ring)
        assert rosters[GROUP].problem is None
        assert rosters[GROUP].enrolled == {7} and rosters[GROUP].facilitators == {7}
        checked = await consent_store.load_checked(db, ring, {GROUP})
        assert checked.tampered == {} and [f.member_id for _, f in checked.current] == [7]
        assert await group_store.groups_of_member(db, ring, 7) == [GROUP]
        assert [e.member_id for e in await consent_store.history(db, ring, member_id=7)] == [7]
    finally:
        await db.close()


async def test_an_older_file_is_bound_at_the_next_start_and_survives_a_key_rotation(tmp_path: Path) -> None:
    old = generate_key()
    ring = KeyRing.parse(old)
    path = await _older_file(tmp_path, ring)
    await _whole(path, ring)
    raw = path.read_bytes()
    assert NAME.encode() not in raw and group_store.name_key(NAME).encode() not in raw, "names are encrypted"
    with sqlite3.connect(path) as conn:
        indexes = [
            {bytes(r[0]) for r in conn.execute(f"SELECT member_index FROM {table}")}
            for table in ("enrolments", "group_facilitators", "consents")
        ]
    assert all(indexes) and not (indexes[0] & indexes[1] or indexes[0] & indexes[2] or indexes[1] & indexes[2])

    new = generate_key()
    both = KeyRing.parse(f"{new},{old}")
    db = await open_checked_database(path, both)
    await rotate_key(db, both)
    await db.close()
    await _whole(path, KeyRing.parse(new))  # the anchor was signed anew, every field re-encrypted


async def test_a_row_moved_under_the_old_binding_is_not_bound_to_its_new_place(tmp_path: Path) -> None:
    """A consent row moved to another group before the upgrade decrypts under neither binding."""
    ring = KeyRing.generate()
    path = await _older_file(tmp_path, ring)
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO groups (id, guild_id, name, name_key, text_channel_id, voice_channel_id, "
            "reconsent_after_days, facilitators_consent, lock_between_sessions, expire_at_session_end, keep_pinned, "
            "auto_reminder_gap_seconds, max_hold_days, created_ms) "
            "VALUES (?, 1, 'Other', 'other', 20, 21, 365, 0, 0, 0, 0, 7200, 14, 0)",
            ("b" * 32,),
        )
        conn.execute("UPDATE consents SET group_id = ?", ("b" * 32,))
    db = await open_checked_database(path, ring)
    try:
        checked = await consent_store.load_checked(db, ring, {GROUP, "b" * 32})
        assert set(checked.tampered) == {GROUP, "b" * 32} and checked.current == []
    finally:
        await db.close()


async def test_every_column_has_its_own_fingerprint_of_a_person(tmp_path: Path) -> None:
    ring = KeyRing.generate()
    db = await open_checked_database(tmp_path / "hs.db", ring)
    try:
        from bot.core.records import GroupInfo

        group = GroupInfo(id=GROUP, guild_id=1, name=NAME, text_channel_id=10, voice_channel_id=11)
        await group_store.insert_group(db, ring, group, "Rules", AT)
        await group_store.enrol(db, ring, GROUP, 7, AT)
        await group_store.add_facilitator(db, ring, GROUP, 7, AT)
        await consent_store.record(db, ring, group_id=GROUP, member_id=7, answer="agree", at=AT, method="command",
                                   version=1, sha256="s")
        await case_store.open_case(db, ring, guild_id=1, kind="breach_report", now=AT, reporter_id=7)
    finally:
        await db.close()
    with sqlite3.connect(tmp_path / "hs.db") as conn:
        columns = [
            ("enrolments", "member_index"), ("group_facilitators", "member_index"), ("consents", "member_index"),
            ("cases", "reporter_index"),
        ]
        seen = [{bytes(r[0]) for r in conn.execute(f"SELECT {c} FROM {t}")} for t, c in columns]
    assert all(len(s) == 1 for s in seen) and len(set.union(*seen)) == len(columns)


async def test_cases_are_bound_to_their_group_and_server(tmp_path: Path) -> None:
    """An older case (bound to its row only) is bound at the next start; a case moved to another group
    in the file is shown to no one there, and nothing fails over it."""
    from bot.storage import rebind

    ring = KeyRing.generate()
    path = tmp_path / "hs.db"
    db = await open_checked_database(path, ring)
    opened = await case_store.open_case(
        db, ring, guild_id=1, kind="breach_report", now=AT, group_id=GROUP, subject_id=8, reporter_id=7,
        details={"what": "x"},
    )
    await case_store.add_note(db, ring, 1, opened.number, 9, "a note", AT)
    # As an older version wrote them: every field bound to its own row id only.
    where = case_store.case_row(opened.case_id, 1, GROUP)
    for column in ("subject", "reporter", "details"):
        blob = await db.fetchval(f"SELECT {column} FROM cases WHERE id = ?", (opened.case_id,))
        plain = ring.decrypt(blob, table="cases", column=column, row=where)
        await db.execute(
            f"UPDATE cases SET {column} = ? WHERE id = ?",
            (ring.encrypt(plain, table="cases", column=column, row=opened.case_id), opened.case_id),
        )
    noted = await db.fetchall("SELECT id, case_id, note FROM case_events WHERE note IS NOT NULL")
    for event_id, case_id, note in noted:
        plain = ring.decrypt(note, table="case_events", column="note", row=row_key((event_id, case_id)))
        await db.execute(
            "UPDATE case_events SET note = ? WHERE id = ?",
            (ring.encrypt(plain, table="case_events", column="note", row=event_id), event_id),
        )
    await db.execute("DELETE FROM meta WHERE key = ?", (rebind.CASES_META_KEY,))
    await db.close()

    db = await open_checked_database(path, ring)
    try:
        case = await case_store.get_case(db, ring, 1, opened.number)
        assert case is not None and case.subject_id == 8 and case.details == {"what": "x"}
        assert [e.note for e in await case_store.events(db, ring, opened.case_id) if e.note] == ["a note"]
        await db.execute("UPDATE cases SET group_id = ? WHERE id = ?", ("b" * 32, opened.case_id))
        assert await case_store.get_case(db, ring, 1, opened.number) is None
        assert await case_store.all_cases(db, ring, 1) == []
        assert (await case_store.list_cases(db, ring, 1))[0] == []
    finally:
        await db.close()


async def test_an_unwritable_anchor_copy_never_stops_a_record(tmp_path: Path) -> None:
    ring = KeyRing.generate()
    db = await open_checked_database(tmp_path / "hs.db", ring, anchor_copy=tmp_path / "missing-folder" / "a")
    try:
        from bot.core.records import GroupInfo

        group = GroupInfo(id=GROUP, guild_id=1, name=NAME, text_channel_id=10, voice_channel_id=11)
        await group_store.insert_group(db, ring, group, "Rules", AT)
        assert await group_store.enrol(db, ring, GROUP, 7, AT)
        assert (tmp_path / "hs.db.anchor").exists()
        assert await group_store.groups_of_member(db, ring, 7) == [GROUP]
    finally:
        await db.close()
