"""Sessions' integrity reports: stored encrypted with the session, checked against the audit trail.

The report is written once, at the session's end, together with an audit entry ``session.report``
that holds its digest (bot.core.session_report.digest). :func:`verify` is part of ``holdspace
audit-verify``: a stored report that was edited, replaced or copied to another session no longer
matches the digest the chain covers. Reports older than the audit trail's retention (their entry was
pruned with the rest) are no longer covered and are not judged.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from bot.core.audit_chain import VerifyResult
from bot.core.session_report import SessionReport, as_record, digest, from_record
from bot.crypto import DecryptionError, KeyRing
from bot.storage import audit as audit_store
from bot.storage.db import Database
from bot.storage.fields import register_encrypted

register_encrypted("sessions", "report", row_key=("id",))

#: The audit action that covers a stored report.
ACTION = "session.report"


class _Covering(NamedTuple):
    """The audit entry that covers one report: its sequence number and the digest it holds."""

    seq: int
    sha256: str


def audit_details(report: SessionReport) -> dict[str, Any]:
    """The details of the audit entry that covers ``report``."""
    return {"session_id": report.session_id, "report_sha256": digest(report)}


async def save(
    db: Database,
    ring: KeyRing,
    *,
    guild_id: int,
    report: SessionReport,
    audit_payload: Mapping[str, Any],
    now: datetime,
) -> bool:
    """Store ``report`` with its session and the audit entry that covers it (``audit_payload``, whose
    details are :func:`audit_details`), in one transaction. Returns False (and writes nothing) when the
    session already has a report: a report is written once, also when an end is finished after a crash."""
    blob = ring.encrypt_json(as_record(report), table="sessions", column="report", row=report.session_id)
    async with db.transaction() as conn:
        cursor = await conn.execute(
            "UPDATE sessions SET report = ? WHERE id = ? AND report IS NULL", (blob, report.session_id)
        )
        if cursor.rowcount != 1:
            return False
        await audit_store.append(db, ring, guild_id=guild_id, action=ACTION, payload=audit_payload, now=now)
    return True


async def load(db: Database, ring: KeyRing, session_id: str) -> SessionReport | None:
    row = await db.fetchone("SELECT report FROM sessions WHERE id = ?", (session_id,))
    if row is None or row["report"] is None:
        return None
    return from_record(ring.decrypt_json(row["report"], table="sessions", column="report", row=session_id))


async def of_group(db: Database, ring: KeyRing, group_id: str) -> list[SessionReport]:
    """The group's stored reports, newest first."""
    rows = await db.fetchall(
        "SELECT id, report FROM sessions WHERE group_id = ? AND report IS NOT NULL ORDER BY started_ms DESC",
        (group_id,),
    )
    return [from_record(ring.decrypt_json(r["report"], table="sessions", column="report", row=r["id"])) for r in rows]


async def verify(db: Database, ring: KeyRing) -> VerifyResult:
    """Every stored report against the digest the audit chain holds for it."""
    rows = await db.fetchall("SELECT id, guild_id, report FROM sessions WHERE report IS NOT NULL")
    covered: dict[str, _Covering] = {}
    oldest: dict[int, datetime] = {}
    for guild_id in {int(r["guild_id"]) for r in rows}:
        for audit_entry in await audit_store.entries(db, ring, guild_id):
            oldest.setdefault(guild_id, audit_entry.at)
            if audit_entry.action == ACTION:
                details = audit_entry.payload.get("details", {})
                covered[str(details.get("session_id"))] = _Covering(audit_entry.seq, str(details.get("report_sha256")))
    checked = 0
    for row in rows:
        session_id = str(row["id"])
        covering = covered.get(session_id)
        try:
            report = from_record(ring.decrypt_json(row["report"], table="sessions", column="report", row=session_id))
        except (DecryptionError, ValueError, KeyError, TypeError):
            return _broken(checked, covering, f"the integrity report of session {session_id} was altered in the file")
        if covering is None:
            first = oldest.get(int(row["guild_id"]))
            if first is not None and report.ended_at < first:
                continue  # older than the audit trail's retention: no longer covered
            return _broken(checked, None, f"the integrity report of session {session_id} has no audit entry")
        if covering.sha256 != digest(report):
            return _broken(
                checked, covering, f"the integrity report of session {session_id} was edited after it was made"
            )
        checked += 1
    return VerifyResult(ok=True, checked=checked)


def _broken(checked: int, covering: _Covering | None, reason: str) -> VerifyResult:
    return VerifyResult(ok=False, checked=checked, broken_seq=covering.seq if covering else None, reason=reason)
