"""Exports of a guild's cases and audit log (CSV or JSON) and the check of the audit chain.

Used by ``holdspace export cases|audit --guild ID --format csv|json`` and ``holdspace audit-verify``.
Exports are for the operator: they hold decrypted member ids, never the reporter of a case (nobody
but the reporter sees anything of them) and never an audit entry's salt.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any

from bot.core.audit_chain import VerifyResult
from bot.crypto import KeyRing
from bot.storage import audit as audit_store
from bot.storage import cases as case_store
from bot.storage import session_reports
from bot.storage.db import Database

__all__ = ["FORMATS", "VerifyResult", "export_audit", "export_cases", "verify_audit"]

FORMATS = ("csv", "json")


def _check_format(fmt: str) -> str:
    value = (fmt or "").lower()
    if value not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use csv or json")
    return value


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def _id(value: int | None) -> str | None:
    return None if value is None else str(value)


def _dump_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def _dump_csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                k: (json.dumps(v, ensure_ascii=False, sort_keys=True) if isinstance(v, dict | list) else v)
                for k, v in row.items()
            }
        )
    return out.getvalue()


async def export_cases(db: Database, ring: KeyRing, guild_id: int, fmt: str) -> str:
    """Every case of ``guild_id`` with its history, oldest first."""
    kind = _check_format(fmt)
    rows: list[dict[str, Any]] = []
    for case in await case_store.all_cases(db, ring, guild_id):
        history = [
            {
                "at": _iso(event.at),
                "action": event.action,
                "status": None if event.status is None else event.status.value,
                "actor_id": _id(event.actor_id),
                "note": event.note,
            }
            for event in await case_store.events(db, ring, case.id)
        ]
        rows.append(
            {
                "number": case.number,
                "kind": case.kind,
                "status": case.status.value,
                "group_id": case.group_id,
                "subject_id": _id(case.subject_id),
                "assignee_id": _id(case.assignee_id),
                "opened_at": _iso(case.opened_at),
                "updated_at": _iso(case.updated_at),
                "closed_at": _iso(case.closed_at),
                "details": case.details,
                "history": history,
            }
        )
    if kind == "json":
        return _dump_json({"guild_id": str(guild_id), "cases": rows})
    columns = [
        "number",
        "kind",
        "status",
        "group_id",
        "subject_id",
        "assignee_id",
        "opened_at",
        "updated_at",
        "closed_at",
        "details",
        "history",
    ]
    return _dump_csv(columns, rows)


async def export_audit(db: Database, ring: KeyRing, guild_id: int, fmt: str) -> str:
    """Every audit entry of ``guild_id``, oldest first (entries that cannot be decrypted are left out)."""
    kind = _check_format(fmt)
    rows: list[dict[str, Any]] = []
    for entry in await audit_store.entries(db, ring, guild_id):
        payload = entry.payload
        rows.append(
            {
                "seq": entry.seq,
                "at": _iso(entry.at),
                "action": entry.action,
                "actor_id": payload.get("actor"),
                "group_id": payload.get("group"),
                "subject_id": payload.get("subject"),
                "details": payload.get("details") or {},
                "hash": entry.hash.hex(),
            }
        )
    if kind == "json":
        return _dump_json({"guild_id": str(guild_id), "entries": rows})
    columns = ["seq", "at", "action", "actor_id", "group_id", "subject_id", "details", "hash"]
    return _dump_csv(columns, rows)


async def verify_audit(db: Database, ring: KeyRing) -> VerifyResult:
    """Check the whole audit chain, then every stored session report against the digest the chain
    holds for it; the result names the first break and why."""
    chain = await audit_store.verify(db, ring)
    if not chain.ok:
        return chain
    reports = await session_reports.verify(db, ring)
    if not reports.ok:
        return reports
    return chain
