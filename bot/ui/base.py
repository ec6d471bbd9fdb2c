"""The base of holdspace's views, modals and persistent buttons: each sets the language of its
interaction (bot/ui/locale.py) before it runs, so every answer is in its reader's language."""

from __future__ import annotations

from typing import Any

import discord

from bot.ui.locale import enter


class View(discord.ui.View):
    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        enter(interaction)
        return True


class Modal(discord.ui.Modal):
    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        enter(interaction)
        return True


class Localised:
    """Mixed into a ``DynamicItem`` (first among its bases): its checks and callback run in the
    language of the person who pressed it."""

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        enter(interaction)
        return True
