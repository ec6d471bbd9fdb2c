"""The groups cog: ``/group ...`` commands and the gateway events the feature listens to, handed to its
parts (founding, members, settings, agreement, roster, reconcile)."""

from __future__ import annotations

from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import HoldspaceBot
from bot.ui.checks import facilitators_only
from bot.ui.group_options import FacilitatedGroup
from bot.ui.locale import language_choices
from cogs.groups import roster
from cogs.groups.agreement import Agreements
from cogs.groups.founding import Founding
from cogs.groups.members import Membership
from cogs.groups.reconcile import Reconciler
from cogs.groups.settings import GroupSettings


class Groups(commands.Cog):
    group = app_commands.Group(
        name="group",
        description="Create and run confidential groups (facilitators)",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )
    agreement = app_commands.Group(name="agreement", description="A group's consent agreement", parent=group)
    facilitator = app_commands.Group(name="facilitator", description="Who facilitates a group", parent=group)

    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot
        self.founding = Founding(bot)
        self.members = Membership(bot)
        self.group_settings = GroupSettings(bot)
        self.agreements = Agreements(bot)
        self.reconciler = Reconciler(bot)

    # -- gateway events ------------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction[HoldspaceBot]) -> None:
        await self.agreements.restore_editor(interaction)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        await self.bot.access.reconcile_all("ready")

    @commands.Cog.listener()
    async def on_resumed(self) -> None:
        await self.bot.access.reconcile_all("resume")

    @commands.Cog.listener()
    async def on_guild_channel_update(self, before: discord.abc.GuildChannel, after: discord.abc.GuildChannel) -> None:
        await self.reconciler.strip_unconsented(before, after)

    # -- commands ------------------------------------------------------------------------------------

    @group.command(name="create", description="Create a group with a private text room and voice room")
    @app_commands.describe(name="The group's name, e.g. Tuesday circle")
    @facilitators_only()
    async def create(self, interaction: discord.Interaction[HoldspaceBot], name: str) -> None:
        await self.founding.create(interaction, name)

    @group.command(name="adopt", description="Make existing text and voice rooms a confidential group")
    @app_commands.describe(
        name="The group's name", text_channel="The group's text room", voice_channel="The group's voice room"
    )
    @facilitators_only()
    async def adopt(
        self,
        interaction: discord.Interaction[HoldspaceBot],
        name: str,
        text_channel: discord.TextChannel,
        voice_channel: discord.VoiceChannel,
    ) -> None:
        await self.founding.adopt(interaction, name, (text_channel, voice_channel))

    @facilitator.command(name="add", description="Make someone a facilitator of this group only")
    @app_commands.describe(group="The group", member="A member holding the facilitator role")
    @facilitators_only()
    async def facilitator_add(
        self, interaction: discord.Interaction[HoldspaceBot], group: FacilitatedGroup, member: discord.User
    ) -> None:
        await self.members.facilitator_add(interaction, group, member)

    @facilitator.command(name="remove", description="Stop someone facilitating this group")
    @app_commands.describe(group="The group", member="The facilitator to remove")
    @facilitators_only()
    async def facilitator_remove(
        self, interaction: discord.Interaction[HoldspaceBot], group: FacilitatedGroup, member: discord.User
    ) -> None:
        await self.members.facilitator_remove(interaction, group, member)

    @facilitator.command(name="list", description="Who facilitates a group")
    @app_commands.describe(group="The group")
    @facilitators_only()
    async def facilitator_list(self, interaction: discord.Interaction[HoldspaceBot], group: FacilitatedGroup) -> None:
        await self.members.facilitator_list(interaction, group)

    @group.command(name="enroll", description="Invite a member to a group; they get the agreement to consent to")
    @app_commands.describe(group="The group", member="The member to enrol")
    @facilitators_only()
    async def enroll(
        self, interaction: discord.Interaction[HoldspaceBot], group: FacilitatedGroup, member: discord.User
    ) -> None:
        await self.members.enroll(interaction, group, member)

    @group.command(name="remove", description="Remove a member from a group (access withdrawn, case opened)")
    @app_commands.describe(group="The group", member="The member to remove", reason="Why (kept encrypted)")
    @facilitators_only()
    async def remove(
        self, interaction: discord.Interaction[HoldspaceBot], group: FacilitatedGroup, member: discord.User, reason: str
    ) -> None:
        await self.members.remove(interaction, group, member, reason)

    @group.command(name="list", description="This server's groups")
    @facilitators_only()
    async def list_groups(self, interaction: discord.Interaction[HoldspaceBot]) -> None:
        await roster.list_groups(self.bot, interaction)

    @group.command(name="roster", description="Enrolled members and their consent (only you see it)")
    @facilitators_only()
    async def roster(self, interaction: discord.Interaction[HoldspaceBot], group: FacilitatedGroup) -> None:
        await roster.roster(self.bot, interaction, group)

    @group.command(name="settings", description="Show or change a group's settings")
    @app_commands.describe(
        enrolment="invite: facilitators enrol members; open: anyone may join by consenting",
        reconsent_after_days="Ask members to consent again after this many days",
        facilitators_consent="Facilitators must consent too before joining the voice room",
        access_mode="member: per-member permissions (membership not shown); role: a group role",
        lock_between_sessions="Close the rooms between sessions",
        ttl="Delete messages in the text room after this long (e.g. 24h), or off",
        expire_at_session_end="Delete the session's messages when it ends",
        keep_pinned="Keep pinned messages",
        auto_reminder_gap="Remind of the ground rules when the room was quiet this long (e.g. 2h)",
        max_hold_days="Most days a moderator hold may keep messages",
        language="The language of the group's ground rules, reminders and answers",
    )
    @app_commands.choices(language=language_choices(follow_server=True))
    @facilitators_only()
    async def settings(
        self,
        interaction: discord.Interaction[HoldspaceBot],
        group: FacilitatedGroup,
        enrolment: Literal["invite", "open"] | None = None,
        reconsent_after_days: app_commands.Range[int, 1, 3650] | None = None,
        facilitators_consent: bool | None = None,
        access_mode: Literal["member", "role"] | None = None,
        lock_between_sessions: bool | None = None,
        ttl: str | None = None,
        expire_at_session_end: bool | None = None,
        keep_pinned: bool | None = None,
        auto_reminder_gap: str | None = None,
        max_hold_days: app_commands.Range[int, 1, 90] | None = None,
        language: app_commands.Choice[str] | None = None,
    ) -> None:
        await self.group_settings.change(
            interaction,
            group,
            enrolment=enrolment,
            reconsent_after_days=reconsent_after_days,
            facilitators_consent=facilitators_consent,
            access_mode=access_mode,
            lock_between_sessions=lock_between_sessions,
            ttl=ttl,
            expire_at_session_end=expire_at_session_end,
            keep_pinned=keep_pinned,
            auto_reminder_gap=auto_reminder_gap,
            max_hold_days=max_hold_days,
            language=language.value if language is not None else None,
        )

    @agreement.command(name="show", description="Show the group's agreement, the current or an earlier version")
    @app_commands.describe(version="An earlier version's number (leave out for the current one)")
    @facilitators_only()
    async def agreement_show(
        self,
        interaction: discord.Interaction[HoldspaceBot],
        group: FacilitatedGroup,
        version: app_commands.Range[int, 1, 1_000_000] | None = None,
    ) -> None:
        await self.agreements.show(interaction, group, version)

    @agreement.command(name="edit", description="Edit the group's agreement (members consent again)")
    @facilitators_only()
    async def agreement_edit(self, interaction: discord.Interaction[HoldspaceBot], group: FacilitatedGroup) -> None:
        await self.agreements.edit(interaction, group)
