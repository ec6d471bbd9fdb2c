"""Showing one stored version of a group's agreement, word for word: for facilitators (any version,
``/group agreement show version:``) and for members (the version they agreed to, ``/consent agreement``)."""

from __future__ import annotations

from typing import Any

import discord

from bot.core.records import GroupInfo
from bot.storage import groups as group_store
from bot.ui.consent_views import agreement_embeds
from bot.ui.replies import UserError, send_ephemeral


async def send_agreement_version(interaction: discord.Interaction[Any], info: GroupInfo, version: int | None) -> None:
    """The group's agreement ``version`` (default: the current one) as stored, with when it was made."""
    bot = interaction.client
    shown = await group_store.get_agreement(bot.db, bot.ring, info.id, version)
    if shown is None and version is None:
        raise UserError("This group has no agreement yet; `/group agreement edit` writes one.")
    if shown is None:
        raise UserError(
            f"**{info.name}** has no agreement version {version}; its versions are 1 to {info.agreement_version}."
        )
    made = f"Version {shown.version} of the agreement of **{info.name}**, made on {shown.created_at:%Y-%m-%d}"
    current = " (the current version)." if shown.version == info.agreement_version else " (an earlier version)."
    await send_ephemeral(interaction, made + current)
    for embed in agreement_embeds(info.name, shown.version, shown.sha256, shown.text):
        await send_ephemeral(interaction, embed=embed)
