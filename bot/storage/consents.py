"""Consent events, append-only and encrypted.

Each row is one event of one member in one group: ``agree`` (with the agreement version and its
SHA-256, the time and how it was given), ``decline``, ``withdraw`` (by the member), ``removed`` (by a
facilitator), ``revoked`` (by holdspace: the agreement changed or the consent grew too old), and
``reset`` (by holdspace, for the whole group: its records did not hold, see below). Only the group
id, its server, an ordering number and the member's blind index (purpose "consent", its own) are
readable in the file; the member id and the event itself are encrypted, bound to the row, its group
and its server. The latest event of a (group, member)
in the group's current epoch decides whether they currently consent.

A group's events form a hash chain (bot.core.consent_chain), anchored beside the database
(bot.storage.consent_anchor). :func:`load_checked` checks every group's chain; a group whose chain
does not hold is reported as tampered and counts no consent at all until members consent again.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.consent_chain import GENESIS, Head, Linked, link, next_position, verify
from bot.core.records import ConsentFact
from bot.crypto import DecryptionError, KeyRing
from bot.storage import consent_anchor, meta
from bot.storage.db import Database
from bot.storage.fields import register_blind_index, register_encrypted, row_key

# Bound to the row, its group and its server: a row moved to another group no longer decrypts.
ROW_KEY = ("id", "group_id", "guild_id")
#: The binding of releases between chains and server binding (bot.storage.rebind moves rows on).
GROUP_ONLY_ROW_KEY = ("id", "group_id")
MEMBER_PURPOSE = "consent"
register_encrypted("consents", "member_id", row_key=ROW_KEY)
register_encrypted("consents", "data", row_key=ROW_KEY)
register_blind_index("consents", "member_index", "member_id", MEMBER_PURPOSE)
ANSWERS = ("agree", "decline", "withdraw", "removed", "revoked", "reset")
#: The member id of a group's reset event (it concerns everyone in the group, nobody in particular).
NOBODY = 0
#: Set once the events written before chains existed were chained and bound to their groups.
SEALED_META = "consents_sealed"
TAMPERED_ROW = "a consent record does not belong where it is (moved, altered or copied in)"
ANCHOR_UNTRUSTED = "the signed record of the group's records beside the database does not hold"
ANCHOR_GONE = (
    "the signed record of the group's records beside the database is gone (deleted, or an older copy "
    "of the file put back without it)"
)
METHODS = ("command", "lobby", "dm", "prompt", "facilitator", "holdspace")


@dataclass(frozen=True)
class ConsentEvent:
    id: str
    seq: int
    group_id: str
    guild_id: int
    member_id: int
    answer: str
    version: int | None
    sha256: str | None
    method: str
    at: datetime
    reason: str | None = None
    epoch: int = 1
    n: int = 0
    prev: str = GENESIS

    def facts(self) -> dict[str, Any]:
        """What the chain link covers (bot.core.consent_chain.link)."""
        return {
            "id": self.id,
            "group_id": self.group_id,
            "member_id": self.member_id,
            "answer": self.answer,
            "version": self.version,
            "sha256": self.sha256,
            "method": self.method,
            "at": self.at.isoformat(),
            "reason": self.reason,
        }

    def linked(self) -> Linked:
        return Linked(self.epoch, self.n, self.prev, self.facts())

    def head(self) -> Head:
        return Head(self.epoch, self.n, link(self.prev, self.facts()))

    def as_fact(self) -> ConsentFact:
        return ConsentFact(self.id, self.member_id, self.version or 0, self.sha256 or "", self.at, self.method)


def _row(consent_id: str, group_id: str, guild_id: int) -> str:
    return row_key((consent_id, group_id, guild_id))


def _decode(ring: KeyRing, row: sqlite3.Row, *, legacy: bool = False) -> ConsentEvent:
    """One event; raises DecryptionError when the row does not decrypt where it stands."""
    consent_id, seq, group_id, guild_id = row["id"], row["seq"], row["group_id"], row["guild_id"]
    if not isinstance(guild_id, int):
        raise DecryptionError("a consent record names no server")
    where = consent_id if legacy else _row(consent_id, group_id, guild_id)
    member_id = int(ring.decrypt_str(row["member_id"], table="consents", column="member_id", row=where))
    data = ring.decrypt_json(row["data"], table="consents", column="data", row=where)
    return ConsentEvent(
        id=consent_id,
        seq=int(seq),
        group_id=group_id,
        guild_id=guild_id,
        member_id=member_id,
        answer=data["answer"],
        version=data.get("version"),
        sha256=data.get("sha256"),
        method=data.get("method", "command"),
        at=datetime.fromisoformat(data["at"]),
        reason=data.get("reason"),
        epoch=int(data.get("epoch", 1)),
        n=int(data.get("n", 0)),
        prev=str(data.get("prev", GENESIS)),
    )


def _data(event: ConsentEvent) -> dict[str, Any]:
    data: dict[str, Any] = {"answer": event.answer, "method": event.method, "at": event.at.isoformat()}
    if event.version is not None:
        data["version"] = event.version
        data["sha256"] = event.sha256
    if event.reason:
        data["reason"] = event.reason
    data.update(epoch=event.epoch, n=event.n, prev=event.prev)
    return data


def _seal(ring: KeyRing, event: ConsentEvent) -> tuple[bytes, bytes]:
    where = _row(event.id, event.group_id, event.guild_id)
    return (
        ring.encrypt(str(event.member_id), table="consents", column="member_id", row=where),
        ring.encrypt_json(_data(event), table="consents", column="data", row=where),
    )


async def _group_events(db: Database, ring: KeyRing, group_id: str) -> list[ConsentEvent]:
    """The group's events that decrypt where they stand, in file order (for the chain's position)."""
    rows = await db.fetchall(
        "SELECT id, seq, group_id, guild_id, member_id, data FROM consents WHERE group_id = ? ORDER BY seq", (group_id,)
    )
    events = []
    for row in rows:
        try:
            events.append(_decode(ring, row))
        except DecryptionError:
            continue
    return events


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
    """Append one event, chained to the group's last one, and return it."""
    if answer not in ANSWERS:
        raise ValueError(f"unknown consent answer {answer!r}")
    consent_id = uuid.uuid4().hex
    async with db.transaction() as conn:
        group = await db.fetchone("SELECT guild_id FROM groups WHERE id = ?", (group_id,))
        if group is None:
            raise ValueError("consent recorded for a group that does not exist")
        guild_id = int(group["guild_id"])
        last = await db.fetchone(
            "SELECT id, seq, group_id, guild_id, member_id, data FROM consents WHERE group_id = ? "
            "ORDER BY seq DESC LIMIT 1",
            (group_id,),
        )
        if answer == "reset":  # a new epoch: whatever the file holds, its events no longer count
            epochs = [e.epoch for e in await _group_events(db, ring, group_id)]
            epoch, n, prev = max(epochs, default=0) + 1, 1, GENESIS
        else:
            try:
                previous = None if last is None else _decode(ring, last).head()
            except DecryptionError:  # the newest row does not hold: start where the good ones end
                good = [e for e in await _group_events(db, ring, group_id)]
                previous = good[-1].head() if good else None
            epoch, n, prev = next_position(previous)
        row = await db.fetchone("SELECT COALESCE(MAX(seq), 0) + 1 AS next_seq FROM consents")
        seq = int(row["next_seq"]) if row else 1
        event = ConsentEvent(
            consent_id, seq, group_id, guild_id, member_id, answer, version, sha256 if version is not None else None,
            method, at, reason, epoch, n, prev,
        )
        member_blob, data_blob = _seal(ring, event)
        await conn.execute(
            "INSERT INTO consents (id, seq, group_id, guild_id, member_index, member_id, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                consent_id,
                seq,
                group_id,
                guild_id,
                ring.blind_index(member_id, purpose=MEMBER_PURPOSE),
                member_blob,
                data_blob,
            ),
        )
    consent_anchor.advance(db, ring, group_id, event.head())
    return event


async def record_reset(db: Database, ring: KeyRing, *, group_id: str, at: datetime, reason: str) -> ConsentEvent:
    """Start a new epoch of the group's chain: no consent recorded before it counts any more."""
    return await record(
        db, ring, group_id=group_id, member_id=NOBODY, answer="reset", at=at, method="holdspace", reason=reason
    )


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
        f"SELECT id, seq, group_id, guild_id, member_id, data FROM consents{where} ORDER BY seq", tuple(params)
    )
    events = []
    for row in rows:
        try:
            events.append(_decode(ring, row))
        except DecryptionError:  # a row that does not hold is no one's record (load_checked reports it)
            continue
    return events


def latest_per_member(events: list[ConsentEvent]) -> dict[tuple[str, int], ConsentEvent]:
    latest: dict[tuple[str, int], ConsentEvent] = {}
    for event in events:
        latest[(event.group_id, event.member_id)] = event
    return latest


@dataclass
class Checked:
    """What :func:`load_checked` found."""

    current: list[tuple[str, ConsentFact]]
    tampered: dict[str, str]  # group id -> what is wrong, in words
    heads: dict[str, Head]  # group id -> where its chain ends (groups that hold)


async def load_checked(db: Database, ring: KeyRing, group_ids: set[str]) -> Checked:
    """Every current consent of the groups whose chains hold; the groups whose chains do not."""
    anchor = consent_anchor.of(db, ring)
    rows = await db.fetchall("SELECT id, seq, group_id, guild_id, member_id, data FROM consents ORDER BY seq")
    events: dict[str, list[ConsentEvent]] = {gid: [] for gid in group_ids}
    bad: list[tuple[str, int]] = []  # rows that do not decrypt where they stand: (group id, seq)
    for row in rows:
        try:
            events.setdefault(row["group_id"], []).append(_decode(ring, row))
        except DecryptionError:
            bad.append((row["group_id"], int(row["seq"])))
    # A row that does not decrypt never grants anything; it tells of tampering unless a reset of its
    # group already answered it (it comes before the group's newest reset).
    last_reset = {
        gid: max((e.seq for e in evs if e.answer == "reset"), default=0) for gid, evs in events.items()
    }
    tampered: dict[str, str] = {}
    for group_id, seq in bad:
        if seq > last_reset.get(group_id, 0):
            tampered.setdefault(group_id, TAMPERED_ROW)
    current: list[tuple[str, ConsentFact]] = []
    heads: dict[str, Head] = {}
    for group_id, group_events in events.items():
        if group_id not in group_ids or group_id in tampered:
            continue
        if not anchor.trusted and group_events:
            tampered[group_id] = ANCHOR_UNTRUSTED
            continue
        if not anchor.existed and group_events:
            tampered[group_id] = ANCHOR_GONE
            continue
        head, problem = verify([e.linked() for e in group_events], anchor.heads.get(group_id))
        if problem is not None:
            tampered[group_id] = problem
            continue
        if head is None:
            continue
        heads[group_id] = head
        latest = latest_per_member([e for e in group_events if e.epoch == head.epoch])
        current.extend((gid, ev.as_fact()) for (gid, _), ev in latest.items() if ev.answer == "agree")
    return Checked(current, {g: p for g, p in tampered.items() if g in group_ids}, heads)


async def seal_legacy(db: Database, ring: KeyRing) -> int:
    """Chain and bind to their groups the events written before chains existed (once, atomically);
    returns how many were sealed."""
    if not (await db.table_exists("consents") and await db.table_exists("meta")):
        return 0  # a database of other migrations (tests of the runner)
    if await meta.get(db, SEALED_META) == "1":
        return 0
    rows = await db.fetchall("SELECT id, seq, group_id, guild_id, member_id, data FROM consents ORDER BY seq")
    heads: dict[str, Head] = {}
    sealed: list[ConsentEvent] = []
    for row in rows:
        try:
            old = _decode(ring, row, legacy=True)
        except DecryptionError:
            old = None
        if old is None:  # already bound to its group: a sealed file whose mark was lost; leave it as it is
            sealed = []
            break
        epoch, n, prev = next_position(heads.get(old.group_id))
        event = dataclasses.replace(old, epoch=epoch, n=n, prev=prev)
        heads[old.group_id] = event.head()
        sealed.append(event)
    async with db.transaction() as conn:
        for event in sealed:
            member_blob, data_blob = _seal(ring, event)
            await conn.execute(
                "UPDATE consents SET member_id = ?, data = ? WHERE id = ?", (member_blob, data_blob, event.id)
            )
        await conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, '1') ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (SEALED_META,),
        )
    return len(sealed)


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
        if event.answer != "agree" and event.at < before and key not in still_enrolled and event.member_id != NOBODY
    }
    if not ended:
        return 0
    anchor = consent_anchor.of(db, ring)
    by_group: dict[str, list[ConsentEvent]] = {}
    for event in events:
        by_group.setdefault(event.group_id, []).append(event)
    doomed: list[str] = []
    rechained: list[ConsentEvent] = []
    heads: dict[str, Head] = {}
    for group_id in sorted({gid for gid, _ in ended}):
        group_events = by_group.get(group_id, [])
        head, problem = verify([e.linked() for e in group_events], anchor.heads.get(group_id))
        if problem is not None or head is None:
            continue  # never re-chain what does not hold: the next start reports it
        gone = {e.id for e in group_events if (group_id, e.member_id) in ended}
        doomed.extend(sorted(gone))
        # The events that stay in the current epoch are chained again, so the chain holds without them.
        position: Head | None = None
        for event in group_events:
            if event.epoch != head.epoch or event.id in gone:
                continue
            n, prev = (1, GENESIS) if position is None else (position.n + 1, position.link)
            event = dataclasses.replace(event, n=n, prev=prev)
            position = event.head()
            rechained.append(event)
        heads[group_id] = position or Head(head.epoch, 0, GENESIS)
    if not doomed:
        return 0
    async with db.transaction() as conn:
        for start in range(0, len(doomed), 500):
            chunk = doomed[start : start + 500]
            await conn.execute(f"DELETE FROM consents WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        for event in rechained:
            member_blob, data_blob = _seal(ring, event)
            await conn.execute(
                "UPDATE consents SET member_id = ?, data = ? WHERE id = ?", (member_blob, data_blob, event.id)
            )
    for group_id, group_head in heads.items():
        anchor.heads[group_id] = group_head
    anchor.save(ring)
    return len(doomed)
