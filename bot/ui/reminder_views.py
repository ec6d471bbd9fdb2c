"""The button under every ground-rules reminder: the limits of confidentiality in full.

A ``DynamicItem`` with a fixed custom_id pattern (``hs:limits:<group id>``), so a reminder posted
before a restart still answers. It shows the section of the group's current agreement, or, when an
agreement has none, holdspace's own wording and a note that the group's text lacks it.
"""

from __future__ import annotations

import re
from typing import Any

import discord

from bot.core.agreement import default_limits_text, limits_section
from bot.core.reminders import LIMITS_BUTTON_LABEL
from bot.i18n import _
from bot.storage import groups as group_store
from bot.ui.base import Localised
from bot.ui.replies import reply_error, send_ephemeral

LIMITS_ID = "hs:limits:{group_id}"


class LimitsButton(
    Localised,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"hs:limits:(?P<group_id>[0-9a-f]{32})",
):
    def __init__(self, group_id: str) -> None:
        self.group_id = group_id
        super().__init__(
            discord.ui.Button(
                label=_(LIMITS_BUTTON_LABEL),
                style=discord.ButtonStyle.secondary,
                custom_id=LIMITS_ID.format(group_id=group_id),
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> LimitsButton:
        return cls(match["group_id"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            await send_ephemeral(interaction, await limits_answer(interaction.client, self.group_id))
        except Exception as exc:
            await reply_error(interaction, exc)


async def limits_answer(bot: Any, group_id: str) -> str:
    """What the button answers for ``group_id``: the full section, never cut."""
    agreement = await group_store.get_agreement(bot.db, bot.ring, group_id)
    section = None if agreement is None else limits_section(agreement.text)
    if section is not None:
        return section
    return (
        default_limits_text()
        + "\n\n"
        + _(
            "(This group's agreement has no section on the limits of confidentiality; this is "
            "holdspace's standard wording. Ask a facilitator of the group if you have questions.)"
        )
    )


def limits_view(group_id: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(LimitsButton(group_id))
    return view


DYNAMIC_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (LimitsButton,)
