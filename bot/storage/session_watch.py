"""What a running session's integrity report is gathered from, written down as it happens
(migrations/0015), so a restart in the middle of a session loses nothing of it.

- Presence: one row per person seen in the voice room, keyed by a blind index of (session, person)
  under its own purpose, so the rows link to no member table and no other session; the status only
  (``bot.core.session_report.STATUSES``). A status only moves up: someone removed who came back with a
  consent counts as consented.
- Events: interventions with their case numbers, reminders posted, holdspace coming back during the
  session, what the end did to the messages. Numbers and statuses only.

Both go in the transaction that stores the report (:func:`clear`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.core.session_report import MESSAGES, REMINDERS, RETURNED, STATUSES
from bot.crypto import KeyRing
from bot.storage.db import Database
from bot.storage.times import from_ms, to_ms

#: The blind-index purpose of a presence row.
PURPOSE = "session_presence"

# Event kinds besides the interventions (bot.core.session_report): RETURNED (holdspace came back while
# the session ran), REMINDERS (data {"count": n}), MESSAGES (data {"removed": n, "pending": {reason: n}}).
__all__ = ["MESSAGES", "PURPOSE", "REMINDERS", "RETURNED", "Event", "add_event", "clear", "events", "saw", "statuses"]


@dataclass(frozen=True)
class Event:
    kind: str
    case_number: int | None
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)


def _person(ring: KeyRing, session_id: str, member_id: int) -> list[bytes]:
    return ring.blind_indexes(f"{session_id}:{member_id}", purpose=PURPOSE)


async def saw(db: Database, ring: KeyRing, session_id: str, member_id: int, status: str) -> None:
    """``member_id`` was in the session's voice room with ``status``."""
    if status not in STATUSES:
        raise ValueError(f"unknown presence status {status!r}")
    indexes = _person(ring, session_id, member_id)
    marks = ", ".join("?" for _ in indexes)
    async with db.transaction() as conn:
        row = await db.fetchone(
            f"SELECT person, status FROM session_presence WHERE session_id = ? AND person IN ({marks})",
            (session_id, *indexes),
        )
        if row is None:
            await conn.execute(
                "INSERT INTO session_presence (session_id, person, status) VALUES (?, ?, ?)",
                (session_id, ring.blind_index(f"{session_id}:{member_id}", purpose=PURPOSE), status),
            )
        elif status != "removed" and row["status"] != status:
            await conn.execute(
                "UPDATE session_presence SET status = ? WHERE session_id = ? AND person = ?",
                (status, session_id, row["person"]),
            )


async def statuses(db: Database, session_id: str) -> list[str]:
    rows = await db.fetchall("SELECT status FROM session_presence WHERE session_id = ?", (session_id,))
    return [str(r["status"]) for r in rows]


async def add_event(
    db: Database,
    session_id: str,
    kind: str,
    at: datetime,
    *,
    case_number: int | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    await db.execute(
        "INSERT INTO session_events (session_id, kind, case_number, at_ms, data) VALUES (?, ?, ?, ?, ?)",
        (session_id, kind, case_number, to_ms(at), None if data is None else json.dumps(data, sort_keys=True)),
    )


async def has_event(db: Database, session_id: str, kind: str) -> bool:
    row = await db.fetchone(
        "SELECT 1 FROM session_events WHERE session_id = ? AND kind = ? LIMIT 1", (session_id, kind)
    )
    return row is not None


async def events(db: Database, session_id: str) -> list[Event]:
    rows = await db.fetchall(
        "SELECT kind, case_number, at_ms, data FROM session_events WHERE session_id = ? ORDER BY id", (session_id,)
    )
    return [
        Event(
            str(r["kind"]),
            None if r["case_number"] is None else int(r["case_number"]),
            from_ms(int(r["at_ms"])),
            json.loads(r["data"]) if r["data"] else {},
        )
        for r in rows
    ]


async def clear(db: Database, session_id: str) -> None:
    """The gathered facts are gone once the report holds them (call inside its transaction)."""
    await db.execute("DELETE FROM session_presence WHERE session_id = ?", (session_id,))
    await db.execute("DELETE FROM session_events WHERE session_id = ?", (session_id,))
