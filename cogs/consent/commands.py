"""The consent cog: ``/consent give|withdraw|agreement|status|receipt``, the buttons' entry points,
scheduler timers and voice joins, handed to the feature's parts (answers, consent over time, the
backstop, receipts)."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import HoldspaceBot
from bot.i18n import _
from bot.storage import consents as consent_store
from bot.ui.agreement_history import send_agreement_version
from bot.ui.checks import in_guild
from bot.ui.consent_views import DYNAMIC_ITEMS
from bot.ui.group_options import MemberGroup
from bot.ui.replies import UserError, send_ephemeral
from cogs.consent import receipts
from cogs.consent.service import ConsentService


class Consent(commands.Cog):
    consent = app_commands.Group(
        name="consent", description="Read a group's agreement, consent or withdraw", guild_only=True
    )

    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot
        self.service = ConsentService(bot)

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(*DYNAMIC_ITEMS)
        self.service.over_time.register()
        self.bot.consent = self.service
        self.bot.gateway_hooks.on_voice("consent.backstop", self.service.backstop.voice_joined)

    async def cog_unload(self) -> None:
        self.bot.gateway_hooks.remove("consent.backstop")
        self.bot.remove_dynamic_items(*DYNAMIC_ITEMS)
        self.bot.consent = None

    # -- gateway events ------------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_holdspace_session_end(self, group_id: str) -> None:
        await self.service.over_time.session_ended(group_id)

    # -- commands ------------------------------------------------------------------------------------

    @consent.command(name="give", description="Read a group's agreement and say whether you agree")
    @app_commands.describe(group="The group")
    @in_guild()
    async def give(self, interaction: discord.Interaction[HoldspaceBot], group: MemberGroup) -> None:
        info = group
        if not self.service.answers.eligible(info, interaction.user.id):
            raise UserError(
                _(
                    "**{name}** is open by invitation: a facilitator enrols you first. If you "
                    "expected to be enrolled, ask a facilitator of the group."
                ).format(name=info.name)
            )
        await self.service.answers.show_agreement(interaction, info)

    @consent.command(name="withdraw", description="Withdraw your consent: you leave the group's rooms at once")
    @app_commands.describe(group="The group")
    @in_guild()
    async def withdraw(self, interaction: discord.Interaction[HoldspaceBot], group: MemberGroup) -> None:
        await self.service.answers.withdraw(interaction, group)

    @consent.command(name="receipt", description="Your receipt for your latest answer to a group (only you see it)")
    @app_commands.describe(group="The group")
    @in_guild()
    async def receipt(self, interaction: discord.Interaction[HoldspaceBot], group: MemberGroup) -> None:
        await receipts.latest(self.bot, interaction, group)

    @consent.command(name="agreement", description="The agreement you agreed to, word for word")
    @app_commands.describe(group="The group", version="Another version you agreed to (leave out for the latest)")
    @in_guild()
    async def agreement(
        self,
        interaction: discord.Interaction[HoldspaceBot],
        group: MemberGroup,
        version: app_commands.Range[int, 1, 1_000_000] | None = None,
    ) -> None:
        events = await consent_store.history(
            self.bot.db, self.bot.ring, group_ids=[group.id], member_id=interaction.user.id
        )
        agreed = [ev.version for ev in events if ev.answer == "agree" and ev.version is not None]
        if not agreed:
            raise UserError(
                _(
                    "You have not agreed to an agreement of **{name}** yet; `/consent give` "
                    "shows the current one to read and answer."
                ).format(name=group.name)
            )
        if version is not None and version not in agreed:
            listed = ", ".join(str(v) for v in sorted(set(agreed)))
            raise UserError(
                _("You agreed to version {listed} of the agreement of **{name}**; pick one of those.").format(
                    listed=listed, name=group.name
                )
            )
        await send_agreement_version(interaction, group, version if version is not None else agreed[-1])

    @consent.command(name="status", description="Your consents on this server (only you see it)")
    @in_guild()
    async def status(self, interaction: discord.Interaction[HoldspaceBot]) -> None:
        assert interaction.guild_id is not None
        state = self.bot.state
        lines = []
        for group in state.groups_of_guild(interaction.guild_id):
            fact = state.consent_of(group.id, interaction.user.id)
            if fact is not None:
                old = "" if fact.version == group.agreement_version else _(" (a newer version is waiting for you)")
                lines.append(
                    _("**{name}**: you agreed to version {version} on {given_at:%Y-%m-%d}{old}").format(
                        name=group.name, version=fact.version, given_at=fact.given_at, old=old
                    )
                )
            elif state.is_enrolled(group.id, interaction.user.id):
                lines.append(_("**{name}**: enrolled, not consented yet (`/consent give`)").format(name=group.name))
        await send_ephemeral(interaction, "\n".join(lines) or _("You are not in any group on this server."))
