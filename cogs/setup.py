"""Server set-up: facilitator and moderator roles, the moderators' log channel, the lobby with its
"Review and consent" button, and the server's time zone."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.command_access import open_step
from bot.core.records import GuildConfig
from bot.core.zones import ZoneError, canonical_zone, suggest_zones
from bot.i18n import _, choose, using
from bot.i18n.formats import language_name
from bot.services.command_access import staff_command_gaps
from bot.services.member_data import retention_of
from bot.storage import guilds as guild_store
from bot.ui.checks import is_server_manager, server_manager_only
from bot.ui.consent_views import lobby_embed, lobby_view
from bot.ui.group_options import missing_permission_error
from bot.ui.locale import language_choices
from bot.ui.replies import UserError, send_ephemeral
from bot.ui.server_agreement import ServerAgreements

if TYPE_CHECKING:
    from bot.app import HoldspaceBot
from bot.core.server_audit import held_by_most

log = logging.getLogger(__name__)

LOBBY_NEEDS = ("view_channel", "send_messages", "embed_links", "read_message_history")
LOG_NEEDS = ("view_channel", "send_messages", "embed_links")


def validate_timezone(raw: str) -> str:
    try:
        return canonical_zone(raw)
    except ZoneError as exc:
        raise UserError(
            _("{problem}. Pick one from the list.").format(problem=f"{str(exc)[:1].upper()}{str(exc)[1:]}")
        ) from None


async def timezone_autocomplete(
    interaction: discord.Interaction[HoldspaceBot], current: str
) -> list[app_commands.Choice[str]]:
    if interaction.guild is None or not is_server_manager(interaction):
        return []  # autocomplete answers only those who may run the command
    return [app_commands.Choice(name=z, value=z) for z in suggest_zones(current)]


def _check_channel(guild: discord.Guild, channel: discord.TextChannel, needs: tuple[str, ...], what: str) -> None:
    if channel.guild.id != guild.id:
        raise UserError(_("The {what} belongs to another server; pick a channel of this server.").format(what=what))
    perms = channel.permissions_for(guild.me)
    if perms.administrator:
        return
    missing = [n for n in needs if not getattr(perms, n)]
    if missing:
        raise missing_permission_error(
            missing, _("use {mention} as the {what}").format(mention=channel.mention, what=what), f"#{channel.name}"
        )


def _check_role(guild: discord.Guild, role: discord.Role, what: str) -> None:
    if role.guild.id != guild.id:
        raise UserError(_("The {what} belongs to another server; pick a role of this server.").format(what=what))
    if role.is_default():
        raise UserError(_("@everyone cannot be the {what}; create a role for it.").format(what=what))
    if role.managed:
        raise UserError(
            _("{mention} belongs to a bot or integration and cannot be the {what}.").format(
                mention=role.mention, what=what
            )
        )
    holders = sum(1 for m in role.members if not m.bot)
    humans = sum(1 for m in guild.members if not m.bot)
    if held_by_most(holders, humans):
        raise UserError(
            _(
                "{mention} is held by {holders} of the server's {humans} people, so as the "
                "{what} it would give nearly everyone what only staff should have. Create a "
                "role for the staff only and pick that. Nothing was changed."
            ).format(mention=role.mention, holders=holders, humans=humans, what=what)
        )


def describe(cfg: GuildConfig) -> str:
    def role(rid: int | None) -> str:
        return f"<@&{rid}>" if rid else _("not set")

    def channel(cid: int | None) -> str:
        return f"<#{cid}>" if cid else _("not set")

    return "\n".join(
        [
            _("**Facilitator role**: {role}").format(role=role(cfg.facilitator_role_id)),
            _("**Moderator role**: {role}").format(role=role(cfg.moderator_role_id)),
            _("**Moderators' log channel**: {channel}").format(channel=channel(cfg.log_channel_id)),
            _("**Lobby channel**: {channel}").format(channel=channel(cfg.lobby_channel_id)),
            _("**Time zone**: {timezone}").format(timezone=cfg.timezone),
            f"**Language**: {language_name(cfg.language)}",
        ]
    )


class Setup(commands.Cog):
    setup_group = app_commands.Group(
        name="setup",
        description="Set holdspace up on this server (server managers)",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )
    agreement = app_commands.Group(
        name="agreement", description="The default agreement this server's new groups start from", parent=setup_group
    )

    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot
        self.server_agreements = ServerAgreements(bot, retention_of(bot.settings))

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction[HoldspaceBot]) -> None:
        await self.server_agreements.restore_editor(interaction)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """Put the lobby's consent button back if someone deleted it while holdspace was offline."""
        for cfg in list(self.bot.state.guilds.values()):
            guild = self.bot.get_guild(cfg.guild_id)
            if guild is None or not cfg.configured or cfg.lobby_channel_id is None:
                continue
            try:
                await self._ensure_lobby(guild, cfg)
            except Exception:
                log.exception("could not check the lobby message of a server")

    async def _ensure_lobby(self, guild: discord.Guild, cfg: GuildConfig) -> None:
        channel = guild.get_channel(cfg.lobby_channel_id or 0)
        if not isinstance(channel, discord.TextChannel):
            log.warning("the lobby channel of server %s no longer exists; run /setup configure", guild.id)
            return
        if cfg.lobby_message_id is not None:
            try:
                await channel.fetch_message(cfg.lobby_message_id)
                return
            except discord.NotFound:
                pass
            except discord.HTTPException:
                return  # cannot tell now; try again at the next start
        try:
            with using(cfg.language):  # a room post: the server's language
                embed, view = lobby_embed(), lobby_view()
            posted = await channel.send(embed=embed, view=view)
        except discord.HTTPException:
            log.warning("could not post the lobby message in server %s", guild.id)
            return
        cfg.lobby_message_id = posted.id
        await guild_store.save(
            self.bot.db,
            guild_store.GuildRow(
                cfg.guild_id,
                cfg.facilitator_role_id,
                cfg.moderator_role_id,
                cfg.log_channel_id,
                cfg.lobby_channel_id,
                cfg.lobby_message_id,
                cfg.timezone,
                cfg.language,
            ),
            self.bot.clock.now(),
        )

    @setup_group.command(name="configure", description="Roles, log channel, lobby channel, time zone and language")
    @app_commands.describe(
        facilitator_role="The role of the people who run groups",
        moderator_role="The role of the people who work the moderators' queue",
        log_channel="Where holdspace announces cases to moderators",
        lobby_channel="Where holdspace keeps its “Review and consent” button",
        timezone="The server's time zone, e.g. Europe/Berlin",
        language="The language of moderator notices, and of groups that choose none of their own",
    )
    @app_commands.autocomplete(timezone=timezone_autocomplete)
    @app_commands.choices(language=language_choices(follow_server=False))
    @server_manager_only()
    async def configure(
        self,
        interaction: discord.Interaction[HoldspaceBot],
        facilitator_role: discord.Role | None = None,
        moderator_role: discord.Role | None = None,
        log_channel: discord.TextChannel | None = None,
        lobby_channel: discord.TextChannel | None = None,
        timezone: str | None = None,
        language: app_commands.Choice[str] | None = None,
    ) -> None:
        guild = interaction.guild
        assert guild is not None
        old = self.bot.state.guilds.get(guild.id) or GuildConfig(guild.id)
        if facilitator_role is not None:
            _check_role(guild, facilitator_role, _("facilitator role"))
        if moderator_role is not None:
            _check_role(guild, moderator_role, _("moderator role"))
        if log_channel is not None:
            _check_channel(guild, log_channel, LOG_NEEDS, _("moderators' log channel"))
        if lobby_channel is not None:
            _check_channel(guild, lobby_channel, LOBBY_NEEDS, _("lobby channel"))
        if timezone is not None:
            tz = validate_timezone(timezone)
        else:  # a first set-up without a zone starts from the config file's default
            tz = old.timezone if old.configured else self.bot.settings.defaults.timezone
        new = GuildConfig(
            guild_id=guild.id,
            facilitator_role_id=facilitator_role.id if facilitator_role else old.facilitator_role_id,
            moderator_role_id=moderator_role.id if moderator_role else old.moderator_role_id,
            log_channel_id=log_channel.id if log_channel else old.log_channel_id,
            lobby_channel_id=lobby_channel.id if lobby_channel else old.lobby_channel_id,
            lobby_message_id=old.lobby_message_id,
            timezone=tz,
            language=choose(language.value) if language is not None else old.language,
            bot_action=old.bot_action,
            allowed_bot_ids=old.allowed_bot_ids,
            configured=True,
        )
        missing = [
            label
            for label, value in (
                ("facilitator_role", new.facilitator_role_id),
                ("moderator_role", new.moderator_role_id),
                ("log_channel", new.log_channel_id),
                ("lobby_channel", new.lobby_channel_id),
            )
            if value is None
        ]
        if missing:
            raise UserError(
                _("To set holdspace up, also give {options}. Nothing was changed.").format(
                    options=", ".join(f"`{m}`" for m in missing)
                )
            )
        await interaction.response.defer(ephemeral=True, thinking=True)
        posted: discord.Message | None = None
        lobby_changed = new.lobby_channel_id != old.lobby_channel_id or old.lobby_message_id is None
        if lobby_changed:
            channel = guild.get_channel(new.lobby_channel_id or 0)
            if not isinstance(channel, discord.TextChannel):
                raise UserError(_("The lobby channel no longer exists; pick another one."))
            with using(new.language):  # a room post: the server's language, not the server manager's
                embed, view = lobby_embed(), lobby_view()
            try:
                posted = await channel.send(embed=embed, view=view)
            except discord.Forbidden:
                raise missing_permission_error(
                    list(LOBBY_NEEDS),
                    _("post the consent button in {mention}").format(mention=channel.mention),
                    f"#{channel.name}",
                ) from None
            new.lobby_message_id = posted.id
        try:
            await guild_store.save(
                self.bot.db,
                guild_store.GuildRow(
                    new.guild_id,
                    new.facilitator_role_id,
                    new.moderator_role_id,
                    new.log_channel_id,
                    new.lobby_channel_id,
                    new.lobby_message_id,
                    new.timezone,
                    new.language,
                ),
                self.bot.clock.now(),
            )
        except Exception:
            if posted is not None:
                try:
                    await posted.delete()
                except discord.HTTPException:
                    log.warning("could not remove a lobby message after a failed save")
            raise
        if posted is not None and old.lobby_message_id and old.lobby_channel_id:
            await self._delete_message(guild, old.lobby_channel_id, old.lobby_message_id)
        self.bot.state.put_guild(new)
        await self.bot.audit.record(
            guild.id,
            "setup_changed",
            actor_id=interaction.user.id,
            details={
                "facilitator_role_id": new.facilitator_role_id,
                "moderator_role_id": new.moderator_role_id,
                "log_channel_id": new.log_channel_id,
                "lobby_channel_id": new.lobby_channel_id,
                "timezone": new.timezone,
                "language": new.language,
            },
        )
        if new.facilitator_role_id != old.facilitator_role_id and old.configured:
            await self.bot.facilitator_roles.setup_changed(guild)
        steps = await self._next_steps(guild, new)
        embed = discord.Embed(
            title=_("holdspace is set up"),
            description=_("{describe}\n\n**Still to do**\n{steps}").format(describe=describe(new), steps=steps),
        )
        await send_ephemeral(interaction, embed=embed)

    async def _next_steps(self, guild: discord.Guild, cfg: GuildConfig) -> str:
        """What is left before facilitators and moderators can work, from what Discord reports."""
        steps = []
        gaps = await staff_command_gaps(self.bot, guild)
        if gaps is None:
            steps.append(
                _(
                    "Open /group, /session and /expiry to <@&{facilitator_role_id}> and /cases "
                    "to <@&{moderator_role_id}> in Server Settings > Integrations > holdspace "
                    "(holdspace could not read whether they are open)."
                ).format(facilitator_role_id=cfg.facilitator_role_id, moderator_role_id=cfg.moderator_role_id)
            )
        elif gaps:
            steps.append(open_step(gaps))
        steps.append(_("Run /guard audit and fix every fail."))
        steps.append(_("Facilitators create groups with /group create (or /group adopt for existing rooms)."))
        return "\n".join(f"{i}. {step}" for i, step in enumerate(steps, start=1))

    async def _delete_message(self, guild: discord.Guild, channel_id: int, message_id: int) -> None:
        channel = guild.get_channel(channel_id)
        if isinstance(channel, discord.TextChannel):
            try:
                await channel.get_partial_message(message_id).delete()
            except discord.HTTPException:
                log.debug("the old lobby message could not be removed")

    @setup_group.command(name="show", description="Show how holdspace is set up on this server")
    @server_manager_only()
    async def show(self, interaction: discord.Interaction[HoldspaceBot]) -> None:
        assert interaction.guild is not None
        cfg = self.bot.state.guilds.get(interaction.guild.id)
        if cfg is None or not cfg.configured:
            await send_ephemeral(interaction, _("holdspace is not set up on this server yet; run `/setup configure`."))
            return
        await send_ephemeral(interaction, embed=discord.Embed(title=_("holdspace set-up"), description=describe(cfg)))

    @agreement.command(name="show", description="Show the default agreement new groups start from")
    @server_manager_only()
    async def agreement_show(self, interaction: discord.Interaction[HoldspaceBot]) -> None:
        await self.server_agreements.show(interaction)

    @agreement.command(name="edit", description="Edit the default agreement new groups start from")
    @server_manager_only()
    async def agreement_edit(self, interaction: discord.Interaction[HoldspaceBot]) -> None:
        await self.server_agreements.edit(interaction)

    @agreement.command(name="reset", description="New groups start from holdspace's own default agreement again")
    @server_manager_only()
    async def agreement_reset(self, interaction: discord.Interaction[HoldspaceBot]) -> None:
        await self.server_agreements.reset(interaction)


async def setup(bot: HoldspaceBot) -> None:
    await bot.add_cog(Setup(bot))
