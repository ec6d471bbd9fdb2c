"""Sessions, weekly schedules and the marks of automatic ground-rules reminders.

Nothing stored here is personal: who started or ended a session is written to the audit log only.
Reminder messages are kept as (channel id, message id) pairs of holdspace's own posts.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from bot.storage.db import Database
from bot.storage.times import from_ms, from_seconds, to_ms, to_seconds

__all__ = [
    "ScheduleRow",
    "SessionAlreadyRunning",
    "SessionRow",
    "add_schedule",
    "delete_schedule",
    "end_session",
    "get_schedule",
    "get_session",
    "last_auto_reminder",
    "list_schedules",
    "load_running",
    "running_session",
    "set_last_auto_reminder",
    "set_reminder_messages",
    "start_session",
]


class SessionAlreadyRunning(Exception):
    """The group already has a running session."""


@dataclass(frozen=True)
class ScheduleRow:
    id: str
    guild_id: int
    group_id: str
    weekday: int
    local_time: time
    timezone: str
    duration: timedelta
    remind_every: timedelta | None = None
    dm_before: timedelta | None = None


@dataclass(frozen=True)
class SessionRow:
    id: str
    guild_id: int
    group_id: str
    schedule_id: str | None
    started_at: datetime
    planned_end: datetime | None
    ended_at: datetime | None
    late: timedelta
    remind_every: timedelta | None
    started_by: str  # "facilitator" or "schedule"
    end_reason: str | None
    reminder_messages: tuple[tuple[int, int], ...]

    @property
    def running(self) -> bool:
        return self.ended_at is None


# -- schedules ---------------------------------------------------------------------------------------

_SCHEDULE_COLUMNS = "id, guild_id, group_id, weekday, local_time, timezone, duration_s, remind_every_s, dm_before_s"


def _schedule(r: sqlite3.Row) -> ScheduleRow:
    hour, minute = (int(p) for p in str(r["local_time"]).split(":"))
    return ScheduleRow(
        id=str(r["id"]),
        guild_id=int(r["guild_id"]),
        group_id=str(r["group_id"]),
        weekday=int(r["weekday"]),
        local_time=time(hour, minute),
        timezone=str(r["timezone"]),
        duration=from_seconds(int(r["duration_s"])),
        remind_every=from_seconds(r["remind_every_s"]),
        dm_before=from_seconds(r["dm_before_s"]),
    )


async def add_schedule(
    db: Database,
    *,
    guild_id: int,
    group_id: str,
    weekday: int,
    local_time: time,
    timezone: str,
    duration: timedelta,
    remind_every: timedelta | None,
    dm_before: timedelta | None,
    now: datetime,
) -> ScheduleRow:
    row = ScheduleRow(
        uuid.uuid4().hex, guild_id, group_id, weekday, local_time, timezone, duration, remind_every, dm_before
    )
    await db.execute(
        f"INSERT INTO session_schedules ({_SCHEDULE_COLUMNS}, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            row.id,
            guild_id,
            group_id,
            weekday,
            f"{local_time:%H:%M}",
            timezone,
            to_seconds(duration),
            to_seconds(remind_every),
            to_seconds(dm_before),
            to_ms(now),
        ),
    )
    return row


async def list_schedules(
    db: Database, *, guild_id: int | None = None, group_id: str | None = None
) -> list[ScheduleRow]:
    where: list[str] = []
    params: list[object] = []
    if guild_id is not None:
        where.append("guild_id = ?")
        params.append(guild_id)
    if group_id is not None:
        where.append("group_id = ?")
        params.append(group_id)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    rows = await db.fetchall(
        f"SELECT {_SCHEDULE_COLUMNS} FROM session_schedules{clause} ORDER BY group_id, weekday, local_time",
        params,
    )
    return [_schedule(r) for r in rows]


async def get_schedule(db: Database, schedule_id: str) -> ScheduleRow | None:
    row = await db.fetchone(f"SELECT {_SCHEDULE_COLUMNS} FROM session_schedules WHERE id = ?", (schedule_id,))
    return None if row is None else _schedule(row)


async def delete_schedule(db: Database, schedule_id: str) -> bool:
    result = await db.execute("DELETE FROM session_schedules WHERE id = ?", (schedule_id,))
    return result.rowcount > 0


# -- sessions ----------------------------------------------------------------------------------------

_SESSION_COLUMNS = (
    "id, guild_id, group_id, schedule_id, started_ms, planned_end_ms, ended_ms, late_s, remind_every_s, "
    "started_by, end_reason, reminder_messages"
)


def _session(r: sqlite3.Row) -> SessionRow:
    messages = tuple((int(c), int(m)) for c, m in json.loads(r["reminder_messages"] or "[]"))
    return SessionRow(
        id=str(r["id"]),
        guild_id=int(r["guild_id"]),
        group_id=str(r["group_id"]),
        schedule_id=None if r["schedule_id"] is None else str(r["schedule_id"]),
        started_at=from_ms(int(r["started_ms"])),
        planned_end=from_ms(r["planned_end_ms"]),
        ended_at=from_ms(r["ended_ms"]),
        late=from_seconds(int(r["late_s"])),
        remind_every=from_seconds(r["remind_every_s"]),
        started_by=str(r["started_by"]),
        end_reason=None if r["end_reason"] is None else str(r["end_reason"]),
        reminder_messages=messages,
    )


async def start_session(
    db: Database,
    *,
    guild_id: int,
    group_id: str,
    started_at: datetime,
    planned_end: datetime | None,
    schedule_id: str | None = None,
    late: timedelta = timedelta(0),
    remind_every: timedelta | None = None,
    started_by: str = "facilitator",
) -> SessionRow:
    """Record a running session; raises SessionAlreadyRunning if the group has one."""
    row = SessionRow(
        uuid.uuid4().hex,
        guild_id,
        group_id,
        schedule_id,
        started_at,
        planned_end,
        None,
        late,
        remind_every,
        started_by,
        None,
        (),
    )
    try:
        await db.execute(
            f"INSERT INTO sessions ({_SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, NULL, '[]')",
            (
                row.id,
                guild_id,
                group_id,
                schedule_id,
                to_ms(started_at),
                None if planned_end is None else to_ms(planned_end),
                to_seconds(late),
                to_seconds(remind_every),
                started_by,
            ),
        )
    except sqlite3.IntegrityError as exc:
        if "sessions" in str(exc) or "UNIQUE" in str(exc):
            raise SessionAlreadyRunning(group_id) from None
        raise
    return row


async def set_reminder_messages(db: Database, session_id: str, messages: list[tuple[int, int]]) -> None:
    await db.execute("UPDATE sessions SET reminder_messages = ? WHERE id = ?", (json.dumps(messages), session_id))


async def end_session(db: Database, session_id: str, *, ended_at: datetime, reason: str) -> bool:
    """Mark a running session ended; False if it was not running."""
    result = await db.execute(
        "UPDATE sessions SET ended_ms = ?, end_reason = ? WHERE id = ? AND ended_ms IS NULL",
        (to_ms(ended_at), reason, session_id),
    )
    return result.rowcount > 0


async def delete_session(db: Database, session_id: str) -> None:
    """Forget a session whose start was undone (nothing of it took effect)."""
    await db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))


async def get_session(db: Database, session_id: str) -> SessionRow | None:
    row = await db.fetchone(f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE id = ?", (session_id,))
    return None if row is None else _session(row)


async def running_session(db: Database, group_id: str) -> SessionRow | None:
    row = await db.fetchone(
        f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE group_id = ? AND ended_ms IS NULL", (group_id,)
    )
    return None if row is None else _session(row)


async def load_running(db: Database) -> list[SessionRow]:
    rows = await db.fetchall(f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE ended_ms IS NULL")
    return [_session(r) for r in rows]


async def last_session(db: Database, group_id: str) -> SessionRow | None:
    row = await db.fetchone(
        f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE group_id = ? ORDER BY started_ms DESC LIMIT 1",
        (group_id,),
    )
    return None if row is None else _session(row)


# -- automatic reminders -----------------------------------------------------------------------------


async def last_auto_reminder(db: Database, group_id: str) -> datetime | None:
    value = await db.fetchval("SELECT last_posted_ms FROM session_auto_reminders WHERE group_id = ?", (group_id,))
    return from_ms(value)


async def load_auto_reminders(db: Database) -> dict[str, datetime]:
    rows = await db.fetchall("SELECT group_id, last_posted_ms FROM session_auto_reminders")
    return {str(r["group_id"]): from_ms(r["last_posted_ms"]) for r in rows}


async def set_last_auto_reminder(db: Database, group_id: str, when: datetime) -> None:
    await db.execute(
        "INSERT INTO session_auto_reminders (group_id, last_posted_ms) VALUES (?, ?) "
        "ON CONFLICT (group_id) DO UPDATE SET last_posted_ms = excluded.last_posted_ms",
        (group_id, to_ms(when)),
    )
