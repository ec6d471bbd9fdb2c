"""A group's agreement: showing it, editing it in a modal (saved as a new version; members who agreed
to an earlier one are asked again), and saving an editor that was opened before a restart."""

from __future__ import annotations

import logging

import discord

from bot.app import HoldspaceBot
from bot.core.agreement import (
    AgreementError,
    default_text,
    facts_of,
    join_fields,
    missing_sections_warning,
)
from bot.core.records import GroupInfo
from bot.core.timer_kinds import TimerKind
from bot.crypto import hash_text
from bot.i18n import _
from bot.services.member_data import retention_of
from bot.storage import groups as group_store
from bot.ui.agreement_editor import Editors
from bot.ui.agreement_history import send_agreement_version
from bot.ui.checks import require_group_facilitator
from bot.ui.locale import group_language
from bot.ui.replies import UserError, reply_error, send_ephemeral
from bot.ui.server_agreement import template_of

log = logging.getLogger(__name__)


class Agreements:
    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot
        self.editors = Editors("hs:agreement:")

    async def restore_editor(self, interaction: discord.Interaction[HoldspaceBot]) -> None:
        """An agreement editor opened before a restart is still saved when submitted after it."""
        orphan = self.editors.orphan(interaction)
        if orphan is None:
            return
        group_id, version, parts = orphan
        try:
            await self.save(interaction, group_id, version, parts)
        except Exception as exc:
            await reply_error(interaction, exc)

    async def show(
        self, interaction: discord.Interaction[HoldspaceBot], info: GroupInfo, version: int | None = None
    ) -> None:
        await send_agreement_version(interaction, info, version)

    async def edit(self, interaction: discord.Interaction[HoldspaceBot], info: GroupInfo) -> None:
        current = await group_store.get_agreement(self.bot.db, self.bot.ring, info.id)
        if current is not None:
            text = current.text
        else:
            language = group_language(self.bot.state, info)
            template = await template_of(self.bot, info.guild_id)
            text = default_text(info.name, facts_of(info, retention_of(self.bot.settings)), language, template)
        group_id, version = info.id, info.agreement_version

        async def save(submitted: discord.Interaction[HoldspaceBot], parts: list[str | None]) -> None:
            await self.save(submitted, group_id, version, parts)

        await self.editors.open(
            interaction,
            title=_("Agreement of {name}").format(name=info.name),
            key=group_id,
            version=version,
            text=text,
            save=save,
        )

    async def save(
        self, interaction: discord.Interaction[HoldspaceBot], group_id: str, base_version: int, parts: list[str | None]
    ) -> None:
        info = self.bot.state.groups.get(group_id)
        if info is None:
            raise UserError(_("That group no longer exists."))
        require_group_facilitator(interaction, info)
        try:
            text = join_fields(parts)
        except AgreementError as exc:
            raise UserError(str(exc)) from None
        if info.agreement_version != base_version:
            raise UserError(
                _(
                    "Someone else changed this agreement while you were editing; nothing was "
                    "saved. Run `/group agreement edit` again to edit the new version."
                )
            )
        if hash_text(text) == info.agreement_sha256:
            await send_ephemeral(interaction, _("The agreement is unchanged; no new version was made."))
            return
        version, sha = await group_store.add_agreement_version(
            self.bot.db, self.bot.ring, group_id, text, self.bot.clock.now()
        )
        info = self.bot.state.update_group(group_id, agreement_version=version, agreement_sha256=sha)
        await self.bot.audit.record(
            info.guild_id,
            "agreement_edited",
            actor_id=interaction.user.id,
            group_id=group_id,
            details={"version": version, "sha256": sha},
        )
        await self.bot.scheduler.schedule(
            TimerKind.CONSENT_REVALIDATE, self.bot.clock.now(), {"group_id": group_id}, key=group_id
        )
        running = self.bot.state.session_running(group_id)
        when = _("when the running session ends") if running else "now"
        await send_ephemeral(
            interaction,
            _(
                "Saved version {version} of the agreement of **{name}** (SHA-256 {sha}). "
                "Members who agreed to an earlier version lose access {when} and are asked "
                "to read and agree to the new one."
            ).format(version=version, name=info.name, sha=sha[:16], when=when)
            + missing_sections_warning(text, _("/group agreement edit")),
        )
