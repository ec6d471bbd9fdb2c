"""Keeping the rooms of every group as they must be: a reconcile on ready, resume and set-up changes
(then consents that went stale are withdrawn), and member overwrites that open a group room to
someone without consent are removed at once."""

from __future__ import annotations

import logging

import discord

from bot.app import HoldspaceBot

log = logging.getLogger(__name__)


class Reconciler:
    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot

    async def strip_unconsented(self, before: discord.abc.GuildChannel, after: discord.abc.GuildChannel) -> None:
        """A member overwrite that opens a group room to someone it should not is removed at once and
        reported as permission drift (``bot.enforcement``).

        Role overwrites, @everyone and bots are the guard feature's business (permission drift);
        the overwrites the rooms should carry (consenting members, named facilitators) stay.
        """
        group = self.bot.state.group_of_channel(after.id)
        if group is None or self.bot.user is None:
            return
        await self.bot.enforcement.revert_stray_access(group, after, when="just now")
