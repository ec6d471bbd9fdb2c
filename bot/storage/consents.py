"""Consent events, append-only and encrypted.

Each row is one event of one member in one group: ``agree`` (with the agreement version and its
SHA-256, the time and how it was given), ``decline``, ``withdraw`` (by the member), ``removed`` (by a
facilitator), ``revoked`` (by holdspace: the agreement changed or the consent grew too old). Only the
group id, an ordering number and the member's blind index are readable in the file; the member id
and the event itself are encrypted. The latest event of a (group, member) decides whether they
currently consent.
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.records import ConsentFact
from bot.crypto import KeyRing
from bot.storage.db import Database
from bot.storage.fields import register_blind_index, register_encrypted

register_encrypted("consents", "member_id", row_key=("id",))
register_encrypted("consents", "data", row_key=("id",))
register_blind_index("consents", "member_index", "member_id", "member")

MEMBER_PURPOSE = "member"
ANSWERS = ("agree", "decline", "withdraw", "removed", "revoked")
METHODS = ("command", "lobby", "dm", "prompt", "facilitator", "holdspace")


@dataclass(frozen=True)
class ConsentEvent:
    id: str
    seq: int
    group_id: str
    member_id: int
    answer: str
    version: int | None
    sha256: str | None
    method: str
    at: datetime
    reason: str | None = None

    def as_fact(self) -> ConsentFact:
        return ConsentFact(self.id, self.member_id, self.version or 0, self.sha256 or "", self.at, self.method)


def _decode(ring: KeyRing, row: sqlite3.Row) -> ConsentEvent:
    consent_id, seq, group_id = row["id"], row["seq"], row["group_id"]
    member_blob, data_blob = row["member_id"], row["data"]
    member_id = int(ring.decrypt_str(member_blob, table="consents", column="member_id", row=consent_id))
    data = ring.decrypt_json(data_blob, table="consents", column="data", row=consent_id)
    return ConsentEvent(
        id=consent_id,
        seq=int(seq),
        group_id=group_id,
        member_id=member_id,
        answer=data["answer"],
        version=data.get("version"),
        sha256=data.get("sha256"),
        method=data.get("method", "command"),
        at=datetime.fromisoformat(data["at"]),
        reason=data.get("reason"),
    )


async def record(
    db: Database,
    ring: KeyRing,
    *,
    group_id: str,
    member_id: int,
    answer: str,
    at: datetime,
    method: str,
    version: int | None = None,
    sha256: str | None = None,
    reason: str | None = None,
) -> ConsentEvent:
    """Append one event and return it."""
    if answer not in ANSWERS:
        raise ValueError(f"unknown consent answer {answer!r}")
    consent_id = uuid.uuid4().hex
    data: dict[str, Any] = {"answer": answer, "method": method, "at": at.isoformat()}
    if version is not None:
        data["version"] = version
        data["sha256"] = sha256
    if reason:
        data["reason"] = reason
    async with db.transaction() as conn:
        row = await db.fetchone("SELECT COALESCE(MAX(seq), 0) + 1 AS next_seq FROM consents")
        seq = int(row["next_seq"]) if row else 1
        await conn.execute(
            "INSERT INTO consents (id, seq, group_id, member_index, member_id, data) VALUES (?, ?, ?, ?, ?, ?)",
            (
                consent_id,
                seq,
                group_id,
                ring.blind_index(member_id, purpose=MEMBER_PURPOSE),
                ring.encrypt(str(member_id), table="consents", column="member_id", row=consent_id),
                ring.encrypt_json(data, table="consents", column="data", row=consent_id),
            ),
        )
    return ConsentEvent(consent_id, seq, group_id, member_id, answer, version, sha256, method, at, reason)


async def history(
    db: Database, ring: KeyRing, *, group_ids: list[str] | None = None, member_id: int | None = None
) -> list[ConsentEvent]:
    """Events in order, optionally of some groups and/or one member."""
    clauses: list[str] = []
    params: list[Any] = []
    if group_ids is not None:
        if not group_ids:
            return []
        clauses.append(f"group_id IN ({','.join('?' * len(group_ids))})")
        params.extend(group_ids)
    if member_id is not None:
        indexes = ring.blind_indexes(member_id, purpose=MEMBER_PURPOSE)
        clauses.append(f"member_index IN ({','.join('?' * len(indexes))})")
        params.extend(indexes)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = await db.fetchall(
        f"SELECT id, seq, group_id, member_id, data FROM consents{where} ORDER BY seq", tuple(params)
    )
    return [_decode(ring, r) for r in rows]


def latest_per_member(events: list[ConsentEvent]) -> dict[tuple[str, int], ConsentEvent]:
    latest: dict[tuple[str, int], ConsentEvent] = {}
    for event in events:
        latest[(event.group_id, event.member_id)] = event
    return latest


async def load_current(db: Database, ring: KeyRing) -> list[tuple[str, ConsentFact]]:
    """Every current consent (latest event "agree") as (group id, fact)."""
    latest = latest_per_member(await history(db, ring))
    return [(gid, ev.as_fact()) for (gid, _), ev in latest.items() if ev.answer == "agree"]


async def purge_ended(db: Database, ring: KeyRing, before: datetime, still_enrolled: set[tuple[str, int]]) -> int:
    """Delete the consent records of people who left a group before ``before``; returns rows deleted.

    A (group, member) record goes as a whole once its latest event is not "agree", that event is older
    than ``before``, and the member is no longer enrolled in the group. Current consents and the
    records of enrolled members are always kept.
    """
    events = await history(db, ring)
    latest = latest_per_member(events)
    ended = {
        key
        for key, event in latest.items()
        if event.answer != "agree" and event.at < before and key not in still_enrolled
    }
    if not ended:
        return 0
    doomed = [event.id for event in events if (event.group_id, event.member_id) in ended]
    async with db.transaction() as conn:
        for start in range(0, len(doomed), 500):
            chunk = doomed[start : start + 500]
            await conn.execute(f"DELETE FROM consents WHERE id IN ({','.join('?' * len(chunk))})", chunk)
    return len(doomed)
