"""Gathering a session's integrity report: what is recorded while the session runs (presence by status,
interventions with their case numbers, reminders, holdspace coming back) and how it becomes the report.
Pure rules and a real database file; no Discord."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.access import Reason
from bot.core.session_report import (
    Intervention,
    Presence,
    facilitator_text,
    interventions_of_case,
    modlog_text,
    presence_of,
    report_of,
)
from bot.crypto import KeyRing
from bot.storage import session_watch as watch
from bot.storage import sessions
from bot.storage.db import Database
from bot.storage.migrations import migrate
from cogs.sessions.report import SessionReports, split, status_of

START = datetime(2026, 5, 1, 18, tzinfo=UTC)


@dataclass(frozen=True)
class Fact:
    kind: str
    case_number: int | None
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)


def gathered(*facts: Fact, statuses: tuple[str, ...] = ("consented",), expire: bool = True) -> Any:
    return report_of(
        session_id="s1",
        group="Circle",
        time_zone="Europe/Berlin",
        end_reason="ended by a facilitator",
        started_at=START,
        ended_at=START + timedelta(hours=1),
        statuses=statuses,
        facts=facts,
        messages_expire=expire,
    )


# -- pure rules ---------------------------------------------------------------------------------------


def test_each_case_kind_is_its_intervention_and_a_retried_disconnect_adds_one() -> None:
    at = START + timedelta(minutes=3)
    assert interventions_of_case("unconsented_join", 4, at) == [Intervention("unconsented_join", 4, at)]
    assert interventions_of_case("recording_bot_blocked", 5, at, tries=3) == [
        Intervention("bot_blocked", 5, at),
        Intervention("disconnect_retried", 5, at),
    ]
    assert interventions_of_case("recording_bot_blocked", 5, at, tries=1) == [Intervention("bot_blocked", 5, at)]
    assert interventions_of_case("permission_drift", 6, at, restored=True) == [Intervention("drift_restored", 6, at)]
    assert interventions_of_case("permission_drift", 6, at, restored=False) == [Intervention("drift_unrestored", 6, at)]
    assert interventions_of_case("recording_marker", 7, at) == [Intervention("recording_marker", 7, at)]
    # Not interventions in a session's room: a member's report, a bot added to the server.
    assert interventions_of_case("breach_report", 8, at) == []
    assert interventions_of_case("bot_added", 9, at) == []


def test_presence_counts_statuses_and_refuses_an_unknown_one() -> None:
    assert presence_of(["consented", "exempt", "removed", "consented"]) == Presence(2, 1, 1)
    assert presence_of([]) == Presence()
    with pytest.raises(ValueError):
        presence_of(["someone"])


def test_the_may_stay_decision_is_the_presence_status_and_bots_are_not_people() -> None:
    assert status_of(Reason.CONSENTED) == "consented"
    assert status_of(Reason.FACILITATOR) == "exempt"
    assert status_of(Reason.NO_CONSENT) == "removed"
    assert status_of(Reason.LOCKED) == "removed"
    assert status_of(Reason.NOT_READY) == "removed"  # fail closed: not counted as consented
    assert status_of(Reason.BOT) is None and status_of(Reason.HOLDSPACE) is None


def test_a_case_found_open_again_is_listed_once_in_time_order() -> None:
    later, sooner = START + timedelta(minutes=20), START + timedelta(minutes=5)
    r = gathered(
        Fact("bot_blocked", 2, later),
        Fact("unconsented_join", 1, sooner),
        Fact("unconsented_join", 1, later),  # the same person again: the same open case
    )
    assert [(i.kind, i.case_number, i.at) for i in r.interventions] == [
        ("unconsented_join", 1, sooner),
        ("bot_blocked", 2, later),
    ]


def test_reminders_messages_and_returns_are_summed() -> None:
    back = START + timedelta(minutes=30)
    r = gathered(
        Fact("reminders", None, START, {"count": 2}),
        Fact("reminders", None, START + timedelta(minutes=20), {"count": 2}),
        Fact("returned", None, back),
        Fact("messages", None, START + timedelta(hours=1), {"removed": 7, "pending": {"pending": 5, "held": 0}}),
        statuses=("consented", "exempt", "removed"),
    )
    assert r.reminders == 4 and r.removed_messages == 7 and r.pending == {"pending": 5}
    assert r.returns == (back,)
    text = facilitator_text(r)
    assert "5 still queued: Discord is rate limiting the room" in text
    assert "came back at 18:30 UTC" in text and "not counted" in text
    assert "holdspace was away during it" in modlog_text(r)


def test_a_group_that_keeps_its_messages_says_so() -> None:
    assert "Messages: kept" in facilitator_text(gathered(expire=False))
    assert "none pending" in facilitator_text(gathered(Fact("messages", None, START, {"removed": 3, "pending": {}})))


def test_long_reports_are_split_between_lines_within_discords_limit() -> None:
    text = "\n".join(f"• line {n} " + "x" * 80 for n in range(60))
    parts = split(text)
    assert len(parts) > 1 and all(len(p) <= 2000 for p in parts)
    assert "\n".join(parts) == text


def test_messages_data_keeps_numbers_and_reasons_only() -> None:
    from bot.core.expiry import ExpiryReport

    report = ExpiryReport(removed=4, not_removed={"pending": 3})
    assert SessionReports.messages_data(report, failed=False) == {"removed": 4, "pending": {"pending": 3}}
    assert SessionReports.messages_data(None, failed=True) == {"removed": 0, "pending": {"retry": 1}}
    assert SessionReports.messages_data(ExpiryReport(applies=False), failed=False) == {"removed": 0, "pending": {}}


# -- the records on a real database file ----------------------------------------------------------------


@pytest.fixture
async def db(tmp_path: Path) -> Any:
    database = await Database.open(tmp_path / "hs.db")
    await migrate(database)
    yield database
    await database.close()


async def a_session(db: Database) -> str:
    from bot.core.records import GroupInfo
    from bot.storage import groups

    ring = KeyRing.generate()
    group = GroupInfo(id="g1", guild_id=1, name="Circle", text_channel_id=1, voice_channel_id=2)
    await groups.insert_group(db, ring, group, "Our agreement", START)
    row = await sessions.start_session(db, guild_id=1, group_id="g1", started_at=START, planned_end=None)
    return row.id


async def test_presence_is_one_row_per_person_and_a_status_only_moves_up(db: Database) -> None:
    ring = KeyRing.generate()
    session_id = await a_session(db)
    await watch.saw(db, ring, session_id, 111, "removed")  # joined without consent, removed
    await watch.saw(db, ring, session_id, 111, "consented")  # consented, came back
    await watch.saw(db, ring, session_id, 111, "removed")  # a replayed join does not undo that
    await watch.saw(db, ring, session_id, 222, "exempt")
    await watch.saw(db, ring, session_id, 222, "exempt")
    await watch.saw(db, ring, session_id, 333, "removed")
    assert sorted(await watch.statuses(db, session_id)) == ["consented", "exempt", "removed"]
    with pytest.raises(ValueError):
        await watch.saw(db, ring, session_id, 444, "guest")


async def test_presence_rows_hold_no_member_id_and_link_to_no_other_session(db: Database) -> None:
    ring = KeyRing.generate()
    first = await a_session(db)
    await sessions.end_session(db, first, ended_at=START + timedelta(hours=1), reason="ended")
    second = (await sessions.start_session(db, guild_id=1, group_id="g1", started_at=START, planned_end=None)).id
    member = 987654321012345678
    for session_id in (first, second):
        await watch.saw(db, ring, session_id, member, "consented")
    rows = await db.fetchall("SELECT session_id, person FROM session_presence")
    people = {bytes(r["person"]) for r in rows}
    assert len(people) == 2, "the same person is not recognisable across sessions"
    for person in people:
        assert str(member).encode() not in person and member.to_bytes(8, "big") not in person
    assert ring.blind_index(member, purpose="member") not in people


async def test_events_survive_in_order_and_clear_removes_everything_gathered(db: Database) -> None:
    ring = KeyRing.generate()
    session_id = await a_session(db)
    await watch.saw(db, ring, session_id, 1, "consented")
    await watch.add_event(db, session_id, "unconsented_join", START, case_number=3)
    await watch.add_event(db, session_id, watch.REMINDERS, START, data={"count": 2})
    assert [(e.kind, e.case_number, e.data) for e in await watch.events(db, session_id)] == [
        ("unconsented_join", 3, {}),
        ("reminders", None, {"count": 2}),
    ]
    await watch.clear(db, session_id)
    assert await watch.events(db, session_id) == [] and await watch.statuses(db, session_id) == []


def test_the_report_follows_the_language_it_is_made_in() -> None:
    from bot.i18n import using

    r = gathered(
        Fact("unconsented_join", 4, START + timedelta(minutes=3)),
        Fact("messages", None, START, {"removed": 1, "pending": {"pending": 2}}),
        statuses=("consented", "exempt", "removed"),
    )
    with using("de"):
        text, summary = facilitator_text(r), modlog_text(r)
    assert "**Integritätsbericht der Sitzung: Circle**" in text
    assert "Beitritt ohne Einwilligung entfernt (Fall #4)" in text
    assert "Anwesend: 3 Personen (1 mit gültiger Einwilligung, 1 aus der Leitung" in text
    assert "1 Nachricht entfernt; noch ausstehend: 2 noch in der Warteschlange" in text
    assert "Sitzung von **Circle** beendet" in summary and "(Fälle #4)" in summary
    assert "Session integrity report" in facilitator_text(r)  # English again outside the block
