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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "FORMAT",
    "INTERVENTIONS",
    "Intervention",
    "Presence",
    "SessionReport",
    "as_record",
    "digest",
    "facilitator_text",
    "from_record",
    "modlog_text",
]

#: The name and version of the stored and exported record's format.
FORMAT = "holdspace-session-report/1"

#: The interventions a report lists, and how each reads.
INTERVENTIONS: dict[str, str] = {
    "unconsented_join": "join without consent removed",
    "bot_blocked": "bot blocked",
    "drift_restored": "room permissions restored",
    "disconnect_retried": "disconnect that needed a retry",
}


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

    def __post_init__(self) -> None:
        # One order, in time: the text, the stored form and the digest never depend on gathering order.
        object.__setattr__(self, "interventions", tuple(sorted(self.interventions, key=lambda i: (i.at, i.kind))))


def _when(at: datetime, zone: str) -> str:
    utc = at.astimezone(UTC)
    try:
        local = at.astimezone(ZoneInfo(zone))
    except (KeyError, ValueError):
        return f"{utc:%Y-%m-%d %H:%M} UTC"
    if zone == "UTC":
        return f"{utc:%Y-%m-%d %H:%M} UTC"
    return f"{local:%Y-%m-%d %H:%M} {zone} ({utc:%H:%M} UTC)"


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _presence_line(p: Presence) -> str:
    if p.total == 0:
        return "Present: nobody joined the voice room."
    parts = [f"{p.consented} with a current consent"]
    if p.exempt:
        parts.append(f"{p.exempt} facilitator{'s' if p.exempt != 1 else ''} exempt from consent")
    if p.removed:
        parts.append(f"{p.removed} without consent, removed")
    verdict = "everyone present had a current consent or an exemption" if not p.removed else "see the interventions"
    return f"Present: {_plural(p.total, 'person', 'people')} ({', '.join(parts)}); {verdict}."


def _intervention_lines(r: SessionReport) -> list[str]:
    if not r.interventions:
        return ["• none"]
    lines = []
    for item in r.interventions:
        case = f"case #{item.case_number}" if item.case_number is not None else "no case"
        lines.append(f"• {item.at.astimezone(UTC):%H:%M:%S} UTC: {INTERVENTIONS[item.kind]} ({case})")
    return lines


def _messages_line(r: SessionReport) -> str:
    line = f"Messages: {_plural(r.removed_messages, 'message')} removed"
    if r.pending:
        pending = "; ".join(f"{count} {reason}" for reason, count in sorted(r.pending.items()))
        line += f"; still pending: {pending}"
    else:
        line += "; none pending"
    return line + "."


def facilitator_text(r: SessionReport) -> str:
    """The report the group's facilitators read."""
    return "\n".join(
        [
            f"**Session integrity report: {r.group}**",
            f"Started: {_when(r.started_at, r.time_zone)}",
            f"Ended: {_when(r.ended_at, r.time_zone)} ({r.end_reason})",
            _presence_line(r.presence),
            f"Interventions ({len(r.interventions)}):",
            *_intervention_lines(r),
            _messages_line(r),
            f"Ground-rules reminders posted: {r.reminders}.",
            f"Report id: `{digest(r)[:12]}` (covered by the audit trail; `/session history` lists it).",
        ]
    )


def modlog_text(r: SessionReport) -> str:
    """The mod-log's summary: numbers, statuses and case numbers only."""
    cases = sorted({i.case_number for i in r.interventions if i.case_number is not None})
    counts: dict[str, int] = {}
    for item in r.interventions:
        counts[item.kind] = counts.get(item.kind, 0) + 1
    done = ", ".join(f"{n} {INTERVENTIONS[k]}" for k, n in sorted(counts.items())) or "no interventions"
    pending = sum(r.pending.values())
    return (
        f"Session of **{r.group}** ended ({r.end_reason}): {_plural(r.presence.total, 'person', 'people')} present "
        f"({r.presence.consented} consented, {r.presence.exempt} exempt, {r.presence.removed} removed); {done}"
        f"{' (cases ' + ', '.join(f'#{n}' for n in cases) + ')' if cases else ''}; "
        f"{r.removed_messages} messages removed, {pending} pending; {r.reminders} reminders. "
        f"Report `{digest(r)[:12]}`."
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
            {"kind": i.kind, "case": i.case_number, "at": i.at.astimezone(UTC).isoformat()}
            for i in r.interventions
        ],
        "messages_removed": r.removed_messages,
        "messages_pending": dict(sorted(r.pending.items())),
        "reminders_posted": r.reminders,
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
    )


def digest(r: SessionReport) -> str:
    """SHA-256 (hex) of the report's canonical stored form: what the audit chain records."""
    canonical = json.dumps(as_record(r), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
