"""Reaction: a bot that is not allowed, or someone whose name shows a recording marker, in a group voice
room is disconnected, then the server's action is taken against a bot (a person is never kicked).

The decision reads ``bot.state`` and the guard's memory only: no database or network read stands
between the event and the disconnect request. Audit entry, case and a line in the group's text room
are written after the reaction.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import discord

from bot.app import HoldspaceBot
from bot.core.access import decide_from_state as decide_access
from bot.core.guard import MarkerMatcher, MemberFacts, Verdict, decide
from bot.core.records import GroupInfo
from bot.i18n import _, using
from bot.services.departures import Outcome, Removal
from bot.ui.locale import group_language
from cogs.guard.memory import GuardMemory

log = logging.getLogger(__name__)


def _facts(member: discord.Member) -> MemberFacts:
    """The member as the guard's pure decision sees it (names stay in memory only)."""
    return MemberFacts(member.id, member.bot, member.nick, member.display_name)


class VoiceReaction:
    def __init__(self, bot: HoldspaceBot, memory: GuardMemory) -> None:
        self.bot = bot
        self.memory = memory
        self.markers = MarkerMatcher(bot.settings.guard.recording_markers)

    def _voice_group(self, channel: discord.abc.Connectable | None) -> GroupInfo | None:
        if channel is None:
            return None
        group = self.bot.state.group_of_channel(getattr(channel, "id", 0))
        if group is None or group.voice_channel_id != getattr(channel, "id", 0):
            return None
        return group

    def _verdict(self, member: discord.Member) -> Verdict | None:
        action, allowed = self.memory.config(member.guild.id)
        me = member.guild.me
        return decide(
            _facts(member),
            own_id=me.id if me is not None else self.bot.user.id if self.bot.user else 0,
            allowed_bot_ids=allowed,
            bot_action=action,
            markers=self.markers,
        )

    def check(self, member: discord.Member, trigger: str) -> None:
        """Decide from memory; a verdict becomes a departure (``bot.departures``): the disconnect is the
        first request and is retried until the member is out, then the bot is kicked or banned; the
        records follow."""
        voice = member.voice
        group = self._voice_group(voice.channel if voice else None)
        if group is None:
            return
        verdict = self._verdict(member)
        if verdict is None:
            return
        if not verdict.is_bot and trigger == "voice_join" and self._consent_acts(member, group):
            return  # the consent backstop disconnects this person already (no right to stay): once is enough
        removal: Removal | None = None
        if verdict.removes and verdict.is_bot and verdict.action in ("kick", "ban"):
            removal = "ban" if verdict.action == "ban" else "kick"
        guild_id, member_id = member.guild.id, member.id
        self.bot.departures.must_leave(
            guild_id,
            group.voice_channel_id,
            member_id,
            reason=f"holdspace guard: {verdict.reason}",
            may_stay=functools.partial(self._may_stay, guild_id, member_id),
            follow_up=functools.partial(self._record, guild_id, member_id, group, verdict, trigger),
            removal=removal,
            removal_check=functools.partial(self._cannot_remove, guild_id, member_id, verdict),
        )

    def _may_stay(self, guild_id: int, member_id: int) -> bool:
        """Decided afresh before every try: allowed meanwhile, or no longer showing a marker."""
        guild = self.bot.get_guild(guild_id)
        member = guild.get_member(member_id) if guild is not None else None
        return member is None or self._verdict(member) is None

    def _consent_acts(self, member: discord.Member, group: GroupInfo) -> bool:
        own = member.guild.me
        return decide_access(
            self.bot.state,
            group,
            member_id=member.id,
            is_bot=member.bot,
            role_ids=[r.id for r in member.roles],
            bot_id=own.id if own is not None else 0,
        ).act

    def _cannot_remove(self, guild_id: int, member_id: int, verdict: Verdict) -> str | None:
        """What keeps holdspace from kicking or banning the bot, as its cache shows (None: nothing)."""
        guild = self.bot.get_guild(guild_id)
        member = guild.get_member(member_id) if guild is not None else None
        me = guild.me if guild is not None else None
        if guild is None or member is None or me is None:
            return None
        allowed = me.guild_permissions.ban_members if verdict.action == "ban" else me.guild_permissions.kick_members
        if not allowed:
            needed = "Ban Members" if verdict.action == "ban" else "Kick Members"
            return f"holdspace lacks {needed}, so it could not {verdict.action} the bot"
        if guild.owner_id != me.id and member.top_role >= me.top_role:
            return f"the bot's role sits at or above holdspace's, so holdspace could not {verdict.action} it"
        return None

    async def _record(
        self, guild_id: int, member_id: int, group: GroupInfo, verdict: Verdict, trigger: str, outcome: Outcome
    ) -> None:
        """Audit entry, case and (during a session) one line in the group's text room; a disconnect that
        held only after the case was opened adds an audit entry."""
        if outcome.moot and outcome.tries == 0:
            return
        outbox = self.bot.outbox
        done: str | None = None
        if outcome.removal_done and verdict.action in ("kick", "ban"):
            done = verdict.action
        elif outcome.held:
            done = "disconnect"
        log.info("guard: %s in a group voice room (%s); done: %s", verdict.case_kind, trigger, done or "nothing")
        details: dict[str, Any] = {
            "reason": verdict.reason,
            "trigger": trigger,
            "bot": verdict.is_bot,
            "action": verdict.action,
            "done": done or "nothing",
            "voice_channel_id": group.voice_channel_id,
            **outcome.details(),
        }
        guild = self.bot.get_guild(guild_id)
        member = guild.get_member(member_id) if guild is not None else None
        if verdict.is_bot and member is not None and member.guild_permissions.administrator:
            details["administrator"] = True
        if outcome.final and outcome.reported_early:
            await outbox.audit(
                guild_id,
                "guard.disconnect_held" if outcome.held else "guard.disconnect_ended",
                group_id=group.id,
                subject_id=member_id,
                details=details,
            )
        else:
            await outbox.audit(
                guild_id, f"guard.{verdict.case_kind}", group_id=group.id, subject_id=member_id, details=details
            )
            await self.bot.departures.quiet()  # a new burst's disconnects go before the rest of this record
            await outbox.case(
                guild_id,
                verdict.case_kind,
                group_id=group.id,
                subject_id=member_id,
                details=details,
                dedupe_key=f"{verdict.case_kind}:{group.id}:{member_id}",
            )
        if guild is not None and outcome.held and outcome.final and self.bot.state.session_running(group.id):
            await self._tell_room(guild, group, verdict)

    async def _tell_room(self, guild: discord.Guild, group: GroupInfo, verdict: Verdict) -> None:
        channel = guild.get_channel(group.text_channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            return
        with using(group_language(self.bot.state, group)):  # a room post: the group's language
            if verdict.is_bot:
                text = _("🛡️ A bot that is not allowed in this group was removed from the voice room.")
            else:
                text = _("🛡️ Someone whose name showed a recording marker was disconnected from the voice room.")
        try:
            await channel.send(text, allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException:
            log.warning("could not tell a group's text room that the guard acted")
