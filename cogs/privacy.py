"""What holdspace keeps about people, told plainly to anyone who asks."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import HoldspaceBot
from bot.core.visibility import CaseFacts, CaseSight, Viewer, case_sight
from bot.storage import cases as case_store
from bot.storage import consents as consent_store
from bot.ui.replies import UserError, send_ephemeral

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

    @privacy.command(name="mydata", description="See what holdspace holds about you on this server")
    async def mydata(self, interaction: discord.Interaction[HoldspaceBot]) -> None:
        if interaction.guild_id is None:
            raise UserError("Run this inside the server whose records you want to see.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        text = await self.describe_member(interaction.guild_id, interaction.user.id)
        await interaction.followup.send(text, ephemeral=True)

    async def describe_member(self, guild_id: int, member_id: int) -> str:
        """Everything holdspace holds about ``member_id`` in this server, in words."""
        bot = self.bot
        groups = {g.id: g for g in bot.state.groups_of_guild(guild_id)}
        lines = ["**What holdspace holds about you on this server**"]
        enrolled = [g.name for g in groups.values() if bot.state.is_enrolled(g.id, member_id)]
        lines.append("Groups you are enrolled in: " + (", ".join(enrolled) if enrolled else "none"))
        history = await consent_store.history(bot.db, bot.ring, group_ids=list(groups), member_id=member_id)
        if history:
            lines.append("Your consent record (kept for the practice's files):")
            for event in history[-15:]:
                version = f", agreement version {event.version}" if event.version else ""
                lines.append(
                    f"- {groups[event.group_id].name}: {event.answer}{version}, "
                    f"{discord.utils.format_dt(event.at, 'f')} (by {event.method})"
                )
        else:
            lines.append("Consent record: nothing recorded.")
        reported = await case_store.list_for_reporter(bot.db, bot.ring, guild_id, member_id)
        lines.append(
            "Reports you made: "
            + (", ".join(f"#{c.number} ({c.status.value})" for c in reported) if reported else "none")
        )
        me = Viewer(member_id)
        about = [
            c
            for c in await case_store.list_for_subject(bot.db, bot.ring, guild_id, member_id)
            if case_sight(me, CaseFacts(c.kind, c.group_id, c.subject_id, False)) is CaseSight.STATUS
        ]
        lines.append(
            "Cases about you (only their status is shown to you): "
            + (", ".join(f"#{c.number} ({c.status.value})" for c in about) if about else "none")
        )
        lines.append(
            "holdspace keeps no names, no nicknames and nothing anyone wrote. "
            "To withdraw consent, use `/consent withdraw`; for a full copy, ask the practice."
        )
        return "\n".join(lines)[:2000]


async def setup(bot: HoldspaceBot) -> None:
    await bot.add_cog(Privacy(bot))
