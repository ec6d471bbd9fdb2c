"""Integrity: when a group room's overwrites change, or on start, resume and the periodic sweep, they
are compared with what the room must carry (``bot.core.drift``) and restored; a ``permission_drift``
case says what changed, in words without names.

Loops are avoided three ways: a restoration is compared with what the room must carry and ends when
nothing differs (holdspace's own CHANNEL_UPDATE finds nothing to do); events for a room that is
already waiting to be checked are folded into that check; and ``RestoreLimiter`` caps the attempts
per room. When holdspace lacks a permission it says so in a case and does not retry.

Changes to consenting members' own overwrites and to a group's role are checked only after a short
grace period, because the consent and sessions features change exactly those while opening and
closing rooms; the guard never adds access for people (that is theirs), it only takes away access
nobody is meant to have.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any, Literal

import discord

from bot.app import HoldspaceBot
from bot.core import overwrites as ow
from bot.core.drift import Drift, RestoreLimiter, compare, describe_all, guard_wants, permission_names
from bot.core.guard import BOT_DENY, CASE_PERMISSION_DRIFT, bots_needing_deny
from bot.core.records import GroupInfo
from bot.i18n import N_
from bot.services.rooms import current_overwrites, put_overwrite
from cogs.guard.memory import SETTLE_SECONDS, GuardMemory

log = logging.getLogger(__name__)

#: Seconds to let the consent and sessions features finish changing members' overwrites.
GRACE_SECONDS = 2.0
#: When a new or adopted room is looked at again to see whether it became a group room.
NEW_ROOM_DELAYS = (0.5, 1.5, 5.0)

ALLOWED_BOT_ALLOW = ow.MEMBER_ALLOW
#: When a change was found, as a case records it (English; translated where it is shown).
WHILE_OFFLINE = N_("while holdspace was offline")

Source = Literal["event", "start", "resume", "recheck", "sweep", "group"]


class RoomIntegrity:
    def __init__(self, bot: HoldspaceBot, memory: GuardMemory) -> None:
        self.bot = bot
        self.memory = memory
        self.limiter = RestoreLimiter(limit=5)
        self._locks: dict[int, asyncio.Lock] = {}
        self._queued: set[int] = set()
        self._rechecks: set[int] = set()  # rooms waiting for the grace period to pass
        self._new_rooms: set[int] = set()  # rooms that may be about to become group rooms
        self._sent: dict[int, int] = {}  # channel id -> CHANNEL_UPDATE count our writes lead to
        self._seen: dict[int, int] = {}  # channel id -> CHANNEL_UPDATE events seen

    def channel_updated(self, before: discord.abc.GuildChannel, after: discord.abc.GuildChannel) -> None:
        self._seen[after.id] = self._seen.get(after.id, 0) + 1
        if self.bot.state.group_of_channel(after.id) is not None:
            self.schedule_check(after.guild.id, after.id)
        elif before.overwrites != after.overwrites:
            self.maybe_new_group_room(after.guild.id, after.id)

    def channel_created(self, channel: discord.abc.GuildChannel) -> None:
        if self.bot.state.group_of_channel(channel.id) is not None:
            self.schedule_check(channel.guild.id, channel.id, "group")
        else:
            self.maybe_new_group_room(channel.guild.id, channel.id)

    def _lock(self, channel_id: int) -> asyncio.Lock:
        return self._locks.setdefault(channel_id, asyncio.Lock())

    def _desired(self, guild: discord.Guild, group: GroupInfo, channel_id: int) -> dict[ow.Target, ow.Want]:
        me = guild.me
        _, allowed = self.memory.config(guild.id)
        base = self.bot.access.desired_room_overwrites(group, guild)
        desired = dict(base.get(channel_id, {}))
        bots = [m.id for m in guild.members if m.bot]
        desired.update(
            guard_wants(
                blocked_bot_ids=bots_needing_deny(bots, own_id=me.id, allowed_bot_ids=allowed),
                allowed_bot_ids=[b for b in bots if b in allowed and b != me.id],
                deny=BOT_DENY,
                allow=ALLOWED_BOT_ALLOW,
            )
        )
        return desired

    def _keep(self, guild: discord.Guild) -> tuple[list[int], list[int]]:
        """Member and role ids whose allowing overwrites are left alone: allowed bots and their roles."""
        _, allowed = self.memory.config(guild.id)
        members = [b for b in allowed if guild.get_member(b) is not None]
        roles = [r.id for r in guild.roles if r.managed and r.tags is not None and r.tags.bot_id in allowed]
        return members, roles

    def _graced(self, guild: discord.Guild, group: GroupInfo, drift: Drift) -> bool:
        """Targets the consent, groups and sessions features change while opening and closing rooms
        (the facilitator role too: naming a group's own facilitators takes its access away)."""
        target = drift.target
        if target.kind == ow.ROLE:
            cfg = self.bot.state.guilds.get(guild.id)
            return target.id == group.role_id or (cfg is not None and target.id == cfg.facilitator_role_id)
        me = guild.me
        if me is not None and target.id == me.id:
            return False
        member = guild.get_member(target.id)
        return member is None or not member.bot

    def schedule_check(self, guild_id: int, channel_id: int, source: Source = "event") -> None:
        """Check one group room soon; events for a room already waiting are folded into that check."""
        if channel_id in self._queued:
            return
        self._queued.add(channel_id)
        self.memory.spawn(self._check_room(guild_id, channel_id, source))

    async def _check_room(self, guild_id: int, channel_id: int, source: Source) -> None:
        async with self._lock(channel_id):
            self._queued.discard(channel_id)
            guild = self.bot.get_guild(guild_id)
            group = self.bot.state.group_of_channel(channel_id)
            if guild is None or group is None or guild.me is None:
                return
            channel = guild.get_channel(channel_id)
            if channel is None:
                return
            await self._restore_room(guild, group, channel, source)

    async def _restore_room(
        self, guild: discord.Guild, group: GroupInfo, channel: discord.abc.GuildChannel, source: Source
    ) -> None:
        desired = self._desired(guild, group, channel.id)
        keep_members, keep_roles = self._keep(guild)
        drifts = compare(current_overwrites(channel), desired, keep_member_ids=keep_members, keep_role_ids=keep_roles)
        act: list[Drift] = []
        waiting = False
        for drift in drifts:
            if self._graced(guild, group, drift):
                if not drift.opens:
                    continue  # giving people access is the consent and sessions features' business
                if source != "recheck":
                    waiting = True
                    continue
            act.append(drift)
        if waiting:
            self._recheck_later(guild.id, channel.id)
        if not act:
            return
        bots = {m.id for m in guild.members if m.bot}
        guard_targets = {t for t in desired if t.kind == ow.MEMBER and t.id in bots}
        quiet = all(d.what == "missing" and d.target in guard_targets for d in act)
        lines = describe_all(act, self._labels(guild), bots)
        me = guild.me
        assert me is not None
        now = self.bot.clock.now()
        problem: str | None = None
        restored = False
        if not channel.permissions_for(me).manage_roles:
            problem = "holdspace lacks Manage Roles (Manage Permissions) in this room, so it could not restore it"
        elif not self.limiter.allow(channel.id, now):
            problem = (
                f"the room kept changing: holdspace stopped restoring it after {self.limiter.limit} attempts "
                "within a minute; check who keeps editing it"
            )
        else:
            problem = self._cannot_grant(channel, act) or await self._apply(guild, channel, act, desired)
            restored = problem is None
        log.info("guard: %d overwrite change(s) in a group room (%s); restored: %s", len(act), source, restored)
        details: dict[str, Any] = {
            "channel_id": channel.id,
            "changes": lines,
            "restored": restored,
            "when": WHILE_OFFLINE if source in ("start", "resume") else N_("just now"),
        }
        if problem:
            details["problem"] = problem
        await self.memory.audit(
            guild.id,
            "guard.overwrites_restored" if restored else "guard.overwrites_drift",
            group_id=group.id,
            details=details,
        )
        if quiet and restored:
            return  # a bot's deny put in place (a new group, a bot added while offline): nothing to flag
        await self.memory.case(
            guild.id,
            CASE_PERMISSION_DRIFT,
            group_id=group.id,
            details=details,
            dedupe_key=f"permission_drift:{channel.id}",
        )

    def _cannot_grant(self, channel: discord.abc.GuildChannel, drifts: Iterable[Drift]) -> str | None:
        """Discord lets a bot allow or deny only what it holds itself: say so instead of a refused request."""
        me = channel.guild.me
        held = channel.permissions_for(me)
        if held.administrator:
            return None
        needed = 0
        for drift in drifts:
            if drift.fix is not None:
                needed |= drift.fix.allow | drift.fix.deny
        missing = needed & ~held.value
        if not isinstance(channel, discord.VoiceChannel | discord.StageChannel):
            # discord.py drops voice permissions in text rooms; Discord itself checks them as held.
            missing &= ~discord.Permissions.voice().value
        if not missing:
            return None
        return (
            f"holdspace lacks {', '.join(permission_names(missing))} in this room, and Discord lets it allow or "
            "deny only what it holds itself, so it could not restore the room"
        )

    async def _apply(
        self,
        guild: discord.Guild,
        channel: discord.abc.GuildChannel,
        drifts: Iterable[Drift],
        desired: dict[ow.Target, ow.Want],
    ) -> str | None:
        """Write every fix, then wait until the cache shows them; returns a problem or None."""
        fixed: list[ow.Target] = []
        for drift in drifts:
            try:
                await self._write(channel.id, drift.target, drift.fix, "holdspace guard: restoring the group room")
            except discord.NotFound:
                continue
            except discord.Forbidden:
                return N_("Discord refused: holdspace lacks Manage Roles here or a permission it would have to grant")
            except discord.HTTPException as exc:
                return f"Discord refused the restoration (HTTP {exc.status})"
            fixed.append(drift.target)
        await self._settle(guild, channel.id, fixed, desired)
        return None

    async def _write(self, channel_id: int, target: ow.Target, want: ow.Want | None, reason: str) -> None:
        self._sent[channel_id] = max(self._sent.get(channel_id, 0), self._seen.get(channel_id, 0)) + 1
        try:
            await put_overwrite(self.bot, channel_id, target, want, reason)
        except BaseException:
            self._sent[channel_id] -= 1  # no CHANNEL_UPDATE will come for a refused edit
            raise

    async def _settle(
        self, guild: discord.Guild, channel_id: int, targets: list[ow.Target], desired: dict[ow.Target, ow.Want]
    ) -> None:
        """Hold the room's lock until our edits came back as CHANNEL_UPDATE (or a timeout), so the next
        check of the room reads a cache that holds them."""
        if not targets:
            return
        sent = self._sent.get(channel_id, 0)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_SECONDS
        while loop.time() < deadline:
            if self._seen.get(channel_id, 0) >= sent:
                return
            channel = guild.get_channel(channel_id)
            if channel is None:
                return
            current = current_overwrites(channel)
            if all(self._landed(current.get(t), desired.get(t)) for t in targets):
                return
            await asyncio.sleep(0.02)

    @staticmethod
    def _landed(have: ow.Want | None, want: ow.Want | None) -> bool:
        if want is None:
            return have is None or have.allow == 0
        return want.satisfied_by(have) and not (have is not None and have.allow & want.deny)

    async def ensure(
        self, guild: discord.Guild, channel: discord.abc.GuildChannel, wants: dict[ow.Target, ow.Want]
    ) -> tuple[bool, str | None]:
        """Make ``channel`` carry ``wants`` (merged into what is there); (done, problem)."""
        me = guild.me
        async with self._lock(channel.id):
            if me is None or not channel.permissions_for(me).manage_roles:
                return False, "holdspace lacks Manage Roles (Manage Permissions) in a group room"
            current = current_overwrites(channel)
            todo = {t: w for t, w in wants.items() if not self._landed(current.get(t), w)}
            for target, want in todo.items():
                have = current.get(target)
                merged = ow.Want(
                    allow=((have.allow if have else 0) | want.allow) & ~want.deny,
                    deny=((have.deny if have else 0) | want.deny) & ~want.allow,
                )
                try:
                    await self._write(channel.id, target, merged, "holdspace guard: bots in group rooms")
                except discord.Forbidden:
                    return False, "Discord refused: holdspace lacks Manage Roles in a group room"
                except discord.HTTPException as exc:
                    return False, f"Discord refused an overwrite (HTTP {exc.status})"
            await self._settle(guild, channel.id, list(todo), wants)
            return True, None

    async def set_exact(
        self, guild: discord.Guild, channel: discord.abc.GuildChannel, target: ow.Target, want: ow.Want
    ) -> bool:
        async with self._lock(channel.id):
            have = current_overwrites(channel).get(target)
            if have == want:
                return True
            try:
                await self._write(channel.id, target, want, "holdspace guard: allowlist changed")
            except discord.HTTPException:
                log.warning("could not change a bot's overwrite in a group room")
                return False
            await self._settle(guild, channel.id, [target], {target: want})
            return True

    def _labels(self, guild: discord.Guild) -> dict[int, str]:
        labels = {guild.default_role.id: "@everyone"}
        cfg = self.bot.state.guilds.get(guild.id)
        if cfg is not None and cfg.facilitator_role_id is not None:
            labels[cfg.facilitator_role_id] = "the facilitator role"
        if cfg is not None and cfg.moderator_role_id is not None:
            labels.setdefault(cfg.moderator_role_id, "the moderator role")
        for group in self.bot.state.groups_of_guild(guild.id):
            if group.role_id is not None:
                labels[group.role_id] = "the group's role"
        if guild.me is not None:
            labels[guild.me.id] = "holdspace"
        return labels

    def _recheck_later(self, guild_id: int, channel_id: int) -> None:
        if channel_id in self._rechecks:
            return
        self._rechecks.add(channel_id)

        async def later() -> None:
            try:
                await asyncio.sleep(GRACE_SECONDS)
            finally:
                self._rechecks.discard(channel_id)
            self.schedule_check(guild_id, channel_id, "recheck")

        self.memory.spawn(later())

    def maybe_new_group_room(self, guild_id: int, channel_id: int) -> None:
        """A room being created or adopted becomes a group room once the groups feature stored it:
        look again a little later (memory only) and check it then."""
        if channel_id in self._new_rooms:
            return
        self._new_rooms.add(channel_id)

        async def later() -> None:
            try:
                for delay in NEW_ROOM_DELAYS:
                    await asyncio.sleep(delay)
                    if self.bot.state.group_of_channel(channel_id) is not None:
                        self.schedule_check(guild_id, channel_id, "group")
                        return
            finally:
                self._new_rooms.discard(channel_id)

        self.memory.spawn(later())
