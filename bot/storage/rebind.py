"""Records of older databases bound to their group and server (once, atomically, at the next start).

Migration 0013 gave consents, enrolments and named facilitators a server column and groups an
encrypted name and a roster seal. This step re-encrypts what older versions wrote under the binding
the storage modules now use: consent fields from (row, group) to (row, group, server), roster rows
from (row) to (row, group, server), a case's fields from (case) to (case, server, group) and a case
event's from (event) to (event, case); it encrypts each group's name under (group, server) with its
blind index and writes each group's roster seal (bot.core.roster_seal). Rows that decrypt under
neither binding are left as they are: the load reports their group (bot.storage.consents
.load_checked, bot.storage.groups.load_rosters). What was altered in the file before this step ran
cannot be told from a genuine record; from then on it can.
"""

from __future__ import annotations

from bot.core import roster_seal
from bot.core.roster_seal import Seal
from bot.crypto import DecryptionError, KeyRing
from bot.storage import groups as group_store
from bot.storage import meta
from bot.storage.db import Database
from bot.storage.fields import row_key

META_KEY = "records_bound"
CASES_META_KEY = "cases_bound"
_CASE_COLUMNS = ("subject", "reporter", "assignee", "details", "details_when_closed", "dedupe_key")


def _rebound(ring: KeyRing, blob: bytes, table: str, column: str, old: str, new: str) -> bytes | None:
    """``blob`` encrypted under the ``new`` row key; None when it already is or decrypts under neither."""
    try:
        ring.decrypt(blob, table=table, column=column, row=new)
        return None
    except DecryptionError:
        pass
    try:
        plain = ring.decrypt(blob, table=table, column=column, row=old)
    except DecryptionError:
        return None
    return ring.encrypt(plain, table=table, column=column, row=new)


async def rebind(db: Database, ring: KeyRing) -> int:
    """Bring every record written before migration 0013 under its new binding; returns rows changed."""
    if not (await db.table_exists("meta") and await db.table_exists("groups")):
        return 0
    changed = await _rebind_cases(db, ring)
    if await meta.get(db, META_KEY) == "1":
        return changed
    return changed + await _rebind_groups(db, ring)


async def _rebind_cases(db: Database, ring: KeyRing) -> int:
    if not await db.table_exists("cases") or await meta.get(db, CASES_META_KEY) == "1":
        return 0
    changed = 0
    async with db.transaction() as conn:
        for r in await db.fetchall(f"SELECT id, guild_id, group_id, {', '.join(_CASE_COLUMNS)} FROM cases"):
            new = row_key((r["id"], r["guild_id"], r["group_id"]))
            updates = {
                column: blob
                for column in _CASE_COLUMNS
                if isinstance(r[column], bytes)
                and (blob := _rebound(ring, r[column], "cases", column, str(r["id"]), new)) is not None
            }
            if updates:
                sets = ", ".join(f"{c} = ?" for c in updates)
                await conn.execute(f"UPDATE cases SET {sets} WHERE id = ?", (*updates.values(), r["id"]))
                changed += 1
        for r in await db.fetchall("SELECT id, case_id, actor, note FROM case_events"):
            new = row_key((r["id"], r["case_id"]))
            updates = {
                column: blob
                for column in ("actor", "note")
                if isinstance(r[column], bytes)
                and (blob := _rebound(ring, r[column], "case_events", column, str(r["id"]), new)) is not None
            }
            if updates:
                sets = ", ".join(f"{c} = ?" for c in updates)
                await conn.execute(f"UPDATE case_events SET {sets} WHERE id = ?", (*updates.values(), r["id"]))
                changed += 1
        await conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, '1') ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (CASES_META_KEY,),
        )
    return changed


async def _rebind_groups(db: Database, ring: KeyRing) -> int:
    changed = 0
    async with db.transaction() as conn:
        for r in await db.fetchall("SELECT id, group_id, guild_id, member_id, data FROM consents"):
            if not isinstance(r["guild_id"], int):
                continue
            old = row_key((r["id"], r["group_id"]))
            new = row_key((r["id"], r["group_id"], r["guild_id"]))
            updates = {
                column: blob
                for column in ("member_id", "data")
                if (blob := _rebound(ring, bytes(r[column]), "consents", column, old, new)) is not None
            }
            if updates:
                sets = ", ".join(f"{c} = ?" for c in updates)
                await conn.execute(f"UPDATE consents SET {sets} WHERE id = ?", (*updates.values(), r["id"]))
                changed += 1
        for table in ("enrolments", "group_facilitators"):
            for r in await db.fetchall(f"SELECT id, group_id, guild_id, member_id FROM {table}"):
                if not isinstance(r["guild_id"], int):
                    continue
                new = row_key((r["id"], r["group_id"], r["guild_id"]))
                blob = _rebound(ring, bytes(r["member_id"]), table, "member_id", r["id"], new)
                if blob is not None:
                    await conn.execute(f"UPDATE {table} SET member_id = ? WHERE id = ?", (blob, r["id"]))
                    changed += 1
        for r in await db.fetchall("SELECT id, guild_id, name, roster FROM groups"):
            gid, guild_id = str(r["id"]), int(r["guild_id"])
            if isinstance(r["name"], str):
                name, index = group_store.seal_name(ring, gid, guild_id, r["name"])
                await conn.execute(
                    "UPDATE groups SET name = ?, name_index = ?, name_key = ? WHERE id = ?", (name, index, gid, gid)
                )
                changed += 1
            if r["roster"] is None:
                rows = []
                for table in ("enrolments", "group_facilitators"):
                    for m in await db.fetchall(
                        f"SELECT id, group_id, guild_id, member_id FROM {table} WHERE group_id = ?", (gid,)
                    ):
                        try:
                            rows.append((table, str(m["id"]), group_store.member_id_of(ring, table, m)))
                        except (DecryptionError, ValueError, TypeError):
                            continue
                seal = Seal(0, roster_seal.digest(rows))
                await conn.execute(
                    "UPDATE groups SET roster = ? WHERE id = ?", (group_store.seal_blob(ring, gid, guild_id, seal), gid)
                )
        await conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, '1') ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (META_KEY,),
        )
    return changed
