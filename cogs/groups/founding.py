"""Founding a group: creating its rooms (`/group create`) or adopting existing ones (`/group adopt`).
Both close the rooms to everyone but facilitators and holdspace before the group is stored, and undo
what they changed when Discord refuses."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import discord

from bot.app import HoldspaceBot
from bot.core import overwrites as ow
from bot.core.agreement import (
    default_text,
    facts_of,
)
from bot.core.permissions import MEMBER_ROOM_PERMISSIONS, ROOM_PERMISSIONS
from bot.core.records import GroupInfo
from bot.i18n import _
from bot.services.member_data import retention_of
from bot.services.rooms import current_overwrites, put_overwrite, to_discord
from bot.storage import groups as group_store
from bot.ui.group_options import (
    channel_slug,
    missing_permission_error,
    require_channel_permissions,
    require_guild_permissions,
    validate_group_name,
)
from bot.ui.locale import group_language
from bot.ui.replies import UserError, send_ephemeral
from bot.ui.server_agreement import template_of

log = logging.getLogger(__name__)


class Founding:
    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot
        self._creating: dict[int, asyncio.Lock] = {}

    def _check_new_name(self, guild_id: int, raw: str) -> str:
        name = validate_group_name(raw)
        if self.bot.state.group_by_name(guild_id, name) is not None:
            raise UserError(
                _("A group called “{name}” already exists on this server; choose another name.").format(name=name)
            )
        return name

    def _facilitator_role(self, guild: discord.Guild) -> discord.Role:
        cfg = self.bot.state.guilds.get(guild.id)
        if cfg is None or cfg.facilitator_role_id is None:
            raise UserError(
                _("holdspace is not set up on this server yet: a server manager runs `/setup configure` first.")
            )
        role = guild.get_role(cfg.facilitator_role_id)
        if role is None:
            raise UserError(_("The facilitator role set with /setup no longer exists; run `/setup configure` again."))
        return role

    def _one_at_a_time(self, guild_id: int) -> asyncio.Lock:
        """Groups of one server are founded one after the other, so two cannot take the same name."""
        return self._creating.setdefault(guild_id, asyncio.Lock())

    def _new_group(self, guild: discord.Guild, name: str, **rooms: Any) -> GroupInfo:
        return GroupInfo.with_defaults(
            self.bot.settings.defaults, id=uuid.uuid4().hex, guild_id=guild.id, name=name, **rooms
        )

    async def _store(
        self,
        interaction: discord.Interaction[HoldspaceBot],
        group: GroupInfo,
        details: dict[str, Any],
        undo: Callable[[], Awaitable[None]],
    ) -> GroupInfo:
        """Store the new group with its first agreement (``undo`` what was changed in Discord when that
        fails), watch its rooms and write the audit entry."""
        # the group's language (a new group follows its server), not the facilitator's own
        language = group_language(self.bot.state, group)
        template = await template_of(self.bot, group.guild_id)  # the server's default agreement, if it has one
        first_text = default_text(group.name, facts_of(group, retention_of(self.bot.settings)), language, template)
        try:
            stored = await group_store.insert_group(self.bot.db, self.bot.ring, group, first_text, self.bot.clock.now())
        except Exception:
            await undo()
            raise
        self.bot.state.put_group(stored)
        await tell_expiry(self.bot, stored, new=True)
        await self.bot.audit.record(
            group.guild_id, "group_created", actor_id=interaction.user.id, group_id=stored.id, details=details
        )
        return stored

    async def create(self, interaction: discord.Interaction[HoldspaceBot], name: str) -> None:
        guild = interaction.guild
        assert guild is not None
        async with self._one_at_a_time(guild.id):
            await self._create(interaction, guild, name)

    async def _create(self, interaction: discord.Interaction[HoldspaceBot], guild: discord.Guild, name: str) -> None:
        name = self._check_new_name(guild.id, name)
        self._facilitator_role(guild)
        require_guild_permissions(
            guild, ["manage_channels", *ROOM_PERMISSIONS, *MEMBER_ROOM_PERMISSIONS], _("create a group's rooms")
        )
        await interaction.response.defer(ephemeral=True, thinking=True)
        group = self._new_group(guild, name, text_channel_id=0, voice_channel_id=0, created_channels=True)
        want = to_discord(next(iter(self.bot.access.desired_for_new_group(group, guild).values())), guild)
        created: list[discord.abc.GuildChannel] = []
        reason = "holdspace: /group create"
        try:
            category = await guild.create_category(name, overwrites=want, reason=reason)
            created.append(category)
            text = await guild.create_text_channel(
                channel_slug(name), category=category, overwrites=want, reason=reason
            )
            created.append(text)
            voice = await guild.create_voice_channel(name, category=category, overwrites=want, reason=reason)
            created.append(voice)
        except discord.HTTPException as exc:
            await delete_all(created)
            if isinstance(exc, discord.Forbidden):
                raise missing_permission_error(
                    ["manage_channels", "manage_roles"], _("create a group's rooms")
                ) from None
            raise
        group = replace(group, text_channel_id=text.id, voice_channel_id=voice.id, category_id=category.id)
        await self._store(interaction, group, {"adopted": False}, lambda: delete_all(created))
        await send_ephemeral(
            interaction,
            _(
                "Created **{name}** with {mention} and {mention2}. Only facilitators and "
                "holdspace can see them until members consent.\nNext: `/group agreement "
                "show` to read the agreement it starts from, `/group agreement edit` to "
                "adapt it, `/group settings` for enrolment and more, and `/group enroll` to "
                "invite members."
            ).format(name=name, mention=text.mention, mention2=voice.mention),
        )

    async def adopt(
        self,
        interaction: discord.Interaction[HoldspaceBot],
        name: str,
        channels: tuple[discord.TextChannel, discord.VoiceChannel],
    ) -> None:
        guild = interaction.guild
        assert guild is not None
        async with self._one_at_a_time(guild.id):
            await self._adopt(interaction, guild, name, channels)

    async def _adopt(
        self,
        interaction: discord.Interaction[HoldspaceBot],
        guild: discord.Guild,
        name: str,
        channels: tuple[discord.TextChannel, discord.VoiceChannel],
    ) -> None:
        text_channel, voice_channel = channels
        name = self._check_new_name(guild.id, name)
        self._facilitator_role(guild)
        for channel in (text_channel, voice_channel):
            if channel.guild.id != guild.id:
                raise UserError(_("That channel belongs to another server; pick rooms of this server."))
            if self.bot.state.group_of_channel(channel.id) is not None:
                raise UserError(
                    _("{mention} already belongs to a group; pick another room.").format(mention=channel.mention)
                )
        require_guild_permissions(guild, ["manage_roles", *MEMBER_ROOM_PERMISSIONS], _("look after a group's rooms"))
        for channel in (text_channel, voice_channel):
            require_channel_permissions(channel, ["view_channel", "manage_roles"], _("look after this room"))
        await interaction.response.defer(ephemeral=True, thinking=True)
        group = self._new_group(
            guild,
            name,
            text_channel_id=text_channel.id,
            voice_channel_id=voice_channel.id,
            category_id=text_channel.category_id,
            created_channels=False,
        )
        desired = self.bot.access.desired_for_new_group(group, guild)
        assert self.bot.user is not None
        keep_members = {m.id for m in guild.members if m.bot and m.id != self.bot.user.id}
        keep_roles = {r.id for r in guild.roles if r.managed}
        # holdspace's own overwrite first: after @everyone is closed it must still see the rooms.
        done: list[tuple[int, ow.Change]] = []
        stray = 0
        try:
            for channel in (text_channel, voice_channel):
                changes = ow.diff(
                    current_overwrites(channel),
                    desired[channel.id],
                    keep_member_ids=keep_members,
                    keep_role_ids=keep_roles,
                )
                changes.sort(key=lambda c: c.target != ow.Target(ow.MEMBER, self.bot.user.id))  # type: ignore[union-attr]
                for change in changes:
                    await put_overwrite(self.bot, channel.id, change.target, change.want, "holdspace: /group adopt")
                    done.append((channel.id, change))
                    stray += change.why == "stray"
        except discord.HTTPException as exc:
            await self._undo(done)
            if isinstance(exc, discord.Forbidden):
                raise missing_permission_error(
                    ["manage_roles"], _("set the rooms' permissions"), f"#{text_channel.name}"
                ) from None
            raise
        stored = await self._store(
            interaction, group, {"adopted": True, "access_removed": stray}, lambda: self._undo(done)
        )
        disconnected = 0
        consent = self.bot.consent
        for member in list(voice_channel.members):
            decision = self.bot.enforcement.decision(stored, member)
            if decision.act and consent is not None:
                await consent.enforce(member, stored, trigger="adopt", open_case=False)
                disconnected += 1
        extra = ""
        if stray:
            extra += _("\n{stray} permission overwrite(s) that gave access without consent were removed.").format(
                stray=stray
            )
        if disconnected:
            extra += _(
                "\n{disconnected} person(s) in the voice room without consent were disconnected and asked to consent."
            ).format(disconnected=disconnected)
        await send_ephemeral(
            interaction,
            _(
                "{mention} and {mention2} are now the group **{name}**: closed to everyone "
                "except facilitators and members who consent.{extra}\nNext: `/group "
                "agreement show`, `/group settings` and `/group enroll`."
            ).format(mention=text_channel.mention, mention2=voice_channel.mention, name=name, extra=extra),
        )

    async def _undo(self, done: list[tuple[int, ow.Change]]) -> None:
        for channel_id, change in reversed(done):
            try:
                await put_overwrite(self.bot, channel_id, change.target, change.before, "holdspace: undo")
            except discord.HTTPException:
                log.warning("could not undo an overwrite change on %s", channel_id)


async def tell_expiry(bot: HoldspaceBot, group: GroupInfo, *, new: bool) -> None:
    """Let the expiry queue know: a new group's rooms are watched, changed settings re-time it."""
    try:
        await (bot.expiry.track_group(group) if new else bot.expiry.retime(group))
    except Exception:
        log.exception("the expiry feature failed on group %s", group.id)


async def delete_all(things: list[Any]) -> None:
    for thing in reversed(things):
        try:
            await thing.delete(reason="holdspace: undo a failed change")
        except discord.HTTPException:
            log.warning("could not undo the creation of %s", getattr(thing, "id", "?"))
