"""Who is in a group: `/group list` (this server's groups) and `/group roster` (enrolled members and
their consent, only for the facilitator who asks; the viewing is audited)."""

from __future__ import annotations

import logging

import discord

from bot.app import HoldspaceBot
from bot.core.agreement import (
    split,
)
from bot.core.receipts import ANSWERS as RECEIPT_ANSWERS
from bot.core.receipts import receipt_id
from bot.core.records import GroupInfo
from bot.i18n import _
from bot.storage import consents as consent_store
from bot.storage import groups as group_store
from bot.ui.checks import is_group_facilitator
from bot.ui.replies import send_ephemeral

log = logging.getLogger(__name__)


async def list_groups(bot: HoldspaceBot, interaction: discord.Interaction[HoldspaceBot]) -> None:
    assert interaction.guild_id is not None
    # Read like the changes: the groups the person runs (every group for a server manager).
    groups = [g for g in bot.state.groups_of_guild(interaction.guild_id) if is_group_facilitator(interaction, g)]
    if not groups:
        await send_ephemeral(interaction, _("You run no group here yet; `/group create` makes one."))
        return
    lines = []
    for g in groups:
        consented = len(bot.state.consented_members(g.id))
        enrolled = len(bot.state.enrolled.get(g.id, set()))
        lines.append(
            _(
                "**{name}**: <#{text_channel_id}> <#{voice_channel_id}> · {enrolment} "
                "enrolment · {enrolled} enrolled, {consented} consenting · agreement "
                "v{agreement_version}"
            ).format(
                name=g.name,
                text_channel_id=g.text_channel_id,
                voice_channel_id=g.voice_channel_id,
                enrolment=g.enrolment,
                enrolled=enrolled,
                consented=consented,
                agreement_version=g.agreement_version,
            )
        )
    for part in split("\n".join(lines), 3900):
        await send_ephemeral(interaction, embed=discord.Embed(title=_("Groups"), description=part))


async def roster(bot: HoldspaceBot, interaction: discord.Interaction[HoldspaceBot], info: GroupInfo) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    await bot.audit.record(info.guild_id, "roster_viewed", actor_id=interaction.user.id, group_id=info.id)
    events = await consent_store.history(bot.db, bot.ring, group_ids=[info.id])
    latest = {ev.member_id: ev for ev in events}
    enrolled = await group_store.enrolled_since(bot.db, bot.ring, info.id)
    members = sorted(set(enrolled) | {m for m, ev in latest.items() if ev.answer == "agree"})
    if not members:
        await send_ephemeral(interaction, _("Nobody is enrolled in **{name}** yet.").format(name=info.name))
        return
    lines = [
        _("**{name}** · current agreement: version {agreement_version}").format(
            name=info.name, agreement_version=info.agreement_version
        )
    ]
    for member_id in members:
        ev = latest.get(member_id)
        if ev is None:
            status = _("not answered yet")
        elif ev.answer == "agree":
            old = (
                _(" (an earlier version: asked again after the session)")
                if ev.version != info.agreement_version
                else ""
            )
            status = _("agreed to version {version} on {at:%Y-%m-%d}{old}").format(
                version=ev.version, at=ev.at, old=old
            )
        elif ev.answer == "decline":
            status = _("did not agree (version {version}, {at:%Y-%m-%d})").format(version=ev.version, at=ev.at)
        elif ev.answer == "withdraw":
            status = _("withdrew consent on {at:%Y-%m-%d}").format(at=ev.at)
        elif ev.answer == "revoked":
            status = _("asked to consent again since {at:%Y-%m-%d}").format(at=ev.at)
        else:
            status = _("removed on {at:%Y-%m-%d}").format(at=ev.at)
        enrolled_text = "" if member_id in enrolled else _(" (open group)")
        if ev is not None and ev.answer in RECEIPT_ANSWERS:
            status += _(" · receipt `{receipt_id}`").format(
                receipt_id=receipt_id(ev.group_id, member_id, ev.answer, ev.at)
            )
        lines.append(f"<@{member_id}>{enrolled_text}: {status}")
    for part in split("\n".join(lines), 3900):
        await send_ephemeral(interaction, embed=discord.Embed(title=_("Roster"), description=part))
