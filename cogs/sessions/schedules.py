"""Weekly schedules: the durable timer of each schedule's next start (and its review DM), computed
in local wall-clock time (``bot.core.schedule``), and when a group's next session is."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.app import HoldspaceBot
from bot.core.durations import format_duration
from bot.core.records import GroupInfo
from bot.core.schedule import (
    WEEKDAYS,
    LocalResolution,
    ScheduleError,
    WeeklySchedule,
    find_overlap,
    next_occurrence,
    occurrences,
    parse_local_time,
    resolve_zone,
)
from bot.core.timer_kinds import TimerKind
from bot.i18n import _
from bot.storage import sessions as store
from bot.ui.replies import UserError
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

    async def next_start(self, group_id: str) -> datetime | None:
        """When the group's next scheduled session starts (None: none scheduled)."""
        schedules = await store.list_schedules(self.bot.db, group_id=group_id)
        now = self.bot.clock.now()
        return min((next_occurrence(schedule_of(s), now).start for s in schedules), default=None)

    async def next_session_text(self, group_id: str) -> str | None:
        """When the group's next scheduled session starts, as text for people (None: none scheduled)."""
        schedules = await store.list_schedules(self.bot.db, group_id=group_id)
        if not schedules:
            return None
        now = self.bot.clock.now()
        best = min(((next_occurrence(schedule_of(s), now), s) for s in schedules), key=lambda pair: pair[0].start)
        occurrence, schedule = best
        local = occurrence.start.astimezone(resolve_zone(schedule.timezone))
        return _("{WEEKDAYS} {local:%d %B} at {local:%H:%M} ({timezone}), {start}").format(
            WEEKDAYS=WEEKDAYS[local.weekday()], local=local, timezone=schedule.timezone, start=ts(occurrence.start, "R")
        )

    async def add(
        self,
        info: GroupInfo,
        *,
        weekday: int,
        local_time: str,
        zone_name: str,
        length: timedelta,
        remind_every: timedelta | None,
        dm_before: timedelta | None,
        actor_id: int,
    ) -> str:
        """Store a weekly schedule with its first start; returns the answer for the facilitator (with
        the days on which the clocks change and what happens then)."""
        try:
            zone_name = resolve_zone(zone_name).key
            schedule = WeeklySchedule(weekday, parse_local_time(local_time), zone_name, length)
        except ScheduleError as exc:
            raise UserError(f"{exc}.") from None
        now = self.bot.clock.now()
        existing = await store.list_schedules(self.bot.db, group_id=info.id)
        clash = find_overlap(schedule, [schedule_of(r) for r in existing], now=now)
        if clash is not None:
            other, when = clash
            raise UserError(
                _(
                    "That would overlap the schedule {describe} of {name} (first on {start}). "
                    "Choose another time, or remove that schedule first."
                ).format(describe=other.describe(), name=info.name, start=ts(when.start, "D"))
            )
        async with self.bot.db.transaction():
            row = await store.add_schedule(
                self.bot.db,
                guild_id=info.guild_id,
                group_id=info.id,
                weekday=weekday,
                local_time=schedule.local_time,
                timezone=zone_name,
                duration=length,
                remind_every=remind_every,
                dm_before=dm_before,
                now=now,
            )
            first = await self.schedule_next(row, after=now)
        await self.bot.audit.record(
            info.guild_id,
            "session.schedule_add",
            actor_id=actor_id,
            group_id=info.id,
            details={
                "schedule_id": row.id,
                "weekday": weekday,
                "local_time": f"{schedule.local_time:%H:%M}",
                "timezone": zone_name,
                "duration_seconds": int(length.total_seconds()),
            },
        )
        notes = []
        for occurrence in occurrences(schedule, now, now + timedelta(days=366)):
            local = f"{occurrence.local_date:%d %B %Y}"
            if occurrence.resolution is LocalResolution.GAP_SHIFTED:
                notes.append(
                    _(
                        "On {local} the clocks go forward and {local_time:%H:%M} does not exist in "
                        "{zone_name}: that session starts {start} instead (as much later as the "
                        "clocks jump)."
                    ).format(
                        local=local,
                        local_time=schedule.local_time,
                        zone_name=zone_name,
                        start=ts(occurrence.start, "t"),
                    )
                )
            elif occurrence.resolution is LocalResolution.OVERLAP_FIRST:
                notes.append(
                    _(
                        "On {local} the clocks go back and {local_time:%H:%M} happens twice in "
                        "{zone_name}: that session starts at the first of the two ({start})."
                    ).format(
                        local=local,
                        local_time=schedule.local_time,
                        zone_name=zone_name,
                        start=ts(occurrence.start, "t"),
                    )
                )
        message = _("{name} now meets {describe} for {length}. The first session starts {first} ({first2}).").format(
            name=info.name,
            describe=schedule.describe(),
            length=format_duration(length),
            first=ts(first),
            first2=ts(first, "R"),
        )
        if notes:
            message += "\n" + "\n".join(notes)
        return message

    async def remove(self, row: store.ScheduleRow, *, actor_id: int) -> None:
        async with self.bot.db.transaction():
            await store.delete_schedule(self.bot.db, row.id)
            await self.bot.scheduler.cancel(TimerKind.SESSION_START, row.id)
            await self.bot.scheduler.cancel(TimerKind.SESSION_REVIEW, row.id)
        await self.bot.audit.record(
            row.guild_id,
            "session.schedule_remove",
            actor_id=actor_id,
            group_id=row.group_id,
            details={"schedule_id": row.id},
        )
