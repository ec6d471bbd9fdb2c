"""The allowlist and the server's action: ``/guard allow|deny|action`` change the database first, then
the group rooms (allowed bots get a member-level allow on every group room; every other bot a
member-level deny of View Channel and Connect, which beats any role allow)."""

from __future__ import annotations

import asyncio

import discord

from bot.app import HoldspaceBot
from bot.core import overwrites as ow
from bot.core.guard import BOT_DENY
from bot.i18n import _
from bot.storage import guard as guard_store
from bot.ui.replies import MissingBotPermission
from cogs.guard.memory import GuardMemory
from cogs.guard.rooms import ALLOWED_BOT_ALLOW, RoomIntegrity
from cogs.guard.voice import VoiceReaction


class Allowlist:
    def __init__(self, bot: HoldspaceBot, memory: GuardMemory, voice: VoiceReaction, rooms: RoomIntegrity) -> None:
        self.bot = bot
        self.memory = memory
        self.voice = voice
        self.rooms = rooms

    def require_manage_roles(self, guild: discord.Guild) -> None:
        me = guild.me
        lacking = [
            channel.id
            for _unused, channel in self.memory.group_rooms(guild)
            if me is None or not channel.permissions_for(me).manage_roles
        ]
        if lacking:
            rooms = ", ".join(f"<#{c}>" for c in lacking)
            raise MissingBotPermission(
                _(
                    "holdspace lacks Manage Roles (Manage Permissions) in {rooms}. Grant it to "
                    "holdspace's role there, then try again. Nothing was changed."
                ).format(rooms=rooms)
            )

    async def _set_everywhere(self, guild: discord.Guild, bot_id: int, want: ow.Want) -> list[bool]:
        target = ow.Target(ow.MEMBER, bot_id)
        return list(
            await asyncio.gather(
                *(
                    self.rooms.set_exact(guild, channel, target, want)
                    for _unused, channel in self.memory.group_rooms(guild)
                )
            )
        )

    async def allow(self, guild: discord.Guild, bot_id: int, actor_id: int) -> int:
        """Put the bot on the list and open every group room to it; returns the rooms opened. Undone
        (off the list again, denies back) when Discord refuses a room."""
        _unused, allowed = self.memory.config(guild.id)
        async with self.bot.db.transaction():
            await guard_store.allow_bot(self.bot.db, self.bot.ring, guild.id, bot_id, self.bot.clock.now())
            await self.bot.audit.record(guild.id, "guard.bot_allowed", actor_id=actor_id, subject_id=bot_id)
        allowed.add(bot_id)
        results = await self._set_everywhere(guild, bot_id, ow.Want(allow=ALLOWED_BOT_ALLOW))
        if not all(results):
            # Undo, so nothing is left half-done: off the list again, denies back in place.
            async with self.bot.db.transaction():
                await guard_store.deny_bot(self.bot.db, self.bot.ring, guild.id, bot_id)
                await self.bot.audit.record(guild.id, "guard.bot_allow_undone", actor_id=actor_id, subject_id=bot_id)
            allowed.discard(bot_id)
            await self._set_everywhere(guild, bot_id, ow.Want(deny=BOT_DENY))
            raise MissingBotPermission(
                _(
                    "Discord refused to open a group room to that bot, so holdspace left it "
                    "out. Run /guard audit to see which permission holdspace lacks."
                )
            )
        return len(results)

    async def deny(self, guild: discord.Guild, bot_id: int, member: discord.Member | None, actor_id: int) -> int:
        """Take the bot off the list and deny it every group room; returns the rooms that deny it."""
        _unused, allowed = self.memory.config(guild.id)
        if bot_id in allowed:
            async with self.bot.db.transaction():
                await guard_store.deny_bot(self.bot.db, self.bot.ring, guild.id, bot_id)
                await self.bot.audit.record(guild.id, "guard.bot_denied", actor_id=actor_id, subject_id=bot_id)
            allowed.discard(bot_id)
        if member is None:
            return 0
        results = await self._set_everywhere(guild, bot_id, ow.Want(deny=BOT_DENY))
        if member.voice is not None:
            self.voice.check(member, "denied")
        if not all(results):
            raise MissingBotPermission(
                _(
                    "<@{bot_id}> is off the allowlist, but Discord refused some of its denies. "
                    "Run /guard audit to see which permission holdspace lacks; holdspace still "
                    "disconnects it from group voice rooms."
                ).format(bot_id=bot_id)
            )
        return sum(results)

    async def set_action(self, guild: discord.Guild, value: str, actor_id: int) -> str:
        """Store the server's action; returns a note when holdspace lacks the permission it needs."""
        async with self.bot.db.transaction():
            await guard_store.set_action(self.bot.db, guild.id, value, self.bot.clock.now())
            await self.bot.audit.record(guild.id, "guard.action_set", actor_id=actor_id, details={"action": value})
        self.memory.actions[guild.id] = value
        self.memory.config(guild.id)
        me = guild.me
        if me is not None and value == "kick" and not me.guild_permissions.kick_members:
            return _(" holdspace lacks Kick Members: grant it, or it can only disconnect.")
        if me is not None and value == "ban" and not me.guild_permissions.ban_members:
            return _(" holdspace lacks Ban Members: grant it, or it can only disconnect.")
        return ""
