"""Keeping the rooms of every group as they must be: a reconcile on ready, resume and set-up changes
(then consents that went stale are withdrawn), and member overwrites that open a group room to
someone without consent are removed at once."""

from __future__ import annotations

import logging

import discord

from bot.app import HoldspaceBot
from bot.services.access import (
    reconcile_group,
)

log = logging.getLogger(__name__)


class Reconciler:
    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot

    async def reconcile_all(self, why: str) -> None:
        for group in list(self.bot.state.groups.values()):
            if self.bot.get_guild(group.guild_id) is None:
                continue
            try:
                report = await reconcile_group(self.bot, group)
            except Exception:
                log.exception("reconcile of group %s failed", group.id)
                continue
            if report.changed or report.disconnected or report.missing_rooms:
                log.info(
                    "reconcile (%s) of group %s: %d overwrites fixed, %d disconnected, %d rooms missing",
                    why,
                    group.id,
                    report.changed,
                    report.disconnected,
                    report.missing_rooms,
                )
                await self.bot.audit.record(
                    group.guild_id,
                    "rooms_reconciled",
                    group_id=group.id,
                    details={
                        "why": why,
                        "overwrites_fixed": report.changed,
                        "disconnected": report.disconnected,
                        "rooms_missing": report.missing_rooms,
                    },
                )
        consent = self.bot.get_cog("Consent")
        if consent is not None:
            for group in list(self.bot.state.groups.values()):
                if self.bot.get_guild(group.guild_id) is not None:
                    try:
                        await consent.revalidate_group(group.id)  # type: ignore[attr-defined]
                    except Exception:
                        log.exception("revalidating the consents of group %s failed", group.id)

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
