"""What holdspace holds about one member of one server, why it is kept and until when.

Pure code, no I/O. The privacy feature gathers the facts (``MemberRecords``) from storage; this module
decides, from the practice's ``[retention]`` rules, what each record is kept for and until when, and
words it the same way for `/privacy mydata`, its JSON copy and the answer to an erasure. One home for
"what erasure keeps": erasure removes everything this module does not list as kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.core.cases import Status, status_word
from bot.i18n import _, formats, ngettext

__all__ = [
    "COPY_FORMAT",
    "ERASED",
    "CaseFact",
    "ConsentEventFact",
    "Kept",
    "MemberRecords",
    "Retention",
    "as_copy",
    "kept_after_erasure",
]

#: The name and version of the JSON copy's format (documented in docs/privacy.md).
COPY_FORMAT = "holdspace-member-copy/1"
#: What stands in a case's details where an erased member's id was.
ERASED = "(erased on request)"


def scrub(value: Any, member_id: int) -> tuple[Any, bool]:
    """``value`` (JSON data) with every occurrence of ``member_id`` (as a number or as text) replaced by
    :data:`ERASED`, and whether anything was replaced."""
    if isinstance(value, bool):
        return value, False
    if isinstance(value, int | str) and str(value) == str(member_id):
        return ERASED, True
    if isinstance(value, dict):
        changed = False
        out: dict[str, Any] = {}
        for key, item in value.items():
            out[key], hit = scrub(item, member_id)
            changed = changed or hit
        return out, changed
    if isinstance(value, list):
        pairs = [scrub(item, member_id) for item in value]
        return [item for item, _ in pairs], any(hit for _, hit in pairs)
    return value, False


@dataclass(frozen=True)
class Retention:
    """The practice's ``[retention]`` periods, in days."""

    closed_cases_days: int
    audit_days: int
    withdrawn_consent_days: int


@dataclass(frozen=True)
class ConsentEventFact:
    group: str  # the group's name as shown to the member
    answer: str
    at: datetime
    method: str
    version: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class CaseFact:
    number: int
    kind: str | None  # None: the member may see only the number and status (a case about them)
    status: str
    closed: bool
    opened_at: datetime
    closed_at: datetime | None = None


@dataclass
class MemberRecords:
    """Everything holdspace holds about one member in one server (names of groups only, never ids)."""

    server: str
    enrolled: list[str] = field(default_factory=list)
    facilitates: list[str] = field(default_factory=list)
    consenting: list[str] = field(default_factory=list)  # groups with a current consent
    consent_events: list[ConsentEventFact] = field(default_factory=list)
    cases_about: list[CaseFact] = field(default_factory=list)
    reports_made: list[CaseFact] = field(default_factory=list)
    cases_assigned: list[CaseFact] = field(default_factory=list)
    audit_entries: int = 0
    newest_audit_entry: datetime | None = None

    @property
    def empty(self) -> bool:
        return not (
            self.enrolled
            or self.facilitates
            or self.consenting
            or self.consent_events
            or self.cases_about
            or self.reports_made
            or self.cases_assigned
            or self.audit_entries
        )


@dataclass(frozen=True)
class Kept:
    """One kind of record that stays: what it is, why, and until when (None: until an event)."""

    what: str
    why: str
    until: datetime | None
    until_text: str


def _day(at: datetime) -> str:
    return formats.day(at)


def _status(status: str) -> str:
    """A recorded case status as a word for the reader (an unknown one as recorded)."""
    try:
        return status_word(Status(status))
    except ValueError:
        return status


def kept_after_erasure(records: MemberRecords, retention: Retention, *, now: datetime) -> list[Kept]:
    """The records an erasure at ``now`` leaves (a current consent ends then, so its record runs from
    ``now``)."""
    kept: list[Kept] = []
    last_by_group: dict[str, datetime] = {}
    for event in records.consent_events:
        last_by_group[event.group] = max(event.at, last_by_group.get(event.group, event.at))
    for group in records.consenting:
        last_by_group[group] = now
    for group, last in sorted(last_by_group.items()):
        until = last + timedelta(days=retention.withdrawn_consent_days)
        kept.append(
            Kept(
                what=_("your consent record for {group} (which agreement version you answered, when and how)").format(
                    group=group
                ),
                why=_("the practice keeps it to document informed consent ([retention] withdrawn_consent_days)"),
                until=until,
                until_text=_("until {day}, then deleted").format(day=_day(until)),
            )
        )
    for case in records.cases_about:
        if case.closed and case.closed_at is not None:
            until = case.closed_at + timedelta(days=retention.closed_cases_days)
            kept.append(
                Kept(
                    what=_("case #{number} about you ({status})").format(
                        number=case.number, status=_status(case.status)
                    ),
                    why=_(
                        "the case's rules decide: closed cases stay with the moderators ([retention] closed_cases_days)"
                    ),
                    until=until,
                    until_text=_("until {day}, then deleted").format(day=_day(until)),
                )
            )
        else:
            kept.append(
                Kept(
                    what=_("case #{number} about you (still open)").format(number=case.number),
                    why=_("the case's rules decide: an open case stays whole until the moderators close it"),
                    until=None,
                    until_text=ngettext(
                        "until it is closed, then {days} day",
                        "until it is closed, then {days} days",
                        retention.closed_cases_days,
                    ).format(days=retention.closed_cases_days),
                )
            )
    for case in records.reports_made:
        if not case.closed:
            kept.append(
                Kept(
                    what=_("your link to report #{number} (still open)").format(number=case.number),
                    why=_("the moderators may need to reach you while they look into it"),
                    until=None,
                    until_text=_("until the case is closed; the report then stays without your name"),
                )
            )
    for case in records.cases_assigned:
        if not case.closed:
            kept.append(
                Kept(
                    what=_("your claim of case #{number} (still open)").format(number=case.number),
                    why=_("the case is being worked on"),
                    until=None,
                    until_text=_("until the case is closed; it then stays without your name"),
                )
            )
    if records.audit_entries and records.newest_audit_entry is not None:
        until = records.newest_audit_entry + timedelta(days=retention.audit_days)
        kept.append(
            Kept(
                what=ngettext(
                    "{count} audit trail entry naming you (encrypted)",
                    "{count} audit trail entries naming you (encrypted)",
                    records.audit_entries,
                ).format(count=records.audit_entries),
                why=_(
                    "the audit trail is tamper-evident: an entry cannot be changed without it showing "
                    "([retention] audit_days)"
                ),
                until=until,
                until_text=ngettext(
                    "each for {days} day after it was written (the last until {day})",
                    "each for {days} days after it was written (the last until {day})",
                    retention.audit_days,
                ).format(days=retention.audit_days, day=_day(until)),
            )
        )
    return kept


def _case(case: CaseFact) -> dict[str, Any]:
    out: dict[str, Any] = {"number": case.number}
    if case.kind is not None:
        out["kind"] = case.kind
    return out | {
        "status": case.status,
        "opened_at": case.opened_at.isoformat(),
        "closed_at": case.closed_at.isoformat() if case.closed_at else None,
    }


def as_copy(records: MemberRecords, retention: Retention, *, now: datetime) -> dict[str, Any]:
    """The member's copy to keep, in the documented JSON format (docs/privacy.md)."""
    return {
        "format": COPY_FORMAT,
        "made_at": now.isoformat(),
        "server": records.server,
        "enrolled_in": list(records.enrolled),
        "facilitator_of": list(records.facilitates),
        "consenting_to": list(records.consenting),
        "consent_record": [
            {
                "group": e.group,
                "answer": e.answer,
                "at": e.at.isoformat(),
                "method": e.method,
                "agreement_version": e.version,
                "reason": e.reason,
            }
            for e in records.consent_events
        ],
        "cases_about_you": [_case(c) for c in records.cases_about],
        "reports_you_made": [_case(c) for c in records.reports_made],
        "cases_you_claimed": [_case(c) for c in records.cases_assigned],
        "audit_trail": {
            "entries_naming_you": records.audit_entries,
            "newest": records.newest_audit_entry.isoformat() if records.newest_audit_entry else None,
        },
        "kept_after_erasure": [
            {
                "what": k.what,
                "why": k.why,
                "until": k.until.isoformat() if k.until else None,
                "until_text": k.until_text,
            }
            for k in kept_after_erasure(records, retention, now=now)
        ],
    }
