"""Short-lived button panels (confirmations, paging) that still answer once they are gone.

A panel's buttons carry custom ids ``holdspace:panel:<panel id>:<button>``. While the panel lives
in this process, its own view answers; once it timed out, was finished, or holdspace restarted, the
:class:`ExpiredPanel` item (registered for the whole bot) answers instead, politely, so no press is
ever left without an answer.
"""

from __future__ import annotations

import re
import secrets
import weakref
from typing import Any

import discord

from bot.i18n import N_, _
from bot.ui.base import Localised, View
from bot.ui.replies import send_ephemeral

EXPIRED = N_("This panel has expired. Run the command again to get a fresh one.")
PREFIX = "holdspace:panel:"

#: Ids of the panels alive, per running client (a restarted client knows none of the old ones).
_live: weakref.WeakKeyDictionary[discord.Client, set[str]] = weakref.WeakKeyDictionary()


def _panels(client: discord.Client) -> set[str]:
    return _live.setdefault(client, set())


class Panel(View):
    """A view whose buttons get panel custom ids; subclasses declare buttons as usual."""

    def __init__(self, client: discord.Client, *, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.client = client
        self.panel_id = secrets.token_hex(8)
        for index, item in enumerate(self.children):
            if isinstance(item, discord.ui.Button | discord.ui.Select):
                item.custom_id = f"{PREFIX}{self.panel_id}:{index}"
        _panels(client).add(self.panel_id)

    def stop(self) -> None:
        _panels(self.client).discard(self.panel_id)
        super().stop()

    async def on_timeout(self) -> None:
        _panels(self.client).discard(self.panel_id)


class ExpiredPanel(
    Localised,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"holdspace:panel:(?P<panel>[0-9a-f]{16}):[0-9]{1,2}",
):
    def __init__(self, panel: str) -> None:
        super().__init__(discord.ui.Button(label="-", custom_id=f"{PREFIX}{panel}:0"))
        self.panel = panel

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ExpiredPanel:
        return cls(match["panel"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        if self.panel in _panels(interaction.client):
            return  # the panel's own view answers
        await send_ephemeral(interaction, _(EXPIRED))
