"""Weekly schedules: the durable timer of each schedule's next start (and its review DM), computed
in local wall-clock time (``bot.core.schedule``), and when a group's next session is."""

from __future__ import annotations

from datetime import datetime

from bot.app import HoldspaceBot
from bot.core.schedule import WEEKDAYS, WeeklySchedule, next_occurrence, resolve_zone
from bot.core.timer_kinds import TimerKind
from bot.storage import sessions as store
from cogs.sessions.reminders import ts


def schedule_of(row: store.ScheduleRow) -> WeeklySchedule:
    return WeeklySchedule(row.weekday, row.local_time, row.timezone, row.duration)


class Schedules:
    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot

    async def schedule_next(self, schedule: store.ScheduleRow, *, after: datetime) -> datetime:
        """Store the durable timer of the schedule's next start (and its review DM)."""
        occurrence = next_occurrence(schedule_of(schedule), after)
        await self.bot.scheduler.schedule(
            TimerKind.SESSION_START,
            occurrence.start,
            {"schedule_id": schedule.id, "at": occurrence.start.isoformat()},
            key=schedule.id,
        )
        if schedule.dm_before is not None:
            review_at = max(occurrence.start - schedule.dm_before, self.bot.clock.now())
            await self.bot.scheduler.schedule(
                TimerKind.SESSION_REVIEW,
                review_at,
                {"schedule_id": schedule.id, "at": occurrence.start.isoformat()},
                key=schedule.id,
            )
        return occurrence.start

    async def next_session_text(self, group_id: str) -> str | None:
        """When the group's next scheduled session starts, as text for people (None: none scheduled)."""
        schedules = await store.list_schedules(self.bot.db, group_id=group_id)
        if not schedules:
            return None
        now = self.bot.clock.now()
        best = min(((next_occurrence(schedule_of(s), now), s) for s in schedules), key=lambda pair: pair[0].start)
        occurrence, schedule = best
        local = occurrence.start.astimezone(resolve_zone(schedule.timezone))
        return (
            f"{WEEKDAYS[local.weekday()]} {local:%d %B} at {local:%H:%M} ({schedule.timezone}), "
            f"{ts(occurrence.start, 'R')}"
        )
