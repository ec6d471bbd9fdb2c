"""Sessions: start and end, weekly schedules in local time, and ground-rules reminders.

- ``/session start`` opens a locked group's rooms to its consented members, posts the ground rules in
  the text room and in the voice room's chat, and records the session with its end as a durable timer.
- ``/session end`` locks the rooms again where the group locks between sessions (and disconnects the
  people still in voice: overwrites alone remove nobody), expires the session's messages where the
  group does that at session end, records the end and tells the consent feature
  (``holdspace_session_end``).
- Schedules start and end sessions by themselves at local wall-clock time on durable timers; each
  start schedules the next occurrence computed in local time (bot.core.schedule).
- The ground rules are also posted when the first person joins a group's voice room while no session
  runs (at most once per ``auto_reminder_gap``), optionally every ``remind_every`` during a session,
  and members whose consent is out of date can be sent a DM before a scheduled session.

No names are stored or logged; ids are logged at debug level only. Every facilitator action and every
automatic start and end is written to the audit log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import HoldspaceBot
from bot.core import overwrites as ow
from bot.core.access import decide_from_state
from bot.core.durations import DurationError, format_duration, parse_duration
from bot.core.records import GroupInfo, RunningSession
from bot.core.reminders import (
    ReminderContent,
    ReminderKind,
    auto_reminder_due,
    closing_content,
    ground_rules_content,
    review_dm_text,
    stale_consents,
)
from bot.core.schedule import (
    MAX_DURATION,
    MIN_DURATION,
    WEEKDAYS,
    LocalResolution,
    MissedStart,
    ScheduleError,
    WeeklySchedule,
    find_overlap,
    missed_start,
    next_occurrence,
    occurrences,
    parse_local_time,
    resolve_zone,
    suggest_zones,
)
from bot.scheduler import RetryLater, Timer
from bot.services.access import desired_room_overwrites
from bot.storage import groups as group_store
from bot.storage import sessions as store
from bot.ui.checks import is_facilitator, is_group_facilitator
from bot.ui.replies import MissingBotPermission, UserError, send_ephemeral

log = logging.getLogger(__name__)

TIMER_START = "session.start"  # key: schedule id
TIMER_END = "session.end"  # key: session id
TIMER_REMIND = "session.remind"  # key: session id
TIMER_REVIEW = "session.review"  # key: schedule id

DEFAULT_MANUAL_DURATION = timedelta(hours=2)
MIN_REMIND_EVERY = timedelta(minutes=5)
MAX_DM_BEFORE = timedelta(days=2)
READY_WAIT_SECONDS = 30.0

WEEKDAY_CHOICES = [app_commands.Choice(name=name, value=index) for index, name in enumerate(WEEKDAYS)]


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


def ts(when: datetime, style: str = "F") -> str:
    """A Discord timestamp: every reader sees it in their own time zone."""
    return f"<t:{int(when.timestamp())}:{style}>"


def to_embed(content: ReminderContent) -> discord.Embed:
    embed = discord.Embed(title=content.title, description=content.description, colour=content.colour)
    for name, value in content.fields:
        embed.add_field(name=name, value=value, inline=False)
    embed.set_footer(text=content.footer)
    return embed


def _duration(text: str | None, what: str, *, minimum: timedelta, maximum: timedelta) -> timedelta | None:
    if text is None or not text.strip():
        return None
    try:
        return parse_duration(text, minimum=minimum, maximum=maximum)
    except DurationError as exc:
        raise UserError(f"That {what} cannot be used: {exc}.") from None


def _schedule_of(row: store.ScheduleRow) -> WeeklySchedule:
    return WeeklySchedule(row.weekday, row.local_time, row.timezone, row.duration)


class Sessions(commands.Cog, name="Sessions"):
    session = app_commands.Group(
        name="session",
        description="Start, end and schedule group sessions",
        guild_only=True,
        default_permissions=discord.Permissions(move_members=True),
    )
    schedule_group = app_commands.Group(
        name="schedule", description="Weekly sessions that start and end by themselves", parent=session
    )

    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot
        self._locks: dict[str, asyncio.Lock] = {}
        self._auto_marks: dict[str, datetime] = {}

    # -- start-up ----------------------------------------------------------------------------------

    async def cog_load(self) -> None:
        timers = self.bot.scheduler.timers
        timers.register(TIMER_START, self._on_start_timer)
        timers.register(TIMER_END, self._on_end_timer)
        timers.register(TIMER_REMIND, self._on_remind_timer)
        timers.register(TIMER_REVIEW, self._on_review_timer)
        running = self.bot.state.running_sessions
        running.clear()
        for row in await store.load_running(self.bot.db):
            running[row.id] = RunningSession(
                row.id, row.group_id, row.started_at, row.planned_end, kept_messages=set(row.reminder_messages)
            )
        self._auto_marks = await store.load_auto_reminders(self.bot.db)
        # Every schedule has a pending start; put back any that went missing.
        now = self.bot.clock.now()
        for schedule in await store.list_schedules(self.bot.db):
            if await timers.due_time(TIMER_START, schedule.id) is None:
                await self._schedule_next(schedule, after=now)
        self.bot.scheduler.wake()

    def _lock(self, group_id: str) -> asyncio.Lock:
        return self._locks.setdefault(group_id, asyncio.Lock())

    # -- look-ups ----------------------------------------------------------------------------------

    def _group(self, interaction: discord.Interaction[HoldspaceBot], value: str | None) -> GroupInfo:
        state = self.bot.state
        guild_id = interaction.guild_id
        if guild_id is None:
            raise UserError("This command works inside a server.")
        if value:
            group = state.groups.get(value)
            if group is None or group.guild_id != guild_id:
                group = state.group_by_name(guild_id, value)
            if group is None:
                raise UserError(f"There is no group called {value!r} here; pick one from the list.")
            return group
        if interaction.channel_id is not None:
            here = state.group_of_channel(interaction.channel_id)
            if here is not None and here.guild_id == guild_id:
                return here
        groups = state.groups_of_guild(guild_id)
        if len(groups) == 1:
            return groups[0]
        if not groups:
            raise UserError("This server has no groups yet; a facilitator creates one with /group create.")
        raise UserError("Which group? Name it in the `group` option, or run the command in one of its rooms.")

    def _require_facilitator(self, interaction: discord.Interaction[HoldspaceBot], group: GroupInfo | None) -> None:
        """Facilitators of the group (its own where it names some, else the facilitator role) and server
        managers; without a group, anyone who facilitates at all."""
        if group is not None and is_facilitator(interaction) and not is_group_facilitator(interaction, group):
            raise UserError(
                f"Only the facilitators of {group.name} can do this. One of them, or a server manager, can add "
                "you with `/group facilitator add`."
            )
        if not is_facilitator(interaction):
            name = f" of {group.name}" if group is not None else ""
            raise UserError(
                f"Only a facilitator{name} can do this. If you should be one, ask the server's "
                "administrators for the facilitator role."
            )

    def _rooms(
        self, group: GroupInfo
    ) -> tuple[discord.Guild, discord.TextChannel, discord.VoiceChannel | discord.StageChannel]:
        guild = self.bot.get_guild(group.guild_id)
        if guild is None:
            raise UserError("holdspace cannot see this server right now; please try again in a minute.")
        text = guild.get_channel(group.text_channel_id)
        voice = guild.get_channel(group.voice_channel_id)
        if not isinstance(text, discord.TextChannel) or not isinstance(
            voice, discord.VoiceChannel | discord.StageChannel
        ):
            raise UserError(
                f"The rooms of {group.name} are missing or changed type; a facilitator can repair them "
                "with /group settings or create them again."
            )
        return guild, text, voice

    def _check_bot_permissions(self, group: GroupInfo, channels: list[discord.abc.GuildChannel]) -> None:
        for channel in channels:
            perms = channel.permissions_for(channel.guild.me)
            needed = {
                "View Channel": perms.view_channel,
                "Send Messages": perms.send_messages,
                "Embed Links": perms.embed_links,
            }
            if group.lock_between_sessions:
                needed["Manage Permissions"] = perms.manage_roles
                if isinstance(channel, discord.VoiceChannel | discord.StageChannel):
                    needed["Move Members"] = perms.move_members
            missing = [name for name, ok in needed.items() if not ok]
            if missing:
                raise MissingBotPermission(
                    f"holdspace lacks {', '.join(missing)} in {channel.mention}. Grant it to holdspace in "
                    "that room's permissions, then try again; nothing was changed."
                )

    async def _agreement(self, group: GroupInfo) -> str | None:
        agreement = await group_store.get_agreement(self.bot.db, self.bot.ring, group.id)
        return None if agreement is None else agreement.text

    async def _ground_rules(self, group: GroupInfo, kind: ReminderKind, **extra: Any) -> ReminderContent:
        """The ground-rules reminder of ``kind`` for ``group``, from its current agreement."""
        return ground_rules_content(
            group_name=group.name,
            agreement_text=await self._agreement(group),
            agreement_version=group.agreement_version,
            ttl=group.ttl,
            expire_at_session_end=group.expire_at_session_end,
            kind=kind,
            **extra,
        )

    def _running(self, group_id: str) -> RunningSession | None:
        for running in self.bot.state.running_sessions.values():
            if running.group_id == group_id:
                return running
        return None

    # -- rooms -------------------------------------------------------------------------------------

    async def _apply_room_access(self, group: GroupInfo, guild: discord.Guild, *, running: bool) -> int:
        """Bring both rooms' overwrites to what a (not) running session needs; returns the changes."""
        me = guild.me
        desired = desired_room_overwrites(self.bot, group, guild, session_running=running)
        keep_members = [m.id for m in guild.members if m.bot and m.id != me.id]  # bots: the guard's business
        keep_roles = [r.id for r in guild.roles if r.managed]
        changed = 0
        for channel_id, wants in desired.items():
            channel = guild.get_channel(channel_id)
            if channel is None:
                continue
            current: dict[ow.Target, ow.Want] = {}
            for target, overwrite in channel.overwrites.items():
                allow, deny = overwrite.pair()
                kind = ow.ROLE if isinstance(target, discord.Role) else ow.MEMBER
                current[ow.Target(kind, target.id)] = ow.Want(allow.value, deny.value)
            for change in ow.diff(current, wants, keep_member_ids=keep_members, keep_role_ids=keep_roles):
                reason = "holdspace: session started" if running else "holdspace: session ended"
                try:
                    if change.want is None:
                        await self.bot.http.delete_channel_permissions(channel_id, change.target.id, reason=reason)
                    else:
                        await self.bot.http.edit_channel_permissions(
                            channel_id,
                            change.target.id,
                            str(change.want.allow),
                            str(change.want.deny),
                            0 if change.target.kind == ow.ROLE else 1,
                            reason=reason,
                        )
                except discord.NotFound:
                    continue  # a member who left the server, or an overwrite already gone
                changed += 1
        return changed

    async def _disconnect_after_lock(self, group: GroupInfo, voice: discord.VoiceChannel | discord.StageChannel) -> int:
        """Disconnect the people a locked room no longer admits (overwrites remove nobody)."""
        cfg = self.bot.state.guilds.get(group.guild_id)
        facilitator_role = cfg.facilitator_role_id if cfg else None
        count = 0
        for member in list(voice.members):
            if member.bot:
                continue  # holdspace never joins voice; other bots are the guard's business
            exempt = (
                facilitator_role is not None
                and not group.facilitators_consent
                and any(role.id == facilitator_role for role in member.roles)
            )
            if exempt:
                continue
            try:
                await member.move_to(None, reason="holdspace: session ended, room locked")
                count += 1
            except discord.NotFound:
                continue  # already gone
            except discord.HTTPException as exc:
                log.warning("could not disconnect someone from a locked room (%s)", exc.status)
        return count

    async def _post(self, channels: list[discord.abc.Messageable], content: ReminderContent) -> list[tuple[int, int]]:
        posted: list[tuple[int, int]] = []
        embed = to_embed(content)
        for channel in channels:
            message = await channel.send(embed=embed)
            posted.append((message.channel.id, message.id))
        return posted

    async def _delete_posted(self, posted: list[tuple[int, int]] | tuple[tuple[int, int], ...]) -> int:
        removed = 0
        for channel_id, message_id in posted:
            try:
                await self.bot.http.delete_message(channel_id, message_id, reason="holdspace: session ended")
                removed += 1
            except discord.NotFound:
                removed += 1
            except discord.HTTPException:
                log.warning("could not remove a ground-rules reminder")
        return removed

    # -- start and end -----------------------------------------------------------------------------

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
        async with self._lock(group.id):
            if self._running(group.id) is not None:
                raise UserError(
                    f"A session of {group.name} is already running. End it with /session end first "
                    "if you want to start again."
                )
            guild, text, voice = self._rooms(group)
            self._check_bot_permissions(group, [text, voice])
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
                    await self._apply_room_access(group, guild, running=True)
                content = await self._ground_rules(
                    group,
                    ReminderKind.START,
                    late_by=late if late > timedelta(0) else None,
                    ends_at_text=ts(planned_end, "t") if planned_end is not None else None,
                )
                for channel in (text, voice):
                    posted.extend(await self._post([channel], content))
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
                await self._apply_room_access(group, guild, running=False)
            except discord.HTTPException:
                log.error("could not lock a group's rooms again after a failed start; the reconcile will retry")
        await self._delete_posted(posted)

    async def end(self, group: GroupInfo, *, actor_id: int | None, reason: str) -> EndReport:
        """End the running session of ``group``. The rooms are locked before the end is recorded."""
        async with self._lock(group.id):
            running = self._running(group.id)
            if running is None:
                raise UserError(f"No session of {group.name} is running, so there is nothing to end.")
            guild, text, voice = self._rooms(group)
            locked = False
            disconnected = 0
            # From here on the session no longer counts as running (fail closed): a reconcile that
            # runs meanwhile locks the rooms too. Put back if the rooms cannot be locked.
            self.bot.state.running_sessions.pop(running.id, None)
            if group.lock_between_sessions:
                try:
                    await self._apply_room_access(group, guild, running=False)
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
                disconnected = await self._disconnect_after_lock(group, voice)
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
                    removed = await self._delete_posted(row.reminder_messages)
                    expiry_text = f"{removed} ground-rules reminders removed"
            now = self.bot.clock.now()
            await store.end_session(self.bot.db, running.id, ended_at=now, reason=reason)
            self.bot.state.running_sessions.pop(running.id, None)
            await self.bot.scheduler.cancel(TIMER_END, running.id)
            await self.bot.scheduler.cancel(TIMER_REMIND, running.id)
            next_text = await self.next_session_text(group.id)
            try:
                await self._post(
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

    # -- schedules ---------------------------------------------------------------------------------

    async def _schedule_next(self, schedule: store.ScheduleRow, *, after: datetime) -> datetime:
        """Store the durable timer of the schedule's next start (and its review DM)."""
        occurrence = next_occurrence(_schedule_of(schedule), after)
        await self.bot.scheduler.schedule(
            TIMER_START,
            occurrence.start,
            {"schedule_id": schedule.id, "at": occurrence.start.isoformat()},
            key=schedule.id,
        )
        if schedule.dm_before is not None:
            review_at = max(occurrence.start - schedule.dm_before, self.bot.clock.now())
            await self.bot.scheduler.schedule(
                TIMER_REVIEW,
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
        best = min(((next_occurrence(_schedule_of(s), now), s) for s in schedules), key=lambda pair: pair[0].start)
        occurrence, schedule = best
        local = occurrence.start.astimezone(resolve_zone(schedule.timezone))
        return (
            f"{WEEKDAYS[local.weekday()]} {local:%d %B} at {local:%H:%M} ({schedule.timezone}), "
            f"{ts(occurrence.start, 'R')}"
        )

    async def _ready(self) -> None:
        if self.bot.is_ready():
            return
        try:
            await asyncio.wait_for(self.bot.wait_until_ready(), READY_WAIT_SECONDS)
        except TimeoutError:
            raise RetryLater(timedelta(seconds=30), "not connected to Discord yet") from None

    async def _on_start_timer(self, timer: Timer) -> None:
        schedule = await store.get_schedule(self.bot.db, str(timer.payload["schedule_id"]))
        if schedule is None:
            return  # removed meanwhile: moot
        group = self.bot.state.groups.get(schedule.group_id)
        if group is None:
            return
        await self._ready()
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
        elif self._running(group.id) is not None:
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
                await self.start(
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
        await self._schedule_next(schedule, after=scheduled_start)

    async def _on_end_timer(self, timer: Timer) -> None:
        session_id = str(timer.payload["session_id"])
        if session_id not in self.bot.state.running_sessions:
            return  # ended by hand meanwhile: moot
        group = self.bot.state.groups.get(str(timer.payload["group_id"]))
        if group is None:
            # The group was deleted (its sessions went with it): nothing left to end.
            self.bot.state.running_sessions.pop(session_id, None)
            return
        await self._ready()
        try:
            await self.end(group, actor_id=None, reason="planned end")
        except UserError as exc:
            log.warning("a session could not end on time: %s", exc.message)
            raise RetryLater(timedelta(minutes=1), "end failed") from None

    async def _on_remind_timer(self, timer: Timer) -> None:
        session_id = str(timer.payload["session_id"])
        running = self.bot.state.running_sessions.get(session_id)
        group = self.bot.state.groups.get(str(timer.payload["group_id"]))
        if running is None or group is None:
            return
        await self._ready()
        row = await store.get_session(self.bot.db, session_id)
        if row is None or row.remind_every is None:
            return
        with contextlib.suppress(UserError):
            _, text, voice = self._rooms(group)
            content = await self._ground_rules(group, ReminderKind.PERIODIC)
            try:
                await self._post([text, voice], content)
            except discord.HTTPException:
                log.warning("could not post a periodic ground-rules reminder")
        following = self.bot.clock.now() + row.remind_every
        if row.planned_end is None or following < row.planned_end:
            await self.bot.scheduler.schedule(TIMER_REMIND, following, dict(timer.payload), key=session_id)

    async def _on_review_timer(self, timer: Timer) -> None:
        schedule = await store.get_schedule(self.bot.db, str(timer.payload["schedule_id"]))
        if schedule is None:
            return
        group = self.bot.state.groups.get(schedule.group_id)
        if group is None:
            return
        await self._ready()
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
                    await user.send(review_dm_text(group_name=group.name, starts_at_text=ts(starts, "R")))
                    sent += 1
                except discord.HTTPException:
                    log.debug("could not send a consent review DM to %s", member_id)
            if stale:
                await self.bot.audit.record(
                    group.guild_id,
                    "session.review_dm",
                    actor_id=None,
                    group_id=group.id,
                    details={"schedule_id": schedule.id, "asked": len(stale), "delivered": sent},
                )
        # The next review is stored together with the next start (see _schedule_next).

    # -- automatic reminder when the first person joins ----------------------------------------------

    @commands.Cog.listener()
    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        if member.bot or after.channel is None or before.channel == after.channel:
            return
        group = self.bot.state.group_of_channel(after.channel.id)
        if group is None or group.voice_channel_id != after.channel.id:
            return
        decision = decide_from_state(
            self.bot.state,
            group,
            member_id=member.id,
            is_bot=member.bot,
            role_ids=[r.id for r in member.roles],
            bot_id=self.bot.user.id if self.bot.user else 0,
        )
        if not decision.allowed:
            return  # the consent backstop removes them; no reminder for someone who is not let in
        others = [m for m in after.channel.members if not m.bot and m.id != member.id]
        async with self._lock(group.id):
            now = self.bot.clock.now()
            if not auto_reminder_due(
                last_posted_at=self._auto_marks.get(group.id),
                now=now,
                gap=group.auto_reminder_gap,
                session_running=self._running(group.id) is not None,
                people_already_in_voice=len(others),
            ):
                return
            await store.set_last_auto_reminder(self.bot.db, group.id, now)
            self._auto_marks[group.id] = now
            try:
                _, text, voice = self._rooms(group)
                content = await self._ground_rules(group, ReminderKind.AUTO)
                await self._post([text, voice], content)
            except (UserError, discord.HTTPException):
                log.warning("could not post the automatic ground-rules reminder")
                return
        await self.bot.audit.record(group.guild_id, "session.auto_reminder", actor_id=None, group_id=group.id)

    # -- slash commands ------------------------------------------------------------------------------

    async def group_autocomplete(
        self, interaction: discord.Interaction[HoldspaceBot], current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        needle = current.casefold()
        return [
            app_commands.Choice(name=g.name[:100], value=g.id)
            for g in self.bot.state.groups_of_guild(interaction.guild_id)
            if needle in g.name.casefold()
        ][:25]

    async def zone_autocomplete(
        self, interaction: discord.Interaction[HoldspaceBot], current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=z, value=z) for z in suggest_zones(current)]

    async def schedule_autocomplete(
        self, interaction: discord.Interaction[HoldspaceBot], current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        choices = []
        for row in await store.list_schedules(self.bot.db, guild_id=interaction.guild_id):
            group = self.bot.state.groups.get(row.group_id)
            label = f"{group.name if group else '?'}: {_schedule_of(row).describe()}"
            if current.casefold() in label.casefold():
                choices.append(app_commands.Choice(name=label[:100], value=row.id))
        return choices[:25]

    @session.command(name="start", description="Start a session: open the rooms and post the ground rules")
    @app_commands.describe(
        group="The group (default: the group of this room)",
        duration="How long until holdspace ends it, such as 90m or 2h (default 2h)",
        remind_every="Post the ground rules again this often during the session, such as 30m",
    )
    @app_commands.autocomplete(group=group_autocomplete)
    async def start_command(
        self,
        interaction: discord.Interaction[HoldspaceBot],
        group: str | None = None,
        duration: str | None = None,
        remind_every: str | None = None,
    ) -> None:
        info = self._group(interaction, group)
        self._require_facilitator(interaction, info)
        length = _duration(duration, "duration", minimum=MIN_DURATION, maximum=MAX_DURATION)
        every = _duration(remind_every, "reminder interval", minimum=MIN_REMIND_EVERY, maximum=MAX_DURATION)
        if self._running(info.id) is not None:
            raise UserError(
                f"A session of {info.name} is already running. End it with /session end first if you want "
                "to start again."
            )
        await interaction.response.defer(ephemeral=True, thinking=True)
        planned_end = self.bot.clock.now() + (length or DEFAULT_MANUAL_DURATION)
        report = await self.start(info, actor_id=interaction.user.id, planned_end=planned_end, remind_every=every)
        opened = " The rooms are open to consented members." if report.opened else ""
        await send_ephemeral(
            interaction,
            f"The session of {info.name} has started and the ground rules were posted in both rooms.{opened} "
            f"It ends {ts(planned_end, 't')} ({ts(planned_end, 'R')}), or earlier with /session end.",
        )

    @session.command(name="end", description="End the running session: lock the rooms where configured")
    @app_commands.describe(group="The group (default: the group of this room)")
    @app_commands.autocomplete(group=group_autocomplete)
    async def end_command(self, interaction: discord.Interaction[HoldspaceBot], group: str | None = None) -> None:
        info = self._group(interaction, group)
        self._require_facilitator(interaction, info)
        if self._running(info.id) is None:
            raise UserError(f"No session of {info.name} is running, so there is nothing to end.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        report = await self.end(info, actor_id=interaction.user.id, reason="ended by a facilitator")
        parts = [f"The session of {info.name} has ended."]
        if report.locked:
            parts.append("The rooms are locked until the next session.")
        if report.disconnected:
            parts.append(f"{report.disconnected} people were disconnected from voice.")
        if report.expiry_text:
            parts.append(f"Messages: {report.expiry_text}.")
        await send_ephemeral(interaction, " ".join(parts))

    @session.command(name="status", description="What is running and what comes next, per group")
    @app_commands.describe(group="Only this group")
    @app_commands.autocomplete(group=group_autocomplete)
    async def status_command(self, interaction: discord.Interaction[HoldspaceBot], group: str | None = None) -> None:
        if interaction.guild_id is None:
            raise UserError("This command works inside a server.")
        self._require_facilitator(interaction, None)
        groups = [self._group(interaction, group)] if group else self.bot.state.groups_of_guild(interaction.guild_id)
        if not groups:
            raise UserError("This server has no groups yet; a facilitator creates one with /group create.")
        lines = []
        for info in groups:
            running = self._running(info.id)
            if running is not None:
                end = f", ends {ts(running.ends_at, 't')}" if running.ends_at else ""
                now_text = f"running since {ts(running.started_at, 't')}{end}"
            else:
                now_text = "no session running"
            upcoming = await self.next_session_text(info.id)
            lines.append(f"**{info.name}**: {now_text}; next: {upcoming or 'none scheduled'}")
        await send_ephemeral(interaction, "\n".join(lines)[:1990])

    @schedule_group.command(name="add", description="A weekly session at a local time")
    @app_commands.describe(
        group="The group",
        weekday="The day of the week",
        time="Local start time, HH:MM in 24-hour form, such as 18:00",
        timezone="IANA time zone such as Europe/Berlin (default: the server's)",
        duration="How long a session lasts, such as 90m or 2h",
        remind_every="Post the ground rules again this often during the session, such as 30m",
        dm_before="DM members whose consent is out of date this long before each session, such as 1d",
    )
    @app_commands.choices(weekday=WEEKDAY_CHOICES)
    @app_commands.autocomplete(group=group_autocomplete, timezone=zone_autocomplete)
    async def schedule_add(
        self,
        interaction: discord.Interaction[HoldspaceBot],
        group: str,
        weekday: app_commands.Choice[int],
        time: str,
        duration: str,
        timezone: str | None = None,
        remind_every: str | None = None,
        dm_before: str | None = None,
    ) -> None:
        info = self._group(interaction, group)
        self._require_facilitator(interaction, info)
        zone_name = (timezone or self.bot.state.guild(info.guild_id).timezone or "UTC").strip()
        length = _duration(duration, "duration", minimum=MIN_DURATION, maximum=MAX_DURATION)
        assert length is not None or not duration.strip()
        if length is None:
            raise UserError("Give the session's length, such as 90m or 2h.")
        every = _duration(remind_every, "reminder interval", minimum=MIN_REMIND_EVERY, maximum=MAX_DURATION)
        before = _duration(dm_before, "time before the session", minimum=MIN_REMIND_EVERY, maximum=MAX_DM_BEFORE)
        try:
            zone_name = resolve_zone(zone_name).key
            schedule = WeeklySchedule(weekday.value, parse_local_time(time), zone_name, length)
        except ScheduleError as exc:
            raise UserError(f"{exc}.") from None
        now = self.bot.clock.now()
        existing = await store.list_schedules(self.bot.db, group_id=info.id)
        clash = find_overlap(schedule, [_schedule_of(r) for r in existing], now=now)
        if clash is not None:
            other, when = clash
            raise UserError(
                f"That would overlap the schedule {other.describe()} of {info.name} (first on "
                f"{ts(when.start, 'D')}). Choose another time, or remove that schedule first."
            )
        async with self.bot.db.transaction():
            row = await store.add_schedule(
                self.bot.db,
                guild_id=info.guild_id,
                group_id=info.id,
                weekday=weekday.value,
                local_time=schedule.local_time,
                timezone=zone_name,
                duration=length,
                remind_every=every,
                dm_before=before,
                now=now,
            )
            first = await self._schedule_next(row, after=now)
        await self.bot.audit.record(
            info.guild_id,
            "session.schedule_add",
            actor_id=interaction.user.id,
            group_id=info.id,
            details={
                "schedule_id": row.id,
                "weekday": weekday.value,
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
                    f"On {local} the clocks go forward and {schedule.local_time:%H:%M} does not exist in "
                    f"{zone_name}: that session starts {ts(occurrence.start, 't')} instead (as much later as "
                    "the clocks jump)."
                )
            elif occurrence.resolution is LocalResolution.OVERLAP_FIRST:
                notes.append(
                    f"On {local} the clocks go back and {schedule.local_time:%H:%M} happens twice in "
                    f"{zone_name}: that session starts at the first of the two ({ts(occurrence.start, 't')})."
                )
        message = (
            f"{info.name} now meets {schedule.describe()} for {format_duration(length)}. "
            f"The first session starts {ts(first)} ({ts(first, 'R')})."
        )
        if notes:
            message += "\n" + "\n".join(notes)
        await send_ephemeral(interaction, message)

    @schedule_group.command(name="list", description="The weekly sessions of this server's groups")
    @app_commands.describe(group="Only this group")
    @app_commands.autocomplete(group=group_autocomplete)
    async def schedule_list(self, interaction: discord.Interaction[HoldspaceBot], group: str | None = None) -> None:
        if interaction.guild_id is None:
            raise UserError("This command works inside a server.")
        self._require_facilitator(interaction, None)
        info = self._group(interaction, group) if group else None
        rows = await store.list_schedules(
            self.bot.db, guild_id=interaction.guild_id, group_id=info.id if info else None
        )
        if not rows:
            await send_ephemeral(interaction, "No weekly sessions are scheduled. Add one with /session schedule add.")
            return
        now = self.bot.clock.now()
        lines = []
        for row in rows:
            group_info = self.bot.state.groups.get(row.group_id)
            schedule = _schedule_of(row)
            upcoming = next_occurrence(schedule, now)
            lines.append(
                f"**{group_info.name if group_info else '?'}**: {schedule.describe()}, "
                f"{format_duration(row.duration)}; next {ts(upcoming.start)}"
            )
        await send_ephemeral(interaction, "\n".join(lines)[:1990])

    @schedule_group.command(name="remove", description="Stop a weekly session")
    @app_commands.describe(schedule="The schedule to remove")
    @app_commands.autocomplete(schedule=schedule_autocomplete)
    async def schedule_remove(self, interaction: discord.Interaction[HoldspaceBot], schedule: str) -> None:
        row = await store.get_schedule(self.bot.db, schedule)
        if row is None or row.guild_id != interaction.guild_id:
            raise UserError("That schedule does not exist (any more); pick one from the list.")
        info = self.bot.state.groups.get(row.group_id)
        self._require_facilitator(interaction, info)
        async with self.bot.db.transaction():
            await store.delete_schedule(self.bot.db, row.id)
            await self.bot.scheduler.cancel(TIMER_START, row.id)
            await self.bot.scheduler.cancel(TIMER_REVIEW, row.id)
        await self.bot.audit.record(
            row.guild_id,
            "session.schedule_remove",
            actor_id=interaction.user.id,
            group_id=row.group_id,
            details={"schedule_id": row.id},
        )
        running = " A session running now is not ended by this." if self._running(row.group_id) else ""
        await send_ephemeral(
            interaction,
            f"Removed: {info.name if info else 'the group'} no longer meets {_schedule_of(row).describe()}.{running}",
        )


async def setup(bot: HoldspaceBot) -> None:
    await bot.add_cog(Sessions(bot))
