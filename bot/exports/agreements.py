"""Export of every agreement version of a server's groups (CSV or JSON) for the practice's files.

Used by ``holdspace export agreements --guild ID [--group NAME] --format csv|json``. One row per
version with its full text, number, SHA-256 (the same hash ``export consents`` gives for each
consent, so a consent can be matched to the exact words agreed to), when it was made and when a
newer version replaced it.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from bot.crypto import KeyRing
from bot.errors import HoldspaceError
from bot.exports.consents import groups_of
from bot.storage import groups as group_store
from bot.storage.db import Database

__all__ = ["COLUMNS", "export_agreements"]

COLUMNS = ["group_id", "group_name", "version", "sha256", "created_at", "replaced_at", "current", "text"]


async def export_agreements(db: Database, ring: KeyRing, guild_id: int, group_name: str | None, fmt: str) -> str:
    """Every agreement version of ``guild_id``'s groups (or of the group ``group_name``) as CSV or JSON."""
    fmt = (fmt or "").lower()
    if fmt not in ("csv", "json"):
        raise HoldspaceError(f"unknown export format {fmt!r}; use csv or json")
    groups = await groups_of(db, ring, guild_id, group_name)
    rows: list[dict[str, Any]] = []
    for group in groups:
        versions = await group_store.list_agreements(db, ring, group.id)
        for index, agreement in enumerate(versions):
            following = versions[index + 1] if index + 1 < len(versions) else None
            rows.append(
                {
                    "group_id": group.id,
                    "group_name": group.name,
                    "version": agreement.version,
                    "sha256": agreement.sha256,
                    "created_at": agreement.created_at.isoformat(),
                    "replaced_at": None if following is None else following.created_at.isoformat(),
                    "current": agreement.version == group.agreement_version,
                    "text": agreement.text,
                }
            )
    if fmt == "json":
        document = {"guild_id": str(guild_id), "agreements": rows}
        return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()
