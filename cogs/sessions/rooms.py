"""A group's rooms as sessions see them: the per-group session lock, the running session, the rooms
themselves, the permissions holdspace needs there, opening and locking them, and disconnecting the
people a locked room no longer admits."""

from __future__ import annotations

import asyncio
import logging

import discord

from bot.app import HoldspaceBot
from bot.core import overwrites as ow
from bot.core.records import GroupInfo, RunningSession
from bot.i18n import _
from bot.services.rooms import current_overwrites, put_overwrite
from bot.ui.replies import MissingBotPermission, UserError

log = logging.getLogger(__name__)


class SessionRooms:
    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot
        self._locks: dict[str, asyncio.Lock] = {}

    def lock(self, group_id: str) -> asyncio.Lock:
        """One lock per group: start, end and the automatic reminder take turns."""
        return self._locks.setdefault(group_id, asyncio.Lock())

    def running(self, group_id: str) -> RunningSession | None:
        for running in self.bot.state.running_sessions.values():
            if running.group_id == group_id:
                return running
        return None

    def find(
        self, group: GroupInfo
    ) -> tuple[discord.Guild, discord.TextChannel, discord.VoiceChannel | discord.StageChannel]:
        guild = self.bot.get_guild(group.guild_id)
        if guild is None:
            raise UserError(_("holdspace cannot see this server right now; please try again in a minute."))
        text = guild.get_channel(group.text_channel_id)
        voice = guild.get_channel(group.voice_channel_id)
        if not isinstance(text, discord.TextChannel) or not isinstance(
            voice, discord.VoiceChannel | discord.StageChannel
        ):
            raise UserError(
                _(
                    "The rooms of {name} are missing or changed type; a facilitator can repair "
                    "them with /group settings or create them again."
                ).format(name=group.name)
            )
        return guild, text, voice

    def check_bot_permissions(self, group: GroupInfo, channels: list[discord.abc.GuildChannel]) -> None:
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
                    _(
                        "holdspace lacks {missing} in {mention}. Grant it to holdspace in that "
                        "room's permissions, then try again; nothing was changed."
                    ).format(missing=", ".join(missing), mention=channel.mention)
                )

    async def apply_access(self, group: GroupInfo, guild: discord.Guild, *, running: bool) -> int:
        """Bring both rooms' overwrites to what a (not) running session needs; returns the changes."""
        me = guild.me
        desired = self.bot.access.desired_room_overwrites(group, guild, session_running=running)
        keep_members = [m.id for m in guild.members if m.bot and m.id != me.id]  # bots: the guard's business
        keep_roles = [r.id for r in guild.roles if r.managed]
        changed = 0
        for channel_id, wants in desired.items():
            channel = guild.get_channel(channel_id)
            if channel is None:
                continue
            for change in ow.diff(
                current_overwrites(channel), wants, keep_member_ids=keep_members, keep_role_ids=keep_roles
            ):
                reason = "holdspace: session started" if running else "holdspace: session ended"
                try:
                    await put_overwrite(self.bot, channel_id, change.target, change.want, reason)
                except discord.NotFound:
                    continue  # a member who left the server, or an overwrite already gone
                changed += 1
        return changed

    async def disconnect_after_lock(self, group: GroupInfo, voice: discord.VoiceChannel | discord.StageChannel) -> int:
        """Disconnect the people a locked room no longer admits (overwrites remove nobody): the one
        may-stay rule decides (facilitators stay), ``bot.departures`` retries until they are out.
        Returns how many were out after the first try."""
        departures = self.bot.departures
        leaving = [m.id for m in list(voice.members) if self.bot.enforcement.check(m, group, trigger="session_locked")]
        held = await asyncio.gather(*(departures.first_try(voice.id, member_id) for member_id in leaving))
        return sum(held)
