"""A member's answers: reading a group's agreement (command, lobby button, DM), agreeing (access first,
then the record; undone when the record fails), not agreeing, and withdrawing."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

import discord

from bot.app import HoldspaceBot
from bot.core.records import ConsentFact, GroupInfo
from bot.core.timer_kinds import TimerKind
from bot.i18n import _
from bot.services.enforcement import Closing
from bot.storage import consents as consent_store
from bot.storage import groups as group_store
from bot.ui.consent_views import (
    agreement_embeds,
    answer_view,
    member_tag,
    pick_view,
    tag_matches,
)
from bot.ui.replies import UserError, send_ephemeral
from cogs.consent import receipts
from cogs.consent.over_time import OverTime

log = logging.getLogger(__name__)

NOT_FOR_YOU = _(
    "This button was made for someone else. To read a group's agreement "
    "yourself, use `/consent give` or the lobby's “Review and consent” button."
)


async def next_session_text(bot: HoldspaceBot, group_id: str) -> str | None:
    """When the group's next session is, as the sessions feature words it (None if unknown)."""
    if bot.sessions is None:
        return None
    try:
        text = await bot.sessions.next_session_text(group_id)
    except Exception:
        log.exception("the sessions feature could not say when the next session is")
        return None
    return text or None


class Answers:
    def __init__(self, bot: HoldspaceBot, over_time: OverTime) -> None:
        self.bot = bot
        self.over_time = over_time

    def eligible(self, group: GroupInfo, member_id: int) -> bool:
        """May this person consent to the group? Open groups: anyone; otherwise the enrolled and the
        facilitators (who consent when the group asks them to)."""
        if group.enrolment == "open" or self.bot.state.is_enrolled(group.id, member_id):
            return True
        guild = self.bot.get_guild(group.guild_id)
        member = guild.get_member(member_id) if guild else None
        return member is not None and self.bot.state.facilitates(group, member_id, [r.id for r in member.roles])

    async def show_agreement(self, interaction: discord.Interaction[HoldspaceBot], group: GroupInfo) -> None:
        agreement = await group_store.get_agreement(self.bot.db, self.bot.ring, group.id)
        if agreement is None:
            raise UserError(_("This group has no agreement yet; a facilitator writes one first."))
        embeds = agreement_embeds(group.name, agreement.version, agreement.sha256, agreement.text)
        view = answer_view(
            group.id, agreement.version, agreement.sha256, member_tag(self.bot.ring, interaction.user.id)
        )
        fact = self.bot.state.consent_of(group.id, interaction.user.id)
        if fact is not None and fact.version == agreement.version:
            intro = _("You agreed to this version on {given_at:%Y-%m-%d}. Here it is again.").format(
                given_at=fact.given_at
            )
        else:
            intro = _("Please read the agreement, then choose **I agree** or **I do not agree** below.")
        await send_ephemeral(interaction, intro)
        for number, embed in enumerate(embeds, start=1):
            await send_ephemeral(interaction, embed=embed, view=view if number == len(embeds) else None)

    async def lobby_pressed(self, interaction: discord.Interaction[HoldspaceBot]) -> None:
        if interaction.guild_id is None:
            raise UserError(_("This button works inside the server."))
        state = self.bot.state
        groups = [g for g in state.groups_of_guild(interaction.guild_id) if self.eligible(g, interaction.user.id)]
        if not groups:
            raise UserError(
                _("You are not enrolled in a group here yet. A facilitator enrols you; you then get the agreement.")
            )
        if len(groups) == 1:
            await self.show_agreement(interaction, groups[0])
            return
        statuses = {}
        for g in groups:
            fact = state.consent_of(g.id, interaction.user.id)
            statuses[g.id] = (
                _("you agreed") if fact and fact.version == g.agreement_version else _("waiting for your answer")
            )
        await send_ephemeral(
            interaction,
            _("Which group's agreement would you like to read?"),
            view=pick_view(member_tag(self.bot.ring, interaction.user.id), groups, statuses),
        )

    def _check_tag(self, interaction: discord.Interaction[HoldspaceBot], tag: str) -> None:
        if not tag_matches(self.bot.ring, interaction.user.id, tag):
            raise UserError(NOT_FOR_YOU)

    def _group_by_id(self, group_id: str) -> GroupInfo:
        group = self.bot.state.groups.get(group_id)
        if group is None:
            raise UserError(_("That group no longer exists."))
        return group

    async def group_picked(self, interaction: discord.Interaction[HoldspaceBot], group_id: str, tag: str) -> None:
        self._check_tag(interaction, tag)
        group = self._group_by_id(group_id)
        if group.guild_id != interaction.guild_id or not self.eligible(group, interaction.user.id):
            raise UserError(_("You are not enrolled in that group."))
        await self.show_agreement(interaction, group)

    async def review_pressed(self, interaction: discord.Interaction[HoldspaceBot], group_id: str, tag: str) -> None:
        self._check_tag(interaction, tag)
        group = self._group_by_id(group_id)
        self._member(group, interaction.user.id)
        if not self.eligible(group, interaction.user.id):
            raise UserError(_("You are no longer enrolled in this group; ask a facilitator."))
        await self.show_agreement(interaction, group)

    def _member(self, group: GroupInfo, user_id: int) -> discord.Member:
        guild = self.bot.get_guild(group.guild_id)
        member = guild.get_member(user_id) if guild else None
        if member is None:
            raise UserError(_("You are not a member of that group's server any more."))
        return member

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
            raise UserError(_("You are no longer enrolled in this group; ask a facilitator."))
        method = self._method(interaction)
        async with self.bot.access_order.turn(group.id, member.id) as epoch:
            group = self._group_by_id(group_id)
            if not self.eligible(group, member.id):  # removed while this answer waited for its turn
                raise UserError(_("You are no longer enrolled in this group; ask a facilitator."))
            if version != group.agreement_version or (agree and not group.agreement_sha256.startswith(sha_prefix)):
                await send_ephemeral(
                    interaction,
                    _(
                        "The agreement changed after it was shown to you, so your answer was not "
                        "recorded. Here is the current version: please read it and answer again."
                    ),
                )
                await self.show_agreement(interaction, group)
                return
            if agree:
                await self._agree(interaction, group, member, method, epoch)
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
        self,
        interaction: discord.Interaction[HoldspaceBot],
        group: GroupInfo,
        member: discord.Member,
        method: str,
        epoch: int,
    ) -> None:
        state = self.bot.state
        old = state.consent_of(group.id, member.id)
        if old is not None and old.version == group.agreement_version:
            await send_ephemeral(
                interaction,
                _("You already agreed to version {version} of **{name}**'s agreement; you have access.").format(
                    version=old.version, name=group.name
                ),
            )
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        state.pending_grants.add((group.id, member.id))
        try:
            await self._grant_and_record(interaction, group, member, method, old, epoch)
        finally:
            state.pending_grants.discard((group.id, member.id))

    async def _grant_and_record(
        self,
        interaction: discord.Interaction[HoldspaceBot],
        group: GroupInfo,
        member: discord.Member,
        method: str,
        old: ConsentFact | None,
        epoch: int,
    ) -> None:
        state = self.bot.state
        await self.bot.access.grant(group, member)
        if self.bot.access_order.stale(group.id, member.id, epoch):
            # A removal came while Discord was opening the rooms: it is final, this answer is not.
            if old is None:
                await self.bot.enforcement.close_rooms(group, member.id, reason="removed while agreeing")
            raise UserError(
                _(
                    "A facilitator removed you from **{name}** while your answer was being "
                    "recorded, so it was not. If you think this is a mistake, talk to a "
                    "facilitator."
                ).format(name=group.name)
            )
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
                await self.bot.enforcement.close_rooms(group, member.id, reason="undo: consent not recorded")
            if newly_enrolled:
                await group_store.unenrol(self.bot.db, self.bot.ring, group.id, member.id)
            raise
        state.set_enrolled(group.id, member.id, True)
        state.set_consent(group.id, event.as_fact())
        if old is not None:
            await self.bot.scheduler.cancel(TimerKind.CONSENT_EXPIRY, old.consent_id)
        await self.over_time.schedule_expiry(group, event.as_fact())
        await self.bot.audit.record(
            group.guild_id,
            "consent_answered",
            actor_id=member.id,
            group_id=group.id,
            subject_id=member.id,
            details={"answer": "agree", "version": event.version, "sha256": event.sha256, "method": method},
        )
        rooms = _("<#{text_channel_id}> and <#{voice_channel_id}>").format(
            text_channel_id=group.text_channel_id, voice_channel_id=group.voice_channel_id
        )
        text = _(
            "Thank you. You agreed to version {version} of **{name}**'s agreement and can now use {rooms}."
        ).format(version=event.version, name=group.name, rooms=rooms)
        if group.lock_between_sessions and not state.session_running(group.id):
            text = _(
                "Thank you. You agreed to version {version} of **{name}**'s agreement. Its "
                "rooms ({rooms}) open to you whenever a session runs."
            ).format(version=event.version, name=group.name, rooms=rooms)
        upcoming = await next_session_text(self.bot, group.id)
        if upcoming:
            text += _("\nNext session: {upcoming}").format(upcoming=upcoming)
        text += _("\nYou can withdraw at any time with `/consent withdraw`.")
        receipt = await receipts.build(
            self.bot, group, member.id, answer="agree", at=event.at, version=event.version, sha256=event.sha256
        )
        await receipts.deliver(interaction, receipt, text)

    async def _decline(
        self, interaction: discord.Interaction[HoldspaceBot], group: GroupInfo, member: discord.Member, method: str
    ) -> None:
        state = self.bot.state
        outbox = self.bot.outbox
        old = state.consent_of(group.id, member.id)
        note = ""
        if old is not None:
            state.set_consent(group.id, None, member_id=member.id)  # memory first: fail closed
            closing, _unused = await asyncio.gather(
                self.bot.enforcement.close_rooms(group, member.id, reason="did not agree"),
                interaction.response.defer(ephemeral=True, thinking=True),
            )
            note = closing.tell()
        else:
            await interaction.response.defer(ephemeral=True, thinking=True)
        at = self.bot.clock.now()
        await outbox.consent_event(
            group.id,
            member.id,
            ended=old,
            answer="decline",
            at=at,
            method=method,
            version=group.agreement_version,
            sha256=group.agreement_sha256,
        )
        await outbox.audit(
            group.guild_id,
            "consent_answered",
            actor_id=member.id,
            group_id=group.id,
            subject_id=member.id,
            details={"answer": "decline", "version": group.agreement_version, "method": method},
        )
        receipt = await receipts.build(
            self.bot,
            group,
            member.id,
            answer="decline",
            at=at,
            version=group.agreement_version,
            sha256=group.agreement_sha256,
        )
        await receipts.deliver(
            interaction,
            receipt,
            _(
                "Thank you for answering. Without your agreement you do not have access to "
                "**{name}**'s rooms.{note} If you change your mind, use `/consent give`; if "
                "you have questions, talk to a facilitator."
            ).format(name=group.name, note=note),
        )

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
        at: datetime | None = None,
    ) -> tuple[bool, Closing | None]:
        """End the current consent in the person's turn (``bot.access_order``); returns (anything was
        held open, what closing the rooms did (None: there was no consent)).

        Memory forgets the consent first (fail closed); ``bot.enforcement`` then sends the disconnect as
        the first request and closes the rooms (retrying what Discord refuses); the ending is recorded
        (``answer`` with ``reason``) and the expiry timer goes, both through the outbox so a database
        outage loses neither. The withdrawal stands whatever Discord or the database answer. A
        ``removal`` (leaving the server, erasure) is final: it makes an answer still in flight stale,
        and also ends the enrolment and any facilitator nomination. ``audit_action`` None: the caller
        writes its own audit entry (an erasure names nobody). ``at``: the time to record (default: now),
        so the caller can give the member a receipt of exactly this record.
        """
        bot = self.bot
        state, outbox = bot.state, bot.outbox
        if removal:
            bot.access_order.supersede(group.id, member_id)
        closing: Closing | None = None
        async with bot.access_order.turn(group.id, member_id):
            fact = state.consent_of(group.id, member_id)
            held = fact is not None
            if fact is not None:
                state.set_consent(group.id, None, member_id=member_id)
                closing = await bot.enforcement.close_rooms(group, member_id, reason=reason)
                await outbox.consent_event(
                    group.id,
                    member_id,
                    ended=fact,
                    answer=answer,
                    at=at or bot.clock.now(),
                    method=method,
                    reason=reason,
                )
            if removal and (state.is_enrolled(group.id, member_id) or member_id in state.facilitators_of(group.id)):
                held = True
                await group_store.unenrol(bot.db, bot.ring, group.id, member_id)
                state.set_enrolled(group.id, member_id, False)
                await group_store.remove_facilitator(bot.db, bot.ring, group.id, member_id)
                state.set_facilitator(group.id, member_id, False)
        if closing is not None and audit_action is not None:
            details: dict[str, Any] = {
                "disconnected": closing.disconnected,
                "rooms_closed": closing.rooms_closed,
                "reason": reason,
            }
            if closing.problems:
                details["problems"] = closing.problems
            await outbox.audit(
                group.guild_id,
                audit_action,
                actor_id=member_id,
                group_id=group.id,
                subject_id=member_id,
                details=details,
            )
        return held, closing

    async def withdraw(self, interaction: discord.Interaction[HoldspaceBot], info: GroupInfo) -> None:
        member_id = interaction.user.id
        fact = self.bot.state.consent_of(info.id, member_id)
        if fact is None:
            raise UserError(
                _("You have not consented to **{name}**, so there is nothing to withdraw.").format(name=info.name)
            )
        at = self.bot.clock.now()
        # The disconnect goes out first; the deferral travels alongside it.
        (_event, closing), _unused = await asyncio.gather(
            self.end_consent(info, member_id, answer="withdraw", method="command", reason="consent withdrawn", at=at),
            interaction.response.defer(ephemeral=True, thinking=True),
        )
        if closing is None:
            await send_ephemeral(
                interaction, _("Your consent to **{name}** was already withdrawn.").format(name=info.name)
            )
            return
        receipt = await receipts.build(
            self.bot, info, member_id, answer="withdraw", at=at, version=fact.version, sha256=fact.sha256
        )
        await receipts.deliver(
            interaction,
            receipt,
            _(
                "Your consent to **{name}** is withdrawn and you no longer have access to "
                "its rooms{value}.{tell} You can consent again any time with `/consent "
                "give`."
            ).format(
                name=info.name,
                value=" (you were disconnected from the voice room)" if closing.disconnected else "",
                tell=closing.tell(),
            ),
        )
