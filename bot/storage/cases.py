"""Cases: the moderators' queue of everything flagged, with its history of changes.

Member ids, details, notes and dedupe keys are encrypted, bound to (table, column, row id); look-ups
by member use blind indexes (purpose "member"), look-ups by dedupe key a blind index of its own.
Every function that changes a case runs in one transaction and may be nested inside the caller's
(so the caller can append to the audit log atomically with the change).
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiosqlite

from bot.core.cases import (
    CLOSED,
    OPEN,
    CaseRuleError,
    Status,
    check_claim,
    check_note,
    check_resolve,
    validate_dedupe_key,
    validate_kind,
)
from bot.core.member_records import scrub
from bot.crypto import DecryptionError, KeyRing
from bot.storage import fields
from bot.storage import holds as hold_store
from bot.storage.db import Database
from bot.storage.times import from_ms, to_ms

__all__ = [
    "CaseEvent",
    "CaseNotFound",
    "CaseRecord",
    "NewHold",
    "OpenResult",
    "add_note",
    "all_cases",
    "claim",
    "events",
    "forget_member",
    "get_case",
    "list_cases",
    "list_for_assignee",
    "list_for_reporter",
    "list_for_subject",
    "open_case",
    "purge_closed",
    "resolve",
    "set_notice",
]

log = logging.getLogger(__name__)

#: One purpose per column: a person's fingerprint as a case's subject, reporter or assignee cannot be
#: matched with another column's (or with their enrolments and consents) from the file alone.
SUBJECT = "case-subject"
REPORTER = "case-reporter"
ASSIGNEE = "case-assignee"
_PURPOSE_OF = {"subject_index": SUBJECT, "reporter_index": REPORTER, "assignee_index": ASSIGNEE}
DEDUPE = "case-dedupe"

_CASE_COLUMNS = (
    "id, guild_id, number, kind, status, group_id, subject, assignee, details, notice_channel_id, "
    "notice_message_id, opened_ms, updated_ms, closed_ms"
)


#: A case's fields are bound to the case, its server and its group (none for a server-wide case): a
#: case moved to another group, where other facilitators would read it, no longer decrypts.
CASE_ROW_KEY = ("id", "guild_id", "group_id")
#: A case event's fields are bound to the event and its case.
EVENT_ROW_KEY = ("id", "case_id")


def case_row(case_id: str, guild_id: int, group_id: str | None) -> str:
    return fields.row_key((case_id, guild_id, group_id))


def _event_row(event_id: str, case_id: str) -> str:
    return fields.row_key((event_id, case_id))


def register_fields() -> None:
    """Tell ``holdspace rotate-key`` about every encrypted column and blind index of this module."""
    for column in ("subject", "reporter", "assignee", "details", "details_when_closed", "dedupe_key"):
        fields.register_encrypted("cases", column, row_key=CASE_ROW_KEY)
    fields.register_encrypted("case_events", "actor", row_key=EVENT_ROW_KEY)
    fields.register_encrypted("case_events", "note", row_key=EVENT_ROW_KEY)
    fields.register_blind_index("cases", "subject_index", "subject", SUBJECT)
    fields.register_blind_index("cases", "reporter_index", "reporter", REPORTER)
    fields.register_blind_index("cases", "assignee_index", "assignee", ASSIGNEE)
    fields.register_blind_index("cases", "dedupe_index", "dedupe_key", DEDUPE)


class CaseNotFound(CaseRuleError):
    """No case with that number in that guild (unknown, or it belongs to another server)."""

    def __init__(self, number: int) -> None:
        super().__init__(f"There is no case #{number} in this server. Use /cases list to see the case numbers.")
        self.number = number


@dataclass(frozen=True)
class NewHold:
    channel_id: int
    message_id: int
    until: datetime


@dataclass(frozen=True)
class OpenResult:
    number: int
    case_id: str
    created: bool


@dataclass(frozen=True)
class CaseRecord:
    id: str
    guild_id: int
    number: int
    kind: str
    status: Status
    group_id: str | None
    subject_id: int | None
    assignee_id: int | None
    details: dict[str, Any]
    notice_channel_id: int | None
    notice_message_id: int | None
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None

    @property
    def closed(self) -> bool:
        return self.status in CLOSED


@dataclass(frozen=True)
class CaseEvent:
    at: datetime
    action: str
    status: Status | None
    actor_id: int | None
    note: str | None = field(repr=False, default=None)


@dataclass(frozen=True)
class ResolveResult:
    case: CaseRecord
    released: list[tuple[int, int]]


def _enc_id(ring: KeyRing, value: int | None, column: str, row: str, table: str = "cases") -> bytes | None:
    if value is None:
        return None
    return ring.encrypt(str(int(value)), table=table, column=column, row=row)


def _dec_id(ring: KeyRing, blob: bytes | None, column: str, row: str, table: str = "cases") -> int | None:
    if blob is None:
        return None
    return int(ring.decrypt_str(blob, table=table, column=column, row=row))


def _held(ring: KeyRing, rows: Iterable[sqlite3.Row]) -> list[CaseRecord]:
    """The cases that decrypt where they stand; one moved to another group or server (or altered) in
    the file is nobody's to read: it is left out and logged."""
    out = []
    for row in rows:
        try:
            out.append(_record(ring, row))
        except DecryptionError:
            log.error(
                "case #%s does not hold where it stands in the file (moved or altered); it is not shown", row["number"]
            )
    return out


def _record(ring: KeyRing, row: sqlite3.Row) -> CaseRecord:
    case_id = str(row["id"])
    where = case_row(case_id, int(row["guild_id"]), row["group_id"])
    details_blob = row["details"]
    details = (
        ring.decrypt_json(details_blob, table="cases", column="details", row=where) if details_blob is not None else {}
    )
    return CaseRecord(
        id=case_id,
        guild_id=int(row["guild_id"]),
        number=int(row["number"]),
        kind=str(row["kind"]),
        status=Status(row["status"]),
        group_id=row["group_id"],
        subject_id=_dec_id(ring, row["subject"], "subject", where),
        assignee_id=_dec_id(ring, row["assignee"], "assignee", where),
        details=details if isinstance(details, dict) else {"value": details},
        notice_channel_id=row["notice_channel_id"],
        notice_message_id=row["notice_message_id"],
        opened_at=from_ms(int(row["opened_ms"])),
        updated_at=from_ms(int(row["updated_ms"])),
        closed_at=from_ms(row["closed_ms"]),
    )


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


async def _add_event(
    conn: aiosqlite.Connection,
    ring: KeyRing,
    case_id: str,
    *,
    at: datetime,
    action: str,
    status: Status | None,
    actor_id: int | None,
    note: str | None,
) -> None:
    event_id = uuid.uuid4().hex
    await conn.execute(
        "INSERT INTO case_events (id, case_id, at_ms, action, status, actor, note) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            event_id,
            case_id,
            to_ms(at),
            action,
            None if status is None else status.value,
            _enc_id(ring, actor_id, "actor", _event_row(event_id, case_id), "case_events"),
            None
            if note is None
            else ring.encrypt(note, table="case_events", column="note", row=_event_row(event_id, case_id)),
        ),
    )


async def open_case(
    db: Database,
    ring: KeyRing,
    *,
    guild_id: int,
    kind: str,
    now: datetime,
    group_id: str | None = None,
    subject_id: int | None = None,
    reporter_id: int | None = None,
    details: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
    holds: Iterable[NewHold] = (),
) -> OpenResult:
    """Store a new case (and its holds), or return the open case with the same kind and dedupe key."""
    validate_kind(kind)
    validate_dedupe_key(dedupe_key)
    hold_list = list(holds)
    async with db.transaction() as conn:
        if dedupe_key is not None:
            indexes = ring.blind_indexes(dedupe_key, purpose=DEDUPE)
            row = await db.fetchone(
                f"SELECT number, id FROM cases WHERE guild_id = ? AND kind = ? AND status IN (?, ?) "
                f"AND dedupe_index IN ({_marks(indexes)}) ORDER BY number LIMIT 1",
                (guild_id, kind, Status.OPEN.value, Status.INVESTIGATING.value, *indexes),
            )
            if row is not None:
                return OpenResult(int(row["number"]), str(row["id"]), False)
        counter = await db.fetchone("SELECT last_number FROM case_counters WHERE guild_id = ?", (guild_id,))
        number = (int(counter["last_number"]) if counter is not None else 0) + 1
        await conn.execute(
            "INSERT INTO case_counters (guild_id, last_number) VALUES (?, ?) "
            "ON CONFLICT (guild_id) DO UPDATE SET last_number = excluded.last_number",
            (guild_id, number),
        )
        case_id = uuid.uuid4().hex
        await conn.execute(
            "INSERT INTO cases (id, guild_id, number, kind, status, group_id, subject, subject_index, "
            "reporter, reporter_index, details, dedupe_key, dedupe_index, opened_ms, updated_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                case_id,
                guild_id,
                number,
                kind,
                Status.OPEN.value,
                group_id,
                _enc_id(ring, subject_id, "subject", case_row(case_id, guild_id, group_id)),
                None if subject_id is None else ring.blind_index(subject_id, purpose=SUBJECT),
                _enc_id(ring, reporter_id, "reporter", case_row(case_id, guild_id, group_id)),
                None if reporter_id is None else ring.blind_index(reporter_id, purpose=REPORTER),
                ring.encrypt_json(
                    details or {}, table="cases", column="details", row=case_row(case_id, guild_id, group_id)
                ),
                None
                if dedupe_key is None
                else ring.encrypt(
                    dedupe_key, table="cases", column="dedupe_key", row=case_row(case_id, guild_id, group_id)
                ),
                None if dedupe_key is None else ring.blind_index(dedupe_key, purpose=DEDUPE),
                to_ms(now),
                to_ms(now),
            ),
        )
        await _add_event(conn, ring, case_id, at=now, action="opened", status=Status.OPEN, actor_id=None, note=None)
        for hold in hold_list:
            await hold_store.add_hold(db, hold.channel_id, hold.message_id, case_id, hold.until)
    return OpenResult(number, case_id, True)


async def get_case(db: Database, ring: KeyRing, guild_id: int, number: int) -> CaseRecord | None:
    row = await db.fetchone(f"SELECT {_CASE_COLUMNS} FROM cases WHERE guild_id = ? AND number = ?", (guild_id, number))
    return next(iter(_held(ring, [] if row is None else [row])), None)


async def _require(db: Database, ring: KeyRing, guild_id: int, number: int) -> CaseRecord:
    case = await get_case(db, ring, guild_id, number)
    if case is None:
        raise CaseNotFound(number)
    return case


async def list_cases(
    db: Database,
    ring: KeyRing,
    guild_id: int,
    *,
    statuses: Iterable[Status] | None = None,
    kind: str | None = None,
    group_ids: Iterable[str] | None = None,
    offset: int = 0,
    limit: int = 10,
) -> tuple[list[CaseRecord], int]:
    """One page of a guild's cases, newest first, and the number of cases matching the filters.

    ``group_ids`` None means any group (and none); an empty collection matches nothing.
    """
    where = ["guild_id = ?"]
    params: list[Any] = [guild_id]
    if statuses is not None:
        values = [Status(s).value for s in statuses]
        if not values:
            return [], 0
        where.append(f"status IN ({_marks(values)})")
        params.extend(values)
    if kind is not None:
        where.append("kind = ?")
        params.append(kind)
    if group_ids is not None:
        groups = list(group_ids)
        if not groups:
            return [], 0
        where.append(f"group_id IN ({_marks(groups)})")
        params.extend(groups)
    clause = " AND ".join(where)
    total = int(await db.fetchval(f"SELECT COUNT(*) AS n FROM cases WHERE {clause}", params) or 0)
    rows = await db.fetchall(
        f"SELECT {_CASE_COLUMNS} FROM cases WHERE {clause} ORDER BY number DESC LIMIT ? OFFSET ?",
        (*params, max(1, limit), max(0, offset)),
    )
    return _held(ring, rows), total


async def list_for_reporter(
    db: Database, ring: KeyRing, guild_id: int, reporter_id: int, *, limit: int = 25
) -> list[CaseRecord]:
    """The cases ``reporter_id`` reported in this guild, newest first."""
    return await _list_by_member(db, ring, guild_id, "reporter_index", reporter_id, limit)


async def list_for_subject(
    db: Database, ring: KeyRing, guild_id: int, subject_id: int, *, limit: int = 25
) -> list[CaseRecord]:
    """The cases about ``subject_id`` in this guild, newest first (for the member's own data request)."""
    return await _list_by_member(db, ring, guild_id, "subject_index", subject_id, limit)


async def list_for_assignee(
    db: Database, ring: KeyRing, guild_id: int, assignee_id: int, *, limit: int = 25
) -> list[CaseRecord]:
    """The cases ``assignee_id`` claimed in this guild, newest first (for the member's own data request)."""
    return await _list_by_member(db, ring, guild_id, "assignee_index", assignee_id, limit)


async def _list_by_member(
    db: Database, ring: KeyRing, guild_id: int, index_column: str, member_id: int, limit: int
) -> list[CaseRecord]:
    assert index_column in _PURPOSE_OF
    indexes = ring.blind_indexes(member_id, purpose=_PURPOSE_OF[index_column])
    rows = await db.fetchall(
        f"SELECT {_CASE_COLUMNS} FROM cases WHERE guild_id = ? AND {index_column} IN ({_marks(indexes)}) "
        "ORDER BY number DESC LIMIT ?",
        (guild_id, *indexes, limit),
    )
    return _held(ring, rows)


async def all_cases(db: Database, ring: KeyRing, guild_id: int) -> list[CaseRecord]:
    rows = await db.fetchall(f"SELECT {_CASE_COLUMNS} FROM cases WHERE guild_id = ? ORDER BY number", (guild_id,))
    return _held(ring, rows)


async def events(db: Database, ring: KeyRing, case_id: str) -> list[CaseEvent]:
    rows = await db.fetchall(
        "SELECT id, at_ms, action, status, actor, note FROM case_events WHERE case_id = ? ORDER BY at_ms, rowid",
        (case_id,),
    )
    result = []
    for r in rows:
        event_id = str(r["id"])
        note = r["note"]
        result.append(
            CaseEvent(
                at=from_ms(int(r["at_ms"])),
                action=str(r["action"]),
                status=None if r["status"] is None else Status(r["status"]),
                actor_id=_dec_id(ring, r["actor"], "actor", _event_row(event_id, case_id), "case_events"),
                note=None
                if note is None
                else ring.decrypt_str(note, table="case_events", column="note", row=_event_row(event_id, case_id)),
            )
        )
    return result


async def claim(db: Database, ring: KeyRing, guild_id: int, number: int, actor_id: int, now: datetime) -> CaseRecord:
    """Make ``actor_id`` the case's assignee (status investigating); CaseRuleError says why not."""
    async with db.transaction() as conn:
        case = await _require(db, ring, guild_id, number)
        status = check_claim(
            number,
            case.status,
            assigned_to_me=case.assignee_id == actor_id,
            assigned=case.assignee_id is not None,
        )
        await conn.execute(
            "UPDATE cases SET status = ?, assignee = ?, assignee_index = ?, updated_ms = ? WHERE id = ?",
            (
                status.value,
                _enc_id(ring, actor_id, "assignee", case_row(case.id, case.guild_id, case.group_id)),
                ring.blind_index(actor_id, purpose=ASSIGNEE),
                to_ms(now),
                case.id,
            ),
        )
        await _add_event(conn, ring, case.id, at=now, action="claimed", status=status, actor_id=actor_id, note=None)
        return await _require(db, ring, guild_id, number)


async def add_note(
    db: Database, ring: KeyRing, guild_id: int, number: int, actor_id: int, note: str, now: datetime
) -> CaseRecord:
    text = check_note(note)
    async with db.transaction() as conn:
        case = await _require(db, ring, guild_id, number)
        await conn.execute("UPDATE cases SET updated_ms = ? WHERE id = ?", (to_ms(now), case.id))
        await _add_event(conn, ring, case.id, at=now, action="note", status=None, actor_id=actor_id, note=text)
        return await _require(db, ring, guild_id, number)


async def resolve(
    db: Database,
    ring: KeyRing,
    guild_id: int,
    number: int,
    actor_id: int,
    outcome: str,
    note: str | None,
    now: datetime,
) -> ResolveResult:
    """Close a case as actioned or dismissed with a note; remove its holds (returned as released)."""
    async with db.transaction() as conn:
        case = await _require(db, ring, guild_id, number)
        status, text = check_resolve(number, case.status, outcome, note)
        await conn.execute(
            "UPDATE cases SET status = ?, updated_ms = ?, closed_ms = ? WHERE id = ?",
            (status.value, to_ms(now), to_ms(now), case.id),
        )
        await _add_event(conn, ring, case.id, at=now, action="resolved", status=status, actor_id=actor_id, note=text)
        await _unlink_marked(conn, ring, case.id)
        released = await hold_store.release_case(db, case.id, now)
        return ResolveResult(await _require(db, ring, guild_id, number), released)


async def _unlink_marked(conn: aiosqlite.Connection, ring: KeyRing, case_id: str) -> None:
    """A case closes: cut the links an erasure marked to be cut then."""
    cursor = await conn.execute("SELECT details_when_closed, guild_id, group_id FROM cases WHERE id = ?", (case_id,))
    row = await cursor.fetchone()
    await cursor.close()
    if row is not None and row["details_when_closed"] is not None:
        where = case_row(case_id, int(row["guild_id"]), row["group_id"])
        details = ring.decrypt_json(row["details_when_closed"], table="cases", column="details_when_closed", row=where)
        await conn.execute(
            "UPDATE cases SET details = ?, details_when_closed = NULL WHERE id = ?",
            (ring.encrypt_json(details, table="cases", column="details", row=where), case_id),
        )
    await conn.execute(
        "UPDATE cases SET reporter = NULL, reporter_index = NULL, unlink_reporter_at_close = 0 "
        "WHERE id = ? AND unlink_reporter_at_close = 1",
        (case_id,),
    )
    await conn.execute(
        "UPDATE cases SET assignee = NULL, assignee_index = NULL, unlink_assignee_at_close = 0 "
        "WHERE id = ? AND unlink_assignee_at_close = 1",
        (case_id,),
    )
    await conn.execute(
        "UPDATE case_events SET actor = NULL, unlink_actor_at_close = 0 "
        "WHERE case_id = ? AND unlink_actor_at_close = 1",
        (case_id,),
    )


@dataclass(frozen=True)
class Unlinked:
    """What :func:`forget_member` did: links cut now, and links kept until their case closes."""

    cut: int
    kept_until_close: int


async def forget_member(db: Database, ring: KeyRing, guild_id: int, member_id: int) -> Unlinked:
    """Erasure: cut every link from a case to ``member_id`` as reporter, assignee or actor of an event.

    In a closed case the link goes now; in an open case it is marked and goes when the case closes
    (the moderators still need to reach the person). Counts only what changed, so asking twice
    changes nothing the second time. Cases *about* the member are not touched here:
    their rules (open until resolved, then ``closed_cases_days``) decide.
    """
    closed = [s.value for s in CLOSED]
    cut = kept = 0
    async with db.transaction() as conn:
        for role in ("reporter", "assignee"):
            index = f"{role}_index"
            indexes = ring.blind_indexes(member_id, purpose=_PURPOSE_OF[index])
            marks = _marks(indexes)
            cursor = await conn.execute(
                f"UPDATE cases SET {role} = NULL, {index} = NULL WHERE guild_id = ? AND {index} IN ({marks}) "
                f"AND status IN ({_marks(closed)})",
                (guild_id, *indexes, *closed),
            )
            cut += int(cursor.rowcount or 0)
            cursor = await conn.execute(
                f"UPDATE cases SET unlink_{role}_at_close = 1 WHERE guild_id = ? AND {index} IN ({marks}) "
                f"AND status NOT IN ({_marks(closed)}) AND unlink_{role}_at_close = 0",
                (guild_id, *indexes, *closed),
            )
            kept += int(cursor.rowcount or 0)
        # Ids inside a case's details (who removed someone, who added a bot) have no index either.
        for row in await db.fetchall(
            "SELECT id, group_id, status, details, details_when_closed FROM cases "
            "WHERE guild_id = ? AND details IS NOT NULL",
            (guild_id,),
        ):
            case_id = str(row["id"])
            where = case_row(case_id, guild_id, row["group_id"])
            pending = row["details_when_closed"]
            column = "details" if pending is None else "details_when_closed"
            try:
                current = ring.decrypt_json(row[column], table="cases", column=column, row=where)
            except DecryptionError:
                continue  # a case that does not hold where it stands is nobody's record
            scrubbed, hit = scrub(current, member_id)
            if not hit:
                continue
            if Status(row["status"]).closed:
                await conn.execute(
                    "UPDATE cases SET details = ? WHERE id = ?",
                    (ring.encrypt_json(scrubbed, table="cases", column="details", row=where), case_id),
                )
                cut += 1
            else:
                await conn.execute(
                    "UPDATE cases SET details_when_closed = ? WHERE id = ?",
                    (ring.encrypt_json(scrubbed, table="cases", column="details_when_closed", row=where), case_id),
                )
                kept += 1
        # Event actors carry no blind index: read the guild's and compare.
        rows = await db.fetchall(
            "SELECT e.id, e.case_id, e.actor, c.status FROM case_events e JOIN cases c ON c.id = e.case_id "
            "WHERE c.guild_id = ? AND e.actor IS NOT NULL AND e.unlink_actor_at_close = 0",
            (guild_id,),
        )
        for row in rows:
            event_id = str(row["id"])
            try:
                actor = _dec_id(ring, row["actor"], "actor", _event_row(event_id, str(row["case_id"])), "case_events")
            except DecryptionError:
                continue
            if actor != member_id:
                continue
            if Status(row["status"]).closed:
                await conn.execute("UPDATE case_events SET actor = NULL WHERE id = ?", (event_id,))
                cut += 1
            else:
                await conn.execute("UPDATE case_events SET unlink_actor_at_close = 1 WHERE id = ?", (event_id,))
                kept += 1
    return Unlinked(cut, kept)


async def set_notice(db: Database, case_id: str, channel_id: int, message_id: int) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE cases SET notice_channel_id = ?, notice_message_id = ? WHERE id = ?",
            (channel_id, message_id, case_id),
        )


async def open_count(db: Database, guild_id: int) -> int:
    values = [s.value for s in OPEN]
    return int(
        await db.fetchval(
            f"SELECT COUNT(*) AS n FROM cases WHERE guild_id = ? AND status IN ({_marks(values)})",
            (guild_id, *values),
        )
        or 0
    )


async def purge_closed(db: Database, closed_before: datetime) -> int:
    """Retention: delete cases closed before ``closed_before`` (with their history and holds)."""
    async with db.transaction() as conn:
        cursor = await conn.execute(
            "DELETE FROM cases WHERE closed_ms IS NOT NULL AND closed_ms < ?", (to_ms(closed_before),)
        )
        return int(cursor.rowcount or 0)


register_fields()
