"""What holdspace keeps about people, told plainly to anyone who asks."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import HoldspaceBot
from bot.ui.replies import send_ephemeral

PRIVACY_NOTICE = """\
**What holdspace keeps, and for how long**
- It never reads what you write: it does not ask Discord for message content. For messages in group \
rooms it keeps only their ids and when they are due to be deleted.
- It never stores names or nicknames, and it never joins a voice channel.
- For each group you consent to, it keeps the version of the agreement you agreed to, when, and how. \
Your Discord id is stored encrypted, and you are found by a keyed fingerprint instead of the id itself.
- Reports and cases keep encrypted details for moderators; a closed case is deleted after the \
server's retention period.
- Every action by facilitators, moderators and holdspace itself is written to an audit trail that \
cannot be changed without it showing.
- `/privacy mydata` shows what holdspace holds about you. A facilitator or the server's host can \
export the consent record for the practice's files.
"""


class Privacy(commands.Cog):
    privacy = app_commands.Group(name="privacy", description="What holdspace keeps about you")

    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot

    @privacy.command(name="notice", description="What holdspace keeps about people, and for how long")
    async def notice(self, interaction: discord.Interaction[HoldspaceBot]) -> None:
        await send_ephemeral(interaction, PRIVACY_NOTICE)


async def setup(bot: HoldspaceBot) -> None:
    await bot.add_cog(Privacy(bot))
