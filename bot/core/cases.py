"""Cases: statuses, the transitions between them and the validation of what people type.

Pure code, no I/O. A case starts ``open``; a moderator's claim makes it ``investigating``; resolving
closes it as ``actioned`` or ``dismissed`` and always needs a note. A closed case stays closed.
"""

from __future__ import annotations

import re
from enum import StrEnum

__all__ = [
    "CLOSED",
    "KIND_LABELS",
    "MAX_NOTE",
    "MAX_REPORT_DETAIL",
    "MAX_REPORT_SUMMARY",
    "OPEN",
    "CaseRuleError",
    "Status",
    "check_claim",
    "check_note",
    "check_resolve",
    "kind_label",
    "normalise_text",
    "validate_kind",
]

# Discord's own limits: a modal's text input holds at most 4000 characters.
MAX_NOTE = 4000
MAX_REPORT_SUMMARY = 1000
MAX_REPORT_DETAIL = 4000
MAX_DEDUPE_KEY = 200

_KIND_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class Status(StrEnum):
    OPEN = "open"
    INVESTIGATING = "investigating"
    ACTIONED = "actioned"
    DISMISSED = "dismissed"

    @property
    def closed(self) -> bool:
        return self in CLOSED


OPEN = frozenset({Status.OPEN, Status.INVESTIGATING})
CLOSED = frozenset({Status.ACTIONED, Status.DISMISSED})

KIND_LABELS: dict[str, str] = {
    "recording_bot_blocked": "recording bot blocked",
    "bot_added": "bot added to the server",
    "unconsented_join": "join without consent",
    "permission_drift": "room permissions changed",
    "expiry_blocked": "messages could not expire",
    "breach_report": "report from a member",
    "member_removed": "member removed from a group",
    "recording_marker": "recording marker in a name",
    "records_tampered": "a group's records altered in the file",
}


class CaseRuleError(ValueError):
    """What was asked breaks a rule of cases; the message can be shown to the person who asked."""


def kind_label(kind: str) -> str:
    """A short human description of a case kind (unknown kinds read as their name)."""
    return KIND_LABELS.get(kind, kind.replace("_", " "))


def validate_kind(kind: str) -> str:
    """Kinds are short snake_case names; new kinds need no registration."""
    if not isinstance(kind, str) or not _KIND_RE.match(kind):
        raise CaseRuleError(f"a case kind is a short snake_case name, not {kind!r}")
    return kind


def validate_dedupe_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not isinstance(key, str) or not key or len(key) > MAX_DEDUPE_KEY:
        raise CaseRuleError(f"a dedupe key is a non-empty text of at most {MAX_DEDUPE_KEY} characters")
    return key


def normalise_text(value: str | None, *, what: str, limit: int, required: bool) -> str | None:
    """Strip ``value``; refuse it when required and blank, or longer than ``limit`` characters."""
    text = (value or "").strip()
    if not text:
        if required:
            raise CaseRuleError(f"{what} is required; please write a few words.")
        return None
    if len(text) > limit:
        raise CaseRuleError(f"{what} is {len(text)} characters long; the limit is {limit}. Please shorten it.")
    return text


def check_claim(number: int, status: Status, *, assigned_to_me: bool, assigned: bool) -> Status:
    """The status after a claim, or CaseRuleError saying why it cannot be claimed."""
    if status.closed:
        raise CaseRuleError(f"Case #{number} is already closed ({status.value}); there is nothing to claim.")
    if assigned_to_me:
        raise CaseRuleError(f"Case #{number} is already yours.")
    if assigned:
        raise CaseRuleError(f"Case #{number} is already claimed by another moderator.")
    return Status.INVESTIGATING


def check_note(note: str | None) -> str:
    text = normalise_text(note, what="The note", limit=MAX_NOTE, required=True)
    assert text is not None
    return text


def check_resolve(number: int, status: Status, outcome: str, note: str | None) -> tuple[Status, str]:
    """The closing status and the cleaned note, or CaseRuleError (closed already, bad outcome, no note)."""
    if status.closed:
        raise CaseRuleError(f"Case #{number} is already closed ({status.value}); it cannot be resolved twice.")
    try:
        target = Status((outcome or "").strip().lower())
    except ValueError:
        raise CaseRuleError("The outcome must be 'actioned' or 'dismissed'.") from None
    if not target.closed:
        raise CaseRuleError("The outcome must be 'actioned' or 'dismissed'.")
    text = normalise_text(
        note,
        what="A note saying what was done or why the case was dismissed",
        limit=MAX_NOTE,
        required=True,
    )
    assert text is not None
    return target, text
