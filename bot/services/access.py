"""The Discord side of access to a group's rooms: grant and withdraw a member's access, disconnect,
and bring a group's rooms to what the database says. Shared by the groups, consent, guard and sessions
features. Discord requests come first where they can fail; the caller then writes the database.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, replace
from typing import Protocol

import discord
from discord.http import HTTPClient

from bot.core import overwrites as ow
from bot.core.access import named_facilitators_in_role
from bot.core.permissions import MEMBER_ROOM_PERMISSIONS
from bot.core.records import GroupInfo
from bot.core.schedule import session_desired_overwrites
from bot.crypto import KeyRing
from bot.i18n import _, slash, using
from bot.services.audit import AuditLog
from bot.services.enforcement import Enforcement
from bot.services.features import ConsentGate
from bot.services.rooms import current_overwrites, put_overwrite
from bot.state import State
from bot.ui.consent_views import member_tag, review_view
from bot.ui.group_options import missing_permission_error
from bot.ui.locale import group_language
from bot.ui.replies import MissingBotPermission, UserError

log = logging.getLogger(__name__)


def rooms_of(group: GroupInfo) -> ow.GroupRooms:
    return ow.GroupRooms(
        text_channel_id=group.text_channel_id,
        voice_channel_id=group.voice_channel_id,
        access_mode=group.access_mode,
        role_id=group.role_id,
        facilitators_consent=group.facilitators_consent,
    )


def _holds_role(guild: discord.Guild, member_id: int, role_id: int) -> bool:
    member = guild.get_member(member_id)
    return member is not None and member.get_role(role_id) is not None


def _room_permission_error(
    guild: discord.Guild, channel: discord.abc.GuildChannel | None, action: str
) -> MissingBotPermission:
    needed = ["view_channel", "manage_roles", *MEMBER_ROOM_PERMISSIONS]
    if channel is not None:
        perms = channel.permissions_for(guild.me)
        missing = [n for n in dict.fromkeys(needed) if not getattr(perms, n)]
        if missing:
            return missing_permission_error(missing, action, f"#{channel.name}")
    guild_perms = guild.me.guild_permissions
    missing = [n for n in dict.fromkeys(needed) if not getattr(guild_perms, n)]
    return missing_permission_error(missing or ["manage_roles"], action)


@dataclass
class ReconcileReport:
    changed: int = 0
    failed: int = 0
    disconnected: int = 0
    missing_rooms: int = 0


class AccessHost(Protocol):
    """What the Discord side of access needs of the bot (``HoldspaceBot`` provides it)."""

    @property
    def state(self) -> State: ...
    @property
    def ring(self) -> KeyRing: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def http(self) -> HTTPClient: ...
    @property
    def user(self) -> discord.ClientUser | None: ...
    @property
    def consent(self) -> ConsentGate | None: ...
    @property
    def enforcement(self) -> Enforcement: ...
    def get_guild(self, id: int, /) -> discord.Guild | None: ...


class AccessService:
    """The Discord side of access, owned by the bot as ``bot.access``."""

    def __init__(self, bot: AccessHost) -> None:
        self.bot = bot

    def desired_room_overwrites(
        self, group: GroupInfo, guild: discord.Guild, *, session_running: bool | None = None
    ) -> dict[int, ow.Overwrites]:
        """The one answer to "what must the group's rooms carry": consent, facilitators, access mode and,
        where the group locks between sessions, whether a session runs (``session_running`` None: ask
        ``self.bot.state``). Reconcile, the sessions feature and the guard's drift check all use it."""
        cfg = self.bot.state.guilds.get(group.guild_id)
        running = self.bot.state.session_running(group.id) if session_running is None else session_running
        named = self.bot.state.facilitators_of(group.id)
        role_id = cfg.facilitator_role_id if cfg else None
        # Roles mean what they say: a named facilitator who lost the facilitator role gets no overwrite.
        holders = [m for m in named if role_id is not None and _holds_role(guild, m, role_id)]
        rooms = replace(
            rooms_of(group),
            facilitator_ids=named_facilitators_in_role(named, holders),
            names_facilitators=bool(named),
        )
        return session_desired_overwrites(
            rooms,
            self.bot.state.consented_members(group.id),
            cfg.facilitator_role_id if cfg else None,
            guild.me.id,
            guild.default_role.id,
            lock_between_sessions=group.lock_between_sessions,
            session_running=running,
        )

    async def grant(self, group: GroupInfo, member: discord.Member) -> None:
        """Open the group's rooms to ``member`` (member overwrite or the group role).

        All or nothing: when one room cannot be opened, the other is closed again and
        MissingBotPermission names the permission and where to grant it.
        """
        reason = "holdspace: consent given"
        if group.access_mode == "role" and group.role_id is not None:
            role = member.guild.get_role(group.role_id)
            if role is None:
                raise UserError(
                    _("The group's role no longer exists; a facilitator runs {command} again.").format(
                        command=slash("/group settings")
                    )
                )
            if group.lock_between_sessions and not self.bot.state.session_running(group.id):
                return
            try:
                await member.add_roles(role, reason=reason)
            except discord.Forbidden:
                raise missing_permission_error(["manage_roles"], _("give you the group's role")) from None
            return
        if group.lock_between_sessions and not self.bot.state.session_running(group.id):
            return  # the rooms open to consenting members when the next session starts
        want = ow.Want(allow=ow.MEMBER_ALLOW)
        target = ow.Target(ow.MEMBER, member.id)
        done: list[tuple[int, ow.Want | None]] = []
        for channel_id in group.channel_ids:
            channel = member.guild.get_channel(channel_id)
            before = current_overwrites(channel).get(target) if channel is not None else None
            try:
                await put_overwrite(self.bot, channel_id, target, want.merged_into(before), reason)
            except discord.HTTPException as exc:
                for undo_id, undo_want in done:
                    try:
                        await put_overwrite(self.bot, undo_id, target, undo_want, "holdspace: undo")
                    except discord.HTTPException:
                        log.warning("could not undo an overwrite on %s", undo_id)
                if isinstance(exc, discord.Forbidden):
                    raise _room_permission_error(member.guild, channel, _("open the group's rooms to you")) from None
                raise
            done.append((channel_id, before))

    async def withdraw(self, group: GroupInfo, member_id: int, *, reason: str) -> bool:
        """Close the group's rooms to ``member_id`` and disconnect them from its voice room.

        Member overwrites that only deny (e.g. the guard's) are left; an allow is removed. Returns
        whether they were disconnected. Raises discord errors (the caller decides how to report).
        """
        guild = self.bot.get_guild(group.guild_id)
        if guild is None:
            return False
        member = guild.get_member(member_id)
        target = ow.Target(ow.MEMBER, member_id)
        for channel_id in group.channel_ids:
            channel = guild.get_channel(channel_id)
            # Acted on even when the cache shows no overwrite: it may not have caught up with a grant yet.
            have = current_overwrites(channel).get(target) if channel is not None else None
            new = None if have is None or have.deny == 0 else ow.Want(0, have.deny)
            with contextlib.suppress(discord.NotFound):
                await put_overwrite(self.bot, channel_id, target, new, f"holdspace: {reason}")
        if group.access_mode == "role" and group.role_id is not None and member is not None:
            role = guild.get_role(group.role_id)
            if role is not None and role in member.roles:
                await member.remove_roles(role, reason=f"holdspace: {reason}")
        return await self.disconnect(group, member_id, reason=reason)

    async def disconnect(self, group: GroupInfo, member_id: int, *, reason: str) -> bool:
        guild = self.bot.get_guild(group.guild_id)
        member = guild.get_member(member_id) if guild else None
        if member is None or member.voice is None or member.voice.channel is None:
            return False
        if member.voice.channel.id != group.voice_channel_id:
            return False
        try:
            await member.move_to(None, reason=f"holdspace: {reason}")
        except discord.NotFound:
            return False
        return True

    async def reconcile_all(self, why: str) -> None:
        """Reconcile every group holdspace can see, then withdraw consents that went stale."""
        for group in list(self.bot.state.groups.values()):
            if self.bot.get_guild(group.guild_id) is None:
                continue
            try:
                report = await self.reconcile_group(group)
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
        consent = self.bot.consent
        if consent is not None:
            for group in list(self.bot.state.groups.values()):
                if self.bot.get_guild(group.guild_id) is not None:
                    try:
                        await consent.revalidate_group(group.id)
                    except Exception:
                        log.exception("revalidating the consents of group %s failed", group.id)

    async def reconcile_group(self, group: GroupInfo, *, voice: bool = True) -> ReconcileReport:
        """Bring the group's rooms to what the database says; disconnect people without consent."""
        report = ReconcileReport()
        guild = self.bot.get_guild(group.guild_id)
        if guild is None or self.bot.user is None:
            return report
        desired = self.desired_room_overwrites(group, guild)
        keep_members = {m.id for m in guild.members if m.bot and m.id != self.bot.user.id}
        keep_roles = {r.id for r in guild.roles if r.managed}
        for channel_id, want in desired.items():
            channel = guild.get_channel(channel_id)
            if channel is None:
                report.missing_rooms += 1
                log.warning("group %s: room %s no longer exists", group.id, channel_id)
                continue
            for change in ow.diff(
                current_overwrites(channel), want, keep_member_ids=keep_members, keep_role_ids=keep_roles
            ):
                try:
                    await put_overwrite(
                        self.bot, channel_id, change.target, change.want, f"holdspace: reconcile ({change.why})"
                    )
                    report.changed += 1
                except discord.NotFound:
                    pass  # a consenting member who left the server
                except discord.HTTPException as exc:
                    report.failed += 1
                    log.warning("group %s: could not fix an overwrite on %s (%s)", group.id, channel_id, exc.status)
        if group.access_mode == "role" and group.role_id is not None:
            role = guild.get_role(group.role_id)
            consented = self.bot.state.consented_members(group.id)
            if role is not None:
                for member in list(role.members):
                    if member.id not in consented:
                        try:
                            await member.remove_roles(role, reason="holdspace: reconcile (no consent)")
                        except discord.HTTPException:
                            report.failed += 1
                for member_id in consented:
                    someone = guild.get_member(member_id)
                    if someone is not None and role not in someone.roles:
                        try:
                            await someone.add_roles(role, reason="holdspace: reconcile (consented)")
                        except discord.HTTPException:
                            report.failed += 1
        if voice:
            consent = self.bot.consent
            voice_room = guild.get_channel(group.voice_channel_id)
            if voice_room is not None and isinstance(voice_room, discord.VoiceChannel | discord.StageChannel):
                for member in list(voice_room.members):
                    decision = self.bot.enforcement.decision(group, member)
                    if decision.act and consent is not None:
                        await consent.enforce(member, group, trigger="reconcile")
                        report.disconnected += 1
        return report

    def desired_for_new_group(self, group: GroupInfo, guild: discord.Guild) -> dict[int, ow.Overwrites]:
        """Desired overwrites for a group that has no consenting members yet."""
        cfg = self.bot.state.guilds.get(guild.id)
        assert self.bot.user is not None
        rooms = rooms_of(group)
        ids = rooms.channel_ids if group.text_channel_id else (0,)
        return {
            channel_id: ow.desired_for_channel(
                rooms, [], cfg.facilitator_role_id if cfg else None, self.bot.user.id, guild.default_role.id
            )
            for channel_id in ids
        }

    async def send_prompt(self, member: discord.Member | discord.User, group: GroupInfo, *, why: str) -> bool:
        """DM ``member`` a prompt to review the group's agreement. False when their DMs are closed.

        In the group's language, whoever caused it: the prompt speaks for the group, and the member
        reads the group's agreement in that language next."""
        guild = self.bot.get_guild(group.guild_id)
        with using(group_language(self.bot.state, group)):
            server = guild.name if guild else _("the server")
            texts = {
                "invited": _("You have been invited to the group **{group}** on {server}."),
                "unconsented": _(
                    "You were disconnected from the voice room of **{group}** on {server} because holdspace has "
                    "no consent from you for this group."
                ),
                "agreement_changed": _(
                    "The agreement of **{group}** on {server} has changed, so your access was paused until you "
                    "read the new version."
                ),
                "expired": _(
                    "Your consent to the agreement of **{group}** on {server} is due to be renewed, so your access "
                    "was paused until you read it again."
                ),
            }
            text = texts.get(why, texts["invited"]).format(group=group.name, server=server)
            text += " " + _("Press the button to read the group's agreement; you can then say whether you agree.")
            view = review_view(group.id, member_tag(self.bot.ring, member.id))
        try:
            await member.send(text, view=view)
        except (discord.Forbidden, discord.HTTPException):
            log.debug("could not DM a member (their DMs may be closed)")
            return False
        return True
