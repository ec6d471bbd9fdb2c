"""The backstop: someone found in a group's voice room without a right to stay is disconnected, sent
the consent prompt and a case is opened. The decision (``bot.core.access``, from ``bot.state`` alone),
the retried disconnect and the records are ``bot.enforcement``'s; this is where the consent feature's
events reach it."""

from __future__ import annotations

import discord

from bot.app import HoldspaceBot
from bot.core.records import GroupInfo


class Backstop:
    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot

    def voice_joined(self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState) -> None:
        channel = after.channel
        if channel is None or (before.channel is not None and before.channel.id == channel.id):
            return
        group = self.bot.state.group_of_channel(channel.id)
        if group is None or channel.id != group.voice_channel_id:
            return
        self.bot.enforcement.check(member, group, trigger="join")

    async def enforce(self, member: discord.Member, group: GroupInfo, *, trigger: str, open_case: bool = True) -> None:
        """Disconnect ``member`` if they may not stay; prompt, audit entry and case follow the disconnect."""
        self.bot.enforcement.check(member, group, trigger=trigger, open_case=open_case)
