"""Members and facilitators of a group: enrolling and removing members, naming a group's own
facilitators (recorded first, then the rooms are brought to it; undone when Discord refuses)."""

from __future__ import annotations

import logging
from typing import Any

import discord

from bot.app import HoldspaceBot
from bot.core.records import GroupInfo
from bot.i18n import _
from bot.storage import groups as group_store
from bot.ui.replies import FIND_PERMISSION, MissingBotPermission, UserError, send_ephemeral

log = logging.getLogger(__name__)

REASON_MAX = 300


def _member_of_guild(guild: discord.Guild, user: discord.abc.User) -> discord.Member:
    member = guild.get_member(user.id)
    if member is None:
        raise UserError(_("That person is not a member of this server (they may have left)."))
    return member


class Membership:
    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot

    async def facilitator_add(
        self, interaction: discord.Interaction[HoldspaceBot], info: GroupInfo, member: discord.User
    ) -> None:
        assert interaction.guild is not None
        target = _member_of_guild(interaction.guild, member)
        cfg = self.bot.state.guilds.get(info.guild_id)
        if target.bot:
            raise UserError(_("A bot cannot facilitate a group."))
        if cfg is None or cfg.facilitator_role_id is None or target.get_role(cfg.facilitator_role_id) is None:
            raise UserError(
                _("{mention} does not hold the facilitator role. Give them the role first, then add them.").format(
                    mention=target.mention
                )
            )
        if target.id in self.bot.state.facilitators_of(info.id):
            raise UserError(
                _("{mention} already facilitates **{name}**.").format(mention=target.mention, name=info.name)
            )
        first = not self.bot.state.facilitators_of(info.id)
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self._change_facilitators(interaction, info, target.id, add=True)
        note = (
            _(
                " From now on only the facilitators named with `/group facilitator add` run "
                "this group and enter its rooms without consent; other holders of the "
                "facilitator role no longer do."
            )
            if first
            else ""
        )
        await send_ephemeral(
            interaction,
            _("{mention} now facilitates **{name}**.{note}").format(mention=target.mention, name=info.name, note=note),
        )

    async def facilitator_remove(
        self, interaction: discord.Interaction[HoldspaceBot], info: GroupInfo, member: discord.User
    ) -> None:
        if member.id not in self.bot.state.facilitators_of(info.id):
            raise UserError(
                _("{mention} is not one of the named facilitators of **{name}**.").format(
                    mention=member.mention, name=info.name
                )
            )
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self._change_facilitators(interaction, info, member.id, add=False)
        note = (
            _(" No facilitator is named any more, so everyone with the facilitator role facilitates it again.")
            if not self.bot.state.facilitators_of(info.id)
            else ""
        )
        await send_ephemeral(
            interaction,
            _("{mention} no longer facilitates **{name}**.{note}").format(
                mention=member.mention, name=info.name, note=note
            ),
        )

    async def facilitator_list(self, interaction: discord.Interaction[HoldspaceBot], info: GroupInfo) -> None:
        named = sorted(self.bot.state.facilitators_of(info.id))
        if not named:
            await send_ephemeral(
                interaction,
                _("**{name}** names no facilitators: everyone with the facilitator role runs it.").format(
                    name=info.name
                ),
            )
            return
        people = ", ".join(f"<@{member_id}>" for member_id in named)
        await send_ephemeral(
            interaction,
            _("**{name}** is facilitated by {people} (and server managers).").format(name=info.name, people=people),
        )

    async def _change_facilitators(
        self, interaction: discord.Interaction[HoldspaceBot], group: GroupInfo, member_id: int, *, add: bool
    ) -> None:
        """Record the change, then bring the rooms to it; undo the record when Discord refuses."""
        # The person's turn: a change of their access, ordered with their answers and removals.
        async with self.bot.access_order.turn(group.id, member_id):
            db, ring, state = self.bot.db, self.bot.ring, self.bot.state
            if add:
                await group_store.add_facilitator(db, ring, group.id, member_id, self.bot.clock.now())
            else:
                await group_store.remove_facilitator(db, ring, group.id, member_id)
            state.set_facilitator(group.id, member_id, add)
            report = await self.bot.access.reconcile_group(group)
            if report.failed:
                if add:
                    await group_store.remove_facilitator(db, ring, group.id, member_id)
                else:
                    await group_store.add_facilitator(db, ring, group.id, member_id, self.bot.clock.now())
                state.set_facilitator(group.id, member_id, not add)
                await self.bot.access.reconcile_group(group, voice=False)
                raise MissingBotPermission(
                    _(
                        "Discord refused to change the rooms' permissions, so nothing was changed. holdspace "
                        "needs Manage Permissions in both rooms of the group; {find}."
                    ).format(find=_(FIND_PERMISSION))
                )
        await self.bot.audit.record(
            group.guild_id,
            "facilitator_added" if add else "facilitator_removed",
            actor_id=interaction.user.id,
            group_id=group.id,
            subject_id=member_id,
        )

    async def enroll(
        self, interaction: discord.Interaction[HoldspaceBot], info: GroupInfo, member: discord.User
    ) -> None:
        assert interaction.guild is not None
        target = _member_of_guild(interaction.guild, member)
        if target.bot:
            raise UserError(_("Bots cannot be enrolled; the guard feature decides about bots."))
        if self.bot.state.is_enrolled(info.id, target.id):
            raise UserError(
                _("{mention} is already enrolled in **{name}**.").format(mention=target.mention, name=info.name)
            )
        await interaction.response.defer(ephemeral=True, thinking=True)
        async with self.bot.access_order.turn(info.id, target.id):
            await group_store.enrol(self.bot.db, self.bot.ring, info.id, target.id, self.bot.clock.now())
            self.bot.state.set_enrolled(info.id, target.id, True)
        await self.bot.audit.record(
            info.guild_id, "member_enrolled", actor_id=interaction.user.id, group_id=info.id, subject_id=target.id
        )
        if self.bot.state.consent_of(info.id, target.id) is not None:
            await send_ephemeral(
                interaction,
                _("Enrolled {mention} in **{name}**; they already consent.").format(
                    mention=target.mention, name=info.name
                ),
            )
            return
        sent = await self.bot.access.send_prompt(target, info, why="invited")
        note = (
            _("They got a direct message with the agreement to review.")
            if sent
            else _("Their direct messages are closed: ask them to use `/consent give` or the lobby's button.")
        )
        await send_ephemeral(
            interaction,
            _("Enrolled {mention} in **{name}**. {note}").format(mention=target.mention, name=info.name, note=note),
        )

    async def remove(
        self, interaction: discord.Interaction[HoldspaceBot], info: GroupInfo, member: discord.User, reason: str
    ) -> None:
        reason = (reason or "").strip()
        if not reason:
            raise UserError(_("Give a reason for the removal; it is kept encrypted with the case."))
        if len(reason) > REASON_MAX:
            raise UserError(
                _("The reason is {count} characters long; keep it to {REASON_MAX}.").format(
                    count=len(reason), REASON_MAX=REASON_MAX
                )
            )
        state = self.bot.state
        if not state.is_enrolled(info.id, member.id) and state.consent_of(info.id, member.id) is None:
            raise UserError(
                _("{mention} is not enrolled in **{name}**.").format(mention=member.mention, name=info.name)
            )
        # Final against an "I agree" still in flight: it sees itself superseded and undoes itself.
        self.bot.access_order.supersede(info.id, member.id)
        await interaction.response.defer(ephemeral=True, thinking=True)
        outbox = self.bot.outbox
        async with self.bot.access_order.turn(info.id, member.id):
            old = state.consent_of(info.id, member.id)
            state.set_enrolled(info.id, member.id, False)  # memory first: fail closed
            state.set_consent(info.id, None, member_id=member.id)
            closing = await self.bot.enforcement.close_rooms(info, member.id, reason="removed by a facilitator")
            now = self.bot.clock.now()
            await outbox.write(
                "unenrolment", lambda: group_store.unenrol(self.bot.db, self.bot.ring, info.id, member.id)
            )
            if old is not None:
                await outbox.consent_event(
                    info.id, member.id, ended=old, answer="removed", at=now, method="facilitator"
                )
        disconnected = closing.disconnected
        details: dict[str, Any] = {"reason": reason, "disconnected": disconnected}
        if closing.problems:
            details["problems"] = closing.problems
        await outbox.audit(
            info.guild_id,
            "member_removed",
            actor_id=interaction.user.id,
            group_id=info.id,
            subject_id=member.id,
            details=details,
        )
        case = await outbox.case(
            info.guild_id,
            "member_removed",
            group_id=info.id,
            subject_id=member.id,
            details={**details, "removed_by": interaction.user.id},
        )
        case_text = _(" Case #{case} was opened for the moderators.").format(case=case) if case else ""
        await send_ephemeral(
            interaction,
            _("Removed {mention} from **{name}**: their access is withdrawn{value}.{tell}{case_text}").format(
                mention=member.mention,
                name=info.name,
                value=" and they were disconnected from the voice room" if disconnected else "",
                tell=closing.tell(),
                case_text=case_text,
            ),
        )
