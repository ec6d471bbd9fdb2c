"""Case storage: numbering, dedupe, claims, notes, resolution, holds, encryption at rest."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.cases import CaseRuleError, Status
from bot.crypto import KeyRing
from bot.exports.cases_audit import export_cases
from bot.storage import cases as store
from bot.storage import holds
from bot.storage.db import Database

G1, G2 = 1001, 2002
MOD_A, MOD_B, MEMBER = 555000111, 555000222, 777000333
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


async def _open(db: Database, ring: KeyRing, guild: int = G1, **kw: object) -> store.OpenResult:
    kw.setdefault("kind", "bot_added")
    return await store.open_case(db, ring, guild_id=guild, now=NOW, **kw)  # type: ignore[arg-type]


async def test_numbers_count_per_guild(db: Database, ring: KeyRing) -> None:
    numbers = [(await _open(db, ring, G1)).number for _ in range(3)]
    other = (await _open(db, ring, G2)).number
    assert numbers == [1, 2, 3] and other == 1


async def test_numbers_are_never_reused_after_retention(db: Database, ring: KeyRing) -> None:
    await _open(db, ring)
    await store.resolve(db, ring, G1, 1, MOD_A, "dismissed", "nothing to see", NOW)
    assert await store.purge_closed(db, NOW + timedelta(seconds=1)) == 1
    assert (await _open(db, ring)).number == 2


async def test_dedupe_returns_the_open_case_until_it_closes(db: Database, ring: KeyRing) -> None:
    first = await _open(db, ring, kind="expiry_blocked", dedupe_key="channel:42")
    again = await _open(db, ring, kind="expiry_blocked", dedupe_key="channel:42")
    assert (again.number, again.created) == (first.number, False)
    other_kind = await _open(db, ring, kind="permission_drift", dedupe_key="channel:42")
    other_key = await _open(db, ring, kind="expiry_blocked", dedupe_key="channel:43")
    other_guild = await _open(db, ring, G2, kind="expiry_blocked", dedupe_key="channel:42")
    assert other_kind.created and other_key.created and other_guild.created
    await store.claim(db, ring, G1, first.number, MOD_A, NOW)
    assert not (await _open(db, ring, kind="expiry_blocked", dedupe_key="channel:42")).created
    await store.resolve(db, ring, G1, first.number, MOD_A, "actioned", "fixed permissions", NOW)
    reopened = await _open(db, ring, kind="expiry_blocked", dedupe_key="channel:42")
    assert reopened.created and reopened.number != first.number


async def test_personal_fields_are_encrypted_at_rest(db: Database, ring: KeyRing) -> None:
    result = await _open(
        db,
        ring,
        kind="breach_report",
        subject_id=MEMBER,
        reporter_id=MOD_B,
        details={"summary": "something secret happened"},
        dedupe_key=f"report:{MEMBER}",
    )
    await store.add_note(db, ring, G1, result.number, MOD_A, "secret note", NOW)
    rows = [*await db.fetchall("SELECT * FROM cases"), *await db.fetchall("SELECT * FROM case_events")]
    dump = "\n".join(str(bytes(v)) if isinstance(v, bytes) else str(v) for row in rows for v in tuple(row))
    for secret in (str(MEMBER), str(MOD_B), str(MOD_A), "secret"):
        assert secret not in dump
    case = await store.get_case(db, ring, G1, result.number)
    assert case is not None
    assert case.subject_id == MEMBER and case.details == {"summary": "something secret happened"}
    assert not hasattr(case, "reporter_id")


async def test_unknown_and_foreign_numbers(db: Database, ring: KeyRing) -> None:
    await _open(db, ring, G2)
    assert await store.get_case(db, ring, G1, 1) is None
    for call in (
        store.claim(db, ring, G1, 1, MOD_A, NOW),
        store.add_note(db, ring, G1, 1, MOD_A, "x", NOW),
        store.resolve(db, ring, G1, 1, MOD_A, "dismissed", "x", NOW),
    ):
        with pytest.raises(store.CaseNotFound, match="no case #1 in this server"):
            await call
    case = await store.get_case(db, ring, G2, 1)
    assert case is not None and case.status is Status.OPEN and case.assignee_id is None


async def test_claim_then_second_claim_is_told_without_names(db: Database, ring: KeyRing) -> None:
    await _open(db, ring)
    case = await store.claim(db, ring, G1, 1, MOD_A, NOW)
    assert case.status is Status.INVESTIGATING and case.assignee_id == MOD_A
    with pytest.raises(CaseRuleError) as caught:
        await store.claim(db, ring, G1, 1, MOD_B, NOW)
    assert str(caught.value) == "Case #1 is already claimed by another moderator."
    with pytest.raises(CaseRuleError, match="already yours"):
        await store.claim(db, ring, G1, 1, MOD_A, NOW)


async def test_two_moderators_claiming_at_once(db: Database, ring: KeyRing) -> None:
    await _open(db, ring)
    results = await asyncio.gather(
        store.claim(db, ring, G1, 1, MOD_A, NOW),
        store.claim(db, ring, G1, 1, MOD_B, NOW),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, store.CaseRecord)]
    losers = [r for r in results if isinstance(r, CaseRuleError)]
    assert len(winners) == 1 and len(losers) == 1
    assert "another moderator" in str(losers[0])
    case = await store.get_case(db, ring, G1, 1)
    assert case is not None and case.assignee_id == winners[0].assignee_id


async def test_resolve_requires_a_note_and_changes_nothing_without(db: Database, ring: KeyRing) -> None:
    await _open(db, ring)
    with pytest.raises(CaseRuleError, match="note"):
        await store.resolve(db, ring, G1, 1, MOD_A, "dismissed", "   ", NOW)
    case = await store.get_case(db, ring, G1, 1)
    assert case is not None and case.status is Status.OPEN
    assert [e.action for e in await store.events(db, ring, case.id)] == ["opened"]


async def test_resolve_twice_is_refused(db: Database, ring: KeyRing) -> None:
    await _open(db, ring)
    later = NOW + timedelta(minutes=5)
    result = await store.resolve(db, ring, G1, 1, MOD_A, "actioned", "removed the bot", later)
    assert result.case.status is Status.ACTIONED and result.case.closed_at == later
    with pytest.raises(CaseRuleError, match="cannot be resolved twice"):
        await store.resolve(db, ring, G1, 1, MOD_B, "dismissed", "again", later)
    with pytest.raises(CaseRuleError, match="already closed"):
        await store.claim(db, ring, G1, 1, MOD_B, later)


async def test_history_records_every_change_with_times(db: Database, ring: KeyRing) -> None:
    await _open(db, ring)
    await store.claim(db, ring, G1, 1, MOD_A, NOW + timedelta(minutes=1))
    await store.add_note(db, ring, G1, 1, MOD_A, "asked the facilitator", NOW + timedelta(minutes=2))
    await store.resolve(db, ring, G1, 1, MOD_A, "dismissed", "false alarm", NOW + timedelta(minutes=3))
    case = await store.get_case(db, ring, G1, 1)
    assert case is not None
    history = await store.events(db, ring, case.id)
    assert [(e.action, e.actor_id, e.note) for e in history] == [
        ("opened", None, None),
        ("claimed", MOD_A, None),
        ("note", MOD_A, "asked the facilitator"),
        ("resolved", MOD_A, "false alarm"),
    ]
    assert [e.at for e in history] == [NOW + timedelta(minutes=m) for m in range(4)]
    assert case.updated_at == NOW + timedelta(minutes=3)


async def test_list_filters_and_pages(db: Database, ring: KeyRing) -> None:
    for i in range(25):
        await _open(db, ring, kind="bot_added" if i % 2 else "breach_report", group_id=f"g{i % 3}")
    await store.resolve(db, ring, G1, 1, MOD_A, "dismissed", "x", NOW)
    page, total = await store.list_cases(db, ring, G1, limit=10)
    assert total == 25 and [c.number for c in page] == list(range(25, 15, -1))
    page3, _ = await store.list_cases(db, ring, G1, offset=20, limit=10)
    assert [c.number for c in page3] == [5, 4, 3, 2, 1]
    _, open_total = await store.list_cases(db, ring, G1, statuses=[Status.OPEN, Status.INVESTIGATING])
    assert open_total == 24
    by_kind, kind_total = await store.list_cases(db, ring, G1, kind="bot_added", limit=50)
    assert kind_total == 12 and all(c.kind == "bot_added" for c in by_kind)
    by_group, _ = await store.list_cases(db, ring, G1, group_ids=["g1"], limit=50)
    assert {c.group_id for c in by_group} == {"g1"}
    assert await store.list_cases(db, ring, G1, group_ids=[]) == ([], 0)
    assert (await store.list_cases(db, ring, G2))[1] == 0


async def test_reporter_sees_only_own_reports(db: Database, ring: KeyRing) -> None:
    await _open(db, ring, kind="breach_report", reporter_id=MEMBER)
    await _open(db, ring, kind="breach_report", reporter_id=MOD_B)
    await _open(db, ring, G2, kind="breach_report", reporter_id=MEMBER)
    mine = await store.list_for_reporter(db, ring, G1, MEMBER)
    assert [c.number for c in mine] == [1]


async def test_reporter_lookup_works_during_key_rotation(db: Database) -> None:
    from bot.crypto import generate_key

    old, new = generate_key(), generate_key()
    await _open(db, KeyRing.parse(old), kind="breach_report", reporter_id=MEMBER)
    mine = await store.list_for_reporter(db, KeyRing.parse(f"{new},{old}"), G1, MEMBER)
    assert [c.number for c in mine] == [1]


# -- holds ---------------------------------------------------------------------------------------------


async def test_hold_keeps_a_message_until_the_case_closes(db: Database, ring: KeyRing) -> None:
    until = NOW + timedelta(days=14)
    result = await _open(db, ring, kind="breach_report", holds=[store.NewHold(10, 500, until)])
    assert await holds.held_message_ids(db, 10, [500, 501], NOW) == {500}
    assert await holds.held_message_ids(db, 11, [500], NOW) == set()
    assert await holds.held_message_ids(db, 10, [], NOW) == set()
    # Past until_ms the hold no longer counts, even before anyone removed it.
    assert await holds.held_message_ids(db, 10, [500], until) == set()
    resolved = await store.resolve(db, ring, G1, result.number, MOD_A, "dismissed", "ok", NOW)
    assert resolved.released == [(10, 500)]
    assert await holds.held_message_ids(db, 10, [500], NOW) == set()


async def test_a_message_held_by_two_cases_is_released_by_the_last(db: Database, ring: KeyRing) -> None:
    until = NOW + timedelta(days=14)
    first = await _open(db, ring, kind="breach_report", holds=[store.NewHold(10, 500, until)])
    second = await _open(db, ring, kind="breach_report", holds=[store.NewHold(10, 500, until)])
    one = await store.resolve(db, ring, G1, first.number, MOD_A, "dismissed", "dup", NOW)
    assert one.released == []
    assert await holds.held_message_ids(db, 10, [500], NOW) == {500}
    two = await store.resolve(db, ring, G1, second.number, MOD_A, "actioned", "done", NOW)
    assert two.released == [(10, 500)]


async def test_release_one_after_time_ran_out(db: Database, ring: KeyRing) -> None:
    until = NOW + timedelta(days=1)
    result = await _open(db, ring, kind="breach_report", holds=[store.NewHold(10, 500, until)])
    assert await holds.release_one(db, result.case_id, 10, 500, until) is True
    assert await holds.holds_of_case(db, result.case_id) == []


async def test_many_message_ids_are_checked_in_chunks(db: Database, ring: KeyRing) -> None:
    until = NOW + timedelta(days=1)
    await _open(db, ring, kind="breach_report", holds=[store.NewHold(10, 1234, until)])
    ids = list(range(1000, 3000))
    assert await holds.held_message_ids(db, 10, ids, NOW) == {1234}


async def test_a_failed_open_leaves_nothing_behind(db: Database, ring: KeyRing) -> None:
    with pytest.raises(CaseRuleError):
        await _open(db, ring, kind="Not A Kind", holds=[store.NewHold(10, 500, NOW)])
    assert await db.fetchval("SELECT COUNT(*) FROM cases") == 0
    assert await db.fetchval("SELECT COUNT(*) FROM message_holds") == 0
    assert await db.fetchval("SELECT COUNT(*) FROM case_counters") == 0


async def test_export_cases_hides_the_reporter(db: Database, ring: KeyRing) -> None:
    await _open(db, ring, kind="breach_report", reporter_id=MEMBER, subject_id=MOD_B, details={"a": 1})
    await store.add_note(db, ring, G1, 1, MOD_A, "a note", NOW)
    text = await export_cases(db, ring, G1, "json")
    data = json.loads(text)
    assert data["cases"][0]["subject_id"] == str(MOD_B)
    assert [h["action"] for h in data["cases"][0]["history"]] == ["opened", "note"]
    assert str(MEMBER) not in text
    csv_text = await export_cases(db, ring, G1, "csv")
    assert csv_text.splitlines()[0].startswith("number,kind,status")
    assert str(MEMBER) not in csv_text


async def test_rotate_key_reencrypts_cases_and_keeps_the_audit_chain(tmp_path: Path) -> None:
    """The real `holdspace rotate-key` path over this feature's registered columns."""
    from bot.crypto import blob_kid, generate_key
    from bot.exports.cases_audit import verify_audit
    from bot.services.audit import AuditLog
    from bot.storage.keycheck import open_checked_database
    from bot.storage.rotation import rotate_key

    old, new = generate_key(), generate_key()
    old_ring = KeyRing.parse(old)
    database = await open_checked_database(tmp_path / "rot.sqlite3", old_ring, migrate=True)
    try:
        opened = await store.open_case(
            database,
            old_ring,
            guild_id=G1,
            kind="breach_report",
            now=NOW,
            subject_id=MEMBER,
            reporter_id=MOD_B,
            details={"summary": "s"},
            dedupe_key="k",
        )
        await store.claim(database, old_ring, G1, opened.number, MOD_A, NOW)
        await store.add_note(database, old_ring, G1, opened.number, MOD_A, "a note", NOW)
        from bot.clock import FakeClock

        log = AuditLog(database, old_ring, FakeClock())
        for i in range(3):
            await log.record(G1, "case_claimed", actor_id=MOD_A + i)
    finally:
        await database.close()
    both = KeyRing.parse(f"{new},{old}")
    database = await open_checked_database(tmp_path / "rot.sqlite3", both, migrate=False)
    try:
        await rotate_key(database, both, batch_size=2)
    finally:
        await database.close()
    new_ring = KeyRing.parse(new)
    database = await open_checked_database(tmp_path / "rot.sqlite3", new_ring, migrate=False)
    try:
        for table, column in (
            ("cases", "subject"),
            ("cases", "details"),
            ("case_events", "note"),
            ("audit_log", "payload"),
        ):
            for (blob,) in await database.fetchall(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL"):
                assert blob_kid(blob) == new_ring.current_kid, (table, column)
        case = await store.get_case(database, new_ring, G1, opened.number)
        assert case is not None and case.subject_id == MEMBER and case.assignee_id == MOD_A
        assert [c.number for c in await store.list_for_reporter(database, new_ring, G1, MOD_B)] == [1]
        again = await store.open_case(database, new_ring, guild_id=G1, kind="breach_report", now=NOW, dedupe_key="k")
        assert not again.created
        assert (await verify_audit(database, new_ring)).ok
    finally:
        await database.close()
