"""A session's integrity report: what holdspace did to keep one session confidential.

Pure code, no I/O. At a session's end the sessions feature gathers the facts (``SessionReport``); this
module words them for the group's facilitators (:func:`facilitator_text`) and, summarised, for the
mod-log (:func:`modlog_text`), gives the record stored encrypted with the session and exported
(:func:`as_record`, :func:`from_record`), and its digest (:func:`digest`), which the audit chain
covers so a stored report cannot be edited without ``holdspace audit-verify`` failing.

A report holds numbers, statuses, case numbers and reasons only: never a name, a member id or what
anyone wrote. Every word of it lives here, in one place, so it can be translated as a whole.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from bot.i18n import N_, _, ngettext

__all__ = [
    "FORMAT",
    "HISTORY_REFUSED",
    "INTERVENTIONS",
    "PENDING_REASONS",
    "Intervention",
    "Presence",
    "SessionReport",
    "as_record",
    "digest",
    "facilitator_text",
    "from_record",
    "history_line",
    "history_text",
    "interventions_of_case",
    "modlog_text",
    "presence_of",
    "report_id",
    "report_of",
    "unknown_report",
]

#: The name and version of the stored and exported record's format.
FORMAT = "holdspace-session-report/1"

#: The interventions a report lists, and how each reads.
INTERVENTIONS: dict[str, str] = {
    "unconsented_join": N_("join without consent removed"),
    "bot_blocked": N_("bot blocked"),
    "drift_restored": N_("room permissions restored"),
    "drift_unrestored": N_("room permissions changed and not restored"),
    "recording_marker": N_("recording marker in a name: disconnected"),
    "disconnect_retried": N_("disconnect that needed a retry"),
}

#: Why messages of the session were still waiting to be removed when the report was made (the keys
#: are bot.core.expiry's reasons), in the report's words.
PENDING_REASONS: dict[str, str] = {
    "pending": N_("still queued: Discord is rate limiting the room; removed as soon as it allows"),
    "retry": N_("Discord did not answer in time; retried"),
    "waiting": N_("waiting for the room's pinned messages to be checked"),
    "blocked": N_("holdspace lacks the Manage Messages permission there"),
    "pinned": N_("kept because they are pinned"),
    "held": N_("held while a report about them is open"),
    "unreadable": N_("in a room holdspace could not read at the end; removed once it can"),
}

#: Case kinds that are interventions in a session's voice room, and the intervention each is.
_CASE_INTERVENTIONS = {
    "unconsented_join": "unconsented_join",
    "recording_bot_blocked": "bot_blocked",
    "recording_marker": "recording_marker",
}

#: A person's status in a session, as the presence record keeps it (most telling last).
STATUSES = ("removed", "consented", "exempt")


@dataclass(frozen=True)
class Intervention:
    kind: str  # a key of INTERVENTIONS
    case_number: int | None  # None: no case was opened for it (a retried disconnect, say)
    at: datetime

    def __post_init__(self) -> None:
        if self.kind not in INTERVENTIONS:
            raise ValueError(f"unknown intervention {self.kind!r}")


@dataclass(frozen=True)
class Presence:
    """Who was in the session's voice room, by status only."""

    consented: int = 0  # with a current consent
    exempt: int = 0  # facilitators the group does not ask to consent
    removed: int = 0  # present without either, and removed (each is also an intervention)

    @property
    def total(self) -> int:
        return self.consented + self.exempt + self.removed


def presence_of(statuses: Iterable[str]) -> Presence:
    """The presence from one status per person (``STATUSES``)."""
    counts = {status: 0 for status in STATUSES}
    for status in statuses:
        if status not in counts:
            raise ValueError(f"unknown presence status {status!r}")
        counts[status] += 1
    return Presence(consented=counts["consented"], exempt=counts["exempt"], removed=counts["removed"])


def interventions_of_case(
    kind: str, number: int | None, at: datetime, *, tries: int = 0, restored: bool | None = None
) -> list[Intervention]:
    """What a case opened (or found open again) during a session adds to its report: the intervention
    it records, and a disconnect that needed more than one try. Other kinds of case add nothing."""
    if kind == "permission_drift":
        return [Intervention("drift_unrestored" if restored is False else "drift_restored", number, at)]
    found = _CASE_INTERVENTIONS.get(kind)
    if found is None:
        return []
    items = [Intervention(found, number, at)]
    if tries > 1:
        items.append(Intervention("disconnect_retried", number, at))
    return items


@dataclass(frozen=True)
class SessionReport:
    session_id: str
    group: str
    started_at: datetime
    ended_at: datetime
    time_zone: str
    end_reason: str
    presence: Presence
    interventions: tuple[Intervention, ...] = ()
    removed_messages: int = 0
    pending: dict[str, int] = field(default_factory=dict)  # reason -> messages still to remove
    reminders: int = 0
    # When holdspace came back during the session (restart or lost connection): presence before
    # then is what it recorded, and someone who came and went while it was away is not counted.
    returns: tuple[datetime, ...] = ()
    messages_expire: bool = True  # the group removes a session's messages at its end

    def __post_init__(self) -> None:
        # One order, in time: the text, the stored form and the digest never depend on gathering order.
        object.__setattr__(self, "interventions", tuple(sorted(self.interventions, key=lambda i: (i.at, i.kind))))
        object.__setattr__(self, "returns", tuple(sorted(self.returns)))


class Fact(Protocol):
    """One thing recorded during a session (bot.storage.session_watch.Event)."""

    @property
    def kind(self) -> str: ...
    @property
    def case_number(self) -> int | None: ...
    @property
    def at(self) -> datetime: ...
    @property
    def data(self) -> dict[str, Any]: ...


#: The kinds of fact that are not interventions.
RETURNED, REMINDERS, MESSAGES = "returned", "reminders", "messages"


def report_of(
    *,
    session_id: str,
    group: str,
    time_zone: str,
    end_reason: str,
    started_at: datetime,
    ended_at: datetime,
    statuses: Iterable[str],
    facts: Iterable[Fact],
    messages_expire: bool,
) -> SessionReport:
    """The report from what was recorded during the session. The same intervention recorded twice
    (a case found open again by a replayed event) is listed once."""
    interventions: dict[tuple[str, int | None], Intervention] = {}
    loose: list[Intervention] = []
    reminders = 0
    returns: list[datetime] = []
    removed = 0
    pending: dict[str, int] = {}
    for fact in facts:
        if fact.kind == REMINDERS:
            reminders += int(fact.data.get("count", 0))
        elif fact.kind == RETURNED:
            returns.append(fact.at)
        elif fact.kind == MESSAGES:
            removed += int(fact.data.get("removed", 0))
            for reason, count in dict(fact.data.get("pending", {})).items():
                pending[str(reason)] = pending.get(str(reason), 0) + int(count)
        elif fact.kind in INTERVENTIONS:
            item = Intervention(fact.kind, fact.case_number, fact.at)
            if item.case_number is None:
                loose.append(item)
            else:
                interventions.setdefault((item.kind, item.case_number), item)
    return SessionReport(
        session_id=session_id,
        group=group,
        started_at=started_at,
        ended_at=ended_at,
        time_zone=time_zone,
        end_reason=end_reason,
        presence=presence_of(statuses),
        interventions=(*interventions.values(), *loose),
        removed_messages=removed,
        pending={k: v for k, v in pending.items() if v},
        reminders=reminders,
        returns=tuple(returns),
        messages_expire=messages_expire,
    )


def _when(at: datetime, zone: str) -> str:
    utc = at.astimezone(UTC)
    try:
        local = at.astimezone(ZoneInfo(zone))
    except (KeyError, ValueError):
        return f"{utc:%Y-%m-%d %H:%M} UTC"
    if zone == "UTC":
        return f"{utc:%Y-%m-%d %H:%M} UTC"
    return f"{local:%Y-%m-%d %H:%M} {zone} ({utc:%H:%M} UTC)"


def _people(count: int) -> str:
    return ngettext("{count} person", "{count} people", count).format(count=count)


def _cases(numbers: list[int]) -> str:
    return ", ".join(f"#{n}" for n in numbers)


def _presence_line(p: Presence) -> str:
    if p.total == 0:
        return _("Present: nobody joined the voice room.")
    parts = [_("{count} with a current consent").format(count=p.consented)]
    if p.exempt:
        parts.append(
            ngettext(
                "{count} facilitator exempt from consent", "{count} facilitators exempt from consent", p.exempt
            ).format(count=p.exempt)
        )
    if p.removed:
        parts.append(_("{count} without consent, removed").format(count=p.removed))
    verdict = (
        _("everyone present had a current consent or an exemption") if not p.removed else _("see the interventions")
    )
    return _("Present: {people} ({statuses}); {verdict}.").format(
        people=_people(p.total), statuses=", ".join(parts), verdict=verdict
    )


def _returns_line(r: SessionReport) -> str | None:
    if not r.returns:
        return None
    times = ", ".join(f"{at.astimezone(UTC):%H:%M} UTC" for at in r.returns)
    return _(
        "holdspace was away during the session and came back at {times}: presence was recorded before and "
        "counted again from the voice room on its return; anyone who came and went while it was away is "
        "not counted."
    ).format(times=times)


def _intervention_lines(r: SessionReport) -> list[str]:
    if not r.interventions:
        return [_("• none")]
    lines = []
    for item in r.interventions:
        what = _(INTERVENTIONS[item.kind])
        at = f"{item.at.astimezone(UTC):%H:%M:%S} UTC"
        if item.case_number is not None:
            lines.append(_("• {time}: {what} (case #{number})").format(time=at, what=what, number=item.case_number))
        else:
            lines.append(_("• {time}: {what} (no case)").format(time=at, what=what))
    return lines


def _pending_reason(reason: str) -> str:
    return _(PENDING_REASONS[reason]) if reason in PENDING_REASONS else reason


def _messages_line(r: SessionReport) -> str:
    if not r.messages_expire and not r.pending:
        return _("Messages: kept (this group does not remove messages at the end of a session).")
    removed = ngettext("{count} message", "{count} messages", r.removed_messages).format(count=r.removed_messages)
    if r.pending:
        pending = "; ".join(f"{count} {_pending_reason(reason)}" for reason, count in sorted(r.pending.items()))
        return _("Messages: {removed} removed; still pending: {pending}.").format(removed=removed, pending=pending)
    return _("Messages: {removed} removed; none pending.").format(removed=removed)


def facilitator_text(r: SessionReport) -> str:
    """The report the group's facilitators read (in the current language: the caller picks it)."""
    return "\n".join(
        [
            _("**Session integrity report: {group}**").format(group=r.group),
            _("Started: {when}").format(when=_when(r.started_at, r.time_zone)),
            _("Ended: {when} ({reason})").format(when=_when(r.ended_at, r.time_zone), reason=r.end_reason),
            _presence_line(r.presence),
            *([line] if (line := _returns_line(r)) else []),
            _("Interventions ({count}):").format(count=len(r.interventions)),
            *_intervention_lines(r),
            _messages_line(r),
            _("Ground-rules reminders posted: {count}.").format(count=r.reminders),
            _("Report id: `{id}` (covered by the audit trail; `/session history` lists it).").format(id=report_id(r)),
        ]
    )


def modlog_text(r: SessionReport) -> str:
    """The mod-log's summary: numbers, statuses and case numbers only."""
    cases = sorted({i.case_number for i in r.interventions if i.case_number is not None})
    counts: dict[str, int] = {}
    for item in r.interventions:
        counts[item.kind] = counts.get(item.kind, 0) + 1
    done = ", ".join(f"{n} {_(INTERVENTIONS[k])}" for k, n in sorted(counts.items())) or _("no interventions")
    if cases:
        done = _("{interventions} (cases {cases})").format(interventions=done, cases=_cases(cases))
    away = _("; holdspace was away during it") if r.returns else ""
    return _(
        "Session of **{group}** ended ({reason}): {people} present ({consented} consented, {exempt} exempt, "
        "{removed} removed); {interventions}; {messages} messages removed, {pending} pending; {reminders} "
        "reminders{away}. Report `{id}`."
    ).format(
        group=r.group,
        reason=r.end_reason,
        people=_people(r.presence.total),
        consented=r.presence.consented,
        exempt=r.presence.exempt,
        removed=r.presence.removed,
        interventions=done,
        messages=r.removed_messages,
        pending=sum(r.pending.values()),
        reminders=r.reminders,
        away=away,
        id=report_id(r),
    )


def report_id(r: SessionReport) -> str:
    """The short id a report is shown and asked for by (the start of its digest)."""
    return digest(r)[:12]


def history_line(r: SessionReport) -> str:
    """One past session in ``/session history``."""
    cases = sorted({i.case_number for i in r.interventions if i.case_number is not None})
    pending = sum(r.pending.values())
    interventions = ngettext("{count} intervention", "{count} interventions", len(r.interventions)).format(
        count=len(r.interventions)
    )
    if cases:
        interventions = _("{interventions} (cases {cases})").format(interventions=interventions, cases=_cases(cases))
    return _("`{id}` {when}: {people} present, {interventions}, {pending} pending").format(
        id=report_id(r),
        when=_when(r.started_at, r.time_zone),
        people=_people(r.presence.total),
        interventions=interventions,
        pending=ngettext("{count} message", "{count} messages", pending).format(count=pending),
    )


def history_text(group: str, reports: list[SessionReport], *, shown: int) -> str:
    """The list ``/session history`` answers with (newest first, the first ``shown`` of them)."""
    if not reports:
        return _("No session of {group} has a report yet: each session's report is made when it ends.").format(
            group=group
        )
    more = len(reports) - shown
    lines = [
        _("**Integrity reports of {group}** (newest first; `/session history report:ID` shows one):").format(
            group=group
        )
    ]
    lines += [f"• {history_line(r)}" for r in reports[:shown]]
    if more > 0:
        lines.append(_("… and {count} older; `holdspace export sessions` has them all.").format(count=more))
    return "\n".join(lines)


def unknown_report(group: str) -> str:
    return _("No report of {group} has that id. `/session history group:{group}` lists their ids.").format(group=group)


#: The answer to someone who may not read a group's reports (the same whether the group exists).
HISTORY_REFUSED = N_(
    "Only the group's facilitators and moderators can read its session reports. If you should be one, ask "
    "the server's administrators for the role."
)


def as_record(r: SessionReport) -> dict[str, Any]:
    """The stored and exported form (JSON data, :data:`FORMAT`)."""
    return {
        "format": FORMAT,
        "session_id": r.session_id,
        "group": r.group,
        "started_at": r.started_at.astimezone(UTC).isoformat(),
        "ended_at": r.ended_at.astimezone(UTC).isoformat(),
        "time_zone": r.time_zone,
        "end_reason": r.end_reason,
        "present": {"consented": r.presence.consented, "exempt": r.presence.exempt, "removed": r.presence.removed},
        "interventions": [
            {"kind": i.kind, "case": i.case_number, "at": i.at.astimezone(UTC).isoformat()} for i in r.interventions
        ],
        "messages_removed": r.removed_messages,
        "messages_pending": dict(sorted(r.pending.items())),
        "reminders_posted": r.reminders,
        "holdspace_returned_at": [at.astimezone(UTC).isoformat() for at in r.returns],
        "messages_expire": r.messages_expire,
    }


def from_record(data: dict[str, Any]) -> SessionReport:
    """A report back from its stored form; ValueError when it is not one."""
    if data.get("format") != FORMAT:
        raise ValueError("not a session report")
    present = data["present"]
    return SessionReport(
        session_id=str(data["session_id"]),
        group=str(data["group"]),
        started_at=datetime.fromisoformat(data["started_at"]),
        ended_at=datetime.fromisoformat(data["ended_at"]),
        time_zone=str(data["time_zone"]),
        end_reason=str(data["end_reason"]),
        presence=Presence(int(present["consented"]), int(present["exempt"]), int(present["removed"])),
        interventions=tuple(
            Intervention(str(i["kind"]), None if i["case"] is None else int(i["case"]), datetime.fromisoformat(i["at"]))
            for i in data["interventions"]
        ),
        removed_messages=int(data["messages_removed"]),
        pending={str(k): int(v) for k, v in data["messages_pending"].items()},
        reminders=int(data["reminders_posted"]),
        returns=tuple(datetime.fromisoformat(at) for at in data.get("holdspace_returned_at", ())),
        messages_expire=bool(data.get("messages_expire", True)),
    )


def digest(r: SessionReport) -> str:
    """SHA-256 (hex) of the report's canonical stored form: what the audit chain records."""
    canonical = json.dumps(as_record(r), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
