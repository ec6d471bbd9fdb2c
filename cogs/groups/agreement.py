"""A group's agreement: showing it, editing it in a modal (saved as a new version; members who agreed
to an earlier one are asked again), and saving an editor that was opened before a restart."""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from typing import Any

import discord

from bot.app import HoldspaceBot
from bot.core.agreement import (
    MODAL_FIELD_LIMIT,
    MODAL_FIELDS,
    AgreementError,
    default_text,
    facts_of,
    join_fields,
    missing_sections_warning,
    split_for_fields,
)
from bot.core.records import GroupInfo
from bot.core.timer_kinds import TimerKind
from bot.crypto import hash_text
from bot.services.member_data import retention_of
from bot.storage import groups as group_store
from bot.ui.agreement_history import send_agreement_version
from bot.ui.base import Modal
from bot.ui.checks import require_group_facilitator
from bot.ui.locale import group_language
from bot.ui.replies import UserError, send_ephemeral

log = logging.getLogger(__name__)


MODAL_PREFIX = "hs:agreement:"
_MODAL_RE = re.compile(r"^hs:agreement:(?P<group>[0-9a-f]{32}):(?P<version>\d{1,9}):[0-9a-f]{8}$")


class AgreementModal(Modal):
    def __init__(self, agreements: Agreements, group: GroupInfo, text: str) -> None:
        super().__init__(
            title=f"Agreement of {group.name}"[:45],
            timeout=900,
            custom_id=f"{MODAL_PREFIX}{group.id}:{group.agreement_version}:{uuid.uuid4().hex[:8]}",
        )
        self.agreements = agreements
        self.group_id = group.id
        self.base_version = group.agreement_version
        pieces = split_for_fields(text)
        self.fields: list[discord.ui.TextInput[Any]] = []
        for number in range(MODAL_FIELDS):
            field: discord.ui.TextInput[Any] = discord.ui.TextInput(
                label=f"Agreement, part {number + 1}" if number else "Agreement",
                style=discord.TextStyle.paragraph,
                default=pieces[number] if number < len(pieces) else None,
                required=number == 0,
                max_length=MODAL_FIELD_LIMIT,
                custom_id=f"part{number + 1}",
            )
            self.fields.append(field)
            self.add_item(field)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await self.agreements.save(interaction, self.group_id, self.base_version, [f.value for f in self.fields])

    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction[Any], error: Exception, /
    ) -> None:
        from bot.ui.replies import reply_error

        await reply_error(interaction, error)


class Agreements:
    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot
        #: custom_id -> when (loop time) of the agreement editors this process opened
        self._live_modals: dict[str, float] = {}

    async def restore_editor(self, interaction: discord.Interaction[HoldspaceBot]) -> None:
        """An agreement editor opened before a restart is still saved when submitted after it."""
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data: dict[str, Any] = dict(interaction.data or {})
        match = _MODAL_RE.match(str(data.get("custom_id", "")))
        if match is None or match.group(0) in self._live_modals:
            return
        values: dict[str, str] = {}
        for row in data.get("components") or []:
            for component in [*(row.get("components") or []), *([row["component"]] if "component" in row else [])]:
                if component.get("custom_id"):
                    values[str(component["custom_id"])] = str(component.get("value") or "")
        parts: list[str | None] = [values.get(f"part{n + 1}") for n in range(MODAL_FIELDS)]
        try:
            await self.save(interaction, match["group"], int(match["version"]), parts)
        except Exception as exc:
            from bot.ui.replies import reply_error

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
            text = default_text(info.name, facts_of(info, retention_of(self.bot.settings)), language)
        modal = AgreementModal(self, info, text)
        now = asyncio.get_running_loop().time()
        self._live_modals = {k: t for k, t in self._live_modals.items() if now - t < 1200}
        self._live_modals[modal.custom_id] = now
        await interaction.response.send_modal(modal)

    async def save(
        self, interaction: discord.Interaction[HoldspaceBot], group_id: str, base_version: int, parts: list[str | None]
    ) -> None:
        info = self.bot.state.groups.get(group_id)
        if info is None:
            raise UserError("That group no longer exists.")
        require_group_facilitator(interaction, info)
        try:
            text = join_fields(parts)
        except AgreementError as exc:
            raise UserError(str(exc)) from None
        if info.agreement_version != base_version:
            raise UserError(
                "Someone else changed this agreement while you were editing; nothing was saved. "
                "Run `/group agreement edit` again to edit the new version."
            )
        if hash_text(text) == info.agreement_sha256:
            await send_ephemeral(interaction, "The agreement is unchanged; no new version was made.")
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
        when = "when the running session ends" if running else "now"
        await send_ephemeral(
            interaction,
            f"Saved version {version} of the agreement of **{info.name}** (SHA-256 {sha[:16]}). Members who agreed "
            f"to an earlier version lose access {when} and are asked to read and agree to the new one."
            + missing_sections_warning(text),
        )
