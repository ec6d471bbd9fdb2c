"""Erasure in case storage: links to a member cut now in closed cases, when the case closes in open ones;
cases about the member untouched; asking twice changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.member_records import ERASED
from bot.crypto import KeyRing
from bot.storage import cases as store
from bot.storage import erasure
from bot.storage.db import Database

G1, G2 = 1001, 2002
MOD, MEMBER, OTHER = 555000111, 777000333, 777000444
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


async def _report(db: Database, ring: KeyRing, guild: int = G1, **kw: object) -> int:
    kw.setdefault("reporter_id", MEMBER)
    result = await store.open_case(db, ring, guild_id=guild, kind="breach_report", now=NOW, **kw)  # type: ignore[arg-type]
    return result.number


async def test_closed_cases_lose_the_link_now_open_ones_when_they_close(db: Database, ring: KeyRing) -> None:
    closed = await _report(db, ring)
    await store.claim(db, ring, G1, closed, MOD, NOW)
    await store.resolve(db, ring, G1, closed, MOD, "dismissed", "done", NOW)
    still_open = await _report(db, ring)
    await store.add_note(db, ring, G1, still_open, MOD, "looking", NOW)
    about = await _report(db, ring, reporter_id=OTHER, subject_id=MEMBER)
    elsewhere = await _report(db, ring, G2)

    moderator = await store.forget_member(db, ring, G1, MOD)
    assert (moderator.cut, moderator.kept_until_close) == (3, 1)  # claim + 2 events closed; a note open
    done = await store.forget_member(db, ring, G1, MEMBER)
    assert (done.cut, done.kept_until_close) == (1, 1)
    assert await store.forget_member(db, ring, G1, MEMBER) == store.Unlinked(0, 0)  # asked twice

    assert [c.number for c in await store.list_for_reporter(db, ring, G1, MEMBER)] == [still_open]
    assert [c.number for c in await store.list_for_subject(db, ring, G1, MEMBER)] == [about]  # case rules
    assert [c.number for c in await store.list_for_reporter(db, ring, G2, MEMBER)] == [elsewhere]
    assert await store.list_for_assignee(db, ring, G1, MOD) == []
    case = await store.get_case(db, ring, G1, closed)
    assert case is not None and case.assignee_id is None
    assert all(e.actor_id is None for e in await store.events(db, ring, case.id))

    await store.resolve(db, ring, G1, still_open, OTHER, "actioned", "spoke to them", NOW + timedelta(hours=1))
    assert await store.list_for_reporter(db, ring, G1, MEMBER) == []
    reopened = await store.get_case(db, ring, G1, still_open)
    assert reopened is not None
    actors = [e.actor_id for e in await store.events(db, ring, reopened.id)]
    assert MOD not in actors and OTHER in actors  # the note's author is unlinked, the resolver is not


async def test_erasure_requests_are_encrypted_and_go_once_done(db: Database, ring: KeyRing) -> None:
    request_id = await erasure.add(db, ring, G1, MEMBER, NOW)
    raw = await db.fetchone("SELECT member_id FROM erasure_requests")
    assert raw is not None and str(MEMBER).encode() not in bytes(raw["member_id"])
    [pending] = await erasure.pending(db, ring)
    assert (pending.id, pending.guild_id, pending.member_id) == (request_id, G1, MEMBER)
    await erasure.done(db, request_id)
    assert await erasure.pending(db, ring) == []


async def test_ids_inside_case_details_are_replaced_now_or_when_the_case_closes(db: Database, ring: KeyRing) -> None:
    details = {"reason": "left", "removed_by": MOD, "nested": [str(MOD), {"by": MOD}], "flag": True, "n": 1}
    closed = await store.open_case(db, ring, guild_id=G1, kind="member_removed", now=NOW, details=details)
    await store.resolve(db, ring, G1, closed.number, OTHER, "dismissed", "fine", NOW)
    still_open = await store.open_case(db, ring, guild_id=G1, kind="member_removed", now=NOW, details=details)

    assert await store.forget_member(db, ring, G1, MOD) == store.Unlinked(1, 1)
    assert await store.forget_member(db, ring, G1, MOD) == store.Unlinked(0, 0)
    erased = {"reason": "left", "removed_by": ERASED, "nested": [ERASED, {"by": ERASED}], "flag": True, "n": 1}
    case = await store.get_case(db, ring, G1, closed.number)
    assert case is not None and case.details == erased
    case = await store.get_case(db, ring, G1, still_open.number)
    assert case is not None and case.details == details  # the open case stays whole for the moderators
    await store.resolve(db, ring, G1, still_open.number, OTHER, "actioned", "done", NOW)
    case = await store.get_case(db, ring, G1, still_open.number)
    assert case is not None and case.details == erased
