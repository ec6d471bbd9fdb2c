"""Starting and ending a session. A start opens a locked group's rooms, posts the ground rules in the
text room and the voice room's chat and records the session with its end as a durable timer; nothing
is left half-done (undone on failure). An end locks the rooms again where the group locks between
sessions (disconnecting the people still in voice: overwrites alone remove nobody), expires the
session's messages where the group does that, records the end and tells the consent feature
(``holdspace_session_end``).

Both record their steps as they go (``bot.storage.session_steps``), so a crash between two steps is
finished at the next start (``resume``): the ground rules are posted once, the closing summary once.
Session boundaries are message ids on Discord's clock (``bot.discord_clock``), never the host's alone:
they decide which messages go at the end of the session."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import discord

from bot.app import HoldspaceBot
from bot.core.expiry import ExpiryReport, snowflake_floor
from bot.core.records import GroupInfo, RunningSession
from bot.core.reminders import ReminderKind, closing_content
from bot.core.timer_kinds import TimerKind
from bot.i18n import _, using
from bot.storage import session_steps as steps
from bot.storage import session_watch as watch
from bot.storage import sessions as store
from bot.ui.locale import group_language
from bot.ui.replies import FIND_PERMISSION, MissingBotPermission, UserError
from cogs.sessions.reminders import Reminders, ts
from cogs.sessions.report import SessionReports
from cogs.sessions.rooms import SessionRooms
from cogs.sessions.schedules import Schedules

log = logging.getLogger(__name__)


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
    def __init__(
        self,
        bot: HoldspaceBot,
        rooms: SessionRooms,
        reminders: Reminders,
        schedules: Schedules,
        report: SessionReports,
    ) -> None:
        self.bot = bot
        self.rooms = rooms
        self.reminders = reminders
        self.schedules = schedules
        self.report = report

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
                    _(
                        "A session of {name} is already running. End it with /session end first if "
                        "you want to start again."
                    ).format(name=group.name)
                )
            guild, text, voice = self.rooms.find(group)
            self.rooms.check_bot_permissions(group, [text, voice])
            now = self.bot.clock.now()
            start_id = snowflake_floor(self.bot.discord_clock.now())
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
                    raise UserError(_("A session of {name} is already running.").format(name=group.name)) from None
                await steps.set_start(self.bot.db, row.id, "recorded", start_id=start_id)
                if planned_end is not None:
                    await self.bot.scheduler.schedule(
                        TimerKind.SESSION_END, planned_end, {"session_id": row.id, "group_id": group.id}, key=row.id
                    )
                if remind_every is not None:
                    await self.bot.scheduler.schedule(
                        TimerKind.SESSION_REMIND,
                        now + remind_every,
                        {"session_id": row.id, "group_id": group.id},
                        key=row.id,
                    )
            self.bot.state.running_sessions[row.id] = RunningSession(row.id, group.id, now, planned_end)
            opened = group.lock_between_sessions
            posted: list[tuple[int, int]] = []
            try:
                await self._finish_start(
                    group, row.id, "recorded", start_id, posted, late=late, planned_end=planned_end
                )
            except discord.HTTPException as exc:
                log.warning("starting a session failed (%s); undoing it", type(exc).__name__)
                await self._undo_start(group, guild, row, opened=opened, posted=posted)
                if isinstance(exc, discord.Forbidden):
                    raise MissingBotPermission(
                        _(
                            "holdspace was refused a permission it needs in the group's rooms: {find}. "
                            "Start again once it is granted. Nothing was changed."
                        ).format(find=_(FIND_PERMISSION))
                    ) from None
                raise UserError(
                    _(
                        "Discord did not accept a change while starting the session; nothing was "
                        "changed. Please try again in a moment."
                    )
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

    async def _finish_start(
        self,
        group: GroupInfo,
        session_id: str,
        step: str,
        start_id: int,
        posted: list[tuple[int, int]],
        *,
        late: timedelta = timedelta(0),
        planned_end: datetime | None = None,
    ) -> None:
        """Do the start's steps from ``step`` on: open the rooms, post the ground rules (once).
        ``posted`` is filled as reminders go out (so a failed start can take them back)."""
        guild, text, voice = self.rooms.find(group)
        if step == "recorded":
            if group.lock_between_sessions:
                await self.rooms.apply_access(group, guild, running=True)
            await steps.set_start(self.bot.db, session_id, "rooms_open")
            step = "rooms_open"
        content = await self.reminders.ground_rules(
            group,
            ReminderKind.START,
            late_by=late if late > timedelta(0) else None,
            ends_at_text=ts(planned_end, "t") if planned_end is not None else None,
        )
        if step == "posting":
            # Holdspace stopped while posting: what was posted before is not posted again.
            for channel in (text, voice):
                found = await self.reminders.find_posted(channel, start_id, content.title)
                if found is not None:
                    posted.append((channel.id, found))
        else:
            await steps.set_start(self.bot.db, session_id, "posting")
        done = {channel_id for channel_id, _ in posted}
        for channel in (text, voice):
            if channel.id not in done:
                posted.extend(await self.reminders.post([channel], content, group))
        # The first reminder's id is Discord's own time of the start: no message of the session is
        # older, whatever the host clock said.
        first = min((message_id for _unused, message_id in posted), default=start_id)
        async with self.bot.db.transaction():
            await store.set_reminder_messages(self.bot.db, session_id, posted)
            await steps.set_start(self.bot.db, session_id, "done", start_id=min(start_id, first))
            await self.report.reminders_posted(session_id, len(posted))
        running = self.bot.state.running_sessions.get(session_id)
        if running is not None:
            running.kept_messages.update(posted)
        # Who is in the voice room already (a facilitator waiting, say) is present from the start.
        await self.report.count_room(group, session_id)

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
            await self.bot.scheduler.cancel(TimerKind.SESSION_END, row.id)
            await self.bot.scheduler.cancel(TimerKind.SESSION_REMIND, row.id)
        with contextlib.suppress(Exception):
            await store.delete_session(self.bot.db, row.id)
        if opened:
            try:
                await self.rooms.apply_access(group, guild, running=False)
            except discord.HTTPException:
                log.error("could not lock a group's rooms again after a failed start; the reconcile will retry")
        await self.reminders.delete_posted(posted)

    async def end(self, group: GroupInfo, *, actor_id: int | None, reason: str) -> EndReport:
        """End the running session of ``group``. The rooms are locked before anything else is done."""
        async with self.rooms.lock(group.id):
            running = self.rooms.running(group.id)
            if running is None:
                raise UserError(
                    _("No session of {name} is running, so there is nothing to end.").format(name=group.name)
                )
            self.rooms.find(group)
            # Messages with ids below this were posted before the end (Discord's clock).
            end_id = snowflake_floor(self.bot.discord_clock.now() + END_SLACK)
            actor = "facilitator" if actor_id is not None else "schedule"
            await steps.set_end(self.bot.db, running.id, "ending", end_id=end_id, reason=reason, actor=actor)
            return await self._finish_end(group, running, "ending", end_id, reason=reason, actor_id=actor_id)

    async def _finish_end(
        self,
        group: GroupInfo,
        running: RunningSession,
        step: str,
        end_id: int,
        *,
        reason: str,
        actor_id: int | None,
    ) -> EndReport:
        """Do the end's steps from ``step`` on: lock, remove the session's messages, post the summary."""
        guild, text, voice = self.rooms.find(group)
        locked = False
        disconnected = 0
        # From here on the session no longer counts as running (fail closed): a reconcile that runs
        # meanwhile locks the rooms too. Put back if the rooms cannot be locked.
        self.bot.state.running_sessions.pop(running.id, None)
        if step == "ending":
            if group.lock_between_sessions:
                try:
                    await self.rooms.apply_access(group, guild, running=False)
                except discord.HTTPException as exc:
                    self.bot.state.running_sessions[running.id] = running
                    await steps.set_end(self.bot.db, running.id, "ending")
                    if not isinstance(exc, discord.Forbidden):
                        raise UserError(
                            _(
                                "Discord did not accept locking the rooms; the session is still running. "
                                "Please try /session end again in a moment."
                            )
                        ) from None
                    raise MissingBotPermission(
                        _(
                            "holdspace could not lock the rooms (a permission is missing); the session is still "
                            "running: {find}. End the session again once it is granted."
                        ).format(find=_(FIND_PERMISSION))
                    ) from None
                locked = True
                disconnected = await self.rooms.disconnect_after_lock(group, voice)
            await steps.set_end(self.bot.db, running.id, "locked")
            step = "locked"
        row = await store.get_session(self.bot.db, running.id)
        saved = await steps.of(self.bot.db, running.id)
        start_id = saved.start_id if saved is not None and saved.start_id else snowflake_floor(running.started_at)
        expiry_text: str | None = None
        resumed_after_summary = step == "expired"
        if step == "locked":
            expiry_text, messages = await self._remove_messages(group, row, start_id, end_id)
            async with self.bot.db.transaction():
                await watch.add_event(self.bot.db, running.id, watch.MESSAGES, self.bot.clock.now(), data=messages)
                await steps.set_end(self.bot.db, running.id, "expired")
        await self._close(group, running, text, end_id, expiry_text, reason, look_first=resumed_after_summary)
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
        await self._report(group, running.id)
        return EndReport(locked, disconnected, expiry_text)

    async def _report(self, group: GroupInfo, session_id: str) -> None:
        """Write the session's integrity report (once: a report already written is not written again)
        and mark the end done. A failure leaves the end at its step, finished by ``resume``."""
        try:
            await self.report.write(group, session_id)
            await steps.set_end(self.bot.db, session_id, "done")
        except Exception:
            log.exception("the session's integrity report could not be written now; trying again later")
            self._retry_resume()

    async def _remove_messages(
        self, group: GroupInfo, row: store.SessionRow | None, start_id: int, end_id: int
    ) -> tuple[str | None, dict[str, Any]]:
        """The session's reminders go whatever the settings; with expire at session end, everything
        posted during the session goes (a durable promise kept by the expiry feature). Returns the
        closing summary's words and what the integrity report keeps of it."""
        expiry = self.bot.expiry
        if not group.expire_at_session_end:
            if row is not None:
                await expiry.session_reminders_done(group.id, list(row.reminder_messages))
            return None, self.report.messages_data(None, failed=False)
        # The reminders are part of the session's range (its start is no later than the first of them).
        try:
            report: ExpiryReport = await expiry.expire_session(group.id, start_id, end_id)
        except Exception:
            log.exception("end-of-session expiry failed; the promise stays and is kept later")
            return (
                _("their removal could not be finished now and will be retried"),
                self.report.messages_data(None, failed=True),
            )
        return report.text.strip().rstrip("."), self.report.messages_data(report, failed=False)

    async def _close(
        self,
        group: GroupInfo,
        running: RunningSession,
        text: Any,
        end_id: int,
        expiry_text: str | None,
        reason: str,
        *,
        look_first: bool,
    ) -> None:
        """Record the end and post the closing summary, once (a summary posted just before holdspace
        stopped is found again, not posted twice)."""
        with using(group_language(self.bot.state, group)):  # a room post: in the group's language
            next_text = await self.schedules.next_session_text(group.id)
            content = closing_content(group_name=group.name, expiry_text=expiry_text, next_session_text=next_text)
        try:
            posted = look_first and await self.reminders.find_posted(text, end_id, content.title) is not None
            if not posted:
                await self.reminders.post([text], content, group)
        except discord.HTTPException:
            log.warning("could not post the closing reminder")
        await store.end_session(self.bot.db, running.id, ended_at=self.bot.clock.now(), reason=reason)
        self.bot.state.running_sessions.pop(running.id, None)
        await self.bot.scheduler.cancel(TimerKind.SESSION_END, running.id)
        await self.bot.scheduler.cancel(TimerKind.SESSION_REMIND, running.id)

    # -- finishing what a stop interrupted ---------------------------------------------------------

    async def resume(self) -> None:
        """Finish every start and end that holdspace stopped in the middle of (called when ready)."""
        for unfinished in await steps.unfinished(self.bot.db):
            group = self.bot.state.groups.get(unfinished.group_id)
            running = self.bot.state.running_sessions.get(unfinished.session_id)
            if group is not None and unfinished.ended:
                # Ended, but holdspace stopped before its report was written (or marked done).
                log.info("writing the integrity report of a session whose end was interrupted")
                async with self.rooms.lock(group.id):
                    await self._report(group, unfinished.session_id)
                continue
            if group is None or running is None:
                continue
            try:
                async with self.rooms.lock(group.id):
                    if unfinished.end_step is not None:
                        log.info("finishing a session end that was interrupted")
                        await self._finish_end(
                            group,
                            running,
                            unfinished.end_step,
                            unfinished.end_id or snowflake_floor(self.bot.discord_clock.now()),
                            reason=unfinished.end_reason or "ended",
                            actor_id=None,
                        )
                    else:
                        log.info("finishing a session start that was interrupted")
                        start_id = unfinished.start_id or snowflake_floor(running.started_at)
                        await self._finish_start(group, running.id, unfinished.start_step, start_id, [])
            except (UserError, discord.HTTPException) as exc:
                log.warning("could not finish an interrupted session step (%s); will retry", type(exc).__name__)
                self._retry_resume()

    def _retry_resume(self) -> None:
        async def later() -> None:
            await self.bot.clock.sleep_until(self.bot.clock.now() + timedelta(seconds=30))
            await self.resume()

        task = asyncio.create_task(later(), name="holdspace-session-resume")
        _pending.add(task)
        task.add_done_callback(_pending.discard)


END_SLACK = timedelta(milliseconds=1)  # what was posted in the same millisecond as the end is in
_pending: set[asyncio.Task[None]] = set()
