"""Re-deciding who may stay in group voice rooms on every change that matters.

- Role changes (GUILD_MEMBER_UPDATE): a facilitator who loses the role while in the voice room, or
  anyone whose exemption depended on a role, is decided again.
- Voice events end a disconnect's back-off early and let a later join count as new.

The decisions and the requests live in ``bot.enforcement`` and ``bot.departures``.
"""

from __future__ import annotations

import logging

import discord
from discord.ext import commands

from bot.app import HoldspaceBot

log = logging.getLogger(__name__)


class Enforcement(commands.Cog):
    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot

    @commands.Cog.listener()
    async def on_member_update(self, before: discord.Member, after: discord.Member) -> None:
        if before.roles != after.roles:
            self.bot.enforcement.roles_changed(after)

    @commands.Cog.listener()
    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        if before.channel is not None and (after.channel is None or after.channel.id != before.channel.id):
            self.bot.departures.noticed_leave(before.channel.id, member.id)


async def setup(bot: HoldspaceBot) -> None:
    await bot.add_cog(Enforcement(bot))
