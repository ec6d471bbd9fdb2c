"""The guard cog: receives gateway events and ``/guard`` commands and hands them to the guard's parts
(voice reaction, room integrity, bot arrivals, the allowlist, the audit checklist)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import HoldspaceBot
from bot.core.drift import RestoreLimiter
from bot.core.guard import parse_action
from bot.core.server_audit import build_checklist, render
from bot.i18n import _
from bot.services.command_access import staff_command_gaps
from bot.ui.checks import server_manager_only
from bot.ui.replies import UserError, send_ephemeral
from cogs.guard.allowlist import Allowlist
from cogs.guard.bots import BotArrivals
from cogs.guard.checklist import audit_facts
from cogs.guard.memory import GuardMemory
from cogs.guard.rooms import RoomIntegrity, Source
from cogs.guard.voice import VoiceReaction

#: How often every group room is checked even without an event (catches groups made meanwhile).
SWEEP_SECONDS = 300.0


class Guard(commands.Cog):
    guard = app_commands.Group(
        name="guard",
        description="Keep recording bots out of group rooms and the rooms closed",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot
        self.memory = GuardMemory(bot)
        self.voice = VoiceReaction(bot, self.memory)
        self.rooms = RoomIntegrity(bot, self.memory)
        self.arrivals = BotArrivals(bot, self.memory, self.voice, self.rooms)
        self.allowlist = Allowlist(bot, self.memory, self.voice, self.rooms)
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def limiter(self) -> RestoreLimiter:
        return self.rooms.limiter

    async def cog_load(self) -> None:
        await self.memory.load()
        self.bot.gateway_hooks.on_voice("guard.voice", self.voice_changed)
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="holdspace-guard-sweep")

    async def cog_unload(self) -> None:
        self.bot.gateway_hooks.remove("guard.voice")
        tasks = [t for t in (self._sweeper, *self.memory.background.cancel()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- gateway events ------------------------------------------------------------------------------

    def voice_changed(self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState) -> None:
        """Read as the event arrives (``bot.gateway_hooks``): a join is decided before anything else runs."""
        if after.channel is None or (before.channel is not None and before.channel.id == after.channel.id):
            return
        self.voice.check(member, "voice_join")

    @commands.Cog.listener()
    async def on_member_update(self, before: discord.Member, after: discord.Member) -> None:
        if (before.nick, before.display_name) != (after.nick, after.display_name):
            self.voice.check(after, "name_change")
        if after.bot and not before.guild_permissions.administrator and after.guild_permissions.administrator:
            await self.arrivals.gained_administrator(after)

    @commands.Cog.listener()
    async def on_user_update(self, before: discord.User, after: discord.User) -> None:
        if (before.global_name, before.name) == (after.global_name, after.name):
            return
        for guild in self.bot.guilds:
            member = guild.get_member(after.id)
            if member is not None and member.voice is not None:
                self.voice.check(member, "name_change")

    @commands.Cog.listener()
    async def on_member_join(self, member: discord.Member) -> None:
        await self.arrivals.joined(member)

    @commands.Cog.listener()
    async def on_guild_channel_update(self, before: discord.abc.GuildChannel, after: discord.abc.GuildChannel) -> None:
        self.rooms.channel_updated(before, after)

    @commands.Cog.listener()
    async def on_guild_channel_create(self, channel: discord.abc.GuildChannel) -> None:
        self.rooms.channel_created(channel)

    @commands.Cog.listener()
    async def on_guild_role_update(self, before: discord.Role, after: discord.Role) -> None:
        await self.arrivals.role_updated(before, after)

    # -- start, resume and the periodic sweep -------------------------------------------------------

    def sweep(self, source: Source, guilds: list[discord.Guild] | None = None) -> None:
        """Check every group room and every group voice room's members (of ``guilds``, default all)."""
        for guild in self.bot.guilds if guilds is None else guilds:
            self.memory.config(guild.id)
            if source in ("start", "resume"):
                for member in self.arrivals.arrived_while_offline(guild):
                    self.memory.spawn(self.arrivals.report_offline_arrival(member))
            for _room, channel in self.memory.group_rooms(guild):
                self.rooms.schedule_check(guild.id, channel.id, source)
            for group in self.bot.state.groups_of_guild(guild.id):
                voice = guild.get_channel(group.voice_channel_id)
                for member in list(getattr(voice, "members", [])):
                    self.voice.check(member, "present_at_" + source)

    @commands.Cog.listener()
    async def on_holdspace_guild_data(self, guild: discord.Guild, source: str) -> None:
        """A server's data just arrived (GUILD_CREATE at start or after the server's outage, RESUMED):
        bots in its group voice rooms are decided now, not after ``on_ready``'s wait; the full sweep
        follows on ready, or at once for a server back from an outage (no ``on_ready`` comes then)."""
        for group in self.bot.state.groups_of_guild(guild.id):
            voice = guild.get_channel(group.voice_channel_id)
            for member in list(getattr(voice, "members", [])):
                if member.bot:
                    self.voice.check(member, "present_at_" + source)
        if source == "return":
            self.sweep("resume", [guild])

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        self.sweep("start")

    @commands.Cog.listener()
    async def on_resumed(self) -> None:
        self.sweep("resume")

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        self.memory.config(guild.id)

    async def _sweep_forever(self) -> None:
        await self.bot.wait_until_ready()
        clock = self.bot.clock
        while True:
            await clock.sleep_until(clock.now() + timedelta(seconds=SWEEP_SECONDS))
            self.sweep("sweep")

    # -- commands ------------------------------------------------------------------------------------

    @guard.command(name="allow", description="Allow a bot into this server's group rooms")
    @app_commands.describe(bot="The bot to allow (it must be a member of this server)")
    @server_manager_only()
    async def allow(self, interaction: discord.Interaction[HoldspaceBot], bot: discord.User) -> None:
        guild = interaction.guild
        assert guild is not None and guild.me is not None
        if bot.id == guild.me.id:
            raise UserError(_("holdspace is always allowed in group rooms; there is nothing to change."))
        if not bot.bot:
            raise UserError(
                _(
                    "That is a person, not a bot. The allowlist is only for bots; people get "
                    "into a group's rooms by consenting to its agreement."
                )
            )
        if guild.get_member(bot.id) is None:
            raise UserError(
                _("That bot is not a member of this server. Add it to the server first, then allow it here.")
            )
        _unused, allowed = self.memory.config(guild.id)
        if bot.id in allowed:
            await send_ephemeral(
                interaction, _("<@{id}> is already allowed into group rooms. Nothing changed.").format(id=bot.id)
            )
            return
        self.allowlist.require_manage_roles(guild)
        await interaction.response.defer(ephemeral=True, thinking=True)
        opened = await self.allowlist.allow(guild, bot.id, interaction.user.id)
        await send_ephemeral(
            interaction,
            _("<@{id}> is now allowed into this server's group rooms ({opened} rooms opened to it).").format(
                id=bot.id, opened=opened
            ),
        )

    @guard.command(name="deny", description="Take a bot off the allowlist and keep it out of group rooms")
    @app_commands.describe(bot="The bot to keep out")
    @server_manager_only()
    async def deny(self, interaction: discord.Interaction[HoldspaceBot], bot: discord.User) -> None:
        guild = interaction.guild
        assert guild is not None and guild.me is not None
        if bot.id == guild.me.id:
            raise UserError(_("holdspace cannot keep itself out: it needs the rooms to look after them."))
        _unused, allowed = self.memory.config(guild.id)
        if not bot.bot and bot.id not in allowed:
            raise UserError(
                _(
                    "That is a person, not a bot. The allowlist is only for bots; to take a "
                    "person out of a group, use the group commands."
                )
            )
        member = guild.get_member(bot.id)
        if bot.id not in allowed and member is None:
            raise UserError(_("That bot is neither on this server's allowlist nor a member of this server."))
        if member is not None:
            self.allowlist.require_manage_roles(guild)
        await interaction.response.defer(ephemeral=True, thinking=True)
        rooms = await self.allowlist.deny(guild, bot.id, member, interaction.user.id)
        await send_ephemeral(
            interaction,
            _("<@{id}> is not allowed into group rooms ({rooms} rooms deny it).").format(id=bot.id, rooms=rooms),
        )

    @guard.command(name="list", description="The bots allowed into group rooms and the server's guard action")
    @server_manager_only()
    async def list_(self, interaction: discord.Interaction[HoldspaceBot]) -> None:
        guild = interaction.guild
        assert guild is not None
        action, allowed = self.memory.config(guild.id)
        bots = ", ".join(f"<@{b}>" for b in sorted(allowed)) or _("none besides holdspace")
        await send_ephemeral(
            interaction,
            _(
                "Bots allowed into group rooms: {bots}.\nAction against any other bot in a "
                "group voice room: **{action}** (after disconnecting it). Change it with "
                "/guard action."
            ).format(bots=bots, action=action),
        )

    @guard.command(name="action", description="What happens to a bot that is not allowed in a group voice room")
    @app_commands.describe(action="disconnect only, or also kick or ban the bot")
    @app_commands.choices(action=[app_commands.Choice(name=a, value=a) for a in ("disconnect", "kick", "ban")])
    @server_manager_only()
    async def action(self, interaction: discord.Interaction[HoldspaceBot], action: str) -> None:
        guild = interaction.guild
        assert guild is not None
        try:
            value = parse_action(action)
        except ValueError as exc:
            raise UserError(f"{exc}.") from None
        note = await self.allowlist.set_action(guild, value, interaction.user.id)
        await send_ephemeral(
            interaction,
            _("A bot that is not allowed in a group voice room is now disconnected and then: {value}.{note}").format(
                value=value, note=note
            ),
        )

    @guard.command(name="audit", description="Check this server's set-up: a pass, warn or fail per line")
    @server_manager_only()
    async def audit(self, interaction: discord.Interaction[HoldspaceBot]) -> None:
        guild = interaction.guild
        assert guild is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        facts = audit_facts(self.bot, self.memory, guild)
        facts = dataclasses.replace(facts, staff_command_gaps=await staff_command_gaps(self.bot, guild))
        for chunk in render(build_checklist(facts)):
            await interaction.followup.send(chunk, ephemeral=True, allowed_mentions=discord.AllowedMentions.none())
