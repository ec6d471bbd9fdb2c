"""Keeping the rooms of every group as they must be: a reconcile on ready, resume and set-up changes
(then consents that went stale are withdrawn), and member overwrites that open a group room to
someone without consent are removed at once."""

from __future__ import annotations

import logging

import discord

from bot.app import HoldspaceBot
from bot.core import overwrites as ow
from bot.services.access import (
    current_overwrites,
    desired_room_overwrites,
    put_overwrite,
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
        """A member overwrite that opens a group room to someone it should not is removed at once.

        Role overwrites, @everyone and bots are the guard feature's business (permission drift);
        the overwrites the rooms should carry (consenting members, named facilitators) stay.
        """
        group = self.bot.state.group_of_channel(after.id)
        if group is None or self.bot.user is None:
            return
        state = self.bot.state
        wanted = desired_room_overwrites(self.bot, group, after.guild).get(after.id, {})
        for target, have in current_overwrites(after).items():
            if target.kind != ow.MEMBER or not ow.grants_access(have) or target.id == self.bot.user.id:
                continue
            if target in wanted or (group.id, target.id) in state.pending_grants:
                continue
            member = after.guild.get_member(target.id)
            if member is not None and member.bot:
                continue
            new = None if have.deny == 0 else ow.Want(0, have.deny)
            try:
                await put_overwrite(self.bot, after.id, target, new, "holdspace: access without consent")
            except discord.HTTPException as exc:
                log.warning("group %s: could not remove an overwrite without consent (%s)", group.id, exc.status)
                continue
            await self.bot.audit.record(
                group.guild_id,
                "access_without_consent_removed",
                group_id=group.id,
                subject_id=target.id,
                details={"channel_id": after.id},
            )
