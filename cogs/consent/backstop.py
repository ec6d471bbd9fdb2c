"""The backstop: someone found in a group's voice room without consent is disconnected, sent the
consent prompt and a case is opened (decided from `bot.state` alone)."""

from __future__ import annotations

import logging
from typing import Any

import discord

from bot.app import HoldspaceBot
from bot.core.access import decide_from_state
from bot.core.records import GroupInfo
from bot.services.access import disconnect_from_group, send_prompt

log = logging.getLogger(__name__)


class Backstop:
    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot

    async def voice_joined(self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState) -> None:
        channel = after.channel
        if channel is None or (before.channel is not None and before.channel.id == channel.id):
            return
        group = self.bot.state.group_of_channel(channel.id)
        if group is None or channel.id != group.voice_channel_id or self.bot.user is None:
            return
        decision = decide_from_state(
            self.bot.state,
            group,
            member_id=member.id,
            is_bot=member.bot,
            role_ids=[r.id for r in member.roles],
            bot_id=self.bot.user.id,
        )
        if decision.act:
            await self.enforce(member, group, trigger="join")

    async def enforce(self, member: discord.Member, group: GroupInfo, *, trigger: str, open_case: bool = True) -> None:
        """Disconnect someone without consent from the group's voice room, prompt them, open a case."""
        disconnected = False
        error: str | None = None
        try:
            disconnected = await disconnect_from_group(self.bot, group, member.id, reason="no consent")
        except discord.Forbidden:
            error = "holdspace lacks the Move Members permission in the voice room"
        except discord.HTTPException as exc:
            error = f"Discord refused the disconnect ({exc.status})"
        dm_sent = await send_prompt(self.bot, member, group, why="unconsented")
        details: dict[str, Any] = {"trigger": trigger, "disconnected": disconnected, "dm_sent": dm_sent}
        if not dm_sent:
            details["note"] = "the consent prompt could not be sent: the member's direct messages are closed"
        if error:
            details["error"] = error
        await self.bot.audit.record(
            group.guild_id, "unconsented_join", group_id=group.id, subject_id=member.id, details=details
        )
        if open_case:
            try:
                await self.bot.cases.open(
                    group.guild_id,
                    "unconsented_join",
                    group_id=group.id,
                    subject_id=member.id,
                    details=details,
                    dedupe_key=f"unconsented_join:{group.id}:{member.id}",
                )
            except Exception:
                log.exception("could not open a case for an unconsented join in group %s", group.id)
