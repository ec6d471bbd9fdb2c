"""The sessions cog: ``/session start|end|status`` and ``/session schedule add|list|remove``, and voice
joins for the automatic reminder; the work is done by the feature's parts (rooms, reminders,
schedules, lifecycle, timers)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import HoldspaceBot
from bot.background import Background
from bot.core.durations import DurationError, format_duration, parse_duration
from bot.core.records import GroupInfo
from bot.core.schedule import (
    MAX_DURATION,
    MIN_DURATION,
    WEEKDAYS,
    next_occurrence,
    suggest_zones,
)
from bot.i18n import _, ngettext
from bot.storage import sessions as store
from bot.ui.checks import is_group_facilitator, require_facilitator, require_group_facilitator
from bot.ui.group_options import GroupTransformer, group_here
from bot.ui.reminder_views import DYNAMIC_ITEMS as REMINDER_ITEMS
from bot.ui.replies import UserError, send_ephemeral
from cogs.sessions import history
from cogs.sessions.history import HistoryGroup
from cogs.sessions.lifecycle import Lifecycle
from cogs.sessions.reminders import Reminders, ts
from cogs.sessions.report import SessionReports
from cogs.sessions.rooms import SessionRooms
from cogs.sessions.schedules import Schedules, schedule_of
from cogs.sessions.timers import SessionTimers

log = logging.getLogger(__name__)

DEFAULT_MANUAL_DURATION = timedelta(hours=2)
MIN_REMIND_EVERY = timedelta(minutes=5)
MAX_DM_BEFORE = timedelta(days=2)

WEEKDAY_CHOICES = [app_commands.Choice(name=name, value=index) for index, name in enumerate(WEEKDAYS)]


def _duration(text: str | None, what: str, *, minimum: timedelta, maximum: timedelta) -> timedelta | None:
    if text is None or not text.strip():
        return None
    try:
        return parse_duration(text, minimum=minimum, maximum=maximum)
    except DurationError as exc:
        raise UserError(_("That {what} cannot be used: {exc}.").format(what=what, exc=exc)) from None


def require_session_facilitator(interaction: discord.Interaction[HoldspaceBot], group: GroupInfo | None) -> None:
    """Facilitators of the group (its own where it names some, else the facilitator role) and server
    managers; without a group, anyone who facilitates at all. The refusals are the groups' own."""
    if group is None:
        require_facilitator(interaction)
    else:
        require_group_facilitator(interaction, group)


class SessionGroupTransformer(GroupTransformer):
    """The sessions feature's group option: facilitators only, asked before the name is looked up."""

    def check_asker(self, interaction: discord.Interaction[Any]) -> None:
        require_session_facilitator(interaction, None)


SessionGroup = app_commands.Transform[GroupInfo, SessionGroupTransformer]


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
        self.rooms = SessionRooms(bot)
        self.schedules = Schedules(bot)
        self.reminders = Reminders(bot, self.rooms, self.schedules)
        self.report = SessionReports(bot)
        self.lifecycle = Lifecycle(bot, self.rooms, self.reminders, self.schedules, self.report)
        self.timers = SessionTimers(bot, self.rooms, self.reminders, self.schedules, self.lifecycle)
        self._background = Background(log, "counting someone who joined a session failed")

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(*REMINDER_ITEMS)
        await self.reminders.load()
        await self.timers.load()
        self.report.load()
        self.bot.sessions = self.schedules
        self.bot.gateway_hooks.on_voice("sessions.joined", self.voice_changed)

    async def cog_unload(self) -> None:
        self.bot.gateway_hooks.remove("sessions.joined")
        self._background.cancel()
        self.bot.sessions = None
        self.bot.remove_dynamic_items(*REMINDER_ITEMS)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        # Sessions that ran while holdspace was away say so in their report and count who is there.
        await self.report.returned()
        # A start or end that holdspace stopped in the middle of is finished now.
        await self.lifecycle.resume()

    def voice_changed(self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState) -> None:
        """Only a join into a group's voice room can be counted in a report (while a session runs) or bring
        a reminder (someone let in): the other voice changes, such as every leave and the joins the gate
        turns away between sessions, start no task at all (``bot.gateway_hooks``)."""
        if after.channel is None or (before.channel is not None and before.channel.id == after.channel.id):
            return
        group = self.bot.state.group_of_channel(after.channel.id)
        if group is None or group.voice_channel_id != after.channel.id:
            return
        running = any(s.group_id == group.id for s in self.bot.state.running_sessions.values())
        if not running and (
            member.bot
            or self.bot.departures.pending(after.channel.id, member.id)  # turned away already: no decision again
            or not self.bot.enforcement.decision(group, member).allowed
        ):
            return  # no session to count them in, and no ground rules for someone who is not let in
        self._background.spawn(self._joined(member, before, after), "holdspace-session-join")

    async def _joined(self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState) -> None:
        await self.report.joined(member, before, after)
        await self.reminders.first_join(member, before, after)

    @commands.Cog.listener()
    async def on_holdspace_case_recorded(
        self, guild_id: int, kind: str, group_id: str | None, number: int, details: dict[str, Any], at: datetime
    ) -> None:
        await self.report.case_recorded(guild_id, kind, group_id, number, details, at)

    # -- look-ups ----------------------------------------------------------------------------------

    def _require_facilitator(self, interaction: discord.Interaction[HoldspaceBot], group: GroupInfo | None) -> None:
        require_session_facilitator(interaction, group)

    def _group_here(self, interaction: discord.Interaction[HoldspaceBot]) -> GroupInfo:
        """The group an omitted option means; the person's permission is checked first, so nobody
        learns from the answer whether a group exists unless they may run groups."""
        self._require_facilitator(interaction, None)
        return group_here(interaction)

    def _own_groups(self, interaction: discord.Interaction[HoldspaceBot]) -> list[GroupInfo]:
        """The groups the person runs (every group for a server manager): what their reads cover."""
        assert interaction.guild_id is not None
        return [g for g in self.bot.state.groups_of_guild(interaction.guild_id) if is_group_facilitator(interaction, g)]

    async def zone_autocomplete(
        self, interaction: discord.Interaction[HoldspaceBot], current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild is None or not self._own_groups(interaction):
            return []  # autocomplete answers only those who may run the command
        return [app_commands.Choice(name=z, value=z) for z in suggest_zones(current)]

    async def schedule_autocomplete(
        self, interaction: discord.Interaction[HoldspaceBot], current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None or not isinstance(interaction.user, discord.Member):
            return []
        choices = []
        for row in await store.list_schedules(self.bot.db, guild_id=interaction.guild_id):
            group = self.bot.state.groups.get(row.group_id)
            if group is None or not is_group_facilitator(interaction, group):
                continue
            label = f"{group.name if group else '?'}: {schedule_of(row).describe()}"
            if current.casefold() in label.casefold():
                choices.append(app_commands.Choice(name=label[:100], value=row.id))
        return choices[:25]

    @session.command(name="start", description="Start a session: open the rooms and post the ground rules")
    @app_commands.describe(
        group="The group (default: the group of this room)",
        duration="How long until holdspace ends it, such as 90m or 2h (default 2h)",
        remind_every="Post the ground rules again this often during the session, such as 30m",
    )
    async def start_command(
        self,
        interaction: discord.Interaction[HoldspaceBot],
        group: SessionGroup | None = None,
        duration: str | None = None,
        remind_every: str | None = None,
    ) -> None:
        # Discord made this interaction's id when the command was run: the session's start on its clock.
        self.bot.discord_clock.observe(interaction.id)
        info = group or self._group_here(interaction)
        self._require_facilitator(interaction, info)
        length = _duration(duration, "duration", minimum=MIN_DURATION, maximum=MAX_DURATION)
        every = _duration(remind_every, _("reminder interval"), minimum=MIN_REMIND_EVERY, maximum=MAX_DURATION)
        if self.rooms.running(info.id) is not None:
            raise UserError(
                _(
                    "A session of {name} is already running. End it with /session end first if you want to start again."
                ).format(name=info.name)
            )
        await interaction.response.defer(ephemeral=True, thinking=True)
        planned_end = self.bot.clock.now() + (length or DEFAULT_MANUAL_DURATION)
        report = await self.lifecycle.start(
            info, actor_id=interaction.user.id, planned_end=planned_end, remind_every=every
        )
        opened = _(" The rooms are open to consented members.") if report.opened else ""
        await send_ephemeral(
            interaction,
            _(
                "The session of {name} has started and the ground rules were posted in both "
                "rooms.{opened} It ends {planned_end} ({planned_end2}), or earlier with "
                "/session end."
            ).format(
                name=info.name, opened=opened, planned_end=ts(planned_end, "t"), planned_end2=ts(planned_end, "R")
            ),
        )

    @session.command(name="end", description="End the running session: lock the rooms where configured")
    @app_commands.describe(group="The group (default: the group of this room)")
    async def end_command(
        self, interaction: discord.Interaction[HoldspaceBot], group: SessionGroup | None = None
    ) -> None:
        self.bot.discord_clock.observe(interaction.id)  # the end, on Discord's clock
        info = group or self._group_here(interaction)
        self._require_facilitator(interaction, info)
        if self.rooms.running(info.id) is None:
            raise UserError(_("No session of {name} is running, so there is nothing to end.").format(name=info.name))
        await interaction.response.defer(ephemeral=True, thinking=True)
        report = await self.lifecycle.end(info, actor_id=interaction.user.id, reason="ended by a facilitator")
        parts = [_("The session of {name} has ended.").format(name=info.name)]
        if report.locked:
            parts.append(_("The rooms are locked until the next session."))
        if report.disconnected:
            parts.append(
                ngettext(
                    "{count} person was disconnected from voice.",
                    "{count} people were disconnected from voice.",
                    report.disconnected,
                ).format(count=report.disconnected)
            )
        if report.expiry_text:
            parts.append(_("Messages of this session: {what}.").format(what=report.expiry_text.rstrip(".")))
        await send_ephemeral(interaction, " ".join(parts))

    @session.command(name="status", description="What is running and what comes next, per group")
    @app_commands.describe(group="Only this group")
    async def status_command(
        self, interaction: discord.Interaction[HoldspaceBot], group: SessionGroup | None = None
    ) -> None:
        if interaction.guild_id is None:
            raise UserError(_("This command works inside a server."))
        self._require_facilitator(interaction, None)
        if group:
            groups = [group]
            self._require_facilitator(interaction, groups[0])
        else:
            groups = self._own_groups(interaction)
        if not groups:
            raise UserError(_("You facilitate no group on this server yet; /group create makes one."))
        lines = []
        for info in groups:
            running = self.rooms.running(info.id)
            if running is not None:
                end = _(", ends {ends_at}").format(ends_at=ts(running.ends_at, "t")) if running.ends_at else ""
                now_text = _("running since {started_at}{end}").format(started_at=ts(running.started_at, "t"), end=end)
            else:
                now_text = _("no session running")
            upcoming = await self.schedules.next_session_text(info.id)
            lines.append(
                _("**{name}**: {now_text}; next: {value}").format(
                    name=info.name, now_text=now_text, value=upcoming or "none scheduled"
                )
            )
        await send_ephemeral(interaction, "\n".join(lines)[:1990])

    @session.command(name="history", description="The integrity reports of a group's past sessions")
    @app_commands.describe(group="The group", report="Show this report in full (its id from the list)")
    async def history_command(
        self, interaction: discord.Interaction[HoldspaceBot], group: HistoryGroup, report: str | None = None
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await send_ephemeral(interaction, await history.answer(self.bot, interaction, group, report))

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
    @app_commands.autocomplete(timezone=zone_autocomplete)
    async def schedule_add(
        self,
        interaction: discord.Interaction[HoldspaceBot],
        group: SessionGroup,
        weekday: app_commands.Choice[int],
        time: str,
        duration: str,
        timezone: str | None = None,
        remind_every: str | None = None,
        dm_before: str | None = None,
    ) -> None:
        info = group
        self._require_facilitator(interaction, info)
        zone_name = (timezone or self.bot.state.guild(info.guild_id).timezone or "UTC").strip()
        length = _duration(duration, "duration", minimum=MIN_DURATION, maximum=MAX_DURATION)
        assert length is not None or not duration.strip()
        if length is None:
            raise UserError(_("Give the session's length, such as 90m or 2h."))
        every = _duration(remind_every, _("reminder interval"), minimum=MIN_REMIND_EVERY, maximum=MAX_DURATION)
        before = _duration(dm_before, _("time before the session"), minimum=MIN_REMIND_EVERY, maximum=MAX_DM_BEFORE)
        message = await self.schedules.add(
            info,
            weekday=weekday.value,
            local_time=time,
            zone_name=zone_name,
            length=length,
            remind_every=every,
            dm_before=before,
            actor_id=interaction.user.id,
        )
        await send_ephemeral(interaction, message)

    @schedule_group.command(name="list", description="The weekly sessions of this server's groups")
    @app_commands.describe(group="Only this group")
    async def schedule_list(
        self, interaction: discord.Interaction[HoldspaceBot], group: SessionGroup | None = None
    ) -> None:
        if interaction.guild_id is None:
            raise UserError(_("This command works inside a server."))
        self._require_facilitator(interaction, None)
        info = group
        if info is not None:
            self._require_facilitator(interaction, info)
        own = {g.id for g in self._own_groups(interaction)}
        rows = [
            row
            for row in await store.list_schedules(
                self.bot.db, guild_id=interaction.guild_id, group_id=info.id if info else None
            )
            if row.group_id in own
        ]
        if not rows:
            await send_ephemeral(
                interaction, _("No weekly sessions are scheduled. Add one with /session schedule add.")
            )
            return
        now = self.bot.clock.now()
        lines = []
        for row in rows:
            group_info = self.bot.state.groups.get(row.group_id)
            schedule = schedule_of(row)
            upcoming = next_occurrence(schedule, now)
            lines.append(
                _("**{value}**: {describe}, {duration}; next {start}").format(
                    value=group_info.name if group_info else "?",
                    describe=schedule.describe(),
                    duration=format_duration(row.duration),
                    start=ts(upcoming.start),
                )
            )
        await send_ephemeral(interaction, "\n".join(lines)[:1990])

    @schedule_group.command(name="remove", description="Stop a weekly session")
    @app_commands.describe(schedule="The schedule to remove")
    @app_commands.autocomplete(schedule=schedule_autocomplete)
    async def schedule_remove(self, interaction: discord.Interaction[HoldspaceBot], schedule: str) -> None:
        self._require_facilitator(interaction, None)
        row = await store.get_schedule(self.bot.db, schedule[:100])
        info = self.bot.state.groups.get(row.group_id) if row is not None else None
        if (
            row is None
            or row.guild_id != interaction.guild_id
            or info is None
            or not is_group_facilitator(interaction, info)
        ):
            raise UserError(_("That schedule does not exist (any more); pick one of yours from the list."))
        await self.schedules.remove(row, actor_id=interaction.user.id)
        running = _(" A session running now is not ended by this.") if self.rooms.running(row.group_id) else ""
        await send_ephemeral(
            interaction,
            _("Removed: {group} no longer meets {schedule}.{running}").format(
                group=info.name if info else _("the group"), schedule=schedule_of(row).describe(), running=running
            ),
        )
