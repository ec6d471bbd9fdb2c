"""Groups, their agreement versions and their enrolments.

Agreement texts are stored encrypted (row key: the agreement row id) with their SHA-256 in clear;
enrolled members as encrypted id + blind index (purpose "member").
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.records import GroupInfo
from bot.crypto import KeyRing, hash_text
from bot.storage.db import Database
from bot.storage.fields import register_blind_index, register_encrypted
from bot.storage.times import from_ms, from_seconds, to_ms, to_seconds

register_encrypted("agreements", "body", row_key=("id",))
register_encrypted("enrolments", "member_id", row_key=("id",))
register_blind_index("enrolments", "member_index", "member_id", "member")
register_encrypted("group_facilitators", "member_id", row_key=("id",))
register_blind_index("group_facilitators", "member_index", "member_id", "member")

MEMBER_PURPOSE = "member"


def name_key(name: str) -> str:
    return " ".join(name.split()).casefold()


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
        "name": g.name,
        "name_key": name_key(g.name),
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


async def load_all(db: Database) -> list[GroupInfo]:
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
                name=r["name"],
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


async def name_taken(db: Database, guild_id: int, name: str) -> bool:
    row = await db.fetchone("SELECT 1 FROM groups WHERE guild_id = ? AND name_key = ?", (guild_id, name_key(name)))
    return row is not None


async def insert_group(db: Database, ring: KeyRing, group: GroupInfo, agreement_text: str, now: datetime) -> GroupInfo:
    """Store a new group with its first agreement version; returns the group with version 1 set."""
    sha = hash_text(agreement_text)
    stored = GroupInfo(**{**group.__dict__, "agreement_version": 1, "agreement_sha256": sha})
    values = _group_values(stored)
    values["created_ms"] = to_ms(now)
    columns = ", ".join(values)
    marks = ", ".join("?" * len(values))
    agreement_id = uuid.uuid4().hex
    async with db.transaction() as conn:
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
    """Write every setting and room of ``group`` (not its agreement version: see add_agreement_version)."""
    values = _group_values(group)
    values.pop("id")
    values.pop("agreement_version")  # owned by add_agreement_version
    assignments = ", ".join(f"{k} = ?" for k in values)
    async with db.transaction() as conn:
        await conn.execute(f"UPDATE groups SET {assignments} WHERE id = ?", (*values.values(), group.id))


async def delete_group(db: Database, group_id: str) -> None:
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM consents WHERE group_id = ?", (group_id,))
        await conn.execute("DELETE FROM enrolments WHERE group_id = ?", (group_id,))
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


# -- enrolments and group facilitators: sets of members per group -----------------------------------

_MEMBER_TABLES = ("enrolments", "group_facilitators")


async def _load_members(db: Database, ring: KeyRing, table: str) -> list[tuple[str, int]]:
    assert table in _MEMBER_TABLES
    rows = await db.fetchall(f"SELECT id, group_id, member_id FROM {table}")
    return [(r["group_id"], _member_id(ring, table, r)) for r in rows]


def _member_id(ring: KeyRing, table: str, row: sqlite3.Row) -> int:
    return int(ring.decrypt_str(row["member_id"], table=table, column="member_id", row=row["id"]))


async def _add_member(db: Database, ring: KeyRing, table: str, group_id: str, member_id: int, now: datetime) -> bool:
    assert table in _MEMBER_TABLES
    indexes = ring.blind_indexes(member_id, purpose=MEMBER_PURPOSE)
    marks = ",".join("?" * len(indexes))
    row_id = uuid.uuid4().hex
    async with db.transaction() as conn:
        exists = await db.fetchone(
            f"SELECT 1 FROM {table} WHERE group_id = ? AND member_index IN ({marks})", (group_id, *indexes)
        )
        if exists:
            return False
        await conn.execute(
            f"INSERT INTO {table} (id, group_id, member_index, member_id, created_ms) VALUES (?, ?, ?, ?, ?)",
            (
                row_id,
                group_id,
                indexes[0],
                ring.encrypt(str(member_id), table=table, column="member_id", row=row_id),
                to_ms(now),
            ),
        )
    return True


async def _remove_member(db: Database, ring: KeyRing, table: str, group_id: str, member_id: int) -> bool:
    assert table in _MEMBER_TABLES
    indexes = ring.blind_indexes(member_id, purpose=MEMBER_PURPOSE)
    marks = ",".join("?" * len(indexes))
    async with db.transaction() as conn:
        cursor = await conn.execute(
            f"DELETE FROM {table} WHERE group_id = ? AND member_index IN ({marks})", (group_id, *indexes)
        )
        return (cursor.rowcount or 0) > 0


async def load_enrolments(db: Database, ring: KeyRing) -> list[tuple[str, int]]:
    return await _load_members(db, ring, "enrolments")


async def enrol(db: Database, ring: KeyRing, group_id: str, member_id: int, now: datetime) -> bool:
    """Enrol a member; False if they already were."""
    return await _add_member(db, ring, "enrolments", group_id, member_id, now)


async def unenrol(db: Database, ring: KeyRing, group_id: str, member_id: int) -> bool:
    return await _remove_member(db, ring, "enrolments", group_id, member_id)


async def load_facilitators(db: Database, ring: KeyRing) -> list[tuple[str, int]]:
    return await _load_members(db, ring, "group_facilitators")


async def add_facilitator(db: Database, ring: KeyRing, group_id: str, member_id: int, now: datetime) -> bool:
    """Make a member a facilitator of the group; False if they already were."""
    return await _add_member(db, ring, "group_facilitators", group_id, member_id, now)


async def remove_facilitator(db: Database, ring: KeyRing, group_id: str, member_id: int) -> bool:
    return await _remove_member(db, ring, "group_facilitators", group_id, member_id)


async def groups_of_member(db: Database, ring: KeyRing, member_id: int, *, facilitators: bool = False) -> list[str]:
    """The groups ``member_id`` is enrolled in (or, with ``facilitators``, named a facilitator of)."""
    table = "group_facilitators" if facilitators else "enrolments"
    indexes = ring.blind_indexes(member_id, purpose=MEMBER_PURPOSE)
    rows = await db.fetchall(
        f"SELECT group_id FROM {table} WHERE member_index IN ({','.join('?' * len(indexes))})", tuple(indexes)
    )
    return [str(r["group_id"]) for r in rows]


async def enrolled_since(db: Database, ring: KeyRing, group_id: str) -> dict[int, datetime]:
    """Every enrolled member of a group with the time they were enrolled."""
    rows = await db.fetchall("SELECT id, member_id, created_ms FROM enrolments WHERE group_id = ?", (group_id,))
    return {_member_id(ring, "enrolments", r): from_ms(r["created_ms"]) for r in rows}
