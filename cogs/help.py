"""``/help``: each person sees the commands they may use, in their words (texts: bot/core/help.py)."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import HoldspaceBot
from bot.core.help import help_text
from bot.ui.checks import in_guild, is_facilitator, is_moderator, is_server_manager
from bot.ui.replies import send_ephemeral


class Help(commands.Cog):
    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot

    @app_commands.command(name="help", description="What you can do with holdspace")
    @app_commands.guild_only()
    @in_guild()
    async def help(self, interaction: discord.Interaction[HoldspaceBot]) -> None:
        text = help_text(
            facilitator=is_facilitator(interaction),
            moderator=is_moderator(interaction),
            manager=is_server_manager(interaction),
        )
        await send_ephemeral(interaction, text)


async def setup(bot: HoldspaceBot) -> None:
    await bot.add_cog(Help(bot))
