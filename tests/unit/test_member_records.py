"""What an erasure keeps, why and until when, from the practice's retention rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bot.core.member_records import (
    COPY_FORMAT,
    CaseFact,
    ConsentEventFact,
    MemberRecords,
    Retention,
    as_copy,
    kept_after_erasure,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
RULES = Retention(closed_cases_days=365, audit_days=2190, withdrawn_consent_days=2190)


def records() -> MemberRecords:
    r = MemberRecords(server="Practice")
    r.consent_events = [
        ConsentEventFact("Circle", "agree", NOW - timedelta(days=10), "command", 1),
        ConsentEventFact("Circle", "withdraw", NOW - timedelta(days=5), "command", None, "consent withdrawn"),
        ConsentEventFact("Tuesday", "agree", NOW - timedelta(days=3), "lobby", 2),
    ]
    r.consenting = ["Tuesday"]
    r.cases_about = [
        CaseFact(3, None, "open", False, NOW - timedelta(days=1)),
        CaseFact(1, None, "actioned", True, NOW - timedelta(days=40), NOW - timedelta(days=30)),
    ]
    r.reports_made = [
        CaseFact(4, "breach_report", "investigating", False, NOW),
        CaseFact(5, "breach_report", "dismissed", True, NOW, NOW),
    ]
    r.audit_entries, r.newest_audit_entry = 2, NOW - timedelta(days=1)
    return r


def test_each_kept_record_says_why_and_until_when() -> None:
    kept = {k.what.split(" (")[0]: k for k in kept_after_erasure(records(), RULES, now=NOW)}
    circle = kept["your consent record for Circle"]
    assert circle.until == NOW - timedelta(days=5) + timedelta(days=2190)
    assert kept["your consent record for Tuesday"].until == NOW + timedelta(days=2190)  # ends now
    assert kept["case #3 about you"].until is None and "until it is closed" in kept["case #3 about you"].until_text
    assert kept["case #1 about you"].until == NOW - timedelta(days=30) + timedelta(days=365)
    assert "your link to report #4" in kept and not any("#5" in what for what in kept)
    assert kept["2 audit trail entries naming you"].until == NOW - timedelta(days=1) + timedelta(days=2190)
    assert all(k.why for k in kept.values())


def test_nothing_held_keeps_nothing() -> None:
    empty = MemberRecords(server="Practice")
    assert empty.empty and kept_after_erasure(empty, RULES, now=NOW) == []


def test_the_copy_is_plain_json_in_the_documented_format() -> None:
    copy = as_copy(records(), RULES, now=NOW)
    assert copy["format"] == COPY_FORMAT and copy["server"] == "Practice"
    assert set(copy) == {
        "format", "made_at", "server", "enrolled_in", "facilitator_of", "consenting_to", "consent_record",
        "cases_about_you", "reports_you_made", "cases_you_claimed", "audit_trail", "kept_after_erasure",
    }
    assert copy["consent_record"][1] == {
        "group": "Circle", "answer": "withdraw", "at": (NOW - timedelta(days=5)).isoformat(), "method": "command",
        "agreement_version": None, "reason": "consent withdrawn",
    }
    json.dumps(copy)
