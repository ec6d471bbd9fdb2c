"""Bots arriving: a bot joining the server gets its denies on every group room at once, then a
``bot_added`` case names who added it when the audit log tells (the id, stored encrypted inside the
case; never a name). A role or a bot gaining Administrator opens a case too: overwrites cannot keep
its holders out.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord

from bot.app import HoldspaceBot
from bot.core import overwrites as ow
from bot.core.drift import role_change_warnings
from bot.core.guard import BOT_DENY, CASE_BOT_ADDED, CASE_PERMISSION_DRIFT
from bot.i18n import N_
from bot.services.access import current_overwrites
from cogs.guard.memory import GuardMemory
from cogs.guard.rooms import ALLOWED_BOT_ALLOW, WHILE_OFFLINE, RoomIntegrity
from cogs.guard.voice import VoiceReaction

log = logging.getLogger(__name__)

# Case details are English records, translated where a moderator reads them (bot/core/case_details.py).
UNKNOWN_ADDER = N_("unknown (holdspace cannot read the audit log, or it does not say)")
ADMINISTRATOR_WARNING = N_(
    "the bot holds Administrator: permissions cannot keep it out; remove it or take Administrator"
)


class BotArrivals:
    def __init__(self, bot: HoldspaceBot, memory: GuardMemory, voice: VoiceReaction, rooms: RoomIntegrity) -> None:
        self.bot = bot
        self.memory = memory
        self.voice = voice
        self.rooms = rooms

    async def joined(self, member: discord.Member) -> None:
        if not member.bot or member == member.guild.me:
            return
        guild = member.guild
        _, allowed = self.memory.config(guild.id)
        is_allowed = member.id in allowed
        want = ow.Want(allow=ALLOWED_BOT_ALLOW) if is_allowed else ow.Want(deny=BOT_DENY)
        target = ow.Target(ow.MEMBER, member.id)
        results = await asyncio.gather(
            *(self.rooms.ensure(guild, channel, {target: want}) for _, channel in self.memory.group_rooms(guild))
        )
        placed = sum(1 for ok, _ in results if ok)
        failed = [problem for ok, problem in results if not ok and problem]
        if member.voice is not None:
            self.voice.check(member, "voice_join")
        adder = await self._adder_of(guild, member)
        details: dict[str, Any] = {
            "bot_id": member.id,
            "allowed": is_allowed,
            "rooms_changed": placed,
            "administrator": member.guild_permissions.administrator,
        }
        if adder is not None:
            details["added_by"] = adder
        else:
            details["added_by"] = UNKNOWN_ADDER
        if failed:
            details["problems"] = sorted(set(failed))
        if member.guild_permissions.administrator and not is_allowed:
            details["warning"] = ADMINISTRATOR_WARNING
        await self.memory.audit(guild.id, "guard.bot_joined", subject_id=member.id, details=details)
        if not is_allowed:
            await self.memory.case(
                guild.id, CASE_BOT_ADDED, subject_id=member.id, details=details, dedupe_key=f"bot_added:{member.id}"
            )

    def arrived_while_offline(self, guild: discord.Guild) -> list[discord.Member]:
        """Bots that are not allowed and carry no overwrite on any group room: they joined while
        holdspace was offline (a bot it saw arrive got its denies at once). Read from the cache, before
        the rooms are restored."""
        rooms = [channel for _, channel in self.memory.group_rooms(guild)]
        if not rooms:
            return []
        _, allowed = self.memory.config(guild.id)
        me = guild.me
        # Every target named in any group room's overwrites, read once per room (a server may hold
        # thousands of bots; this runs on the event loop).
        known = {target.id for channel in rooms for target in current_overwrites(channel)}
        return [
            member
            for member in guild.members
            if member.bot and member != me and member.id not in allowed and member.id not in known
        ]

    async def report_offline_arrival(self, member: discord.Member) -> None:
        """A ``bot_added`` case for a bot that joined while holdspace was offline (its denies are put in
        place by the rooms' restore)."""
        guild = member.guild
        adder = await self._adder_of(guild, member)
        details: dict[str, Any] = {
            "bot_id": member.id,
            "allowed": False,
            "when": WHILE_OFFLINE,
            "administrator": member.guild_permissions.administrator,
            "added_by": UNKNOWN_ADDER if adder is None else adder,
        }
        if member.guild_permissions.administrator:
            details["warning"] = ADMINISTRATOR_WARNING
        await self.bot.outbox.audit(guild.id, "guard.bot_joined", subject_id=member.id, details=details)
        await self.bot.outbox.case(
            guild.id, CASE_BOT_ADDED, subject_id=member.id, details=details, dedupe_key=f"bot_added:{member.id}"
        )

    async def _adder_of(self, guild: discord.Guild, member: discord.Member) -> int | None:
        me = guild.me
        if me is None or not me.guild_permissions.view_audit_log:
            return None
        try:
            async for entry in guild.audit_logs(limit=10, action=discord.AuditLogAction.bot_add):
                if entry.target is not None and entry.target.id == member.id and entry.user is not None:
                    return entry.user.id
        except discord.HTTPException:
            log.warning("could not read the audit log to learn who added a bot")
        return None

    async def gained_administrator(self, member: discord.Member) -> None:
        _, allowed = self.memory.config(member.guild.id)
        if member.id in allowed or member == member.guild.me or not self.bot.state.groups_of_guild(member.guild.id):
            return
        details = {
            "change": N_(
                "a bot that is not allowed was given Administrator: permissions cannot keep it out of "
                "group rooms; remove the bot or take Administrator from it"
            ),
            "bot_id": member.id,
        }
        await self.memory.audit(member.guild.id, "guard.bot_administrator", subject_id=member.id, details=details)
        await self.memory.case(
            member.guild.id,
            CASE_PERMISSION_DRIFT,
            subject_id=member.id,
            details=details,
            dedupe_key=f"bot_administrator:{member.id}",
        )
        self.voice.check(member, "administrator_gained")

    async def role_updated(self, before: discord.Role, after: discord.Role) -> None:
        warnings = role_change_warnings(before.permissions.value, after.permissions.value)
        guild = after.guild
        if not warnings or not self.bot.state.groups_of_guild(guild.id):
            return
        _, allowed = self.memory.config(guild.id)
        me = guild.me
        holders = [m for m in after.members if m != me]
        blocked_bots = [m for m in holders if m.bot and m.id not in allowed]
        details: dict[str, Any] = {
            "role_id": after.id,
            "changes": warnings,
            "people_holding": sum(1 for m in holders if not m.bot),
            "bots_not_allowed_holding": [m.id for m in blocked_bots],
        }
        if blocked_bots:
            details["warning"] = N_("bots that are not allowed hold this role: remove them or take the role from them")
        await self.memory.audit(guild.id, "guard.role_administrator", details=details)
        await self.memory.case(
            guild.id, CASE_PERMISSION_DRIFT, details=details, dedupe_key=f"role_administrator:{after.id}"
        )
        for bot_member in blocked_bots:
            self.voice.check(bot_member, "administrator_gained")
