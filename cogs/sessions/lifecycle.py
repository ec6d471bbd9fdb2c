"""Starting and ending a session. A start opens a locked group's rooms, posts the ground rules in the
text room and the voice room's chat and records the session with its end as a durable timer; nothing
is left half-done (undone on failure). An end locks the rooms again where the group locks between
sessions (disconnecting the people still in voice: overwrites alone remove nobody), expires the
session's messages where the group does that, records the end and tells the consent feature
(``holdspace_session_end``)."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import discord

from bot.app import HoldspaceBot
from bot.core.records import GroupInfo, RunningSession
from bot.core.reminders import ReminderKind, closing_content
from bot.storage import sessions as store
from bot.ui.replies import MissingBotPermission, UserError
from cogs.sessions.reminders import Reminders, ts
from cogs.sessions.rooms import SessionRooms
from cogs.sessions.schedules import Schedules

log = logging.getLogger(__name__)

TIMER_END = "session.end"  # key: session id
TIMER_REMIND = "session.remind"  # key: session id


@dataclass(frozen=True)
class StartReport:
    session: store.SessionRow
    opened: bool
    reminders: int


@dataclass(frozen=True)
class EndReport:
    locked: bool
    disconnected: int
    expiry_text: str | None


class Lifecycle:
    def __init__(self, bot: HoldspaceBot, rooms: SessionRooms, reminders: Reminders, schedules: Schedules) -> None:
        self.bot = bot
        self.rooms = rooms
        self.reminders = reminders
        self.schedules = schedules

    async def start(
        self,
        group: GroupInfo,
        *,
        actor_id: int | None,
        planned_end: datetime | None,
        schedule_id: str | None = None,
        late: timedelta = timedelta(0),
        remind_every: timedelta | None = None,
    ) -> StartReport:
        """Start a session of ``group``: nothing half-done (undone on failure)."""
        async with self.rooms.lock(group.id):
            if self.rooms.running(group.id) is not None:
                raise UserError(
                    f"A session of {group.name} is already running. End it with /session end first "
                    "if you want to start again."
                )
            guild, text, voice = self.rooms.find(group)
            self.rooms.check_bot_permissions(group, [text, voice])
            now = self.bot.clock.now()
            async with self.bot.db.transaction():
                try:
                    row = await store.start_session(
                        self.bot.db,
                        guild_id=group.guild_id,
                        group_id=group.id,
                        started_at=now,
                        planned_end=planned_end,
                        schedule_id=schedule_id,
                        late=late,
                        remind_every=remind_every,
                        started_by="facilitator" if actor_id is not None else "schedule",
                    )
                except store.SessionAlreadyRunning:
                    raise UserError(f"A session of {group.name} is already running.") from None
                if planned_end is not None:
                    await self.bot.scheduler.schedule(
                        TIMER_END, planned_end, {"session_id": row.id, "group_id": group.id}, key=row.id
                    )
                if remind_every is not None:
                    await self.bot.scheduler.schedule(
                        TIMER_REMIND, now + remind_every, {"session_id": row.id, "group_id": group.id}, key=row.id
                    )
            self.bot.state.running_sessions[row.id] = RunningSession(row.id, group.id, now, planned_end)
            opened = False
            posted: list[tuple[int, int]] = []
            try:
                if group.lock_between_sessions:
                    opened = True
                    await self.rooms.apply_access(group, guild, running=True)
                content = await self.reminders.ground_rules(
                    group,
                    ReminderKind.START,
                    late_by=late if late > timedelta(0) else None,
                    ends_at_text=ts(planned_end, "t") if planned_end is not None else None,
                )
                for channel in (text, voice):
                    posted.extend(await self.reminders.post([channel], content))
                await store.set_reminder_messages(self.bot.db, row.id, posted)
                self.bot.state.running_sessions[row.id].kept_messages.update(posted)
            except discord.HTTPException as exc:
                log.warning("starting a session failed (%s); undoing it", type(exc).__name__)
                await self._undo_start(group, guild, row, opened=opened, posted=posted)
                if isinstance(exc, discord.Forbidden):
                    raise MissingBotPermission(
                        "holdspace was refused a permission it needs in the group's rooms; run /guard audit "
                        "to see which, grant it, and start again. Nothing was changed."
                    ) from None
                raise UserError(
                    "Discord did not accept a change while starting the session; nothing was changed. "
                    "Please try again in a moment."
                ) from None
            await self.bot.audit.record(
                group.guild_id,
                "session.start",
                actor_id=actor_id,
                group_id=group.id,
                details={
                    "session_id": row.id,
                    "scheduled": schedule_id is not None,
                    "late_seconds": int(late.total_seconds()),
                    "planned_end": planned_end.isoformat() if planned_end else None,
                    "rooms_opened": opened,
                },
            )
            log.info("session started (%s)", "scheduled" if schedule_id else "by a facilitator")
            log.debug("session %s of group %s started", row.id, group.id)
            return StartReport(row, opened, len(posted))

    async def _undo_start(
        self,
        group: GroupInfo,
        guild: discord.Guild,
        row: store.SessionRow,
        *,
        opened: bool,
        posted: list[tuple[int, int]],
    ) -> None:
        self.bot.state.running_sessions.pop(row.id, None)
        with contextlib.suppress(Exception):
            await self.bot.scheduler.cancel(TIMER_END, row.id)
            await self.bot.scheduler.cancel(TIMER_REMIND, row.id)
        with contextlib.suppress(Exception):
            await store.delete_session(self.bot.db, row.id)
        if opened:
            try:
                await self.rooms.apply_access(group, guild, running=False)
            except discord.HTTPException:
                log.error("could not lock a group's rooms again after a failed start; the reconcile will retry")
        await self.reminders.delete_posted(posted)

    async def end(self, group: GroupInfo, *, actor_id: int | None, reason: str) -> EndReport:
        """End the running session of ``group``. The rooms are locked before the end is recorded."""
        async with self.rooms.lock(group.id):
            running = self.rooms.running(group.id)
            if running is None:
                raise UserError(f"No session of {group.name} is running, so there is nothing to end.")
            guild, text, voice = self.rooms.find(group)
            locked = False
            disconnected = 0
            # From here on the session no longer counts as running (fail closed): a reconcile that
            # runs meanwhile locks the rooms too. Put back if the rooms cannot be locked.
            self.bot.state.running_sessions.pop(running.id, None)
            if group.lock_between_sessions:
                try:
                    await self.rooms.apply_access(group, guild, running=False)
                except discord.HTTPException as exc:
                    self.bot.state.running_sessions[running.id] = running
                    if not isinstance(exc, discord.Forbidden):
                        raise UserError(
                            "Discord did not accept locking the rooms; the session is still running. "
                            "Please try /session end again in a moment."
                        ) from None
                    raise MissingBotPermission(
                        "holdspace could not lock the rooms (a permission is missing); the session is still "
                        "running. Run /guard audit to see which permission, grant it and end the session again."
                    ) from None
                locked = True
                disconnected = await self.rooms.disconnect_after_lock(group, voice)
            row = await store.get_session(self.bot.db, running.id)
            expiry_text: str | None = None
            if group.expire_at_session_end:
                expiry = self.bot.get_cog("Expiry")
                if expiry is not None:
                    try:
                        report: Any = await expiry.expire_session(group.id, running.started_at)  # type: ignore[attr-defined]
                        summary = getattr(report, "text", report)
                        expiry_text = str(summary() if callable(summary) else summary).strip().rstrip(".")
                    except Exception:
                        log.exception("end-of-session expiry failed; the expiry feature will retry")
                        expiry_text = "removal could not be finished now and will be retried"
                elif row is not None:
                    removed = await self.reminders.delete_posted(row.reminder_messages)
                    expiry_text = f"{removed} ground-rules reminders removed"
            now = self.bot.clock.now()
            await store.end_session(self.bot.db, running.id, ended_at=now, reason=reason)
            self.bot.state.running_sessions.pop(running.id, None)
            await self.bot.scheduler.cancel(TIMER_END, running.id)
            await self.bot.scheduler.cancel(TIMER_REMIND, running.id)
            next_text = await self.schedules.next_session_text(group.id)
            try:
                await self.reminders.post(
                    [text], closing_content(group_name=group.name, expiry_text=expiry_text, next_session_text=next_text)
                )
            except discord.HTTPException:
                log.warning("could not post the closing reminder")
            self.bot.dispatch("holdspace_session_end", group.id)
            await self.bot.audit.record(
                group.guild_id,
                "session.end",
                actor_id=actor_id,
                group_id=group.id,
                details={
                    "session_id": running.id,
                    "reason": reason,
                    "rooms_locked": locked,
                    "disconnected": disconnected,
                    "expiry": expiry_text,
                },
            )
            log.info("session ended (%s)", reason)
            log.debug("session %s of group %s ended", running.id, group.id)
            return EndReport(locked, disconnected, expiry_text)
