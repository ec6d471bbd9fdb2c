"""The consent chain (bot.core.consent_chain) and its storage: sealing older files, the anchor, rotation."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from bot.core.consent_chain import GENESIS, Head, Linked, link, verify
from bot.crypto import KeyRing, generate_key
from bot.storage import consent_anchor, records_check
from bot.storage import consents as consent_store
from bot.storage import groups as group_store
from bot.storage.keycheck import open_checked_database
from bot.storage.rotation import rotate_key

AT = datetime(2026, 3, 1, tzinfo=UTC)


def chain(count: int, epoch: int = 1) -> list[Linked]:
    out, prev = [], GENESIS
    for n in range(1, count + 1):
        event = Linked(epoch, n, prev, {"id": str(n)})
        prev = link(prev, event.facts)
        out.append(event)
    return out


def test_a_whole_chain_holds_and_reports_its_head() -> None:
    events = chain(3)
    head, problem = verify(events, None)
    assert problem is None and head == Head(1, 3, link(events[2].prev, events[2].facts))
    assert verify(events, Head(1, 2, link(events[1].prev, events[1].facts))) == (head, None)


def test_gaps_repeats_reorders_and_rollbacks_are_found() -> None:
    events = chain(4)
    head, _ = verify(events, None)
    assert head is not None
    assert verify([events[0], events[2], events[3]], None)[1] is not None  # deleted
    assert verify([*events, events[1]], None)[1] is not None  # replayed
    assert verify([events[0], events[2], events[1], events[3]], None)[1] is not None  # reordered
    assert verify(events[:3], head)[1] is not None  # newest removed: the anchor is ahead
    assert verify([], head)[1] is not None
    assert verify(chain(4), Head(1, 2, "0" * 64))[1] is not None  # another history
    assert verify(chain(2, epoch=1), Head(2, 1, "x"))[1] is not None  # an older epoch put back


def test_a_new_epoch_sets_the_old_one_aside() -> None:
    broken = [chain(3)[0], chain(3)[2]]
    fresh = chain(1, epoch=2)
    head, problem = verify([*broken, *fresh], Head(1, 3, "whatever"))
    assert problem is None and head is not None and head.epoch == 2


async def _group(db: object, group_id: str) -> None:
    await db.execute(  # type: ignore[attr-defined]
        "INSERT INTO groups (id, guild_id, name, name_key, text_channel_id, voice_channel_id, reconsent_after_days, "
        "facilitators_consent, lock_between_sessions, expire_at_session_end, keep_pinned, auto_reminder_gap_seconds, "
        "max_hold_days, created_ms) VALUES (?, 1, ?, ?, ?, ?, 365, 0, 0, 0, 0, 7200, 14, 0)",
        (group_id, group_id, group_id, int(group_id[:6], 16), int(group_id[:6], 16) + 1),
    )


async def test_retention_keeps_the_chain_whole(tmp_path: Path) -> None:
    ring = KeyRing.generate()
    db = await open_checked_database(tmp_path / "hs.db", ring)
    group_id = "b" * 32
    await _group(db, group_id)
    for member, answer in ((7, "agree"), (8, "agree"), (7, "withdraw"), (8, "decline"), (8, "agree")):
        await consent_store.record(
            db, ring, group_id=group_id, member_id=member, answer=answer, at=AT, method="command"
        )
    removed = await consent_store.purge_ended(db, ring, datetime(2030, 1, 1, tzinfo=UTC), set())
    assert removed == 2
    checked = await consent_store.load_checked(db, ring, {group_id})
    assert checked.tampered == {} and [f.member_id for _, f in checked.current] == [8]
    assert checked.heads[group_id].n == 3
    await db.close()
    # From a fresh read of the anchor file, too.
    db = await open_checked_database(tmp_path / "hs.db", ring)
    assert (await consent_store.load_checked(db, ring, {group_id})).tampered == {}
    await db.close()


async def test_an_older_file_is_sealed_once_and_survives_a_key_rotation(tmp_path: Path) -> None:
    old = generate_key()
    ring = KeyRing.parse(old)
    path = tmp_path / "hs.db"
    db = await open_checked_database(path, ring)
    group_id = "a" * 32
    await db.execute(
        "INSERT INTO groups (id, guild_id, name, name_key, text_channel_id, voice_channel_id, reconsent_after_days, "
        "facilitators_consent, lock_between_sessions, expire_at_session_end, keep_pinned, auto_reminder_gap_seconds, "
        "max_hold_days, created_ms) VALUES (?, 1, 'G', 'g', 10, 11, 365, 0, 0, 0, 0, 7200, 14, 0)",
        (group_id,),
    )
    # As an older version wrote them: bound to the row id only, no chain.
    for seq, (row_id, answer) in enumerate((("1" * 32, "agree"), ("2" * 32, "withdraw"), ("3" * 32, "agree")), 1):
        await db.execute(
                "INSERT INTO consents (id, seq, group_id, guild_id, member_index, member_id, data) "
                "VALUES (?, ?, ?, 1, ?, ?, ?)",
            (
                row_id,
                seq,
                group_id,
                ring.blind_index(7, purpose="member"),
                ring.encrypt("7", table="consents", column="member_id", row=row_id),
                ring.encrypt_json({"answer": answer, "method": "command", "at": AT.isoformat(), "version": 1,
                                   "sha256": "s"}, table="consents", column="data", row=row_id),
            ),
        )
    await db.execute("DELETE FROM meta WHERE key = ?", (consent_store.SEALED_META,))
    assert await consent_store.seal_legacy(db, ring) == 3
    assert await consent_store.seal_legacy(db, ring) == 0
    await records_check.accept(db, ring)  # as the start does for a file that had no anchor yet
    checked = await consent_store.load_checked(db, ring, {group_id})
    assert checked.tampered == {} and [f.member_id for _, f in checked.current] == [7]
    consent_anchor.replace_heads(db, ring, checked.heads)
    await db.close()

    new = generate_key()
    both = KeyRing.parse(f"{new},{old}")
    db = await open_checked_database(path, both)
    await rotate_key(db, both)
    await db.close()
    only_new = KeyRing.parse(new)
    db = await open_checked_database(path, only_new)
    checked = await consent_store.load_checked(db, only_new, {group_id})
    assert checked.tampered == {} and [f.member_id for _, f in checked.current] == [7]
    await db.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM consents").fetchone() == (3,)


async def test_a_case_reporter_cannot_be_matched_with_their_groups_in_the_file(tmp_path: Path) -> None:
    from bot.storage import cases as case_store
    from bot.storage.reindex import reindex

    ring = KeyRing.generate()
    path = tmp_path / "hs.db"
    db = await open_checked_database(path, ring)
    group_id = "c" * 32
    await _group(db, group_id)
    await group_store.enrol(db, ring, group_id, 7, AT)
    opened = await case_store.open_case(db, ring, guild_id=1, kind="breach_report", now=AT, reporter_id=7)
    # As an older version indexed it: the shared purpose "member".
    await db.execute(
        "UPDATE cases SET reporter_index = ? WHERE id = ?", (ring.blind_index(7, purpose="member"), opened.case_id)
    )
    await db.execute("DELETE FROM meta WHERE key = 'blind_index_purposes'")
    assert await reindex(db, ring) == 1 and await reindex(db, ring) == 0
    with sqlite3.connect(path) as conn:
        enrolled = {bytes(r[0]) for r in conn.execute("SELECT member_index FROM enrolments")}
        reporters = {bytes(r[0]) for r in conn.execute("SELECT reporter_index FROM cases")}
    assert enrolled and reporters and not enrolled & reporters
    assert [c.number for c in await case_store.list_for_reporter(db, ring, 1, 7)] == [opened.number]
    await db.close()
