"""Groups: creating and adopting their rooms, enrolment, settings, the agreement and the roster.

The Discord side of access (grant, withdraw, disconnect, reconcile) lives in bot/services/access.py;
turning typed options into groups and names lives in bot/ui/group_options.py.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.core import overwrites as ow
from bot.core.access import decide_from_state
from bot.core.agreement import (
    MODAL_FIELD_LIMIT,
    MODAL_FIELDS,
    AgreementError,
    default_text,
    join_fields,
    split,
    split_for_fields,
)
from bot.core.durations import DurationError, format_duration, parse_duration
from bot.core.permissions import MEMBER_ROOM_PERMISSIONS, ROOM_PERMISSIONS
from bot.core.records import GroupInfo
from bot.crypto import hash_text
from bot.services.access import (
    current_overwrites,
    desired_for_new_group,
    desired_room_overwrites,
    put_overwrite,
    reconcile_group,
    send_prompt,
    to_discord,
    withdraw_access,
)
from bot.storage import consents as consent_store
from bot.storage import groups as group_store
from bot.ui.checks import facilitators_only, require_group_facilitator
from bot.ui.consent_views import agreement_embeds
from bot.ui.group_options import (
    channel_slug,
    group_autocomplete,
    missing_permission_error,
    require_channel_permissions,
    require_guild_permissions,
    resolve_facilitated_group,
    resolve_group,
    validate_group_name,
)
from bot.ui.replies import MissingBotPermission, UserError, send_ephemeral

if TYPE_CHECKING:
    from bot.app import HoldspaceBot

log = logging.getLogger(__name__)

REASON_MAX = 300
REVALIDATE_KIND = "consent_revalidate"
MODAL_PREFIX = "hs:agreement:"
_MODAL_RE = re.compile(r"^hs:agreement:(?P<group>[0-9a-f]{32}):(?P<version>\d{1,9}):[0-9a-f]{8}$")


# -- small helpers -----------------------------------------------------------------------------------


# -- access operations (used by the consent feature too) -------------------------------------------


# -- the cog ---------------------------------------------------------------------------------------


def _member_of_guild(guild: discord.Guild, user: discord.abc.User) -> discord.Member:
    member = guild.get_member(user.id)
    if member is None:
        raise UserError("That person is not a member of this server (they may have left).")
    return member


def _settings_text(group: GroupInfo) -> str:
    ttl = "off" if group.ttl is None else format_duration(group.ttl)
    return "\n".join(
        [
            f"**enrolment**: {group.enrolment}",
            f"**reconsent_after_days**: {group.reconsent_after_days}",
            f"**facilitators_consent**: {'true' if group.facilitators_consent else 'false'}",
            f"**access_mode**: {group.access_mode}",
            f"**lock_between_sessions**: {'true' if group.lock_between_sessions else 'false'}",
            f"**ttl**: {ttl}",
            f"**expire_at_session_end**: {'true' if group.expire_at_session_end else 'false'}",
            f"**keep_pinned**: {'true' if group.keep_pinned else 'false'}",
            f"**auto_reminder_gap**: {format_duration(group.auto_reminder_gap)}",
            f"**max_hold_days**: {group.max_hold_days}",
            f"**agreement**: version {group.agreement_version} (SHA-256 {group.agreement_sha256[:16]})",
        ]
    )


class AgreementModal(discord.ui.Modal):
    def __init__(self, cog: Groups, group: GroupInfo, text: str) -> None:
        super().__init__(
            title=f"Agreement of {group.name}"[:45],
            timeout=900,
            custom_id=f"{MODAL_PREFIX}{group.id}:{group.agreement_version}:{uuid.uuid4().hex[:8]}",
        )
        self.cog = cog
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
        await self.cog.save_agreement(interaction, self.group_id, self.base_version, [f.value for f in self.fields])

    async def on_error(  # type: ignore[override]
        self, interaction: discord.Interaction[Any], error: Exception, /
    ) -> None:
        from bot.ui.replies import reply_error

        await reply_error(interaction, error)


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
        #: custom_id -> when (loop time) of the agreement editors this process opened
        self._live_modals: dict[str, float] = {}
        self._creating: dict[int, asyncio.Lock] = {}

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction[HoldspaceBot]) -> None:
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
            await self.save_agreement(interaction, match["group"], int(match["version"]), parts)
        except Exception as exc:
            from bot.ui.replies import reply_error

            await reply_error(interaction, exc)

    # -- reconcile on ready / resume -----------------------------------------------------------------

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        await self.reconcile_all("ready")

    @commands.Cog.listener()
    async def on_resumed(self) -> None:
        await self.reconcile_all("resume")

    async def reconcile_all(self, why: str) -> None:
        for group in list(self.bot.state.groups.values()):
            if self.bot.get_guild(group.guild_id) is None:
                continue
            try:
                report = await reconcile_group(self.bot, group)
            except Exception:
                log.exception("reconcile of group %s failed", group.id)
                continue
            if report.changed or report.disconnected or report.missing_rooms:
                log.info(
                    "reconcile (%s) of group %s: %d overwrites fixed, %d disconnected, %d rooms missing",
                    why,
                    group.id,
                    report.changed,
                    report.disconnected,
                    report.missing_rooms,
                )
                await self.bot.audit.record(
                    group.guild_id,
                    "rooms_reconciled",
                    group_id=group.id,
                    details={
                        "why": why,
                        "overwrites_fixed": report.changed,
                        "disconnected": report.disconnected,
                        "rooms_missing": report.missing_rooms,
                    },
                )
        consent = self.bot.get_cog("Consent")
        if consent is not None:
            for group in list(self.bot.state.groups.values()):
                if self.bot.get_guild(group.guild_id) is not None:
                    try:
                        await consent.revalidate_group(group.id)  # type: ignore[attr-defined]
                    except Exception:
                        log.exception("revalidating the consents of group %s failed", group.id)

    @commands.Cog.listener()
    async def on_guild_channel_update(self, before: discord.abc.GuildChannel, after: discord.abc.GuildChannel) -> None:
        """A member overwrite that opens a group room to someone it should not is removed at once.

        Role overwrites, @everyone and bots are the guard feature's business (permission drift);
        the overwrites the rooms should carry (consenting members, named facilitators) stay.
        """
        group = self.bot.state.group_of_channel(after.id)
        if group is None or self.bot.user is None:
            return
        state = self.bot.state
        wanted = desired_room_overwrites(self.bot, group, after.guild).get(after.id, {})
        for target, have in current_overwrites(after).items():
            if target.kind != ow.MEMBER or not ow.grants_access(have) or target.id == self.bot.user.id:
                continue
            if target in wanted or (group.id, target.id) in state.pending_grants:
                continue
            member = after.guild.get_member(target.id)
            if member is not None and member.bot:
                continue
            new = None if have.deny == 0 else ow.Want(0, have.deny)
            try:
                await put_overwrite(self.bot, after.id, target, new, "holdspace: access without consent")
            except discord.HTTPException as exc:
                log.warning("group %s: could not remove an overwrite without consent (%s)", group.id, exc.status)
                continue
            await self.bot.audit.record(
                group.guild_id,
                "access_without_consent_removed",
                group_id=group.id,
                subject_id=target.id,
                details={"channel_id": after.id},
            )

    # -- /group create and adopt -------------------------------------------------------------------

    def _check_new_name(self, guild_id: int, raw: str) -> str:
        name = validate_group_name(raw)
        if self.bot.state.group_by_name(guild_id, name) is not None:
            raise UserError(f"A group called “{name}” already exists on this server; choose another name.")
        return name

    def _facilitator_role(self, guild: discord.Guild) -> discord.Role:
        cfg = self.bot.state.guilds.get(guild.id)
        if cfg is None or cfg.facilitator_role_id is None:
            raise UserError(
                "holdspace is not set up on this server yet: a server manager runs `/setup configure` first."
            )
        role = guild.get_role(cfg.facilitator_role_id)
        if role is None:
            raise UserError("The facilitator role set with /setup no longer exists; run `/setup configure` again.")
        return role

    @group.command(name="create", description="Create a group with a private text room and voice room")
    @app_commands.describe(name="The group's name, e.g. Tuesday circle")
    @facilitators_only()
    async def create(self, interaction: discord.Interaction[HoldspaceBot], name: str) -> None:
        assert interaction.guild is not None
        async with self._creating.setdefault(interaction.guild.id, asyncio.Lock()):
            await self._create(interaction, name)

    async def _create(self, interaction: discord.Interaction[HoldspaceBot], name: str) -> None:
        guild = interaction.guild
        assert guild is not None
        name = self._check_new_name(guild.id, name)
        self._facilitator_role(guild)
        require_guild_permissions(
            guild, ["manage_channels", *ROOM_PERMISSIONS, *MEMBER_ROOM_PERMISSIONS], "create a group's rooms"
        )
        await interaction.response.defer(ephemeral=True, thinking=True)
        group = GroupInfo.with_defaults(
            self.bot.settings.defaults,
            id=uuid.uuid4().hex,
            guild_id=guild.id,
            name=name,
            text_channel_id=0,
            voice_channel_id=0,
            created_channels=True,
        )
        want = to_discord(next(iter(desired_for_new_group(self.bot, group, guild).values())), guild)
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
            await _delete_all(created)
            if isinstance(exc, discord.Forbidden):
                raise missing_permission_error(["manage_channels", "manage_roles"], "create a group's rooms") from None
            raise
        group = replace(group, text_channel_id=text.id, voice_channel_id=voice.id, category_id=category.id)
        try:
            stored = await group_store.insert_group(
                self.bot.db, self.bot.ring, group, default_text(name), self.bot.clock.now()
            )
        except Exception:
            await _delete_all(created)
            raise
        self.bot.state.put_group(stored)
        await _tell_expiry(self.bot, "track_group", stored)
        await self.bot.audit.record(
            guild.id, "group_created", actor_id=interaction.user.id, group_id=stored.id, details={"adopted": False}
        )
        await send_ephemeral(
            interaction,
            f"Created **{name}** with {text.mention} and {voice.mention}. Only facilitators and holdspace can see "
            "them until members consent.\nNext: `/group agreement show` to read the default agreement, "
            "`/group agreement edit` to adapt it, `/group settings` for enrolment and more, and "
            "`/group enroll` to invite members.",
        )

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
        assert interaction.guild is not None
        async with self._creating.setdefault(interaction.guild.id, asyncio.Lock()):
            await self._adopt(interaction, name, text_channel, voice_channel)

    async def _adopt(
        self,
        interaction: discord.Interaction[HoldspaceBot],
        name: str,
        text_channel: discord.TextChannel,
        voice_channel: discord.VoiceChannel,
    ) -> None:
        guild = interaction.guild
        assert guild is not None
        name = self._check_new_name(guild.id, name)
        self._facilitator_role(guild)
        for channel in (text_channel, voice_channel):
            if channel.guild.id != guild.id:
                raise UserError("That channel belongs to another server; pick rooms of this server.")
            if self.bot.state.group_of_channel(channel.id) is not None:
                raise UserError(f"{channel.mention} already belongs to a group; pick another room.")
        require_guild_permissions(guild, ["manage_roles", *MEMBER_ROOM_PERMISSIONS], "look after a group's rooms")
        for channel in (text_channel, voice_channel):
            require_channel_permissions(channel, ["view_channel", "manage_roles"], "look after this room")
        await interaction.response.defer(ephemeral=True, thinking=True)
        group = GroupInfo.with_defaults(
            self.bot.settings.defaults,
            id=uuid.uuid4().hex,
            guild_id=guild.id,
            name=name,
            text_channel_id=text_channel.id,
            voice_channel_id=voice_channel.id,
            category_id=text_channel.category_id,
            created_channels=False,
        )
        desired = desired_for_new_group(self.bot, group, guild)
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
                    ["manage_roles"], "set the rooms' permissions", f"#{text_channel.name}"
                ) from None
            raise
        try:
            stored = await group_store.insert_group(
                self.bot.db, self.bot.ring, group, default_text(name), self.bot.clock.now()
            )
        except Exception:
            await self._undo(done)
            raise
        self.bot.state.put_group(stored)
        await _tell_expiry(self.bot, "track_group", stored)
        await self.bot.audit.record(
            guild.id,
            "group_created",
            actor_id=interaction.user.id,
            group_id=stored.id,
            details={"adopted": True, "access_removed": stray},
        )
        disconnected = 0
        consent = self.bot.get_cog("Consent")
        for member in list(voice_channel.members):
            decision = decide_from_state(
                self.bot.state,
                stored,
                member_id=member.id,
                is_bot=member.bot,
                role_ids=[r.id for r in member.roles],
                bot_id=self.bot.user.id,
            )
            if decision.act and consent is not None:
                await consent.enforce(member, stored, trigger="adopt", open_case=False)  # type: ignore[attr-defined]
                disconnected += 1
        extra = ""
        if stray:
            extra += f"\n{stray} permission overwrite(s) that gave access without consent were removed."
        if disconnected:
            extra += (
                f"\n{disconnected} person(s) in the voice room without consent were disconnected and asked to consent."
            )
        await send_ephemeral(
            interaction,
            f"{text_channel.mention} and {voice_channel.mention} are now the group **{name}**: closed to everyone "
            f"except facilitators and members who consent.{extra}\nNext: `/group agreement show`, "
            "`/group settings` and `/group enroll`.",
        )

    async def _undo(self, done: list[tuple[int, ow.Change]]) -> None:
        for channel_id, change in reversed(done):
            try:
                await put_overwrite(self.bot, channel_id, change.target, change.before, "holdspace: undo")
            except discord.HTTPException:
                log.warning("could not undo an overwrite change on %s", channel_id)

    # -- enrolment ---------------------------------------------------------------------------------

    # -- a group's own facilitators ---------------------------------------------------------------

    @facilitator.command(name="add", description="Make someone a facilitator of this group only")
    @app_commands.describe(group="The group", member="A member holding the facilitator role")
    @app_commands.autocomplete(group=group_autocomplete)
    @facilitators_only()
    async def facilitator_add(
        self, interaction: discord.Interaction[HoldspaceBot], group: str, member: discord.User
    ) -> None:
        assert interaction.guild is not None
        info = resolve_facilitated_group(interaction, group)
        target = _member_of_guild(interaction.guild, member)
        cfg = self.bot.state.guilds.get(info.guild_id)
        if target.bot:
            raise UserError("A bot cannot facilitate a group.")
        if cfg is None or cfg.facilitator_role_id is None or target.get_role(cfg.facilitator_role_id) is None:
            raise UserError(
                f"{target.mention} does not hold the facilitator role. Give them the role first, then add them."
            )
        if target.id in self.bot.state.facilitators_of(info.id):
            raise UserError(f"{target.mention} already facilitates **{info.name}**.")
        first = not self.bot.state.facilitators_of(info.id)
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self._change_facilitators(interaction, info, target.id, add=True)
        note = (
            " From now on only the facilitators named with `/group facilitator add` run this group and enter "
            "its rooms without consent; other holders of the facilitator role no longer do."
            if first
            else ""
        )
        await send_ephemeral(interaction, f"{target.mention} now facilitates **{info.name}**.{note}")

    @facilitator.command(name="remove", description="Stop someone facilitating this group")
    @app_commands.describe(group="The group", member="The facilitator to remove")
    @app_commands.autocomplete(group=group_autocomplete)
    @facilitators_only()
    async def facilitator_remove(
        self, interaction: discord.Interaction[HoldspaceBot], group: str, member: discord.User
    ) -> None:
        info = resolve_facilitated_group(interaction, group)
        if member.id not in self.bot.state.facilitators_of(info.id):
            raise UserError(f"{member.mention} is not one of the named facilitators of **{info.name}**.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self._change_facilitators(interaction, info, member.id, add=False)
        note = (
            " No facilitator is named any more, so everyone with the facilitator role facilitates it again."
            if not self.bot.state.facilitators_of(info.id)
            else ""
        )
        await send_ephemeral(interaction, f"{member.mention} no longer facilitates **{info.name}**.{note}")

    @facilitator.command(name="list", description="Who facilitates a group")
    @app_commands.describe(group="The group")
    @app_commands.autocomplete(group=group_autocomplete)
    @facilitators_only()
    async def facilitator_list(self, interaction: discord.Interaction[HoldspaceBot], group: str) -> None:
        info = resolve_group(interaction, group)
        named = sorted(self.bot.state.facilitators_of(info.id))
        if not named:
            await send_ephemeral(
                interaction, f"**{info.name}** names no facilitators: everyone with the facilitator role runs it."
            )
            return
        people = ", ".join(f"<@{member_id}>" for member_id in named)
        await send_ephemeral(interaction, f"**{info.name}** is facilitated by {people} (and server managers).")

    async def _change_facilitators(
        self, interaction: discord.Interaction[HoldspaceBot], group: GroupInfo, member_id: int, *, add: bool
    ) -> None:
        """Record the change, then bring the rooms to it; undo the record when Discord refuses."""
        db, ring, state = self.bot.db, self.bot.ring, self.bot.state
        if add:
            await group_store.add_facilitator(db, ring, group.id, member_id, self.bot.clock.now())
        else:
            await group_store.remove_facilitator(db, ring, group.id, member_id)
        state.set_facilitator(group.id, member_id, add)
        report = await reconcile_group(self.bot, group)
        if report.failed:
            if add:
                await group_store.remove_facilitator(db, ring, group.id, member_id)
            else:
                await group_store.add_facilitator(db, ring, group.id, member_id, self.bot.clock.now())
            state.set_facilitator(group.id, member_id, not add)
            await reconcile_group(self.bot, group, voice=False)
            raise MissingBotPermission(
                "Discord refused to change the rooms' permissions, so nothing was changed. holdspace needs "
                "Manage Permissions in both rooms of the group; `/guard audit` shows what is missing."
            )
        await self.bot.audit.record(
            group.guild_id,
            "facilitator_added" if add else "facilitator_removed",
            actor_id=interaction.user.id,
            group_id=group.id,
            subject_id=member_id,
        )

    @group.command(name="enroll", description="Invite a member to a group; they get the agreement to consent to")
    @app_commands.describe(group="The group", member="The member to enrol")
    @app_commands.autocomplete(group=group_autocomplete)
    @facilitators_only()
    async def enroll(self, interaction: discord.Interaction[HoldspaceBot], group: str, member: discord.User) -> None:
        assert interaction.guild is not None
        info = resolve_facilitated_group(interaction, group)
        target = _member_of_guild(interaction.guild, member)
        if target.bot:
            raise UserError("Bots cannot be enrolled; the guard feature decides about bots.")
        if self.bot.state.is_enrolled(info.id, target.id):
            raise UserError(f"{target.mention} is already enrolled in **{info.name}**.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        await group_store.enrol(self.bot.db, self.bot.ring, info.id, target.id, self.bot.clock.now())
        self.bot.state.set_enrolled(info.id, target.id, True)
        await self.bot.audit.record(
            info.guild_id, "member_enrolled", actor_id=interaction.user.id, group_id=info.id, subject_id=target.id
        )
        if self.bot.state.consent_of(info.id, target.id) is not None:
            await send_ephemeral(interaction, f"Enrolled {target.mention} in **{info.name}**; they already consent.")
            return
        sent = await send_prompt(self.bot, target, info, why="invited")
        note = (
            "They got a direct message with the agreement to review."
            if sent
            else "Their direct messages are closed: ask them to use `/consent give` or the lobby's button."
        )
        await send_ephemeral(interaction, f"Enrolled {target.mention} in **{info.name}**. {note}")

    @group.command(name="remove", description="Remove a member from a group (access withdrawn, case opened)")
    @app_commands.describe(group="The group", member="The member to remove", reason="Why (kept encrypted)")
    @app_commands.autocomplete(group=group_autocomplete)
    @facilitators_only()
    async def remove(
        self, interaction: discord.Interaction[HoldspaceBot], group: str, member: discord.User, reason: str
    ) -> None:
        info = resolve_facilitated_group(interaction, group)
        reason = (reason or "").strip()
        if not reason:
            raise UserError("Give a reason for the removal; it is kept encrypted with the case.")
        if len(reason) > REASON_MAX:
            raise UserError(f"The reason is {len(reason)} characters long; keep it to {REASON_MAX}.")
        state = self.bot.state
        had_consent = state.consent_of(info.id, member.id) is not None
        if not state.is_enrolled(info.id, member.id) and not had_consent:
            raise UserError(f"{member.mention} is not enrolled in **{info.name}**.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            disconnected = await withdraw_access(self.bot, info, member.id, reason="removed by a facilitator")
        except discord.Forbidden:
            raise missing_permission_error(["manage_roles", "move_members"], "withdraw the member's access") from None
        now = self.bot.clock.now()
        await group_store.unenrol(self.bot.db, self.bot.ring, info.id, member.id)
        if had_consent:
            await consent_store.record(
                self.bot.db,
                self.bot.ring,
                group_id=info.id,
                member_id=member.id,
                answer="removed",
                at=now,
                method="facilitator",
            )
        state.set_enrolled(info.id, member.id, False)
        old = state.consent_of(info.id, member.id)
        state.set_consent(info.id, None, member_id=member.id)
        if old is not None:
            await self.bot.scheduler.cancel("consent_expiry", old.consent_id)
        await self.bot.audit.record(
            info.guild_id,
            "member_removed",
            actor_id=interaction.user.id,
            group_id=info.id,
            subject_id=member.id,
            details={"reason": reason, "disconnected": disconnected},
        )
        case = await self.bot.cases.open(
            info.guild_id,
            "member_removed",
            group_id=info.id,
            subject_id=member.id,
            details={"reason": reason, "removed_by": interaction.user.id, "disconnected": disconnected},
        )
        case_text = f" Case #{case} was opened for the moderators." if case else ""
        await send_ephemeral(
            interaction,
            f"Removed {member.mention} from **{info.name}**: their access is withdrawn"
            f"{' and they were disconnected from the voice room' if disconnected else ''}.{case_text}",
        )

    # -- list, roster, settings --------------------------------------------------------------------

    @group.command(name="list", description="This server's groups")
    @facilitators_only()
    async def list_groups(self, interaction: discord.Interaction[HoldspaceBot]) -> None:
        assert interaction.guild_id is not None
        groups = self.bot.state.groups_of_guild(interaction.guild_id)
        if not groups:
            await send_ephemeral(interaction, "There are no groups yet; `/group create` makes one.")
            return
        lines = []
        for g in groups:
            consented = len(self.bot.state.consented_members(g.id))
            enrolled = len(self.bot.state.enrolled.get(g.id, set()))
            lines.append(
                f"**{g.name}**: <#{g.text_channel_id}> <#{g.voice_channel_id}> · {g.enrolment} enrolment · "
                f"{enrolled} enrolled, {consented} consenting · agreement v{g.agreement_version}"
            )
        for part in split("\n".join(lines), 3900):
            await send_ephemeral(interaction, embed=discord.Embed(title="Groups", description=part))

    @group.command(name="roster", description="Enrolled members and their consent (only you see it)")
    @app_commands.autocomplete(group=group_autocomplete)
    @facilitators_only()
    async def roster(self, interaction: discord.Interaction[HoldspaceBot], group: str) -> None:
        info = resolve_facilitated_group(interaction, group)
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.bot.audit.record(info.guild_id, "roster_viewed", actor_id=interaction.user.id, group_id=info.id)
        events = await consent_store.history(self.bot.db, self.bot.ring, group_ids=[info.id])
        latest = {ev.member_id: ev for ev in events}
        enrolled = await group_store.enrolled_since(self.bot.db, self.bot.ring, info.id)
        members = sorted(set(enrolled) | {m for m, ev in latest.items() if ev.answer == "agree"})
        if not members:
            await send_ephemeral(interaction, f"Nobody is enrolled in **{info.name}** yet.")
            return
        lines = [f"**{info.name}** · current agreement: version {info.agreement_version}"]
        for member_id in members:
            ev = latest.get(member_id)
            if ev is None:
                status = "not answered yet"
            elif ev.answer == "agree":
                old = (
                    " (an earlier version: asked again after the session)"
                    if ev.version != info.agreement_version
                    else ""
                )
                status = f"agreed to version {ev.version} on {ev.at:%Y-%m-%d}{old}"
            elif ev.answer == "decline":
                status = f"did not agree (version {ev.version}, {ev.at:%Y-%m-%d})"
            elif ev.answer == "withdraw":
                status = f"withdrew consent on {ev.at:%Y-%m-%d}"
            elif ev.answer == "revoked":
                status = f"asked to consent again since {ev.at:%Y-%m-%d}"
            else:
                status = f"removed on {ev.at:%Y-%m-%d}"
            enrolled_text = "" if member_id in enrolled else " (open group)"
            lines.append(f"<@{member_id}>{enrolled_text}: {status}")
        for part in split("\n".join(lines), 3900):
            await send_ephemeral(interaction, embed=discord.Embed(title="Roster", description=part))

    @group.command(name="settings", description="Show or change a group's settings")
    @app_commands.autocomplete(group=group_autocomplete)
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
    )
    @facilitators_only()
    async def settings(
        self,
        interaction: discord.Interaction[HoldspaceBot],
        group: str,
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
    ) -> None:
        info = resolve_facilitated_group(interaction, group)
        changes: dict[str, Any] = {}
        if enrolment is not None:
            if enrolment not in ("invite", "open"):
                raise UserError("enrolment is `invite` or `open`.")
            changes["enrolment"] = enrolment
        if reconsent_after_days is not None:
            if not 1 <= reconsent_after_days <= 3650:
                raise UserError("reconsent_after_days is a whole number from 1 to 3650.")
            changes["reconsent_after_days"] = reconsent_after_days
        if facilitators_consent is not None:
            changes["facilitators_consent"] = facilitators_consent
        if access_mode is not None:
            if access_mode not in ("member", "role"):
                raise UserError("access_mode is `member` or `role`.")
            changes["access_mode"] = access_mode
        if lock_between_sessions is not None:
            changes["lock_between_sessions"] = lock_between_sessions
        if ttl is not None:
            changes["ttl"] = _duration_option("ttl", ttl, timedelta(minutes=1), timedelta(days=365), allow_off=True)
        if expire_at_session_end is not None:
            changes["expire_at_session_end"] = expire_at_session_end
        if keep_pinned is not None:
            changes["keep_pinned"] = keep_pinned
        if auto_reminder_gap is not None:
            changes["auto_reminder_gap"] = _duration_option(
                "auto_reminder_gap", auto_reminder_gap, timedelta(minutes=1), timedelta(days=7)
            )
        if max_hold_days is not None:
            if not 1 <= max_hold_days <= 90:
                raise UserError("max_hold_days is a whole number from 1 to 90.")
            changes["max_hold_days"] = max_hold_days
        changes = {k: v for k, v in changes.items() if getattr(info, k) != v}
        if not changes:
            await send_ephemeral(
                interaction, embed=discord.Embed(title=f"Settings of {info.name}", description=_settings_text(info))
            )
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        guild = interaction.guild
        assert guild is not None
        new = replace(info, **changes)
        created_role: discord.Role | None = None
        if changes.get("access_mode") == "role" and (new.role_id is None or guild.get_role(new.role_id) is None):
            require_guild_permissions(guild, ["manage_roles"], "create the group's role")
            try:
                created_role = await guild.create_role(
                    name=f"{info.name}"[:100], permissions=discord.Permissions.none(), reason="holdspace: role access"
                )
            except discord.Forbidden:
                raise missing_permission_error(["manage_roles"], "create the group's role") from None
            new = replace(new, role_id=created_role.id)
        try:
            await group_store.update_group(self.bot.db, new)
        except Exception:
            if created_role is not None:
                await _delete_all([created_role])
            raise
        self.bot.state.put_group(new)
        if {"access_mode", "facilitators_consent", "lock_between_sessions"} & set(changes):
            report = await reconcile_group(self.bot, new, voice="facilitators_consent" in changes)
            if changes.get("access_mode") == "member" and info.role_id is not None:
                old_role = guild.get_role(info.role_id)
                if old_role is not None:
                    await _delete_all([old_role])
                new = self.bot.state.update_group(new.id, role_id=None)
                await group_store.update_group(self.bot.db, new)
            if report.failed:
                log.warning("group %s: %d overwrite changes failed after a settings change", new.id, report.failed)
        if {"ttl", "expire_at_session_end", "keep_pinned"} & set(changes):
            await _tell_expiry(self.bot, "settings_changed", new)
        if "reconsent_after_days" in changes:
            consent = self.bot.get_cog("Consent")
            if consent is not None:
                await consent.reschedule_expiry(new)  # type: ignore[attr-defined]
        await self.bot.audit.record(
            new.guild_id,
            "group_settings_changed",
            actor_id=interaction.user.id,
            group_id=new.id,
            details={k: _plain(v) for k, v in changes.items()},
        )
        await send_ephemeral(
            interaction,
            embed=discord.Embed(
                title=f"Settings of {new.name} changed",
                description="Changed: " + ", ".join(sorted(changes)) + "\n\n" + _settings_text(new),
            ),
        )

    # -- the agreement -----------------------------------------------------------------------------

    @agreement.command(name="show", description="Show the group's current agreement")
    @app_commands.autocomplete(group=group_autocomplete)
    @facilitators_only()
    async def agreement_show(self, interaction: discord.Interaction[HoldspaceBot], group: str) -> None:
        info = resolve_facilitated_group(interaction, group)
        current = await group_store.get_agreement(self.bot.db, self.bot.ring, info.id)
        if current is None:
            raise UserError("This group has no agreement yet; `/group agreement edit` writes one.")
        for embed in agreement_embeds(info.name, current.version, current.sha256, current.text):
            await send_ephemeral(interaction, embed=embed)

    @agreement.command(name="edit", description="Edit the group's agreement (members consent again)")
    @app_commands.autocomplete(group=group_autocomplete)
    @facilitators_only()
    async def agreement_edit(self, interaction: discord.Interaction[HoldspaceBot], group: str) -> None:
        info = resolve_facilitated_group(interaction, group)
        current = await group_store.get_agreement(self.bot.db, self.bot.ring, info.id)
        text = current.text if current is not None else default_text(info.name)
        modal = AgreementModal(self, info, text)
        now = asyncio.get_running_loop().time()
        self._live_modals = {k: t for k, t in self._live_modals.items() if now - t < 1200}
        self._live_modals[modal.custom_id] = now
        await interaction.response.send_modal(modal)

    async def save_agreement(
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
        await self.bot.scheduler.schedule(REVALIDATE_KIND, self.bot.clock.now(), {"group_id": group_id}, key=group_id)
        running = self.bot.state.session_running(group_id)
        when = "when the running session ends" if running else "now"
        await send_ephemeral(
            interaction,
            f"Saved version {version} of the agreement of **{info.name}** (SHA-256 {sha[:16]}). Members who agreed "
            f"to an earlier version lose access {when} and are asked to read and agree to the new one.",
        )


def _plain(value: Any) -> Any:
    if isinstance(value, timedelta):
        return format_duration(value)
    return value


def _duration_option(
    name: str, raw: str, minimum: timedelta, maximum: timedelta, *, allow_off: bool = False
) -> timedelta | None:
    text = raw.strip().lower()
    if allow_off and text in ("off", "none", "0"):
        return None
    if len(text) > 20:
        raise UserError(f"{name} is too long; use a duration such as 30m, 12h or 7d.")
    try:
        return parse_duration(text, minimum=minimum, maximum=maximum)
    except DurationError as exc:
        hint = " or `off`" if allow_off else ""
        raise UserError(f"{name}: {exc}{hint}.") from None


async def _tell_expiry(bot: HoldspaceBot, hook: str, group: GroupInfo) -> None:
    """Let the expiry feature know (``track_group`` / ``settings_changed``), if it is loaded."""
    cog = bot.get_cog("Expiry")
    call = getattr(cog, hook, None) if cog is not None else None
    if call is None:
        return
    try:
        await call(group)
    except Exception:
        log.exception("the expiry feature failed on %s for group %s", hook, group.id)


async def _delete_all(things: list[Any]) -> None:
    for thing in reversed(things):
        try:
            await thing.delete(reason="holdspace: undo a failed change")
        except discord.HTTPException:
            log.warning("could not undo the creation of %s", getattr(thing, "id", "?"))


async def setup(bot: HoldspaceBot) -> None:
    await bot.add_cog(Groups(bot))
