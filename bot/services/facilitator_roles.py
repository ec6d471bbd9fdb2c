"""The facilitator role given or taken while holdspace runs, and the role itself changed in /setup: the
rooms of the groups that name their facilitators follow at once (roles mean what they say).

A named facilitator has a group's rooms open only while they hold the facilitator role
(``AccessService.desired_room_overwrites``, the one answer to what the rooms carry). When the role is
taken, whoever is in a group voice room is decided again by the one may-stay rule at once
(``bot.enforcement.roles_changed``, before anything here); then each group that names them closes its
rooms to them in their turn (``bot.access_order``), the disconnect first (``bot.enforcement.close_rooms``).
When the role comes back the rooms open again in the same turn. Every turn decides afresh from what
Discord's cache says at that moment, so the last change wins. While holdspace is offline, the
reconcile at start does the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import discord

from bot.background import Background
from bot.core import overwrites as ow
from bot.services.rooms import current_overwrites, put_overwrite

if TYPE_CHECKING:
    from bot.app import HoldspaceBot
    from bot.core.records import GroupInfo

log = logging.getLogger(__name__)


class FacilitatorRoles:
    """Owned by the bot as ``bot.facilitator_roles``."""

    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot
        self._background = Background(log, "following a change of the facilitator role failed")

    def member_changed(self, before: discord.Member, after: discord.Member) -> int:
        """Someone's roles changed: when that gave or took the facilitator role, every group that names
        them follows in their turn. Returns how many groups were handed on."""
        cfg = self.bot.state.guilds.get(after.guild.id)
        role_id = cfg.facilitator_role_id if cfg is not None else None
        if role_id is None:
            return 0
        had, has = before.get_role(role_id) is not None, after.get_role(role_id) is not None
        if had == has:
            return 0
        why = "facilitator role taken" if had else "facilitator role given"
        groups = [g for g in self.bot.state.groups_of_guild(after.guild.id) if self._names(g, after.id)]
        for group in groups:
            self._spawn(self.follow(group.id, after.id, why=why))
        return len(groups)

    def role_deleted(self, role: discord.Role) -> bool:
        """The facilitator role itself was deleted: nobody holds it any more (Discord sends no member
        updates for that), so the server's rooms follow as after a change in /setup."""
        cfg = self.bot.state.guilds.get(role.guild.id)
        if cfg is None or cfg.facilitator_role_id != role.id:
            return False
        self._spawn(self.setup_changed(role.guild))
        return True

    async def setup_changed(self, guild: discord.Guild) -> None:
        """The facilitator role was changed in /setup (or deleted): everyone in the group voice rooms
        is decided again at once, then the role overwrites move to the new role, then every named
        facilitator follows in their turn."""
        enforcement = self.bot.enforcement
        groups = self.bot.state.groups_of_guild(guild.id)
        started = sum(enforcement.group_changed(g, trigger="facilitator_role_changed") for g in groups)
        if started:
            await self.bot.departures.quiet()  # the disconnects go out before any overwrite edit
        for group in groups:
            await self._fix(group, guild, lambda target: target.kind == ow.ROLE, why="facilitator role changed")
            for member_id in sorted(self.bot.state.facilitators_of(group.id)):
                await self.follow(group.id, member_id, why="facilitator role changed")

    async def follow(self, group_id: str, member_id: int, *, why: str) -> None:
        """Bring one named facilitator's overwrites on the group's rooms to what they must be now."""
        async with self.bot.access_order.turn(group_id, member_id):
            group = self.bot.state.groups.get(group_id)
            guild = self.bot.get_guild(group.guild_id) if group is not None else None
            if group is None or guild is None or not self._names(group, member_id):
                return
            target = ow.Target(ow.MEMBER, member_id)
            desired = self.bot.access.desired_room_overwrites(group, guild)
            if any(ow.grants_access(wants.get(target)) for wants in desired.values()):
                await self._fix(group, guild, lambda t: t == target, why=why, exact=True)
                return
            closing = await self.bot.enforcement.close_rooms(group, member_id, reason=why)
        details: dict[str, Any] = {"disconnected": closing.disconnected, "rooms_closed": closing.rooms_closed}
        if closing.problems:
            details["problems"] = sorted(set(closing.problems))
        await self.bot.outbox.audit(
            group.guild_id, "facilitator_role_lost", group_id=group.id, subject_id=member_id, details=details
        )

    def _names(self, group: GroupInfo, member_id: int) -> bool:
        """Does the group name this person as a facilitator (and let them in as one)?"""
        return member_id in self.bot.state.facilitators_of(group.id) and not group.facilitators_consent

    async def _fix(
        self,
        group: GroupInfo,
        guild: discord.Guild,
        which: Callable[[ow.Target], bool],
        *,
        why: str,
        exact: bool = False,
    ) -> None:
        """Bring the overwrites ``which`` selects to what the rooms must carry. ``exact``: also take
        allow bits the target must no longer have (a facilitator's extra bits, once only a member)."""
        keep_roles = {r.id for r in guild.roles if r.managed}
        for channel_id, wants in self.bot.access.desired_room_overwrites(group, guild).items():
            channel = guild.get_channel(channel_id)
            if channel is None:
                continue
            have = current_overwrites(channel)
            changes = [(c.target, c.want) for c in ow.diff(have, wants, keep_role_ids=keep_roles) if which(c.target)]
            if exact:
                for target, want in wants.items():
                    now = have.get(target)
                    if which(target) and now is not None and now.allow & ~want.allow:
                        changes.append((target, ow.Want(want.allow, now.deny)))
            for target, new in dict(changes).items():
                try:
                    await put_overwrite(self.bot, channel_id, target, new, f"holdspace: {why}")
                except discord.NotFound:
                    continue
                except discord.HTTPException as exc:
                    # Fails closed (nobody gains access by it); the reconcile at the next start repairs it.
                    log.warning("could not bring a group room's overwrite to the facilitator role (%s)", exc.status)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        self._background.spawn(work, "holdspace-facilitator-role")

    async def close(self) -> None:
        await self._background.close()
