"""Groups, their agreement versions and their enrolments.

Agreement texts are stored encrypted (row key: the agreement row id) with their SHA-256 in clear;
enrolled members as encrypted id + blind index (purpose "member").
"""

from __future__ import annotations

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
    "agreement_version"
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
    }


async def load_all(db: Database) -> list[GroupInfo]:
    rows = await db.fetchall(
        f"SELECT {_GROUP_COLUMNS}, (SELECT sha256 FROM agreements a WHERE a.group_id = g.id "
        "AND a.version = g.agreement_version) FROM groups g ORDER BY created_ms"
    )
    out = []
    for r in rows:
        out.append(
            GroupInfo(
                id=r[0],
                guild_id=r[1],
                name=r[2],
                text_channel_id=r[3],
                voice_channel_id=r[4],
                category_id=r[5],
                created_channels=bool(r[6]),
                role_id=r[7],
                enrolment=r[8],
                access_mode=r[9],
                reconsent_after_days=r[10],
                facilitators_consent=bool(r[11]),
                lock_between_sessions=bool(r[12]),
                ttl=from_seconds(r[13]),
                expire_at_session_end=bool(r[14]),
                keep_pinned=bool(r[15]),
                auto_reminder_gap=from_seconds(r[16]),
                max_hold_days=r[17],
                agreement_version=r[18],
                agreement_sha256=r[19] or "",
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
        cursor = await conn.execute("SELECT COALESCE(MAX(version), 0) FROM agreements WHERE group_id = ?", (group_id,))
        row = await cursor.fetchone()
        await cursor.close()
        version = int(row[0] if row else 0) + 1
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
    text = ring.decrypt_str(row[3], table="agreements", column="body", row=row[0])
    return Agreement(group_id, int(row[1]), str(row[2]), text, from_ms(row[4]))


# -- enrolments and group facilitators: sets of members per group -----------------------------------

_MEMBER_TABLES = ("enrolments", "group_facilitators")


async def _load_members(db: Database, ring: KeyRing, table: str) -> list[tuple[str, int]]:
    assert table in _MEMBER_TABLES
    rows = await db.fetchall(f"SELECT id, group_id, member_id FROM {table}")
    return [(r[1], int(ring.decrypt_str(r[2], table=table, column="member_id", row=r[0]))) for r in rows]


async def _add_member(db: Database, ring: KeyRing, table: str, group_id: str, member_id: int, now: datetime) -> bool:
    assert table in _MEMBER_TABLES
    indexes = ring.blind_indexes(member_id, purpose=MEMBER_PURPOSE)
    marks = ",".join("?" * len(indexes))
    row_id = uuid.uuid4().hex
    async with db.transaction() as conn:
        cursor = await conn.execute(
            f"SELECT 1 FROM {table} WHERE group_id = ? AND member_index IN ({marks})", (group_id, *indexes)
        )
        exists = await cursor.fetchone()
        await cursor.close()
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


async def enrolled_since(db: Database, ring: KeyRing, group_id: str) -> dict[int, datetime]:
    """Every enrolled member of a group with the time they were enrolled."""
    rows = await db.fetchall("SELECT id, member_id, created_ms FROM enrolments WHERE group_id = ?", (group_id,))
    return {int(ring.decrypt_str(r[1], table="enrolments", column="member_id", row=r[0])): from_ms(r[2]) for r in rows}
