"""Timer kinds are stored in the database: the values must never change once released."""

from __future__ import annotations

from bot.core.timer_kinds import TimerKind


def test_stored_timer_kinds_keep_their_values() -> None:
    assert {k.name: k.value for k in TimerKind} == {
        "SESSION_START": "session.start",
        "SESSION_END": "session.end",
        "SESSION_REMIND": "session.remind",
        "SESSION_REVIEW": "session.review",
        "SESSION_REPORT": "session.report",
        "CONSENT_EXPIRY": "consent_expiry",
        "CONSENT_REVALIDATE": "consent_revalidate",
        "CASE_HOLD_END": "case_hold_end",
        "RETENTION": "moderation_retention",
    }
