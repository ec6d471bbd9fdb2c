"""A server's default agreement (``/setup agreement show|edit|reset``, server managers): the text its
new groups start from, each group filling in its own name and settings. Existing groups keep their
own agreement. Every version is kept (bot.storage.server_agreements); editing warns, as a group's
agreement editor does, when the limits-of-confidentiality section is gone."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord

from bot.core.agreement import (
    PLACEHOLDERS,
    AgreementError,
    default_template,
    join_fields,
    missing_sections_warning,
    normalise,
    split,
    validate_template,
)
from bot.core.member_records import Retention
from bot.crypto import hash_text
from bot.i18n import _, slash
from bot.i18n.formats import day
from bot.storage import server_agreements as store
from bot.ui.agreement_editor import Editors
from bot.ui.checks import require_server_manager
from bot.ui.consent_views import EMBED_COLOUR
from bot.ui.group_options import NAME_MAX
from bot.ui.replies import UserError, reply_error, send_ephemeral

if TYPE_CHECKING:
    from bot.app import HoldspaceBot

EDIT_COMMAND = "/setup agreement edit"


async def template_of(bot: HoldspaceBot, guild_id: int) -> str | None:
    """The server's default agreement for a new group (None: holdspace's own)."""
    current = await store.current(bot.db, bot.ring, guild_id)
    return None if current is None else current.template


def _placeholders() -> str:
    return "\n".join(f"`{key}`: {_(meaning)}" for key, meaning in PLACEHOLDERS.items())


class ServerAgreements:
    def __init__(self, bot: HoldspaceBot, retention: Retention) -> None:
        self.bot = bot
        self.retention = retention
        self.editors = Editors("hs:server-agreement:")

    async def show(self, interaction: discord.Interaction[HoldspaceBot]) -> None:
        assert interaction.guild_id is not None
        current = await store.current(self.bot.db, self.bot.ring, interaction.guild_id)
        if current is None:
            intro = _("New groups on this server start from holdspace's own default agreement.")
            template = default_template()
        elif current.template is None:
            intro = _(
                "New groups on this server start from holdspace's own default agreement again (version "
                "{version}, {day})."
            ).format(version=current.version, day=day(current.created_at))
            template = default_template()
        else:
            intro = _(
                "New groups on this server start from this server's default agreement, version {version} of {day}."
            ).format(version=current.version, day=day(current.created_at))
            template = current.template
        rest = _(
            "Groups that exist keep their own agreement. Each new group fills in:\n{placeholders}\n"
            "Change it with `{edit}`; `/setup agreement reset` goes back to holdspace's own default agreement."
        ).format(placeholders=_placeholders(), edit=slash(EDIT_COMMAND))
        await send_ephemeral(interaction, f"{intro} {rest}")
        parts = split(normalise(template))
        for number, part in enumerate(parts, start=1):
            title = _("Default agreement of this server") if number == 1 else _("Default agreement (continued)")
            embed = discord.Embed(title=title, description=part, colour=EMBED_COLOUR)
            if len(parts) > 1:
                embed.set_footer(text=_("part {number} of {count}").format(number=number, count=len(parts)))
            await send_ephemeral(interaction, embed=embed)

    async def edit(self, interaction: discord.Interaction[HoldspaceBot]) -> None:
        guild_id = interaction.guild_id
        assert guild_id is not None
        current = await store.current(self.bot.db, self.bot.ring, guild_id)
        version = 0 if current is None else current.version
        template = default_template() if current is None or current.template is None else current.template

        async def save(submitted: discord.Interaction[Any], parts: list[str | None]) -> None:
            await self.save(submitted, guild_id, version, parts)

        await self.editors.open(
            interaction,
            title=_("Default agreement of this server"),
            key=str(guild_id),
            version=version,
            text=normalise(template),
            save=save,
        )

    async def restore_editor(self, interaction: discord.Interaction[HoldspaceBot]) -> None:
        """An editor opened before a restart is still saved when submitted after it."""
        orphan = self.editors.orphan(interaction)
        if orphan is None:
            return
        key, version, parts = orphan
        try:
            await self.save(interaction, int(key), version, parts)
        except Exception as exc:
            await reply_error(interaction, exc)

    async def save(
        self, interaction: discord.Interaction[Any], guild_id: int, base_version: int, parts: list[str | None]
    ) -> None:
        """Store the edited text as the next version, if it is still a server manager who submits it
        and nobody saved another version meanwhile."""
        if interaction.guild_id != guild_id:
            raise UserError(_("This editor belongs to another server; nothing was saved."))
        require_server_manager(interaction)
        try:
            template = validate_template(join_fields(parts), "W" * NAME_MAX, self.retention)
        except AgreementError as exc:
            raise UserError(str(exc)) from None
        current = await store.current(self.bot.db, self.bot.ring, guild_id)
        now_template = default_template() if current is None or current.template is None else current.template
        if template == normalise(now_template):
            await send_ephemeral(interaction, _("The default agreement is unchanged; no new version was made."))
            return
        version = await self._store(interaction, guild_id, base_version, template)
        await send_ephemeral(
            interaction,
            _(
                "Saved version {version} of this server's default agreement. Groups created from now on start "
                "from it; groups that exist keep their own agreement (`/group agreement edit` changes one)."
            ).format(version=version)
            + missing_sections_warning(template, EDIT_COMMAND),
        )

    async def reset(self, interaction: discord.Interaction[HoldspaceBot]) -> None:
        guild_id = interaction.guild_id
        assert guild_id is not None
        current = await store.current(self.bot.db, self.bot.ring, guild_id)
        if current is None or current.template is None:
            await send_ephemeral(
                interaction, _("New groups here already start from holdspace's own default agreement; nothing changed.")
            )
            return
        version = await self._store(interaction, guild_id, current.version, None)
        await send_ephemeral(
            interaction,
            _(
                "New groups on this server start from holdspace's own default agreement again (version "
                "{version}); groups that exist keep their own agreement. The earlier versions are kept."
            ).format(version=version),
        )

    async def _store(
        self, interaction: discord.Interaction[Any], guild_id: int, base_version: int, template: str | None
    ) -> int:
        """Store the next version (None: holdspace's own default again) and audit it; its number."""
        version = await store.add_version(
            self.bot.db, self.bot.ring, guild_id, template, self.bot.clock.now(), after=base_version
        )
        if version is None:
            raise UserError(
                _(
                    "Someone else changed this server's default agreement meanwhile; nothing was saved. "
                    "`/setup agreement show` shows the new version, `{edit}` edits it."
                ).format(edit=slash(EDIT_COMMAND))
            )
        await self.bot.audit.record(
            guild_id,
            "server_agreement_changed",
            actor_id=interaction.user.id,
            details={"version": version, "sha256": None if template is None else hash_text(template)},
        )
        return version
