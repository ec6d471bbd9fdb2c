"""Cases: statuses, the transitions between them and the validation of what people type.

Pure code, no I/O. A case starts ``open``; a moderator's claim makes it ``investigating``; resolving
closes it as ``actioned`` or ``dismissed`` and always needs a note. A closed case stays closed.
"""

from __future__ import annotations

import re
from enum import StrEnum

from bot.i18n import N_, _, pgettext

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
    "status_word",
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
    "recording_bot_blocked": N_("recording bot blocked"),
    "bot_added": N_("bot added to the server"),
    "unconsented_join": N_("join without consent"),
    "permission_drift": N_("room permissions changed"),
    "expiry_blocked": N_("messages could not expire"),
    "breach_report": N_("report from a member"),
    "member_removed": N_("member removed from a group"),
    "recording_marker": N_("recording marker in a name"),
    "records_tampered": N_("a group's records altered in the file"),
}


def status_word(status: Status) -> str:
    """A case's status as a word for the reader ("actioned" / "erledigt mit Maßnahme")."""
    words = {
        Status.OPEN: pgettext("case status", "open"),
        Status.INVESTIGATING: pgettext("case status", "investigating"),
        Status.ACTIONED: pgettext("case status", "actioned"),
        Status.DISMISSED: pgettext("case status", "dismissed"),
    }
    return words[status]


class CaseRuleError(ValueError):
    """What was asked breaks a rule of cases; the message can be shown to the person who asked."""


def kind_label(kind: str) -> str:
    """A short human description of a case kind (unknown kinds read as their name)."""
    label = KIND_LABELS.get(kind)
    return _(label) if label is not None else kind.replace("_", " ")


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
            raise CaseRuleError(_("{what} is required; please write a few words.").format(what=what))
        return None
    if len(text) > limit:
        raise CaseRuleError(
            _("{what} is {length} characters long; the limit is {limit}. Please shorten it.").format(
                what=what, length=len(text), limit=limit
            )
        )
    return text


def check_claim(number: int, status: Status, *, assigned_to_me: bool, assigned: bool) -> Status:
    """The status after a claim, or CaseRuleError saying why it cannot be claimed."""
    if status.closed:
        raise CaseRuleError(
            _("Case #{number} is already closed ({status}); there is nothing to claim.").format(
                number=number, status=status_word(status)
            )
        )
    if assigned_to_me:
        raise CaseRuleError(_("Case #{number} is already yours.").format(number=number))
    if assigned:
        raise CaseRuleError(_("Case #{number} is already claimed by another moderator.").format(number=number))
    return Status.INVESTIGATING


def check_note(note: str | None) -> str:
    text = normalise_text(note, what=_("The note"), limit=MAX_NOTE, required=True)
    assert text is not None
    return text


def check_resolve(number: int, status: Status, outcome: str, note: str | None) -> tuple[Status, str]:
    """The closing status and the cleaned note, or CaseRuleError (closed already, bad outcome, no note)."""
    if status.closed:
        raise CaseRuleError(
            _("Case #{number} is already closed ({status}); it cannot be resolved twice.").format(
                number=number, status=status_word(status)
            )
        )
    try:
        target = Status((outcome or "").strip().lower())
    except ValueError:
        raise CaseRuleError(_("The outcome must be 'actioned' or 'dismissed'.")) from None
    if not target.closed:
        raise CaseRuleError(_("The outcome must be 'actioned' or 'dismissed'."))
    text = normalise_text(
        note,
        what=_("A note saying what was done or why the case was dismissed"),
        limit=MAX_NOTE,
        required=True,
    )
    assert text is not None
    return target, text
