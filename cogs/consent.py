"""The consent gate: reading the agreement, agreeing or not, withdrawing, consent over time, and the
backstop that disconnects people found in a group's voice room without consent.

Hooks for other features:
- the sessions feature dispatches ``bot.dispatch("holdspace_session_end", group_id)`` when a
  session ends; consents that went stale during it (agreement changed, too old) are withdrawn then;
- ``next_session_text(bot, group_id)`` asks the sessions cog (``get_cog("Sessions")``) for a
  ``next_session_text(group_id)`` coroutine to tell a member who just consented when the next
  session is.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.access import decide_from_state
from bot.core.records import ConsentFact, GroupInfo
from bot.scheduler import RetryLater, Timer
from bot.services.access import disconnect_from_group, grant_access, send_prompt, withdraw_access
from bot.storage import consents as consent_store
from bot.storage import groups as group_store
from bot.ui.checks import in_guild
from bot.ui.consent_views import (
    DYNAMIC_ITEMS,
    agreement_embeds,
    answer_view,
    member_tag,
    pick_view,
    tag_matches,
)
from bot.ui.group_options import missing_permission_error
from bot.ui.replies import UserError, send_ephemeral

if TYPE_CHECKING:
    from bot.app import HoldspaceBot

log = logging.getLogger(__name__)

EXPIRY_KIND = "consent_expiry"
REVALIDATE_KIND = "consent_revalidate"
RUNNING_RETRY = timedelta(minutes=10)

NOT_FOR_YOU = (
    "This button was made for someone else. To read a group's agreement yourself, use `/consent give` "
    "or the lobby's “Review and consent” button."
)


async def next_session_text(bot: HoldspaceBot, group_id: str) -> str | None:
    """When the group's next session is, as the sessions feature words it (None if unknown)."""
    cog = bot.get_cog("Sessions")
    hook = getattr(cog, "next_session_text", None) if cog is not None else None
    if hook is None:
        return None
    try:
        text = await hook(group_id)
    except Exception:
        log.exception("the sessions feature could not say when the next session is")
        return None
    return str(text) if text else None


async def consent_group_autocomplete(
    interaction: discord.Interaction[HoldspaceBot], current: str
) -> list[app_commands.Choice[str]]:
    if interaction.guild_id is None:
        return []
    state = interaction.client.state
    needle = current.casefold().strip()
    return [
        app_commands.Choice(name=g.name, value=g.name)
        for g in state.groups_of_guild(interaction.guild_id)
        if needle in g.name.casefold()
        and (
            g.enrolment == "open"
            or state.is_enrolled(g.id, interaction.user.id)
            or state.consent_of(g.id, interaction.user.id) is not None
        )
    ][:25]


class Consent(commands.Cog):
    consent = app_commands.Group(
        name="consent", description="Read a group's agreement, consent or withdraw", guild_only=True
    )

    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot
        self._locks: dict[tuple[str, int], asyncio.Lock] = {}

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(*DYNAMIC_ITEMS)
        self.bot.scheduler.timers.register(EXPIRY_KIND, self.expiry_timer)
        self.bot.scheduler.timers.register(REVALIDATE_KIND, self.revalidate_timer)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(*DYNAMIC_ITEMS)

    def _lock(self, group_id: str, member_id: int) -> asyncio.Lock:
        return self._locks.setdefault((group_id, member_id), asyncio.Lock())

    def eligible(self, group: GroupInfo, member_id: int) -> bool:
        """May this person consent to the group? Open groups: anyone; otherwise the enrolled and the
        facilitators (who consent when the group asks them to)."""
        if group.enrolment == "open" or self.bot.state.is_enrolled(group.id, member_id):
            return True
        guild = self.bot.get_guild(group.guild_id)
        member = guild.get_member(member_id) if guild else None
        return member is not None and self.bot.state.facilitates(group, member_id, [r.id for r in member.roles])

    def _group_for_member(self, interaction: discord.Interaction[HoldspaceBot], name: str) -> GroupInfo:
        assert interaction.guild_id is not None
        if not name or not name.strip() or len(name) > 100:
            raise UserError("Name a group from the list.")
        group = self.bot.state.group_by_name(interaction.guild_id, name)
        if group is None:
            raise UserError(f"There is no group called “{name.strip()[:40]}” on this server.")
        return group

    # -- slash commands ----------------------------------------------------------------------------

    @consent.command(name="give", description="Read a group's agreement and say whether you agree")
    @app_commands.describe(group="The group")
    @app_commands.autocomplete(group=consent_group_autocomplete)
    @in_guild()
    async def give(self, interaction: discord.Interaction[HoldspaceBot], group: str) -> None:
        info = self._group_for_member(interaction, group)
        if not self.eligible(info, interaction.user.id):
            raise UserError(
                f"**{info.name}** is open by invitation: a facilitator enrols you first. "
                "If you expected to be enrolled, ask a facilitator of the group."
            )
        await self.show_agreement(interaction, info)

    @consent.command(name="withdraw", description="Withdraw your consent: you leave the group's rooms at once")
    @app_commands.describe(group="The group")
    @app_commands.autocomplete(group=consent_group_autocomplete)
    @in_guild()
    async def withdraw(self, interaction: discord.Interaction[HoldspaceBot], group: str) -> None:
        info = self._group_for_member(interaction, group)
        member_id = interaction.user.id
        async with self._lock(info.id, member_id):
            fact = self.bot.state.consent_of(info.id, member_id)
            if fact is None:
                raise UserError(f"You have not consented to **{info.name}**, so there is nothing to withdraw.")
            await interaction.response.defer(ephemeral=True, thinking=True)
            try:
                disconnected = await withdraw_access(self.bot, info, member_id, reason="consent withdrawn")
            except discord.Forbidden:
                raise missing_permission_error(
                    ["manage_roles", "move_members"], "withdraw your access; tell a facilitator"
                ) from None
            await consent_store.record(
                self.bot.db,
                self.bot.ring,
                group_id=info.id,
                member_id=member_id,
                answer="withdraw",
                at=self.bot.clock.now(),
                method="command",
            )
            self.bot.state.set_consent(info.id, None, member_id=member_id)
            await self.bot.scheduler.cancel(EXPIRY_KIND, fact.consent_id)
        await self.bot.audit.record(
            info.guild_id,
            "consent_withdrawn",
            actor_id=member_id,
            group_id=info.id,
            subject_id=member_id,
            details={"disconnected": disconnected},
        )
        await send_ephemeral(
            interaction,
            f"Your consent to **{info.name}** is withdrawn and you no longer have access to its rooms"
            f"{' (you were disconnected from the voice room)' if disconnected else ''}. "
            "You can consent again any time with `/consent give`.",
        )

    @consent.command(name="status", description="Your consents on this server (only you see it)")
    @in_guild()
    async def status(self, interaction: discord.Interaction[HoldspaceBot]) -> None:
        assert interaction.guild_id is not None
        state = self.bot.state
        lines = []
        for group in state.groups_of_guild(interaction.guild_id):
            fact = state.consent_of(group.id, interaction.user.id)
            if fact is not None:
                old = "" if fact.version == group.agreement_version else " (a newer version is waiting for you)"
                lines.append(f"**{group.name}**: you agreed to version {fact.version} on {fact.given_at:%Y-%m-%d}{old}")
            elif state.is_enrolled(group.id, interaction.user.id):
                lines.append(f"**{group.name}**: enrolled, not consented yet (`/consent give`)")
        await send_ephemeral(interaction, "\n".join(lines) or "You are not in any group on this server.")

    # -- the agreement, shown to one person ------------------------------------------------------

    async def show_agreement(self, interaction: discord.Interaction[HoldspaceBot], group: GroupInfo) -> None:
        agreement = await group_store.get_agreement(self.bot.db, self.bot.ring, group.id)
        if agreement is None:
            raise UserError("This group has no agreement yet; a facilitator writes one first.")
        embeds = agreement_embeds(group.name, agreement.version, agreement.sha256, agreement.text)
        view = answer_view(
            group.id, agreement.version, agreement.sha256, member_tag(self.bot.ring, interaction.user.id)
        )
        fact = self.bot.state.consent_of(group.id, interaction.user.id)
        if fact is not None and fact.version == agreement.version:
            intro = f"You agreed to this version on {fact.given_at:%Y-%m-%d}. Here it is again."
        else:
            intro = "Please read the agreement, then choose **I agree** or **I do not agree** below."
        await send_ephemeral(interaction, intro)
        for number, embed in enumerate(embeds, start=1):
            await send_ephemeral(interaction, embed=embed, view=view if number == len(embeds) else None)

    async def lobby_pressed(self, interaction: discord.Interaction[HoldspaceBot]) -> None:
        if interaction.guild_id is None:
            raise UserError("This button works inside the server.")
        state = self.bot.state
        groups = [g for g in state.groups_of_guild(interaction.guild_id) if self.eligible(g, interaction.user.id)]
        if not groups:
            raise UserError(
                "You are not enrolled in a group here yet. A facilitator enrols you; you then get the agreement."
            )
        if len(groups) == 1:
            await self.show_agreement(interaction, groups[0])
            return
        statuses = {}
        for g in groups:
            fact = state.consent_of(g.id, interaction.user.id)
            statuses[g.id] = "you agreed" if fact and fact.version == g.agreement_version else "waiting for your answer"
        await send_ephemeral(
            interaction,
            "Which group's agreement would you like to read?",
            view=pick_view(member_tag(self.bot.ring, interaction.user.id), groups, statuses),
        )

    def _check_tag(self, interaction: discord.Interaction[HoldspaceBot], tag: str) -> None:
        if not tag_matches(self.bot.ring, interaction.user.id, tag):
            raise UserError(NOT_FOR_YOU)

    def _group_by_id(self, group_id: str) -> GroupInfo:
        group = self.bot.state.groups.get(group_id)
        if group is None:
            raise UserError("That group no longer exists.")
        return group

    async def group_picked(self, interaction: discord.Interaction[HoldspaceBot], group_id: str, tag: str) -> None:
        self._check_tag(interaction, tag)
        group = self._group_by_id(group_id)
        if group.guild_id != interaction.guild_id or not self.eligible(group, interaction.user.id):
            raise UserError("You are not enrolled in that group.")
        await self.show_agreement(interaction, group)

    async def review_pressed(self, interaction: discord.Interaction[HoldspaceBot], group_id: str, tag: str) -> None:
        self._check_tag(interaction, tag)
        group = self._group_by_id(group_id)
        self._member(group, interaction.user.id)
        if not self.eligible(group, interaction.user.id):
            raise UserError("You are no longer enrolled in this group; ask a facilitator.")
        await self.show_agreement(interaction, group)

    def _member(self, group: GroupInfo, user_id: int) -> discord.Member:
        guild = self.bot.get_guild(group.guild_id)
        member = guild.get_member(user_id) if guild else None
        if member is None:
            raise UserError("You are not a member of that group's server any more.")
        return member

    # -- answers -------------------------------------------------------------------------------------

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
        self._check_tag(interaction, tag)
        group = self._group_by_id(group_id)
        member = self._member(group, interaction.user.id)
        if not self.eligible(group, member.id):
            raise UserError("You are no longer enrolled in this group; ask a facilitator.")
        method = self._method(interaction)
        async with self._lock(group.id, member.id):
            group = self._group_by_id(group_id)
            if version != group.agreement_version or (agree and not group.agreement_sha256.startswith(sha_prefix)):
                await send_ephemeral(
                    interaction,
                    "The agreement changed after it was shown to you, so your answer was not recorded. "
                    "Here is the current version: please read it and answer again.",
                )
                await self.show_agreement(interaction, group)
                return
            if agree:
                await self._agree(interaction, group, member, method)
            else:
                await self._decline(interaction, group, member, method)

    @staticmethod
    def _method(interaction: discord.Interaction[HoldspaceBot]) -> str:
        if interaction.guild_id is None:
            return "dm"
        meta = interaction.message.interaction_metadata if interaction.message is not None else None
        if meta is not None and meta.type == discord.InteractionType.application_command:
            return "command"
        return "lobby"

    async def _agree(
        self, interaction: discord.Interaction[HoldspaceBot], group: GroupInfo, member: discord.Member, method: str
    ) -> None:
        state = self.bot.state
        old = state.consent_of(group.id, member.id)
        if old is not None and old.version == group.agreement_version:
            await send_ephemeral(
                interaction,
                f"You already agreed to version {old.version} of **{group.name}**'s agreement; you have access.",
            )
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        state.pending_grants.add((group.id, member.id))
        try:
            await self._grant_and_record(interaction, group, member, method, old)
        finally:
            state.pending_grants.discard((group.id, member.id))

    async def _grant_and_record(
        self,
        interaction: discord.Interaction[HoldspaceBot],
        group: GroupInfo,
        member: discord.Member,
        method: str,
        old: ConsentFact | None,
    ) -> None:
        state = self.bot.state
        await grant_access(self.bot, group, member)
        now = self.bot.clock.now()
        newly_enrolled = False
        try:
            if not state.is_enrolled(group.id, member.id):
                newly_enrolled = await group_store.enrol(self.bot.db, self.bot.ring, group.id, member.id, now)
            event = await consent_store.record(
                self.bot.db,
                self.bot.ring,
                group_id=group.id,
                member_id=member.id,
                answer="agree",
                at=now,
                method=method,
                version=group.agreement_version,
                sha256=group.agreement_sha256,
            )
        except Exception:
            if old is None:
                try:
                    await withdraw_access(self.bot, group, member.id, reason="undo: consent not recorded")
                except discord.HTTPException:
                    log.warning("could not undo access of a member to group %s", group.id)
            if newly_enrolled:
                await group_store.unenrol(self.bot.db, self.bot.ring, group.id, member.id)
            raise
        state.set_enrolled(group.id, member.id, True)
        state.set_consent(group.id, event.as_fact())
        if old is not None:
            await self.bot.scheduler.cancel(EXPIRY_KIND, old.consent_id)
        await self._schedule_expiry(group, event.as_fact())
        await self.bot.audit.record(
            group.guild_id,
            "consent_answered",
            actor_id=member.id,
            group_id=group.id,
            subject_id=member.id,
            details={"answer": "agree", "version": event.version, "sha256": event.sha256, "method": method},
        )
        rooms = f"<#{group.text_channel_id}> and <#{group.voice_channel_id}>"
        text = (
            f"Thank you. You agreed to version {event.version} of **{group.name}**'s agreement and can now use {rooms}."
        )
        if group.lock_between_sessions and not state.session_running(group.id):
            text = (
                f"Thank you. You agreed to version {event.version} of **{group.name}**'s agreement. Its rooms "
                f"({rooms}) open to you whenever a session runs."
            )
        upcoming = await next_session_text(self.bot, group.id)
        if upcoming:
            text += f"\nNext session: {upcoming}"
        text += "\nYou can withdraw at any time with `/consent withdraw`."
        await send_ephemeral(interaction, text)

    async def _decline(
        self, interaction: discord.Interaction[HoldspaceBot], group: GroupInfo, member: discord.Member, method: str
    ) -> None:
        state = self.bot.state
        old = state.consent_of(group.id, member.id)
        await interaction.response.defer(ephemeral=True, thinking=True)
        if old is not None:
            await withdraw_access(self.bot, group, member.id, reason="did not agree")
        await consent_store.record(
            self.bot.db,
            self.bot.ring,
            group_id=group.id,
            member_id=member.id,
            answer="decline",
            at=self.bot.clock.now(),
            method=method,
            version=group.agreement_version,
            sha256=group.agreement_sha256,
        )
        if old is not None:
            state.set_consent(group.id, None, member_id=member.id)
            await self.bot.scheduler.cancel(EXPIRY_KIND, old.consent_id)
        await self.bot.audit.record(
            group.guild_id,
            "consent_answered",
            actor_id=member.id,
            group_id=group.id,
            subject_id=member.id,
            details={"answer": "decline", "version": group.agreement_version, "method": method},
        )
        await send_ephemeral(
            interaction,
            f"Thank you for answering. Without your agreement you do not have access to **{group.name}**'s rooms. "
            "If you change your mind, use `/consent give`; if you have questions, talk to a facilitator.",
        )

    # -- consent over time ---------------------------------------------------------------------------

    async def _schedule_expiry(self, group: GroupInfo, fact: ConsentFact) -> None:
        due = fact.given_at + timedelta(days=group.reconsent_after_days)
        await self.bot.scheduler.schedule(
            EXPIRY_KIND,
            due,
            {"group_id": group.id, "member_id": fact.member_id, "consent_id": fact.consent_id},
            key=fact.consent_id,
        )

    async def reschedule_expiry(self, group: GroupInfo) -> None:
        for fact in list(self.bot.state.consents.get(group.id, {}).values()):
            await self._schedule_expiry(group, fact)

    async def expiry_timer(self, timer: Timer) -> None:
        group = self.bot.state.groups.get(str(timer.payload.get("group_id")))
        if group is None:
            return
        fact = self.bot.state.consent_of(group.id, int(timer.payload["member_id"]))
        if fact is None or fact.consent_id != timer.payload.get("consent_id"):
            return  # withdrawn or renewed meanwhile: moot
        if self.bot.state.session_running(group.id):
            raise RetryLater(RUNNING_RETRY, "a session is running")
        await self._revoke(group, fact, "expired")

    async def revalidate_timer(self, timer: Timer) -> None:
        group_id = str(timer.payload.get("group_id"))
        if not await self.revalidate_group(group_id):
            raise RetryLater(RUNNING_RETRY, "a session is running")

    def stale_consents(self, group: GroupInfo) -> list[tuple[ConsentFact, str]]:
        now = self.bot.clock.now()
        out = []
        for fact in self.bot.state.consents.get(group.id, {}).values():
            if fact.version != group.agreement_version:
                out.append((fact, "agreement_changed"))
            elif fact.given_at + timedelta(days=group.reconsent_after_days) <= now:
                out.append((fact, "expired"))
        return out

    async def revalidate_group(self, group_id: str) -> bool:
        """Withdraw consents that went stale, unless a session runs (then False: try again later)."""
        group = self.bot.state.groups.get(group_id)
        if group is None or self.bot.get_guild(group.guild_id) is None:
            return True
        stale = self.stale_consents(group)
        if not stale:
            return True
        if self.bot.state.session_running(group_id):
            return False
        for fact, why in stale:
            await self._revoke(group, fact, why)
        return True

    async def _revoke(self, group: GroupInfo, fact: ConsentFact, why: str) -> None:
        async with self._lock(group.id, fact.member_id):
            if self.bot.state.consent_of(group.id, fact.member_id) != fact:
                return
            try:
                await withdraw_access(self.bot, group, fact.member_id, reason=f"consent {why.replace('_', ' ')}")
            except discord.HTTPException as exc:
                raise RetryLater(timedelta(minutes=1), f"could not withdraw access ({exc.status})") from None
            await consent_store.record(
                self.bot.db,
                self.bot.ring,
                group_id=group.id,
                member_id=fact.member_id,
                answer="revoked",
                at=self.bot.clock.now(),
                method="holdspace",
                reason=why,
            )
            self.bot.state.set_consent(group.id, None, member_id=fact.member_id)
            await self.bot.scheduler.cancel(EXPIRY_KIND, fact.consent_id)
        await self.bot.audit.record(
            group.guild_id,
            "consent_revoked",
            group_id=group.id,
            subject_id=fact.member_id,
            details={"why": why, "version": fact.version},
        )
        guild = self.bot.get_guild(group.guild_id)
        member = guild.get_member(fact.member_id) if guild else None
        if member is not None:
            await send_prompt(self.bot, member, group, why=why)

    @commands.Cog.listener()
    async def on_holdspace_session_end(self, group_id: str) -> None:
        try:
            if await self.revalidate_group(group_id):
                await self.bot.scheduler.cancel(REVALIDATE_KIND, group_id)
        except Exception:
            log.exception("revalidating consents after a session of group %s failed", group_id)

    # -- the backstop ------------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
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


async def setup(bot: HoldspaceBot) -> None:
    await bot.add_cog(Consent(bot))
