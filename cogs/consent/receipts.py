"""Consent receipts: built from the consent record (bot.core.receipts words them), sent by DM and
shown ephemerally where the member's DMs are closed; `/consent receipt` builds the latest one again.

Nothing is stored for a receipt: it is worked out from the consent record each time, so it lasts as
long as the record does under the practice's ``[retention]`` rules, erasure included.
"""

from __future__ import annotations

import logging
from datetime import datetime

import discord

from bot.app import HoldspaceBot
from bot.core.receipts import ANSWERS, Receipt, receipt_id, receipt_text
from bot.core.records import GroupInfo
from bot.i18n import _
from bot.storage import consents as consent_store
from bot.storage import groups as group_store
from bot.ui.replies import UserError, send_ephemeral

log = logging.getLogger(__name__)

DM_SENT = _("Your receipt is in your direct messages.")
DM_CLOSED = _(
    "Your direct messages are closed, so here is your receipt; it disappears "
    "when you dismiss it. `/consent receipt` shows it again at any time."
)


async def build(
    bot: HoldspaceBot,
    group: GroupInfo,
    member_id: int,
    *,
    answer: str,
    at: datetime,
    version: int | None,
    sha256: str | None,
) -> discord.Embed:
    """The receipt of one recorded answer, as one embed."""
    guild = bot.get_guild(group.guild_id)
    agreement_text = None
    if answer == "agree" and version:
        agreement = await group_store.get_agreement(bot.db, bot.ring, group.id, version)
        agreement_text = agreement.text if agreement is not None else None
    retention = bot.settings.retention
    text = receipt_text(
        Receipt(
            receipt_id=receipt_id(group.id, member_id, answer, at),
            answer=answer,
            server=guild.name if guild is not None else _("this server"),
            group=group.name,
            version=version,
            sha256=sha256,
            at=at,
            time_zone=bot.state.guild(group.guild_id).timezone,
            agreement=agreement_text,
            reconsent_after_days=group.reconsent_after_days,
            withdrawn_consent_days=retention.withdrawn_consent_days,
            audit_days=retention.audit_days,
        )
    )
    return discord.Embed(description=text)


async def deliver(interaction: discord.Interaction[HoldspaceBot], embed: discord.Embed, reply: str) -> None:
    """Answer with ``reply`` and send the receipt by DM; where the DM is refused, show the receipt
    ephemerally after the reply instead."""
    try:
        await interaction.user.send(embed=embed)
    except discord.HTTPException as exc:  # 50007: the member's DMs are closed
        log.info("a consent receipt could not go by DM (%s); shown ephemerally", exc.status)
        await send_ephemeral(interaction, reply)
        await send_ephemeral(interaction, DM_CLOSED, embed=embed)
        return
    await send_ephemeral(interaction, f"{reply}\n{DM_SENT}")


async def latest(bot: HoldspaceBot, interaction: discord.Interaction[HoldspaceBot], group: GroupInfo) -> None:
    """`/consent receipt`: the receipt of the member's latest answer to ``group``, again."""
    member_id = interaction.user.id
    events = await consent_store.history(bot.db, bot.ring, group_ids=[group.id], member_id=member_id)
    answered = [ev for ev in events if ev.answer in ANSWERS]
    if not answered:
        raise UserError(
            _(
                "holdspace holds no answer of yours to **{name}**, so there is no receipt. "
                "`/consent give` shows the agreement."
            ).format(name=group.name)
        )
    last = answered[-1]
    version, sha256 = last.version, last.sha256
    if last.answer == "withdraw":  # a withdrawal is of the last version agreed to
        agreed = [ev for ev in events if ev.answer == "agree" and ev.seq < last.seq]
        if agreed:
            version, sha256 = agreed[-1].version, agreed[-1].sha256
    embed = await build(bot, group, member_id, answer=last.answer, at=last.at, version=version, sha256=sha256)
    await interaction.response.defer(ephemeral=True, thinking=True)
    try:
        await interaction.user.send(embed=embed)
    except discord.HTTPException:
        await send_ephemeral(interaction, DM_CLOSED, embed=embed)
        return
    await send_ephemeral(interaction, _("Here is your receipt again. {DM_SENT}").format(DM_SENT=DM_SENT), embed=embed)
