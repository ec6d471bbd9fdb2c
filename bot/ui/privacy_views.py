"""The erasure confirmation buttons.

Both are ``DynamicItem``s with fixed custom_id patterns, so they still answer after a restart
(registered by the privacy cog):

- ``hs:forget:<scope>:<tag>`` -- "Erase my records"; ``<scope>`` is the server's id, or ``all`` when
  asked in a direct message (every server holdspace looks after);
- ``hs:forget-keep:<tag>`` -- "Keep them".

``<tag>`` is the member's button fingerprint (see bot/ui/consent_views.py): a button pressed by anyone
else is refused. The buttons parse their custom_id and hand over to ``bot.privacy`` (an ``ErasureFlow``, set
by the privacy feature while it is loaded).
"""

from __future__ import annotations

import re
from typing import Any, Protocol

import discord

from bot.i18n import _
from bot.ui.base import Localised
from bot.ui.replies import reply_error

FORGET_ID = "hs:forget:{scope}:{tag}"
KEEP_ID = "hs:forget-keep:{tag}"


class ErasureFlow(Protocol):
    async def forget_confirmed(self, interaction: discord.Interaction[Any], scope: str, tag: str) -> None: ...

    async def forget_declined(self, interaction: discord.Interaction[Any], tag: str) -> None: ...


def _flow(interaction: discord.Interaction[Any]) -> ErasureFlow:
    flow: ErasureFlow | None = interaction.client.privacy
    if flow is None:
        raise RuntimeError("the privacy feature is not loaded")
    return flow


class ForgetButton(
    Localised,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"hs:forget:(?P<scope>[0-9]{15,20}|all):(?P<tag>[0-9a-f]{12})",
):
    def __init__(self, scope: str, tag: str) -> None:
        self.scope = scope
        self.tag = tag
        super().__init__(
            discord.ui.Button(
                label=_("Erase my records"),
                style=discord.ButtonStyle.danger,
                custom_id=FORGET_ID.format(scope=scope, tag=tag),
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ForgetButton:
        return cls(match["scope"], match["tag"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            await _flow(interaction).forget_confirmed(interaction, self.scope, self.tag)
        except Exception as exc:
            await reply_error(interaction, exc)


class KeepButton(
    Localised,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"hs:forget-keep:(?P<tag>[0-9a-f]{12})",
):
    def __init__(self, tag: str) -> None:
        self.tag = tag
        super().__init__(
            discord.ui.Button(
                label=_("Keep them"), style=discord.ButtonStyle.secondary, custom_id=KEEP_ID.format(tag=tag)
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> KeepButton:
        return cls(match["tag"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            await _flow(interaction).forget_declined(interaction, self.tag)
        except Exception as exc:
            await reply_error(interaction, exc)


def confirm_view(scope: str, tag: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(ForgetButton(scope, tag))
    view.add_item(KeepButton(tag))
    return view


DYNAMIC_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (ForgetButton, KeepButton)
