"""The sessions feature's durable timers: scheduled starts (with the missed-start policy), planned
ends, periodic ground-rules reminders during a session, and the consent review DM before a scheduled
session. Each start schedules the next occurrence computed in local time."""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, timedelta

import discord

from bot.app import HoldspaceBot
from bot.core.records import RunningSession
from bot.core.reminders import ReminderKind, review_dm_text, stale_consents
from bot.core.schedule import MissedStart, missed_start
from bot.core.timer_kinds import TimerKind
from bot.i18n import using
from bot.scheduler import RetryLater, Timer, until_connected
from bot.storage import sessions as store
from bot.ui.locale import group_language
from bot.ui.replies import UserError
from cogs.sessions.lifecycle import Lifecycle
from cogs.sessions.reminders import Reminders, ts
from cogs.sessions.rooms import SessionRooms
from cogs.sessions.schedules import Schedules

log = logging.getLogger(__name__)



class SessionTimers:
    def __init__(
        self, bot: HoldspaceBot, rooms: SessionRooms, reminders: Reminders, schedules: Schedules, lifecycle: Lifecycle
    ) -> None:
        self.bot = bot
        self.rooms = rooms
        self.reminders = reminders
        self.schedules = schedules
        self.lifecycle = lifecycle

    async def load(self) -> None:
        """Register the timers, mirror the running sessions and put back any missing schedule start."""
        timers = self.bot.scheduler.timers
        timers.register(TimerKind.SESSION_START, self._on_start_timer)
        timers.register(TimerKind.SESSION_END, self._on_end_timer)
        timers.register(TimerKind.SESSION_REMIND, self._on_remind_timer)
        timers.register(TimerKind.SESSION_REVIEW, self._on_review_timer)
        running = self.bot.state.running_sessions
        running.clear()
        for row in await store.load_running(self.bot.db):
            running[row.id] = RunningSession(
                row.id, row.group_id, row.started_at, row.planned_end, kept_messages=set(row.reminder_messages)
            )
        # Every schedule has a pending start; put back any that went missing.
        now = self.bot.clock.now()
        for schedule in await store.list_schedules(self.bot.db):
            if await timers.due_time(TimerKind.SESSION_START, schedule.id) is None:
                await self.schedules.schedule_next(schedule, after=now)
        self.bot.scheduler.wake()

    async def _on_start_timer(self, timer: Timer) -> None:
        schedule = await store.get_schedule(self.bot.db, str(timer.payload["schedule_id"]))
        if schedule is None:
            return  # removed meanwhile: moot
        group = self.bot.state.groups.get(schedule.group_id)
        if group is None:
            return
        await until_connected(self.bot)
        scheduled_start = datetime.fromisoformat(str(timer.payload["at"]))
        now = self.bot.clock.now()
        decision = missed_start(scheduled_start, schedule.duration, now)
        if decision is MissedStart.NOT_YET:
            raise RetryLater(scheduled_start - now, "not yet")
        planned_end = scheduled_start + schedule.duration
        if decision is MissedStart.SKIP:
            log.warning("a scheduled session start was missed by more than its length; skipped it")
            await self.bot.audit.record(
                group.guild_id,
                "session.start_skipped",
                actor_id=None,
                group_id=group.id,
                details={"schedule_id": schedule.id, "scheduled_start": scheduled_start.isoformat()},
            )
        elif self.rooms.running(group.id) is not None:
            log.info("a scheduled start found a session already running; left it running")
            await self.bot.audit.record(
                group.guild_id,
                "session.start_skipped",
                actor_id=None,
                group_id=group.id,
                details={"schedule_id": schedule.id, "reason": "already running"},
            )
        else:
            late = now - scheduled_start if decision is MissedStart.LATE else timedelta(0)
            try:
                await self.lifecycle.start(
                    group,
                    actor_id=None,
                    planned_end=planned_end,
                    schedule_id=schedule.id,
                    late=late,
                    remind_every=schedule.remind_every,
                )
            except UserError as exc:
                # Something Discord-side is wrong (a permission, a missing room): retry soon; the
                # missed-start policy decides again on the next try.
                log.warning("a scheduled session could not start: %s", exc.message)
                raise RetryLater(timedelta(minutes=1), "start failed") from None
        # Next occurrence, computed in local time from this one (never by adding 7 * 24 hours).
        await self.schedules.schedule_next(schedule, after=scheduled_start)

    async def _on_end_timer(self, timer: Timer) -> None:
        session_id = str(timer.payload["session_id"])
        if session_id not in self.bot.state.running_sessions:
            return  # ended by hand meanwhile: moot
        group = self.bot.state.groups.get(str(timer.payload["group_id"]))
        if group is None:
            # The group was deleted (its sessions went with it): nothing left to end.
            self.bot.state.running_sessions.pop(session_id, None)
            return
        await until_connected(self.bot)
        try:
            await self.lifecycle.end(group, actor_id=None, reason="planned end")
        except UserError as exc:
            log.warning("a session could not end on time: %s", exc.message)
            raise RetryLater(timedelta(minutes=1), "end failed") from None

    async def _on_remind_timer(self, timer: Timer) -> None:
        session_id = str(timer.payload["session_id"])
        running = self.bot.state.running_sessions.get(session_id)
        group = self.bot.state.groups.get(str(timer.payload["group_id"]))
        if running is None or group is None:
            return
        await until_connected(self.bot)
        row = await store.get_session(self.bot.db, session_id)
        if row is None or row.remind_every is None:
            return
        posted: list[tuple[int, int]] = []
        with contextlib.suppress(UserError):
            _, text, voice = self.rooms.find(group)
            content = await self.reminders.ground_rules(group, ReminderKind.PERIODIC)
            try:
                posted = await self.reminders.post([text, voice], content, group)
            except discord.HTTPException:
                log.warning("could not post a periodic ground-rules reminder")
        # Every ``remind_every`` from the session's start, not from when this one went out.
        now = self.bot.clock.now()
        following = timer.due_at + row.remind_every
        if following <= now:
            following = now + row.remind_every
        if row.planned_end is None or following < row.planned_end:
            await self.bot.scheduler.schedule(TimerKind.SESSION_REMIND, following, dict(timer.payload), key=session_id)
        await self.lifecycle.report.reminders_posted(session_id, len(posted))

    async def _on_review_timer(self, timer: Timer) -> None:
        schedule = await store.get_schedule(self.bot.db, str(timer.payload["schedule_id"]))
        if schedule is None:
            return
        group = self.bot.state.groups.get(schedule.group_id)
        if group is None:
            return
        await until_connected(self.bot)
        starts = datetime.fromisoformat(str(timer.payload["at"]))
        now = self.bot.clock.now()
        if starts > now:
            stale = stale_consents(
                enrolled=self.bot.state.enrolled.get(group.id, set()),
                consents=self.bot.state.consents.get(group.id, {}),
                agreement_version=group.agreement_version,
                reconsent_after_days=group.reconsent_after_days,
                now=now,
            )
            sent = 0
            for member_id in stale:
                try:
                    user = self.bot.get_user(member_id) or await self.bot.fetch_user(member_id)
                    with using(group_language(self.bot.state, group)):  # no interaction: the group's language
                        text = review_dm_text(group_name=group.name, starts_at_text=ts(starts, "R"))
                    await user.send(text)
                    sent += 1
                except discord.HTTPException:
                    log.debug("could not send a consent review DM")
            if stale:
                await self.bot.audit.record(
                    group.guild_id,
                    "session.review_dm",
                    actor_id=None,
                    group_id=group.id,
                    details={"schedule_id": schedule.id, "asked": len(stale), "delivered": sent},
                )
