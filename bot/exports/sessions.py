"""Export of a server's session integrity reports (CSV or JSON) for the practice's files.

Used by ``holdspace export sessions --guild ID [--group NAME] --format csv|json``. One row per report
with its id and SHA-256 (the digest the audit trail's ``session.report`` entry holds, so a printed
report can be matched to the audit trail), the times, presence by status, interventions with their
case numbers, messages removed and pending (with the reasons), reminders and when holdspace came back
during the session. Numbers, statuses and case numbers only: a report names nobody.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from bot.core.session_report import SessionReport, as_record, digest, report_id
from bot.crypto import KeyRing
from bot.errors import HoldspaceError
from bot.exports.consents import groups_of
from bot.storage import session_reports
from bot.storage.db import Database

__all__ = ["COLUMNS", "export_sessions"]

COLUMNS = [
    "group_id",
    "group_name",
    "session_id",
    "report_id",
    "sha256",
    "started_at",
    "ended_at",
    "time_zone",
    "end_reason",
    "present",
    "consented",
    "exempt",
    "removed",
    "interventions",
    "messages_removed",
    "messages_pending",
    "pending_reasons",
    "reminders_posted",
    "holdspace_returned_at",
]


def _row(group_id: str, report: SessionReport) -> dict[str, Any]:
    return {
        "group_id": group_id,
        "group_name": report.group,
        "session_id": report.session_id,
        "report_id": report_id(report),
        "sha256": digest(report),
        "started_at": report.started_at.isoformat(),
        "ended_at": report.ended_at.isoformat(),
        "time_zone": report.time_zone,
        "end_reason": report.end_reason,
        "present": report.presence.total,
        "consented": report.presence.consented,
        "exempt": report.presence.exempt,
        "removed": report.presence.removed,
        "interventions": "; ".join(
            f"{i.kind} #{i.case_number}" if i.case_number is not None else i.kind for i in report.interventions
        ),
        "messages_removed": report.removed_messages,
        "messages_pending": sum(report.pending.values()),
        "pending_reasons": "; ".join(f"{reason}: {n}" for reason, n in sorted(report.pending.items())),
        "reminders_posted": report.reminders,
        "holdspace_returned_at": "; ".join(at.isoformat() for at in report.returns),
    }


async def export_sessions(db: Database, ring: KeyRing, guild_id: int, group_name: str | None, fmt: str) -> str:
    """Every stored report of ``guild_id``'s groups (or of the group ``group_name``), oldest first."""
    fmt = (fmt or "").lower()
    if fmt not in ("csv", "json"):
        raise HoldspaceError(f"unknown export format {fmt!r}; use csv or json")
    groups = await groups_of(db, ring, guild_id, group_name)
    found: list[tuple[str, SessionReport]] = []
    for group in groups:
        found += [(group.id, r) for r in await session_reports.of_group(db, ring, group.id)]
    found.sort(key=lambda item: (item[1].started_at, item[1].session_id))
    if fmt == "json":
        reports = [
            {"group_id": group_id, "report_id": report_id(r), "sha256": digest(r), **as_record(r)}
            for group_id, r in found
        ]
        document = {"guild_id": str(guild_id), "sessions": reports}
        return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for group_id, r in found:
        writer.writerow(_row(group_id, r))
    return out.getvalue()
