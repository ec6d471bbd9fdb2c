"""Every kind of durable timer holdspace keeps in the ``timers`` table, in one place. The values are
stored in the database: never change one once released."""

from __future__ import annotations

from enum import StrEnum


class TimerKind(StrEnum):
    SESSION_START = "session.start"  # key: schedule id
    SESSION_END = "session.end"  # key: session id
    SESSION_REMIND = "session.remind"  # key: session id
    SESSION_REVIEW = "session.review"  # key: schedule id (the consent review DM before a session)
    SESSION_REPORT = "session.report"  # key: session id and recipient (posting an integrity report)
    CONSENT_EXPIRY = "consent_expiry"  # key: consent id
    CONSENT_REVALIDATE = "consent_revalidate"  # key: group id
    CASE_HOLD_END = "case_hold_end"  # key: case, channel and message
    RETENTION = "moderation_retention"  # key: "daily"
