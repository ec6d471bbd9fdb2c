"""Export of a server's consent records (CSV or JSON) for the practice's files.

Used by ``holdspace export consents --guild ID [--group NAME] --format csv|json``. One row per consent
event (agree, decline, withdraw, removed, revoked) in order, with the member's decrypted id, the
agreement version and SHA-256 it refers to, when and how it was given, and the id on the member's
consent receipt. Names are never exported:
holdspace does not have them.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from bot.core.receipts import ANSWERS as RECEIPT_ANSWERS
from bot.core.receipts import receipt_id
from bot.core.records import GroupInfo
from bot.crypto import KeyRing
from bot.errors import HoldspaceError
from bot.storage import consents as consent_store
from bot.storage import groups as group_store
from bot.storage.db import Database

__all__ = ["COLUMNS", "export_consents", "groups_of"]

COLUMNS = [
    "group_id",
    "group_name",
    "member_id",
    "answer",
    "version",
    "sha256",
    "method",
    "at",
    "reason",
    "receipt_id",
]


async def groups_of(db: Database, ring: KeyRing, guild_id: int, group_name: str | None) -> list[GroupInfo]:
    """The server's groups, or its one group called ``group_name`` (an error saying so if none)."""
    groups = [g for g in await group_store.load_all(db, ring) if g.guild_id == guild_id]
    if group_name is not None:
        key = group_store.name_key(group_name)
        groups = [g for g in groups if group_store.name_key(g.name) == key]
        if not groups:
            raise HoldspaceError(
                f"server {guild_id} has no group called {group_name!r}; leave out --group to export all groups"
            )
    return groups


async def export_consents(db: Database, ring: KeyRing, guild_id: int, group_name: str | None, fmt: str) -> str:
    """The consent events of ``guild_id`` (or of its group called ``group_name``) as CSV or JSON text."""
    fmt = (fmt or "").lower()
    if fmt not in ("csv", "json"):
        raise HoldspaceError(f"unknown export format {fmt!r}; use csv or json")
    groups = await groups_of(db, ring, guild_id, group_name)
    names = {g.id: g.name for g in groups}
    events = await consent_store.history(db, ring, group_ids=list(names))
    rows: list[dict[str, Any]] = [
        {
            "group_id": ev.group_id,
            "group_name": names[ev.group_id],
            "member_id": str(ev.member_id),
            "answer": ev.answer,
            "version": ev.version,
            "sha256": ev.sha256,
            "method": ev.method,
            "at": ev.at.isoformat(),
            "reason": ev.reason,
            # the id on the member's receipt (answers a member gives themselves have one)
            "receipt_id": (
                receipt_id(ev.group_id, ev.member_id, ev.answer, ev.at) if ev.answer in RECEIPT_ANSWERS else None
            ),
        }
        for ev in events
    ]
    if fmt == "json":
        document = {
            "guild_id": str(guild_id),
            "groups": [
                {
                    "id": g.id,
                    "name": g.name,
                    "agreement_version": g.agreement_version,
                    "agreement_sha256": g.agreement_sha256,
                }
                for g in groups
            ],
            "consents": rows,
        }
        return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()
