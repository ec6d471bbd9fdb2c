"""Reaction: a bot that is not allowed, or someone whose name shows a recording marker, in a group voice
room is disconnected, then the server's action is taken against a bot (a person is never kicked).

The decision reads ``bot.state`` and the guard's memory only: no database or network read stands
between the event and the disconnect request. Audit entry, case and a line in the group's text room
are written after the reaction.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord

from bot.app import HoldspaceBot
from bot.core.access import decide_from_state as decide_access
from bot.core.guard import MarkerMatcher, MemberFacts, Verdict, decide
from bot.core.records import GroupInfo
from cogs.guard.memory import SETTLE_SECONDS, GuardMemory

log = logging.getLogger(__name__)


def _facts(member: discord.Member) -> MemberFacts:
    """The member as the guard's pure decision sees it (names stay in memory only)."""
    return MemberFacts(member.id, member.bot, member.nick, member.display_name)


class VoiceReaction:
    def __init__(self, bot: HoldspaceBot, memory: GuardMemory) -> None:
        self.bot = bot
        self.memory = memory
        self.markers = MarkerMatcher(bot.settings.guard.recording_markers)
        self._handling: set[tuple[int, int]] = set()
        self._missed: set[tuple[int, int]] = set()
        self._recent: dict[tuple[int, int], float] = {}

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

    async def check(self, member: discord.Member, trigger: str) -> None:
        """Decide from memory; act on a verdict (the disconnect is the first request)."""
        voice = member.voice
        group = self._voice_group(voice.channel if voice else None)
        if group is None:
            return
        verdict = self._verdict(member)
        if verdict is None:
            return
        if not verdict.is_bot and trigger == "voice_join" and self._consent_acts(member, group):
            return  # the consent feature disconnects this person already (no consent): once is enough
        key = (member.guild.id, member.id)
        if key in self._handling:
            # Being handled already (a storm of events): once is enough. A fresh join seen meanwhile
            # is looked at again once the requests in flight are done.
            if trigger == "voice_join":
                self._missed.add(key)
            return
        recent = self._recent.get(key)
        if (
            trigger != "voice_join"
            and recent is not None
            and asyncio.get_running_loop().time() - recent < SETTLE_SECONDS
        ):
            return  # disconnected a moment ago; the cache has not caught up yet
        self._handling.add(key)
        try:
            outcome = await self._act(member, group, verdict)
        finally:
            self._handling.discard(key)
        await self._record(member, group, verdict, trigger, outcome)
        if key in self._missed:
            self._missed.discard(key)
            await self.check(member, "voice_join")

    def _remember_disconnect(self, guild_id: int, member_id: int) -> None:
        now = asyncio.get_running_loop().time()
        if len(self._recent) > 1000:
            self._recent = {k: t for k, t in self._recent.items() if now - t < SETTLE_SECONDS}
        self._recent[(guild_id, member_id)] = now

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

    async def _act(self, member: discord.Member, group: GroupInfo, verdict: Verdict) -> tuple[str | None, list[str]]:
        """The requests: disconnect first, then the server's action; returns (what was done, problems)."""
        guild = member.guild
        me = guild.me
        voice_channel = guild.get_channel(group.voice_channel_id)
        problems: list[str] = []
        disconnected = False
        can_move = voice_channel is not None and me is not None and voice_channel.permissions_for(me).move_members
        if can_move:
            try:
                await member.move_to(None, reason=f"holdspace guard: {verdict.reason}")
                disconnected = True
                self._remember_disconnect(guild.id, member.id)
            except discord.NotFound:
                disconnected = True  # gone already
            except discord.Forbidden:
                problems.append("holdspace lacks Move Members in the voice room, so it could not disconnect")
            except discord.HTTPException as exc:
                problems.append(f"Discord refused the disconnect (HTTP {exc.status})")
        else:
            problems.append("holdspace lacks Move Members in the voice room, so it could not disconnect")
        done = "disconnect" if disconnected else None
        if verdict.removes and verdict.is_bot:
            done = await self._remove_bot(member, verdict, problems) or done
        return done, problems

    async def _record(
        self,
        member: discord.Member,
        group: GroupInfo,
        verdict: Verdict,
        trigger: str,
        outcome: tuple[str | None, list[str]],
    ) -> None:
        """Audit entry, case and (during a session) one line in the group's text room."""
        guild = member.guild
        done, problems = outcome
        disconnected = done is not None
        log.info("guard: %s in a group voice room (%s); done: %s", verdict.case_kind, trigger, done or "nothing")
        log.debug("guard: a member in guild %s", guild.id)
        details: dict[str, Any] = {
            "reason": verdict.reason,
            "trigger": trigger,
            "bot": verdict.is_bot,
            "action": verdict.action,
            "done": done or "nothing",
            "voice_channel_id": group.voice_channel_id,
        }
        if problems:
            details["problems"] = problems
        if verdict.is_bot and member.guild_permissions.administrator:
            details["administrator"] = True
        await self.memory.audit(
            guild.id,
            f"guard.{verdict.case_kind}",
            group_id=group.id,
            subject_id=member.id,
            details=details,
        )
        await self.memory.case(
            guild.id,
            verdict.case_kind,
            group_id=group.id,
            subject_id=member.id,
            details=details,
            dedupe_key=f"{verdict.case_kind}:{group.id}:{member.id}",
        )
        if disconnected and self.bot.state.session_running(group.id):
            await self._tell_room(guild, group, verdict)

    async def _remove_bot(self, member: discord.Member, verdict: Verdict, problems: list[str]) -> str | None:
        guild = member.guild
        me = guild.me
        perm_ok = me is not None and (
            me.guild_permissions.ban_members if verdict.action == "ban" else me.guild_permissions.kick_members
        )
        needed = "Ban Members" if verdict.action == "ban" else "Kick Members"
        if not perm_ok:
            problems.append(f"holdspace lacks {needed}, so it could not {verdict.action} the bot")
            return None
        if me is not None and guild.owner_id != me.id and member.top_role >= me.top_role:
            problems.append(f"the bot's role sits at or above holdspace's, so holdspace could not {verdict.action} it")
            return None
        reason = f"holdspace guard: {verdict.reason}"
        try:
            if verdict.action == "ban":
                await guild.ban(member, reason=reason, delete_message_seconds=0)
            else:
                await guild.kick(member, reason=reason)
        except discord.NotFound:
            return verdict.action
        except discord.Forbidden:
            problems.append(
                f"Discord refused to {verdict.action} the bot (holdspace lacks {needed} or its role is too low)"
            )
            return None
        except discord.HTTPException as exc:
            problems.append(f"Discord refused to {verdict.action} the bot (HTTP {exc.status})")
            return None
        return verdict.action

    async def _tell_room(self, guild: discord.Guild, group: GroupInfo, verdict: Verdict) -> None:
        channel = guild.get_channel(group.text_channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            return
        if verdict.is_bot:
            text = "🛡️ A bot that is not allowed in this group was removed from the voice room."
        else:
            text = "🛡️ Someone whose name showed a recording marker was disconnected from the voice room."
        try:
            await channel.send(text, allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException:
            log.warning("could not tell a group's text room that the guard acted")
