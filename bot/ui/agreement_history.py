"""Showing one stored version of a group's agreement, word for word: for facilitators (any version,
``/group agreement show version:``) and for members (the version they agreed to, ``/consent agreement``)."""

from __future__ import annotations

from typing import Any

import discord

from bot.core.records import GroupInfo
from bot.i18n import _
from bot.storage import groups as group_store
from bot.ui.consent_views import agreement_embeds
from bot.ui.replies import UserError, send_ephemeral


async def send_agreement_version(interaction: discord.Interaction[Any], info: GroupInfo, version: int | None) -> None:
    """The group's agreement ``version`` (default: the current one) as stored, with when it was made."""
    bot = interaction.client
    shown = await group_store.get_agreement(bot.db, bot.ring, info.id, version)
    if shown is None and version is None:
        raise UserError(_("This group has no agreement yet; `/group agreement edit` writes one."))
    if shown is None:
        raise UserError(
            _("**{name}** has no agreement version {version}; its versions are 1 to {agreement_version}.").format(
                name=info.name, version=version, agreement_version=info.agreement_version
            )
        )
    made = _("Version {version} of the agreement of **{name}**, made on {created_at:%Y-%m-%d}").format(
        version=shown.version, name=info.name, created_at=shown.created_at
    )
    current = _(" (the current version).") if shown.version == info.agreement_version else _(" (an earlier version).")
    await send_ephemeral(interaction, made + current)
    for embed in agreement_embeds(info.name, shown.version, shown.sha256, shown.text):
        await send_ephemeral(interaction, embed=embed)
