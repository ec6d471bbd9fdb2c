"""Groups, their agreement versions and their rosters (enrolments and named facilitators).

A group's name is encrypted, bound to the group and its server, and found through a blind index of
its folded text (purpose "group-name"); ``name_key`` holds the group id only. Agreement texts are
stored encrypted (row key: the agreement row id) with their SHA-256 in clear. Enrolled members and
named facilitators are stored as an encrypted id bound to (row, group, server) plus a blind index
with a purpose of its own per table ("enrolment", "facilitator"), so the file alone does not link a
person's enrolments to their other records. Every change to a roster rewrites the group's seal
(bot.core.roster_seal) in the same transaction; :func:`load_rosters` checks it.
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core import roster_seal
from bot.core.records import GroupInfo
from bot.core.roster_seal import Seal
from bot.crypto import DecryptionError, KeyRing, hash_text
from bot.storage import consent_anchor
from bot.storage.db import Database
from bot.storage.fields import fold_text, register_blind_index, register_encrypted, row_key
from bot.storage.times import from_ms, from_seconds, to_ms, to_seconds

#: A group's own row: its name and its roster seal are bound to the group and its server.
GROUP_ROW_KEY = ("id", "guild_id")
register_encrypted("groups", "name", row_key=GROUP_ROW_KEY)
register_encrypted("groups", "roster", row_key=GROUP_ROW_KEY)
NAME_PURPOSE = "group-name"
register_blind_index("groups", "name_index", "name", NAME_PURPOSE, fold=True)
register_encrypted("agreements", "body", row_key=("id",))
#: A roster row is bound to itself, its group and the group's server.
MEMBER_ROW_KEY = ("id", "group_id", "guild_id")
_MEMBER_TABLES = ("enrolments", "group_facilitators")
#: One blind-index purpose per table: a person's fingerprints in two tables do not match.
PURPOSES = {"enrolments": "enrolment", "group_facilitators": "facilitator"}
for _table in _MEMBER_TABLES:
    register_encrypted(_table, "member_id", row_key=MEMBER_ROW_KEY)
    register_blind_index(_table, "member_index", "member_id", PURPOSES[_table])
#: The name a group whose name does not decrypt where it stands is shown under.
UNREADABLE_NAME = "group with unreadable records"


def name_key(name: str) -> str:
    return fold_text(name)


def _group_row(group_id: str, guild_id: int) -> str:
    return row_key((group_id, guild_id))


def seal_name(ring: KeyRing, group_id: str, guild_id: int, name: str) -> tuple[bytes, bytes]:
    """The encrypted name and its blind index."""
    return (
        ring.encrypt(name, table="groups", column="name", row=_group_row(group_id, guild_id)),
        ring.blind_index(name_key(name), purpose=NAME_PURPOSE),
    )


@dataclass(frozen=True)
class Agreement:
    group_id: str
    version: int
    sha256: str
    text: str
    created_at: datetime


# -- groups ------------------------------------------------------------------------------------------

_GROUP_COLUMNS = (
    "id, guild_id, name, text_channel_id, voice_channel_id, category_id, created_channels, role_id, "
    "enrolment, access_mode, reconsent_after_days, facilitators_consent, lock_between_sessions, "
    "ttl_seconds, expire_at_session_end, keep_pinned, auto_reminder_gap_seconds, max_hold_days, "
    "agreement_version, language"
)


def _group_values(g: GroupInfo) -> dict[str, Any]:
    return {
        "id": g.id,
        "guild_id": g.guild_id,
        "text_channel_id": g.text_channel_id,
        "voice_channel_id": g.voice_channel_id,
        "category_id": g.category_id,
        "created_channels": int(g.created_channels),
        "role_id": g.role_id,
        "enrolment": g.enrolment,
        "access_mode": g.access_mode,
        "reconsent_after_days": g.reconsent_after_days,
        "facilitators_consent": int(g.facilitators_consent),
        "lock_between_sessions": int(g.lock_between_sessions),
        "ttl_seconds": to_seconds(g.ttl),
        "expire_at_session_end": int(g.expire_at_session_end),
        "keep_pinned": int(g.keep_pinned),
        "auto_reminder_gap_seconds": to_seconds(g.auto_reminder_gap),
        "max_hold_days": g.max_hold_days,
        "agreement_version": g.agreement_version,
        "language": g.language,
    }


def _name(ring: KeyRing, r: sqlite3.Row) -> str | None:
    blob = r["name"]
    if not isinstance(blob, bytes):
        return None  # not yet encrypted (before the start-up step) or written without the key
    try:
        return ring.decrypt_str(blob, table="groups", column="name", row=_group_row(r["id"], r["guild_id"]))
    except DecryptionError:
        return None


async def load_all(db: Database, ring: KeyRing) -> list[GroupInfo]:
    """Every group; one whose name does not decrypt where it stands (moved to another server, say)
    comes back as :data:`UNREADABLE_NAME` (:func:`unreadable_groups` names them)."""
    rows = await db.fetchall(
        f"SELECT {_GROUP_COLUMNS}, (SELECT sha256 FROM agreements a WHERE a.group_id = g.id "
        "AND a.version = g.agreement_version) AS agreement_sha256 FROM groups g ORDER BY created_ms"
    )
    out = []
    for r in rows:
        out.append(
            GroupInfo(
                id=r["id"],
                guild_id=r["guild_id"],
                name=_name(ring, r) or UNREADABLE_NAME,
                text_channel_id=r["text_channel_id"],
                voice_channel_id=r["voice_channel_id"],
                category_id=r["category_id"],
                created_channels=bool(r["created_channels"]),
                role_id=r["role_id"],
                enrolment=r["enrolment"],
                access_mode=r["access_mode"],
                reconsent_after_days=r["reconsent_after_days"],
                facilitators_consent=bool(r["facilitators_consent"]),
                lock_between_sessions=bool(r["lock_between_sessions"]),
                ttl=from_seconds(r["ttl_seconds"]),
                expire_at_session_end=bool(r["expire_at_session_end"]),
                keep_pinned=bool(r["keep_pinned"]),
                auto_reminder_gap=from_seconds(r["auto_reminder_gap_seconds"]),
                max_hold_days=r["max_hold_days"],
                agreement_version=r["agreement_version"],
                agreement_sha256=r["agreement_sha256"] or "",
                language=r["language"],
            )
        )
    return out


async def unreadable_groups(db: Database, ring: KeyRing) -> set[str]:
    """The groups whose own row does not decrypt where it stands (its server changed in the file)."""
    rows = await db.fetchall("SELECT id, guild_id, name FROM groups")
    return {str(r["id"]) for r in rows if _name(ring, r) is None}


async def rename_unreadable(db: Database, ring: KeyRing, group_id: str) -> None:
    """Give a group whose name does not decrypt where it stands :data:`UNREADABLE_NAME`, bound to
    where it now stands (so it is reported once, not at every start)."""
    r = await db.fetchone("SELECT id, guild_id, name FROM groups WHERE id = ?", (group_id,))
    if r is None or _name(ring, r) is not None:
        return
    name, index = seal_name(ring, group_id, int(r["guild_id"]), f"{UNREADABLE_NAME} {group_id[:6]}")
    await db.execute("UPDATE groups SET name = ?, name_index = ? WHERE id = ?", (name, index, group_id))


async def name_taken(db: Database, ring: KeyRing, guild_id: int, name: str) -> bool:
    indexes = ring.blind_indexes(name_key(name), purpose=NAME_PURPOSE)
    row = await db.fetchone(
        f"SELECT 1 FROM groups WHERE guild_id = ? AND name_index IN ({','.join('?' * len(indexes))})",
        (guild_id, *indexes),
    )
    return row is not None


async def insert_group(db: Database, ring: KeyRing, group: GroupInfo, agreement_text: str, now: datetime) -> GroupInfo:
    """Store a new group with its first agreement version; returns the group with version 1 set."""
    sha = hash_text(agreement_text)
    stored = GroupInfo(**{**group.__dict__, "agreement_version": 1, "agreement_sha256": sha})
    values = _group_values(stored)
    values["name"], values["name_index"] = seal_name(ring, group.id, group.guild_id, group.name)
    values["name_key"] = group.id  # kept only for its old UNIQUE constraint; the name is in name_index
    values["roster"] = seal_blob(ring, group.id, group.guild_id, Seal(0, roster_seal.EMPTY))
    values["created_ms"] = to_ms(now)
    columns = ", ".join(values)
    marks = ", ".join("?" * len(values))
    agreement_id = uuid.uuid4().hex
    async with db.transaction() as conn:
        if await name_taken(db, ring, group.guild_id, group.name):
            raise sqlite3.IntegrityError("UNIQUE constraint failed: groups.guild_id, groups.name_index")
        await conn.execute(f"INSERT INTO groups ({columns}) VALUES ({marks})", tuple(values.values()))
        await conn.execute(
            "INSERT INTO agreements (id, group_id, version, sha256, body, created_ms) VALUES (?, ?, 1, ?, ?, ?)",
            (
                agreement_id,
                group.id,
                sha,
                ring.encrypt(agreement_text, table="agreements", column="body", row=agreement_id),
                to_ms(now),
            ),
        )
    return stored


async def update_group(db: Database, group: GroupInfo) -> None:
    """Write every setting and room of ``group`` (not its agreement version: see add_agreement_version;
    not its name, which is set once, encrypted, at :func:`insert_group`; not its server)."""
    values = _group_values(group)
    values.pop("id")
    values.pop("guild_id")
    values.pop("agreement_version")  # owned by add_agreement_version
    assignments = ", ".join(f"{k} = ?" for k in values)
    async with db.transaction() as conn:
        await conn.execute(f"UPDATE groups SET {assignments} WHERE id = ?", (*values.values(), group.id))


async def delete_group(db: Database, group_id: str) -> None:
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM consents WHERE group_id = ?", (group_id,))
        await conn.execute("DELETE FROM enrolments WHERE group_id = ?", (group_id,))
        await conn.execute("DELETE FROM group_facilitators WHERE group_id = ?", (group_id,))
        await conn.execute("DELETE FROM agreements WHERE group_id = ?", (group_id,))
        await conn.execute("DELETE FROM groups WHERE id = ?", (group_id,))


# -- agreements --------------------------------------------------------------------------------------


async def add_agreement_version(
    db: Database, ring: KeyRing, group_id: str, text: str, now: datetime
) -> tuple[int, str]:
    """Store ``text`` as the group's next agreement version and make it current."""
    sha = hash_text(text)
    agreement_id = uuid.uuid4().hex
    async with db.transaction() as conn:
        row = await db.fetchone(
            "SELECT COALESCE(MAX(version), 0) AS version FROM agreements WHERE group_id = ?", (group_id,)
        )
        version = int(row["version"] if row else 0) + 1
        await conn.execute(
            "INSERT INTO agreements (id, group_id, version, sha256, body, created_ms) VALUES (?, ?, ?, ?, ?, ?)",
            (
                agreement_id,
                group_id,
                version,
                sha,
                ring.encrypt(text, table="agreements", column="body", row=agreement_id),
                to_ms(now),
            ),
        )
        await conn.execute("UPDATE groups SET agreement_version = ? WHERE id = ?", (version, group_id))
    return version, sha


async def get_agreement(db: Database, ring: KeyRing, group_id: str, version: int | None = None) -> Agreement | None:
    """The given version of a group's agreement (default: the current one)."""
    if version is None:
        row = await db.fetchone(
            "SELECT a.id, a.version, a.sha256, a.body, a.created_ms FROM agreements a JOIN groups g "
            "ON g.id = a.group_id AND g.agreement_version = a.version WHERE a.group_id = ?",
            (group_id,),
        )
    else:
        row = await db.fetchone(
            "SELECT id, version, sha256, body, created_ms FROM agreements WHERE group_id = ? AND version = ?",
            (group_id, version),
        )
    if row is None:
        return None
    text = ring.decrypt_str(row["body"], table="agreements", column="body", row=row["id"])
    return Agreement(group_id, int(row["version"]), str(row["sha256"]), text, from_ms(row["created_ms"]))


async def list_agreements(db: Database, ring: KeyRing, group_id: str) -> list[Agreement]:
    """Every stored version of a group's agreement, oldest first."""
    rows = await db.fetchall(
        "SELECT id, version, sha256, body, created_ms FROM agreements WHERE group_id = ? ORDER BY version",
        (group_id,),
    )
    return [
        Agreement(
            group_id,
            int(r["version"]),
            str(r["sha256"]),
            ring.decrypt_str(r["body"], table="agreements", column="body", row=r["id"]),
            from_ms(r["created_ms"]),
        )
        for r in rows
    ]


# -- rosters: enrolments and named facilitators, sets of members per group, sealed -------------------


def _member_row(table: str, r: sqlite3.Row) -> str:
    return row_key((r["id"], r["group_id"], r["guild_id"]))


def member_id_of(ring: KeyRing, table: str, r: sqlite3.Row) -> int:
    return int(ring.decrypt_str(r["member_id"], table=table, column="member_id", row=_member_row(table, r)))


def seal_blob(ring: KeyRing, group_id: str, guild_id: int, seal: Seal) -> bytes:
    return ring.encrypt_json(seal.as_list(), table="groups", column="roster", row=_group_row(group_id, guild_id))


def _open_seal(ring: KeyRing, r: sqlite3.Row) -> Seal | None:
    """The group's seal; None when there is none or it does not decrypt where it stands."""
    if r["roster"] is None:
        return None
    try:
        return Seal.from_list(
            ring.decrypt_json(r["roster"], table="groups", column="roster", row=_group_row(r["id"], r["guild_id"]))
        )
    except (DecryptionError, ValueError, TypeError):
        return None


@dataclass
class Roster:
    """A group's roster rows that decrypt where they stand, and what :func:`load_rosters` found."""

    enrolled: set[int]
    facilitators: set[int]
    seal: Seal  # as worked out from the rows (its count from the stored seal)
    problem: str | None = None


async def _roster_rows(db: Database, ring: KeyRing, group_id: str | None = None) -> tuple[
    dict[str, list[tuple[str, str, int]]], dict[str, int]
]:
    """Per group the rows (table, row id, member id) that decrypt where they stand, and per group how
    many do not."""
    good: dict[str, list[tuple[str, str, int]]] = {}
    bad: dict[str, int] = {}
    where, params = ("WHERE group_id = ?", (group_id,)) if group_id is not None else ("", ())
    for table in _MEMBER_TABLES:
        for r in await db.fetchall(f"SELECT id, group_id, guild_id, member_id FROM {table} {where}", params):
            try:
                good.setdefault(r["group_id"], []).append((table, r["id"], member_id_of(ring, table, r)))
            except (DecryptionError, ValueError, TypeError):
                bad[r["group_id"]] = bad.get(r["group_id"], 0) + 1
    return good, bad


async def load_rosters(db: Database, ring: KeyRing) -> dict[str, Roster]:
    """Every group's roster, checked against its seal and the anchor (bot.core.roster_seal)."""
    anchor = consent_anchor.of(db, ring)
    good, bad = await _roster_rows(db, ring)
    out: dict[str, Roster] = {}
    for r in await db.fetchall("SELECT id, guild_id, roster FROM groups"):
        gid = str(r["id"])
        rows = good.get(gid, [])
        stored = _open_seal(ring, r)
        worked_out = roster_seal.digest(rows)
        problem = None
        if bad.get(gid):
            problem = "an enrolment or named facilitator does not belong where it is (moved, altered or copied in)"
        elif r["roster"] is not None and stored is None:
            problem = "the seal of the group's enrolments and facilitators was altered or moved"
        elif not anchor.trusted and stored is not None and stored.n > 0:
            problem = "the signed record of the group's records beside the database does not hold"
        elif not anchor.existed and stored is not None and stored.n > 0:
            problem = "the signed record of the group's records beside the database is gone"
        else:
            problem = roster_seal.check(stored, worked_out, bool(rows), anchor.rosters.get(gid))
        out[gid] = Roster(
            enrolled={m for t, _, m in rows if t == "enrolments"},
            facilitators={m for t, _, m in rows if t == "group_facilitators"},
            seal=Seal(stored.n if stored is not None else 0, worked_out),
            problem=problem,
        )
    return out


async def _reseal(db: Database, ring: KeyRing, group_id: str, *, bump: bool = True) -> Seal | None:
    """Write the group's seal for the rows it now holds (inside the caller's transaction)."""
    r = await db.fetchone("SELECT id, guild_id, roster FROM groups WHERE id = ?", (group_id,))
    if r is None:
        return None
    good, _ = await _roster_rows(db, ring, group_id)
    old = _open_seal(ring, r)
    anchored = consent_anchor.of(db, ring).rosters.get(group_id)
    n = max(old.n if old is not None else 0, anchored.n if anchored is not None else 0) + (1 if bump else 0)
    seal = Seal(n, roster_seal.digest(good.get(group_id, [])))
    await db.execute(
        "UPDATE groups SET roster = ? WHERE id = ?", (seal_blob(ring, group_id, int(r["guild_id"]), seal), group_id)
    )
    return seal


async def reseal_roster(db: Database, ring: KeyRing, group_id: str) -> Seal | None:
    """Accept a group's roster as it now stands: rows that do not decrypt where they stand are
    removed (they are nobody's record) and the seal is written anew, its count past the anchor's."""
    async with db.transaction():
        for table in _MEMBER_TABLES:
            rows = await db.fetchall(
                f"SELECT id, group_id, guild_id, member_id FROM {table} WHERE group_id = ?", (group_id,)
            )
            for r in rows:
                try:
                    member_id_of(ring, table, r)
                except (DecryptionError, ValueError, TypeError):
                    await db.execute(f"DELETE FROM {table} WHERE id = ?", (r["id"],))
        seal = await _reseal(db, ring, group_id)
    if seal is not None:
        consent_anchor.advance_roster(db, ring, group_id, seal)
    return seal


async def _add_member(db: Database, ring: KeyRing, table: str, group_id: str, member_id: int, now: datetime) -> bool:
    assert table in _MEMBER_TABLES
    purpose = PURPOSES[table]
    indexes = ring.blind_indexes(member_id, purpose=purpose)
    marks = ",".join("?" * len(indexes))
    row_id = uuid.uuid4().hex
    async with db.transaction() as conn:
        exists = await db.fetchone(
            f"SELECT 1 FROM {table} WHERE group_id = ? AND member_index IN ({marks})", (group_id, *indexes)
        )
        if exists:
            return False
        group = await db.fetchone("SELECT guild_id FROM groups WHERE id = ?", (group_id,))
        if group is None:
            return False
        guild_id = int(group["guild_id"])
        await conn.execute(
            f"INSERT INTO {table} (id, group_id, guild_id, member_index, member_id, created_ms) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                row_id,
                group_id,
                guild_id,
                indexes[0],
                ring.encrypt(
                    str(member_id), table=table, column="member_id", row=row_key((row_id, group_id, guild_id))
                ),
                to_ms(now),
            ),
        )
        seal = await _reseal(db, ring, group_id)
    if seal is not None:
        consent_anchor.advance_roster(db, ring, group_id, seal)
    return True


async def _remove_member(db: Database, ring: KeyRing, table: str, group_id: str, member_id: int) -> bool:
    assert table in _MEMBER_TABLES
    indexes = ring.blind_indexes(member_id, purpose=PURPOSES[table])
    marks = ",".join("?" * len(indexes))
    async with db.transaction() as conn:
        cursor = await conn.execute(
            f"DELETE FROM {table} WHERE group_id = ? AND member_index IN ({marks})", (group_id, *indexes)
        )
        if not (cursor.rowcount or 0):
            return False
        seal = await _reseal(db, ring, group_id)
    if seal is not None:
        consent_anchor.advance_roster(db, ring, group_id, seal)
    return True


async def enrol(db: Database, ring: KeyRing, group_id: str, member_id: int, now: datetime) -> bool:
    """Enrol a member; False if they already were."""
    return await _add_member(db, ring, "enrolments", group_id, member_id, now)


async def unenrol(db: Database, ring: KeyRing, group_id: str, member_id: int) -> bool:
    return await _remove_member(db, ring, "enrolments", group_id, member_id)


async def load_enrolments(db: Database, ring: KeyRing) -> list[tuple[str, int]]:
    """Every (group, member) enrolment whose row decrypts where it stands."""
    good, _ = await _roster_rows(db, ring)
    return [(gid, m) for gid, rows in good.items() for t, _, m in rows if t == "enrolments"]


async def load_facilitators(db: Database, ring: KeyRing) -> list[tuple[str, int]]:
    """Every (group, named facilitator) whose row decrypts where it stands."""
    good, _ = await _roster_rows(db, ring)
    return [(gid, m) for gid, rows in good.items() for t, _, m in rows if t == "group_facilitators"]


async def add_facilitator(db: Database, ring: KeyRing, group_id: str, member_id: int, now: datetime) -> bool:
    """Make a member a facilitator of the group; False if they already were."""
    return await _add_member(db, ring, "group_facilitators", group_id, member_id, now)


async def remove_facilitator(db: Database, ring: KeyRing, group_id: str, member_id: int) -> bool:
    return await _remove_member(db, ring, "group_facilitators", group_id, member_id)


async def groups_of_member(db: Database, ring: KeyRing, member_id: int, *, facilitators: bool = False) -> list[str]:
    """The groups ``member_id`` is enrolled in (or, with ``facilitators``, named a facilitator of)."""
    table = "group_facilitators" if facilitators else "enrolments"
    indexes = ring.blind_indexes(member_id, purpose=PURPOSES[table])
    rows = await db.fetchall(
        f"SELECT group_id FROM {table} WHERE member_index IN ({','.join('?' * len(indexes))})", tuple(indexes)
    )
    return [str(r["group_id"]) for r in rows]


async def enrolled_since(db: Database, ring: KeyRing, group_id: str) -> dict[int, datetime]:
    """Every enrolled member of a group (whose row decrypts where it stands) with when they were enrolled."""
    rows = await db.fetchall(
        "SELECT id, group_id, guild_id, member_id, created_ms FROM enrolments WHERE group_id = ?", (group_id,)
    )
    out: dict[int, datetime] = {}
    for r in rows:
        try:
            out[member_id_of(ring, "enrolments", r)] = from_ms(r["created_ms"])
        except (DecryptionError, ValueError, TypeError):
            continue
    return out
