"""The guard: keeping recording bots out and the group rooms closed.

- Allowlist: ``/guard allow|deny|list`` (server managers). holdspace itself is always allowed.
  Allowed bots get a member-level allow on every group room; every other bot a member-level deny
  of View Channel and Connect (a member deny beats any role allow).
- Prevention: a bot joining the server (GUILD_MEMBER_ADD) gets its denies on every group room at
  once, then a ``bot_added`` case names who added it when the audit log tells (the id, stored
  encrypted inside the case; never a name).
- Reaction: a non-allowed bot in a group voice room is disconnected, then the server's action
  (``/guard action``) is taken; anyone whose nickname or display name shows a recording marker is
  disconnected (a person is never kicked). The decision reads ``bot.state`` and this cog's memory
  only: no database or network read stands between the event and the disconnect request.
- Integrity: when a group room's overwrites change, or on start and resume, they are compared with
  what the room must carry (``bot.core.drift``) and restored; a ``permission_drift`` case says what
  changed, in words without names. A role gaining Administrator opens a case too: overwrites cannot
  keep its holders out.
- ``/guard audit``: a pass/warn/fail checklist of the server's set-up (``bot.core.server_audit``).

Loops are avoided three ways: a restoration is compared with what the room must carry and ends
when nothing differs (holdspace's own CHANNEL_UPDATE finds nothing to do); events for a room that
is already waiting to be checked are folded into that check; and ``RestoreLimiter`` caps the
attempts per room. When holdspace lacks a permission it says so in a case and does not retry.

Changes to consenting members' own overwrites and to a group's role are checked only after a short
grace period, because the consent and sessions features change exactly those while opening and
closing rooms; the guard never adds access for people (that is theirs), it only takes away access
nobody is meant to have.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable
from datetime import timedelta
from typing import Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import HoldspaceBot
from bot.core import overwrites as ow
from bot.core.access import decide_from_state as decide_access
from bot.core.drift import (
    Drift,
    RestoreLimiter,
    compare,
    describe_all,
    guard_wants,
    permission_names,
    role_change_warnings,
)
from bot.core.guard import (
    BOT_DENY,
    CASE_BOT_ADDED,
    CASE_PERMISSION_DRIFT,
    MarkerMatcher,
    MemberFacts,
    Verdict,
    bots_needing_deny,
    decide,
    parse_action,
)
from bot.core.records import GroupInfo
from bot.core.server_audit import AuditFacts, BotFacts, RoleFacts, RoomFacts, build_checklist, render
from bot.services.access import desired_room_overwrites
from bot.storage import guard as guard_store
from bot.ui.checks import server_manager_only
from bot.ui.replies import MissingBotPermission, UserError, send_ephemeral

log = logging.getLogger(__name__)

#: Seconds to let the consent and sessions features finish changing members' overwrites.
GRACE_SECONDS = 2.0
#: Seconds to wait for holdspace's own overwrite edits to come back as CHANNEL_UPDATE.
SETTLE_SECONDS = 2.0
#: When a new or adopted room is looked at again to see whether it became a group room.
NEW_ROOM_DELAYS = (0.5, 1.5, 5.0)
#: How often every group room is checked even without an event (catches groups made meanwhile).
SWEEP_SECONDS = 300.0

ALLOWED_BOT_ALLOW = ow.MEMBER_ALLOW

Source = Literal["event", "start", "resume", "recheck", "sweep", "group"]


def _facts(member: discord.Member) -> MemberFacts:
    """The member as the guard's pure decision sees it (names stay in memory only)."""
    return MemberFacts(member.id, member.bot, member.nick, member.display_name)


def _current(channel: discord.abc.GuildChannel) -> dict[ow.Target, ow.Want]:
    current: dict[ow.Target, ow.Want] = {}
    for target, overwrite in channel.overwrites.items():
        allow, deny = overwrite.pair()
        is_role = isinstance(target, discord.Role) or (
            isinstance(target, discord.Object) and target.type is discord.Role
        )
        current[ow.Target(ow.ROLE if is_role else ow.MEMBER, target.id)] = ow.Want(allow.value, deny.value)
    return current


class Guard(commands.Cog):
    guard = app_commands.Group(
        name="guard",
        description="Keep recording bots out of group rooms and the rooms closed",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot
        self.markers = MarkerMatcher(bot.settings.guard.recording_markers)
        self.limiter = RestoreLimiter(limit=5)
        self._allowed: dict[int, set[int]] = {}
        self._actions: dict[int, str] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._queued: set[int] = set()
        self._rechecks: set[int] = set()  # rooms waiting for the grace period to pass
        self._new_rooms: set[int] = set()  # rooms that may be about to become group rooms
        self._handling: set[tuple[int, int]] = set()
        self._missed: set[tuple[int, int]] = set()
        self._recent: dict[tuple[int, int], float] = {}
        self._sent: dict[int, int] = {}  # channel id -> CHANNEL_UPDATE count our writes lead to
        self._seen: dict[int, int] = {}  # channel id -> CHANNEL_UPDATE events seen
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.Task[None] | None = None

    # -- memory: this cog's facts, mirrored into bot.state ---------------------------------------

    async def cog_load(self) -> None:
        facts = await guard_store.load_all(self.bot.db, self.bot.ring)
        self._allowed = facts.allowed
        self._actions = facts.actions
        for guild_id in set(self.bot.state.guilds) | set(facts.allowed) | set(facts.actions):
            self._config(guild_id)
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="holdspace-guard-sweep")

    async def cog_unload(self) -> None:
        tasks = [t for t in (self._sweeper, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _config(self, guild_id: int) -> tuple[str, set[int]]:
        """The server's action and allowlist, mirrored into ``bot.state`` (memory only)."""
        cfg = self.bot.state.guild(guild_id)
        action = self._actions.get(guild_id, self.bot.settings.guard.action)
        allowed = self._allowed.setdefault(guild_id, set())
        cfg.bot_action = action
        cfg.allowed_bot_ids = allowed
        return action, allowed

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a guard task failed", exc_info=task.exception())

    def _group_rooms(self, guild: discord.Guild) -> list[tuple[GroupInfo, discord.abc.GuildChannel]]:
        rooms: list[tuple[GroupInfo, discord.abc.GuildChannel]] = []
        for group in self.bot.state.groups_of_guild(guild.id):
            for channel_id in group.channel_ids:
                channel = guild.get_channel(channel_id)
                if channel is not None:
                    rooms.append((group, channel))
        return rooms

    def _voice_group(self, channel: discord.abc.Connectable | None) -> GroupInfo | None:
        if channel is None:
            return None
        group = self.bot.state.group_of_channel(getattr(channel, "id", 0))
        if group is None or group.voice_channel_id != getattr(channel, "id", 0):
            return None
        return group

    # -- recording: what gets written where -------------------------------------------------------

    async def _audit(self, guild_id: int, action: str, **kw: Any) -> None:
        try:
            await self.bot.audit.record(guild_id, action, **kw)
        except Exception:
            log.exception("could not append the audit entry %s", action)

    async def _case(self, guild_id: int, kind: str, **kw: Any) -> int | None:
        return await self.bot.cases.open(guild_id, kind, **kw)

    # -- reaction: bots and recording markers in group voice rooms ---------------------------------

    def _verdict(self, member: discord.Member) -> Verdict | None:
        action, allowed = self._config(member.guild.id)
        me = member.guild.me
        return decide(
            _facts(member),
            own_id=me.id if me is not None else self.bot.user.id if self.bot.user else 0,
            allowed_bot_ids=allowed,
            bot_action=action,
            markers=self.markers,
        )

    async def _check_in_voice(self, member: discord.Member, trigger: str) -> None:
        """Decide from memory; act on a verdict (the disconnect is the first request)."""
        voice = member.voice
        group = self._voice_group(voice.channel if voice else None)
        if group is None:
            return
        verdict = self._verdict(member)
        if verdict is None:
            return
        if not verdict.is_bot and trigger == "voice_join" and self._consent_acts(member, group):
            return  # the consent feature disconnects this person already (no consent): once is enough
        key = (member.guild.id, member.id)
        if key in self._handling:
            # Being handled already (a storm of events): once is enough. A fresh join seen meanwhile
            # is looked at again once the requests in flight are done.
            if trigger == "voice_join":
                self._missed.add(key)
            return
        recent = self._recent.get(key)
        if (
            trigger != "voice_join"
            and recent is not None
            and asyncio.get_running_loop().time() - recent < SETTLE_SECONDS
        ):
            return  # disconnected a moment ago; the cache has not caught up yet
        self._handling.add(key)
        try:
            outcome = await self._act(member, group, verdict)
        finally:
            self._handling.discard(key)
        await self._record(member, group, verdict, trigger, outcome)
        if key in self._missed:
            self._missed.discard(key)
            await self._check_in_voice(member, "voice_join")

    def _remember_disconnect(self, guild_id: int, member_id: int) -> None:
        now = asyncio.get_running_loop().time()
        if len(self._recent) > 1000:
            self._recent = {k: t for k, t in self._recent.items() if now - t < SETTLE_SECONDS}
        self._recent[(guild_id, member_id)] = now

    def _consent_acts(self, member: discord.Member, group: GroupInfo) -> bool:
        own = member.guild.me
        return decide_access(
            self.bot.state,
            group,
            member_id=member.id,
            is_bot=member.bot,
            role_ids=[r.id for r in member.roles],
            bot_id=own.id if own is not None else 0,
        ).act

    async def _act(self, member: discord.Member, group: GroupInfo, verdict: Verdict) -> tuple[str | None, list[str]]:
        """The requests: disconnect first, then the server's action; returns (what was done, problems)."""
        guild = member.guild
        me = guild.me
        voice_channel = guild.get_channel(group.voice_channel_id)
        problems: list[str] = []
        disconnected = False
        can_move = voice_channel is not None and me is not None and voice_channel.permissions_for(me).move_members
        if can_move:
            try:
                await member.move_to(None, reason=f"holdspace guard: {verdict.reason}")
                disconnected = True
                self._remember_disconnect(guild.id, member.id)
            except discord.NotFound:
                disconnected = True  # gone already
            except discord.Forbidden:
                problems.append("holdspace lacks Move Members in the voice room, so it could not disconnect")
            except discord.HTTPException as exc:
                problems.append(f"Discord refused the disconnect (HTTP {exc.status})")
        else:
            problems.append("holdspace lacks Move Members in the voice room, so it could not disconnect")
        done = "disconnect" if disconnected else None
        if verdict.removes and verdict.is_bot:
            done = await self._remove_bot(member, verdict, problems) or done
        return done, problems

    async def _record(
        self,
        member: discord.Member,
        group: GroupInfo,
        verdict: Verdict,
        trigger: str,
        outcome: tuple[str | None, list[str]],
    ) -> None:
        """Audit entry, case and (during a session) one line in the group's text room."""
        guild = member.guild
        done, problems = outcome
        disconnected = done is not None
        log.info("guard: %s in a group voice room (%s); done: %s", verdict.case_kind, trigger, done or "nothing")
        log.debug("guard: member %s in guild %s", member.id, guild.id)
        details: dict[str, Any] = {
            "reason": verdict.reason,
            "trigger": trigger,
            "bot": verdict.is_bot,
            "action": verdict.action,
            "done": done or "nothing",
            "voice_channel_id": group.voice_channel_id,
        }
        if problems:
            details["problems"] = problems
        if verdict.is_bot and member.guild_permissions.administrator:
            details["administrator"] = True
        await self._audit(
            guild.id,
            f"guard.{verdict.case_kind}",
            group_id=group.id,
            subject_id=member.id,
            details=details,
        )
        await self._case(
            guild.id,
            verdict.case_kind,
            group_id=group.id,
            subject_id=member.id,
            details=details,
            dedupe_key=f"{verdict.case_kind}:{group.id}:{member.id}",
        )
        if disconnected and self.bot.state.session_running(group.id):
            await self._tell_room(guild, group, verdict)

    async def _remove_bot(self, member: discord.Member, verdict: Verdict, problems: list[str]) -> str | None:
        guild = member.guild
        me = guild.me
        perm_ok = me is not None and (
            me.guild_permissions.ban_members if verdict.action == "ban" else me.guild_permissions.kick_members
        )
        needed = "Ban Members" if verdict.action == "ban" else "Kick Members"
        if not perm_ok:
            problems.append(f"holdspace lacks {needed}, so it could not {verdict.action} the bot")
            return None
        if me is not None and guild.owner_id != me.id and member.top_role >= me.top_role:
            problems.append(f"the bot's role sits at or above holdspace's, so holdspace could not {verdict.action} it")
            return None
        reason = f"holdspace guard: {verdict.reason}"
        try:
            if verdict.action == "ban":
                await guild.ban(member, reason=reason, delete_message_seconds=0)
            else:
                await guild.kick(member, reason=reason)
        except discord.NotFound:
            return verdict.action
        except discord.Forbidden:
            problems.append(
                f"Discord refused to {verdict.action} the bot (holdspace lacks {needed} or its role is too low)"
            )
            return None
        except discord.HTTPException as exc:
            problems.append(f"Discord refused to {verdict.action} the bot (HTTP {exc.status})")
            return None
        return verdict.action

    async def _tell_room(self, guild: discord.Guild, group: GroupInfo, verdict: Verdict) -> None:
        channel = guild.get_channel(group.text_channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            return
        if verdict.is_bot:
            text = "🛡️ A bot that is not allowed in this group was removed from the voice room."
        else:
            text = "🛡️ Someone whose name showed a recording marker was disconnected from the voice room."
        try:
            await channel.send(text, allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException:
            log.warning("could not tell a group's text room that the guard acted")

    @commands.Cog.listener()
    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        if after.channel is None or (before.channel is not None and before.channel.id == after.channel.id):
            return
        await self._check_in_voice(member, "voice_join")

    @commands.Cog.listener()
    async def on_member_update(self, before: discord.Member, after: discord.Member) -> None:
        if (before.nick, before.display_name) != (after.nick, after.display_name):
            await self._check_in_voice(after, "name_change")
        if after.bot and not before.guild_permissions.administrator and after.guild_permissions.administrator:
            await self._bot_gained_administrator(after)

    @commands.Cog.listener()
    async def on_user_update(self, before: discord.User, after: discord.User) -> None:
        if (before.global_name, before.name) == (after.global_name, after.name):
            return
        for guild in self.bot.guilds:
            member = guild.get_member(after.id)
            if member is not None and member.voice is not None:
                await self._check_in_voice(member, "name_change")

    async def _bot_gained_administrator(self, member: discord.Member) -> None:
        _, allowed = self._config(member.guild.id)
        if member.id in allowed or member == member.guild.me or not self.bot.state.groups_of_guild(member.guild.id):
            return
        details = {
            "change": "a bot that is not allowed was given Administrator: permissions cannot keep it out of "
            "group rooms; remove the bot or take Administrator from it",
            "bot_id": member.id,
        }
        await self._audit(member.guild.id, "guard.bot_administrator", subject_id=member.id, details=details)
        await self._case(
            member.guild.id,
            CASE_PERMISSION_DRIFT,
            subject_id=member.id,
            details=details,
            dedupe_key=f"bot_administrator:{member.id}",
        )
        await self._check_in_voice(member, "administrator_gained")

    # -- prevention: a bot joins the server ---------------------------------------------------------

    @commands.Cog.listener()
    async def on_member_join(self, member: discord.Member) -> None:
        if not member.bot or member == member.guild.me:
            return
        guild = member.guild
        _, allowed = self._config(guild.id)
        is_allowed = member.id in allowed
        want = ow.Want(allow=ALLOWED_BOT_ALLOW) if is_allowed else ow.Want(deny=BOT_DENY)
        target = ow.Target(ow.MEMBER, member.id)
        results = await asyncio.gather(
            *(self._ensure(guild, channel, {target: want}) for _, channel in self._group_rooms(guild))
        )
        placed = sum(1 for ok, _ in results if ok)
        failed = [problem for ok, problem in results if not ok and problem]
        if member.voice is not None:
            await self._check_in_voice(member, "voice_join")
        adder = await self._adder_of(guild, member)
        details: dict[str, Any] = {
            "bot_id": member.id,
            "allowed": is_allowed,
            "rooms_changed": placed,
            "administrator": member.guild_permissions.administrator,
        }
        if adder is not None:
            details["added_by"] = adder
        else:
            details["added_by"] = "unknown (holdspace cannot read the audit log, or it does not say)"
        if failed:
            details["problems"] = sorted(set(failed))
        if member.guild_permissions.administrator and not is_allowed:
            details["warning"] = (
                "the bot holds Administrator: permissions cannot keep it out; remove it or take Administrator"
            )
        await self._audit(guild.id, "guard.bot_joined", subject_id=member.id, details=details)
        if not is_allowed:
            await self._case(
                guild.id, CASE_BOT_ADDED, subject_id=member.id, details=details, dedupe_key=f"bot_added:{member.id}"
            )

    async def _adder_of(self, guild: discord.Guild, member: discord.Member) -> int | None:
        me = guild.me
        if me is None or not me.guild_permissions.view_audit_log:
            return None
        try:
            async for entry in guild.audit_logs(limit=10, action=discord.AuditLogAction.bot_add):
                if entry.target is not None and entry.target.id == member.id and entry.user is not None:
                    return entry.user.id
        except discord.HTTPException:
            log.warning("could not read the audit log to learn who added a bot")
        return None

    # -- integrity: overwrites of group rooms -------------------------------------------------------

    def _lock(self, channel_id: int) -> asyncio.Lock:
        return self._locks.setdefault(channel_id, asyncio.Lock())

    def _desired(self, guild: discord.Guild, group: GroupInfo, channel_id: int) -> dict[ow.Target, ow.Want]:
        me = guild.me
        _, allowed = self._config(guild.id)
        base = desired_room_overwrites(self.bot, group, guild)
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
        _, allowed = self._config(guild.id)
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
        self._spawn(self._check_room(guild_id, channel_id, source))

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
        drifts = compare(_current(channel), desired, keep_member_ids=keep_members, keep_role_ids=keep_roles)
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
            "when": "while holdspace was offline" if source in ("start", "resume") else "just now",
        }
        if problem:
            details["problem"] = problem
        await self._audit(
            guild.id,
            "guard.overwrites_restored" if restored else "guard.overwrites_drift",
            group_id=group.id,
            details=details,
        )
        if quiet and restored:
            return  # a bot's deny put in place (a new group, a bot added while offline): nothing to flag
        await self._case(
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
                return "Discord refused: holdspace lacks Manage Roles here or a permission it would have to grant"
            except discord.HTTPException as exc:
                return f"Discord refused the restoration (HTTP {exc.status})"
            fixed.append(drift.target)
        await self._settle(guild, channel.id, fixed, desired)
        return None

    async def _write(self, channel_id: int, target: ow.Target, want: ow.Want | None, reason: str) -> None:
        self._sent[channel_id] = max(self._sent.get(channel_id, 0), self._seen.get(channel_id, 0)) + 1
        try:
            if want is None:
                await self.bot.http.delete_channel_permissions(channel_id, target.id, reason=reason)
            else:
                await self.bot.http.edit_channel_permissions(
                    channel_id,
                    target.id,
                    str(want.allow),
                    str(want.deny),
                    0 if target.kind == ow.ROLE else 1,
                    reason=reason,
                )
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
            current = _current(channel)
            if all(self._landed(current.get(t), desired.get(t)) for t in targets):
                return
            await asyncio.sleep(0.02)

    @staticmethod
    def _landed(have: ow.Want | None, want: ow.Want | None) -> bool:
        if want is None:
            return have is None or have.allow == 0
        return want.satisfied_by(have) and not (have is not None and have.allow & want.deny)

    async def _ensure(
        self, guild: discord.Guild, channel: discord.abc.GuildChannel, wants: dict[ow.Target, ow.Want]
    ) -> tuple[bool, str | None]:
        """Make ``channel`` carry ``wants`` (merged into what is there); (done, problem)."""
        me = guild.me
        async with self._lock(channel.id):
            if me is None or not channel.permissions_for(me).manage_roles:
                return False, "holdspace lacks Manage Roles (Manage Permissions) in a group room"
            current = _current(channel)
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

        self._spawn(later())

    def _maybe_new_group_room(self, guild_id: int, channel_id: int) -> None:
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

        self._spawn(later())

    @commands.Cog.listener()
    async def on_guild_channel_update(self, before: discord.abc.GuildChannel, after: discord.abc.GuildChannel) -> None:
        self._seen[after.id] = self._seen.get(after.id, 0) + 1
        if self.bot.state.group_of_channel(after.id) is not None:
            self.schedule_check(after.guild.id, after.id)
        elif before.overwrites != after.overwrites:
            self._maybe_new_group_room(after.guild.id, after.id)

    @commands.Cog.listener()
    async def on_guild_channel_create(self, channel: discord.abc.GuildChannel) -> None:
        if self.bot.state.group_of_channel(channel.id) is not None:
            self.schedule_check(channel.guild.id, channel.id, "group")
        else:
            self._maybe_new_group_room(channel.guild.id, channel.id)

    @commands.Cog.listener()
    async def on_guild_role_update(self, before: discord.Role, after: discord.Role) -> None:
        warnings = role_change_warnings(before.permissions.value, after.permissions.value)
        guild = after.guild
        if not warnings or not self.bot.state.groups_of_guild(guild.id):
            return
        _, allowed = self._config(guild.id)
        me = guild.me
        holders = [m for m in after.members if m != me]
        blocked_bots = [m for m in holders if m.bot and m.id not in allowed]
        details: dict[str, Any] = {
            "role_id": after.id,
            "changes": warnings,
            "people_holding": sum(1 for m in holders if not m.bot),
            "bots_not_allowed_holding": [m.id for m in blocked_bots],
        }
        if blocked_bots:
            details["warning"] = "bots that are not allowed hold this role: remove them or take the role from them"
        await self._audit(guild.id, "guard.role_administrator", details=details)
        await self._case(guild.id, CASE_PERMISSION_DRIFT, details=details, dedupe_key=f"role_administrator:{after.id}")
        for bot_member in blocked_bots:
            await self._check_in_voice(bot_member, "administrator_gained")

    # -- start, resume and the periodic sweep -------------------------------------------------------

    def sweep(self, source: Source) -> None:
        """Check every group room and every group voice room's members."""
        for guild in self.bot.guilds:
            self._config(guild.id)
            for _, channel in self._group_rooms(guild):
                self.schedule_check(guild.id, channel.id, source)
            for group in self.bot.state.groups_of_guild(guild.id):
                voice = guild.get_channel(group.voice_channel_id)
                for member in list(getattr(voice, "members", [])):
                    self._spawn(self._check_in_voice(member, "present_at_" + source))

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        self.sweep("start")

    @commands.Cog.listener()
    async def on_resumed(self) -> None:
        self.sweep("resume")

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        self._config(guild.id)

    async def _sweep_forever(self) -> None:
        await self.bot.wait_until_ready()
        clock = self.bot.clock
        while True:
            await clock.sleep_until(clock.now() + timedelta(seconds=SWEEP_SECONDS))
            self.sweep("sweep")

    # -- commands ------------------------------------------------------------------------------------

    def _rooms_lacking_manage_roles(self, guild: discord.Guild) -> list[int]:
        me = guild.me
        return [
            channel.id
            for _, channel in self._group_rooms(guild)
            if me is None or not channel.permissions_for(me).manage_roles
        ]

    def _require_manage_roles(self, guild: discord.Guild) -> None:
        lacking = self._rooms_lacking_manage_roles(guild)
        if lacking:
            rooms = ", ".join(f"<#{c}>" for c in lacking)
            raise MissingBotPermission(
                f"holdspace lacks Manage Roles (Manage Permissions) in {rooms}. Grant it to holdspace's role "
                "there, then try again. Nothing was changed."
            )

    @guard.command(name="allow", description="Allow a bot into this server's group rooms")
    @app_commands.describe(bot="The bot to allow (it must be a member of this server)")
    @server_manager_only()
    async def allow(self, interaction: discord.Interaction[HoldspaceBot], bot: discord.User) -> None:
        guild = interaction.guild
        assert guild is not None and guild.me is not None
        if bot.id == guild.me.id:
            raise UserError("holdspace is always allowed in group rooms; there is nothing to change.")
        if not bot.bot:
            raise UserError(
                "That is a person, not a bot. The allowlist is only for bots; people get into a group's rooms "
                "by consenting to its agreement."
            )
        member = guild.get_member(bot.id)
        if member is None:
            raise UserError("That bot is not a member of this server. Add it to the server first, then allow it here.")
        _, allowed = self._config(guild.id)
        if bot.id in allowed:
            await send_ephemeral(interaction, f"<@{bot.id}> is already allowed into group rooms. Nothing changed.")
            return
        self._require_manage_roles(guild)
        await interaction.response.defer(ephemeral=True, thinking=True)
        async with self.bot.db.transaction():
            await guard_store.allow_bot(self.bot.db, self.bot.ring, guild.id, bot.id, self.bot.clock.now())
            await self.bot.audit.record(guild.id, "guard.bot_allowed", actor_id=interaction.user.id, subject_id=bot.id)
        allowed.add(bot.id)
        target = ow.Target(ow.MEMBER, bot.id)
        results = await asyncio.gather(
            *(
                self._set_exact(guild, channel, target, ow.Want(allow=ALLOWED_BOT_ALLOW))
                for _, channel in self._group_rooms(guild)
            )
        )
        if not all(results):
            # Undo, so nothing is left half-done: off the list again, denies back in place.
            async with self.bot.db.transaction():
                await guard_store.deny_bot(self.bot.db, self.bot.ring, guild.id, bot.id)
                await self.bot.audit.record(
                    guild.id, "guard.bot_allow_undone", actor_id=interaction.user.id, subject_id=bot.id
                )
            allowed.discard(bot.id)
            await asyncio.gather(
                *(
                    self._set_exact(guild, channel, target, ow.Want(deny=BOT_DENY))
                    for _, channel in self._group_rooms(guild)
                )
            )
            raise MissingBotPermission(
                "Discord refused to open a group room to that bot, so holdspace left it out. Run /guard audit "
                "to see which permission holdspace lacks."
            )
        await send_ephemeral(
            interaction,
            f"<@{bot.id}> is now allowed into this server's group rooms ({len(results)} rooms opened to it).",
        )

    async def _set_exact(
        self, guild: discord.Guild, channel: discord.abc.GuildChannel, target: ow.Target, want: ow.Want
    ) -> bool:
        async with self._lock(channel.id):
            have = _current(channel).get(target)
            if have == want:
                return True
            try:
                await self._write(channel.id, target, want, "holdspace guard: allowlist changed")
            except discord.HTTPException:
                log.warning("could not change a bot's overwrite in a group room")
                return False
            await self._settle(guild, channel.id, [target], {target: want})
            return True

    @guard.command(name="deny", description="Take a bot off the allowlist and keep it out of group rooms")
    @app_commands.describe(bot="The bot to keep out")
    @server_manager_only()
    async def deny(self, interaction: discord.Interaction[HoldspaceBot], bot: discord.User) -> None:
        guild = interaction.guild
        assert guild is not None and guild.me is not None
        if bot.id == guild.me.id:
            raise UserError("holdspace cannot keep itself out: it needs the rooms to look after them.")
        _, allowed = self._config(guild.id)
        if not bot.bot and bot.id not in allowed:
            raise UserError(
                "That is a person, not a bot. The allowlist is only for bots; to take a person out of a group, "
                "use the group commands."
            )
        member = guild.get_member(bot.id)
        if bot.id not in allowed and member is None:
            raise UserError("That bot is neither on this server's allowlist nor a member of this server.")
        if member is not None:
            self._require_manage_roles(guild)
        await interaction.response.defer(ephemeral=True, thinking=True)
        if bot.id in allowed:
            async with self.bot.db.transaction():
                await guard_store.deny_bot(self.bot.db, self.bot.ring, guild.id, bot.id)
                await self.bot.audit.record(
                    guild.id, "guard.bot_denied", actor_id=interaction.user.id, subject_id=bot.id
                )
            allowed.discard(bot.id)
        rooms = 0
        if member is not None:
            target = ow.Target(ow.MEMBER, bot.id)
            results = await asyncio.gather(
                *(self._set_exact(guild, ch, target, ow.Want(deny=BOT_DENY)) for _, ch in self._group_rooms(guild))
            )
            rooms = sum(results)
            if member.voice is not None:
                await self._check_in_voice(member, "denied")
            if not all(results):
                raise MissingBotPermission(
                    f"<@{bot.id}> is off the allowlist, but Discord refused some of its denies. Run /guard audit "
                    "to see which permission holdspace lacks; holdspace still disconnects it from group voice rooms."
                )
        await send_ephemeral(interaction, f"<@{bot.id}> is not allowed into group rooms ({rooms} rooms deny it).")

    @guard.command(name="list", description="The bots allowed into group rooms and the server's guard action")
    @server_manager_only()
    async def list_(self, interaction: discord.Interaction[HoldspaceBot]) -> None:
        guild = interaction.guild
        assert guild is not None
        action, allowed = self._config(guild.id)
        bots = ", ".join(f"<@{b}>" for b in sorted(allowed)) or "none besides holdspace"
        await send_ephemeral(
            interaction,
            f"Bots allowed into group rooms: {bots}.\nAction against any other bot in a group voice room: "
            f"**{action}** (after disconnecting it). Change it with /guard action.",
        )

    @guard.command(name="action", description="What happens to a bot that is not allowed in a group voice room")
    @app_commands.describe(action="disconnect only, or also kick or ban the bot")
    @app_commands.choices(action=[app_commands.Choice(name=a, value=a) for a in ("disconnect", "kick", "ban")])
    @server_manager_only()
    async def action(self, interaction: discord.Interaction[HoldspaceBot], action: str) -> None:
        guild = interaction.guild
        assert guild is not None
        try:
            value = parse_action(action)
        except ValueError as exc:
            raise UserError(f"{exc}.") from None
        async with self.bot.db.transaction():
            await guard_store.set_action(self.bot.db, guild.id, value, self.bot.clock.now())
            await self.bot.audit.record(
                guild.id, "guard.action_set", actor_id=interaction.user.id, details={"action": value}
            )
        self._actions[guild.id] = value
        self._config(guild.id)
        note = ""
        me = guild.me
        if me is not None and value == "kick" and not me.guild_permissions.kick_members:
            note = " holdspace lacks Kick Members: grant it, or it can only disconnect."
        if me is not None and value == "ban" and not me.guild_permissions.ban_members:
            note = " holdspace lacks Ban Members: grant it, or it can only disconnect."
        await send_ephemeral(
            interaction, f"A bot that is not allowed in a group voice room is now disconnected and then: {value}.{note}"
        )

    @guard.command(name="audit", description="Check this server's set-up: a pass, warn or fail per line")
    @server_manager_only()
    async def audit(self, interaction: discord.Interaction[HoldspaceBot]) -> None:
        guild = interaction.guild
        assert guild is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        for chunk in render(build_checklist(self.audit_facts(guild))):
            await interaction.followup.send(chunk, ephemeral=True, allowed_mentions=discord.AllowedMentions.none())

    def audit_facts(self, guild: discord.Guild) -> AuditFacts:
        """The facts the checklist needs, from discord.py's cache (no request)."""
        me = guild.me
        action, allowed = self._config(guild.id)
        rooms = [
            RoomFacts(channel.id, isinstance(channel, discord.VoiceChannel), channel.permissions_for(me).value)
            for _, channel in self._group_rooms(guild)
        ]
        roles = []
        for role in guild.roles:
            holders = role.members
            roles.append(
                RoleFacts(
                    role.id,
                    role.position,
                    role.permissions.value,
                    people=sum(1 for m in holders if not m.bot),
                    bot_ids=tuple(m.id for m in holders if m.bot),
                )
            )
        bots = []
        for member in guild.members:
            if not member.bot or member == me:
                continue
            denied = 0
            for _, channel in self._group_rooms(guild):
                deny = channel.overwrites_for(member).pair()[1].value
                if deny & BOT_DENY == BOT_DENY:
                    denied += 1
            bots.append(
                BotFacts(
                    member.id,
                    allowed=member.id in allowed,
                    top_position=member.top_role.position,
                    administrator=member.guild_permissions.administrator,
                    rooms_denied=denied,
                )
            )
        return AuditFacts(
            own_id=me.id,
            own_top_position=me.top_role.position,
            own_guild_permissions=me.guild_permissions.value,
            bot_action=action,
            rooms=rooms,
            roles=roles,
            bots=bots,
            mfa_required=guild.mfa_level == discord.MFALevel.require_2fa,
            verification_level=guild.verification_level.value,
            members_intent=self.bot.intents.members,
            groups=len(self.bot.state.groups_of_guild(guild.id)),
            own_is_owner=guild.owner_id == me.id,
        )


async def setup(bot: HoldspaceBot) -> None:
    await bot.add_cog(Guard(bot))
