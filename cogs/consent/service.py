"""The consent feature as the rest of holdspace sees it (``bot.consent``): the buttons' flow, the
backstop and consent over time, built from the feature's parts."""

from __future__ import annotations

import discord

from bot.app import HoldspaceBot
from bot.core.records import GroupInfo
from cogs.consent.answers import Answers
from cogs.consent.backstop import Backstop
from cogs.consent.over_time import OverTime


class ConsentService:
    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot
        self.over_time = OverTime(bot)
        self.answers = Answers(bot, self.over_time)
        self.backstop = Backstop(bot)

    async def lobby_pressed(self, interaction: discord.Interaction[HoldspaceBot]) -> None:
        await self.answers.lobby_pressed(interaction)

    async def group_picked(self, interaction: discord.Interaction[HoldspaceBot], group_id: str, tag: str) -> None:
        await self.answers.group_picked(interaction, group_id, tag)

    async def review_pressed(self, interaction: discord.Interaction[HoldspaceBot], group_id: str, tag: str) -> None:
        await self.answers.review_pressed(interaction, group_id, tag)

    async def answer_pressed(
        self,
        interaction: discord.Interaction[HoldspaceBot],
        *,
        agree: bool,
        group_id: str,
        version: int,
        sha_prefix: str,
        tag: str,
    ) -> None:
        await self.answers.answer_pressed(
            interaction, agree=agree, group_id=group_id, version=version, sha_prefix=sha_prefix, tag=tag
        )

    async def enforce(self, member: discord.Member, group: GroupInfo, *, trigger: str, open_case: bool = True) -> None:
        await self.backstop.enforce(member, group, trigger=trigger, open_case=open_case)

    async def revalidate_group(self, group_id: str) -> bool:
        return await self.over_time.revalidate_group(group_id)

    async def reschedule_expiry(self, group: GroupInfo) -> None:
        await self.over_time.reschedule_expiry(group)

    async def end_consent(
        self,
        group: GroupInfo,
        member_id: int,
        *,
        answer: str,
        method: str,
        reason: str,
        audit_action: str | None = "consent_withdrawn",
        removal: bool = False,
    ) -> tuple[bool, bool]:
        """The one withdrawal path, for features that end a consent without an interaction (leaving the
        server, erasure): see :meth:`Answers.end`."""
        return await self.answers.end(
            group, member_id, answer=answer, method=method, reason=reason, audit_action=audit_action, removal=removal
        )
