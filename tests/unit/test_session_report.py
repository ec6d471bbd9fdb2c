"""The session integrity report's words, its stored form and its digest."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.session_report import (
    Intervention,
    Presence,
    SessionReport,
    as_record,
    digest,
    facilitator_text,
    from_record,
    modlog_text,
)

START = datetime(2026, 7, 7, 17, 0, tzinfo=UTC)


def report(**changes: object) -> SessionReport:
    base = SessionReport(
        session_id="s1",
        group="Tuesday circle",
        started_at=START,
        ended_at=START + timedelta(minutes=90),
        time_zone="Europe/Berlin",
        end_reason="scheduled end",
        presence=Presence(consented=5, exempt=1, removed=1),
        interventions=(
            Intervention("bot_blocked", 8, START + timedelta(minutes=20)),
            Intervention("unconsented_join", 7, START + timedelta(minutes=10)),
            Intervention("disconnect_retried", None, START + timedelta(minutes=10, seconds=2)),
        ),
        removed_messages=40,
        pending={"rate limited, retried within the batching window": 3},
        reminders=2,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_facilitator_report_lists_every_promised_fact() -> None:
    text = facilitator_text(report())
    assert "Started: 2026-07-07 19:00 Europe/Berlin (17:00 UTC)" in text
    assert "Ended: 2026-07-07 20:30 Europe/Berlin (18:30 UTC) (scheduled end)" in text
    assert "7 people (5 with a current consent, 1 facilitator exempt from consent, 1 without consent, removed)" in text
    lines = text.splitlines()
    first, second, third = (lines.index(line) for line in lines if line.startswith("• "))
    assert "join without consent removed (case #7)" in lines[first]
    assert "disconnect that needed a retry (no case)" in lines[second]
    assert "bot blocked (case #8)" in lines[third]
    assert "40 messages removed; still pending: 3 rate limited, retried within the batching window." in text
    assert "reminders posted: 2." in text


def test_a_clean_session_says_everyone_was_covered() -> None:
    text = facilitator_text(report(presence=Presence(4, 0, 0), interventions=(), pending={}))
    assert "everyone present had a current consent or an exemption" in text
    assert "• none" in text and "none pending" in text


def test_modlog_summary_is_numbers_statuses_and_cases() -> None:
    text = modlog_text(report())
    assert "7 people present (5 consented, 1 exempt, 1 removed)" in text
    assert "(cases #7, #8)" in text and "40 messages removed, 3 pending" in text
    assert "2 reminders" in text


def test_record_round_trips_and_the_digest_sees_every_edit() -> None:
    r = report()
    assert from_record(as_record(r)) == r
    assert digest(from_record(as_record(r))) == digest(r)
    edits = [
        replace(r, removed_messages=41),
        replace(r, presence=Presence(5, 1, 0)),
        replace(r, interventions=r.interventions[1:]),
        replace(r, pending={}),
        replace(r, ended_at=r.ended_at + timedelta(seconds=1)),
    ]
    assert len({digest(e) for e in edits} | {digest(r)}) == len(edits) + 1


def test_unknown_things_are_refused() -> None:
    with pytest.raises(ValueError):
        Intervention("coffee_break", None, START)
    with pytest.raises(ValueError):
        from_record({"format": "something else"})
