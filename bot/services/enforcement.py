"""Enforcement: who must leave a group's voice room, and closing the rooms to someone, in that order.

- :meth:`Enforcement.check` decides one person found in a group's voice room with the one rule
  (``bot.core.access``) and hands anyone who may not stay to ``bot.departures``: the disconnect is
  the first request, re-decided before every retry; the consent prompt, audit entry and case follow
  once it held (or kept failing), through ``bot.outbox`` so they survive a database outage.
- :meth:`Enforcement.reconcile_voice` does that for everyone in a server's group voice rooms at once
  (on GUILD_CREATE, resume, re-identify): every disconnect is issued before any follow-up.
- :meth:`Enforcement.close_rooms` takes a person's access away after memory already says so (fail
  closed): the disconnect first, then the overwrite edits (or taking the group role); an edit or
  role removal Discord refuses is retried with back-off until it holds (the reconcile at every start
  is its backstop).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import discord

from bot.core import overwrites as ow
from bot.core.access import Decision, Reason, decide_from_state
from bot.core.drift import Drift, describe_all
from bot.core.guard import CASE_PERMISSION_DRIFT
from bot.i18n import N_, _
from bot.services.departures import Outcome
from bot.services.rooms import current_overwrites, put_overwrite

if TYPE_CHECKING:
    from bot.app import HoldspaceBot
    from bot.state import GroupInfo

log = logging.getLogger(__name__)

#: Injected-clock seconds before a refused overwrite edit is tried again (doubling up to the max).
REPAIR_FIRST = 1.0
REPAIR_MAX = 30.0

CASE_UNCONSENTED = "unconsented_join"

#: One try of a repair: None when it holds, else what went wrong.
Attempt = Callable[[], Awaitable[str | None]]


@dataclass
class Closing:
    """What closing the rooms to someone did right away."""

    disconnected: bool = False  # was in the voice room and the first disconnect held
    still_in_voice: bool = False  # the disconnect did not hold yet; holdspace keeps trying
    rooms_closed: bool = True  # False: an edit was refused and is being retried
    problems: list[str] = field(default_factory=list)

    def tell(self) -> str:
        """What the person (or the facilitator) is told when something could not be done at once."""
        if self.rooms_closed and not self.still_in_voice:
            return ""
        if self.still_in_voice and not self.rooms_closed:
            what = _("disconnecting from the voice room and closing the rooms")
        elif self.still_in_voice:
            what = _("disconnecting from the voice room")
        else:
            what = _("closing the rooms")
        # the problems are English records (also kept in cases); the fixed ones are in the catalogue
        problems = "; ".join(_(problem) for problem in dict.fromkeys(self.problems))
        return " " + _(
            "Discord did not accept {what} yet ({problems}); holdspace keeps trying until it holds. "
            "A server manager can fix what is missing."
        ).format(what=what, problems=problems)


class Enforcement:
    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot
        self._repairs: dict[tuple[int, int], asyncio.Task[None]] = {}
        self._closing: dict[tuple[int, int], int] = {}  # (room, member) -> edits in flight
        self._closed_before: set[tuple[str, int]] = set()  # (group, member) whose access holdspace took

    # -- deciding ---------------------------------------------------------------------------------

    def decision(self, group: GroupInfo, member: discord.Member) -> Decision:
        bot_id = self.bot.user.id if self.bot.user is not None else 0
        return decide_from_state(
            self.bot.state,
            group,
            member_id=member.id,
            is_bot=member.bot,
            role_ids=[r.id for r in member.roles],
            bot_id=bot_id,
        )

    def may_stay(self, group_id: str, guild_id: int, member_id: int) -> bool:
        """Decided afresh from memory before every try of a disconnect."""
        group = self.bot.state.groups.get(group_id)
        guild = self.bot.get_guild(guild_id)
        member = guild.get_member(member_id) if guild is not None else None
        if group is None or member is None:
            return group is None  # a deleted group no longer closes anything; a member gone is out anyway
        return self.decision(group, member).allowed

    # -- people found in a voice room -------------------------------------------------------------

    def check(self, member: discord.Member, group: GroupInfo, *, trigger: str, open_case: bool = True) -> bool:
        """Disconnect ``member`` from the group's voice room if they may not stay; True when a
        departure started (False: they may stay, or one is under way already)."""
        if member.bot:
            return False  # other bots are the guard's business
        decision = self.decision(group, member)
        if not decision.act:
            return False
        why = "room locked between sessions" if decision.reason is Reason.LOCKED else "no consent"
        return self.bot.departures.must_leave(
            group.guild_id,
            group.voice_channel_id,
            member.id,
            reason=f"holdspace: {why}",
            may_stay=functools.partial(self.may_stay, group.id, group.guild_id, member.id),
            follow_up=functools.partial(self._record, group, member.id, decision, trigger, open_case),
        )

    def reconcile_voice(self, guild: discord.Guild, *, trigger: str) -> int:
        """Everyone in the server's group voice rooms decided at once; returns the departures started."""
        started = 0
        for group in self.bot.state.groups_of_guild(guild.id):
            room = guild.get_channel(group.voice_channel_id)
            for member in list(getattr(room, "members", ())):
                started += self.check(member, group, trigger=trigger)
        return started

    def roles_changed(self, member: discord.Member) -> int:
        """Someone's roles changed: re-decide for the group voice room they are in."""
        voice = member.voice
        if voice is None or voice.channel is None:
            return 0
        group = self.bot.state.group_of_channel(voice.channel.id)
        if group is None or group.voice_channel_id != voice.channel.id:
            return 0
        return int(self.check(member, group, trigger="roles_changed"))

    def group_changed(self, group: GroupInfo, *, trigger: str) -> int:
        """A group's setting changed (its facilitators, whether they consent): re-decide its voice room."""
        guild = self.bot.get_guild(group.guild_id)
        if guild is None:
            return 0
        room = guild.get_channel(group.voice_channel_id)
        return sum(self.check(m, group, trigger=trigger) for m in list(getattr(room, "members", ())))

    async def _record(
        self, group: GroupInfo, member_id: int, decision: Decision, trigger: str, open_case: bool, outcome: Outcome
    ) -> None:
        """The follow-up of a departure: prompt, audit entry and case (once; a late success is noted)."""
        if outcome.moot and outcome.tries == 0:
            return  # they gained a right to be there before anything was sent
        outbox = self.bot.outbox
        details: dict[str, Any] = {"trigger": trigger, **outcome.details()}
        if outcome.final and outcome.reported_early:
            await outbox.audit(
                group.guild_id,
                "disconnect_held" if outcome.held else "disconnect_ended",
                group_id=group.id,
                subject_id=member_id,
                details=details,
            )
            return
        if decision.reason is Reason.LOCKED:
            await outbox.audit(
                group.guild_id, "locked_room_disconnect", group_id=group.id, subject_id=member_id, details=details
            )
            return
        guild = self.bot.get_guild(group.guild_id)
        member = guild.get_member(member_id) if guild is not None else None
        dm_sent = False
        if member is not None and decision.prompt:
            dm_sent = await self.bot.access.send_prompt(member, group, why="unconsented")
        details["dm_sent"] = dm_sent
        if not dm_sent:
            details["note"] = N_("the consent prompt could not be sent: the member's direct messages are closed")
        await self.bot.departures.quiet()  # a new burst's disconnects go before the rest of this record
        await outbox.audit(group.guild_id, CASE_UNCONSENTED, group_id=group.id, subject_id=member_id, details=details)
        if open_case:
            await self.bot.departures.quiet()
            await outbox.case(
                group.guild_id,
                CASE_UNCONSENTED,
                group_id=group.id,
                subject_id=member_id,
                details=details,
                dedupe_key=f"{CASE_UNCONSENTED}:{group.id}:{member_id}",
            )

    # -- closing the rooms to someone ---------------------------------------------------------------

    async def close_rooms(self, group: GroupInfo, member_id: int, *, reason: str) -> Closing:
        """Take ``member_id``'s access to the group's rooms away; memory must already say so.

        The disconnect is sent first (and retried until it holds or they may stay); then the
        member's allow overwrites are removed (denies such as the guard's stay) or the group role
        taken. A refused edit is retried with back-off until it holds; ``rooms_closed`` says whether
        all held at once.
        """
        result = Closing()
        guild = self.bot.get_guild(group.guild_id)
        if guild is None:
            return result
        self._closed_before.add((group.id, member_id))
        member = guild.get_member(member_id)
        voice = member.voice if member is not None else None
        if voice is not None and voice.channel is not None and voice.channel.id == group.voice_channel_id:
            departures = self.bot.departures
            departures.must_leave(
                group.guild_id,
                group.voice_channel_id,
                member_id,
                reason=f"holdspace: {reason}",
                may_stay=functools.partial(self.may_stay, group.id, group.guild_id, member_id),
            )
            # The disconnect is the first request; the edits follow its first answer.
            result.disconnected = await departures.first_try(group.voice_channel_id, member_id)
            if not result.disconnected:
                result.problems.extend(departures.problems(group.voice_channel_id, member_id))
                result.still_in_voice = departures.pending(group.voice_channel_id, member_id)
        edits = [self._close_one(group, channel_id, member_id, reason, result) for channel_id in group.channel_ids]
        await asyncio.gather(*edits)
        if group.access_mode == "role" and group.role_id is not None:
            await self._take_role(group, guild, member_id, reason, result)
        return result

    async def _close_one(self, group: GroupInfo, channel_id: int, member_id: int, reason: str, result: Closing) -> None:
        key = (channel_id, member_id)
        self._closing[key] = self._closing.get(key, 0) + 1
        try:
            problem = await self._strip_allow(group.guild_id, channel_id, member_id, reason)
        finally:
            self._closing[key] -= 1
            if not self._closing[key]:
                del self._closing[key]
        if problem is not None:
            result.rooms_closed = False
            result.problems.append(problem)
            self._repair_later(group, channel_id, member_id, reason)

    async def _strip_allow(self, guild_id: int, channel_id: int, member_id: int, reason: str) -> str | None:
        """Remove the allow bits of the member's overwrite on one room; None when that holds."""
        if self._may_be_open(guild_id, channel_id, member_id):
            return None  # access given back meanwhile (last decision wins)
        guild = self.bot.get_guild(guild_id)
        channel = guild.get_channel(channel_id) if guild is not None else None
        target = ow.Target(ow.MEMBER, member_id)
        # Acted on even when the cache shows no overwrite: it may not have caught up with a grant yet.
        have = current_overwrites(channel).get(target) if channel is not None else None
        new = None if have is None or have.deny == 0 else ow.Want(0, have.deny)
        try:
            await put_overwrite(self.bot, channel_id, target, new, f"holdspace: {reason}")
        except discord.NotFound:
            return None  # the room or the overwrite is gone
        except discord.Forbidden:
            return N_(
                "Discord refused to close a room: holdspace lacks Manage Permissions (in a voice room: or Connect)"
            )
        except discord.HTTPException as exc:
            return f"Discord answered HTTP {exc.status} to closing a room"
        except (TimeoutError, OSError):
            return N_("Discord did not answer in time when closing a room")
        return None

    def _may_be_open(self, guild_id: int, channel_id: int, member_id: int) -> bool:
        """Must the member's own overwrite on the room still open it? What the rooms must carry decides
        (``AccessService.desired_room_overwrites``): a consent, or being a named facilitator who holds
        the facilitator role (``bot.core.access``). A facilitator by role alone gets in through the
        role's overwrite, so an allow of their own is taken like anyone's."""
        group = self.bot.state.group_of_channel(channel_id)
        guild = self.bot.get_guild(guild_id)
        if group is None or guild is None:
            return True
        wants = self.bot.access.desired_room_overwrites(group, guild).get(channel_id, {})
        return ow.grants_access(wants.get(ow.Target(ow.MEMBER, member_id)))

    def _repair_later(self, group: GroupInfo, channel_id: int, member_id: int, reason: str) -> None:
        attempt = functools.partial(self._strip_allow, group.guild_id, channel_id, member_id, reason)
        self._retry_later((channel_id, member_id), attempt, "a room is not closed to someone")

    def _retry_later(self, key: tuple[int, int], attempt: Attempt, what: str) -> None:
        """Try ``attempt`` again with back-off until it holds (it decides afresh each time)."""
        task = self._repairs.get(key)
        if task is not None and not task.done():
            return
        self._repairs[key] = asyncio.create_task(self._repair(key, attempt, what), name="holdspace-room-repair")

    async def _repair(self, key: tuple[int, int], attempt: Attempt, what: str) -> None:
        clock = self.bot.clock
        delay = REPAIR_FIRST
        tries = 1
        try:
            while True:
                log.warning("%s yet; trying again in %.0f s", what, delay)
                await clock.sleep_until(clock.now() + timedelta(seconds=delay))
                tries += 1
                problem = await attempt()
                if problem is None:
                    log.info("it holds now (after %d tries)", tries)
                    return
                log.warning("failed again: %s", problem)
                delay = min(delay * 2, REPAIR_MAX)
        finally:
            self._repairs.pop(key, None)

    async def _take_role(
        self, group: GroupInfo, guild: discord.Guild, member_id: int, reason: str, result: Closing
    ) -> None:
        if group.role_id is None:
            return
        problem = await self._remove_role(group.id, guild.id, group.role_id, member_id, reason)
        if problem is not None:
            result.rooms_closed = False
            result.problems.append(problem)
            attempt = functools.partial(self._remove_role, group.id, guild.id, group.role_id, member_id, reason)
            # Keyed by the role, so a room's repair and the role's never stand in for each other.
            self._retry_later((group.role_id, member_id), attempt, "the group's role is not taken from someone")

    async def _remove_role(self, group_id: str, guild_id: int, role_id: int, member_id: int, reason: str) -> str | None:
        """Take the group's role from the member; None when that holds (or is no longer wanted)."""
        group = self.bot.state.groups.get(group_id)
        if group is None or group.access_mode != "role" or group.role_id != role_id:
            return None  # the group or its role mode is gone; nothing opens the rooms through this role
        if self.bot.state.consent_of(group_id, member_id) is not None:
            return None  # access given back meanwhile (last decision wins)
        guild = self.bot.get_guild(guild_id)
        member = guild.get_member(member_id) if guild is not None else None
        role = guild.get_role(role_id) if guild is not None else None
        if member is None or role is None or role not in member.roles:
            return None
        try:
            await member.remove_roles(role, reason=f"holdspace: {reason}")
        except discord.NotFound:
            return None  # the member or the role is gone
        except discord.Forbidden:
            return N_("Discord refused to take the group's role: holdspace lacks Manage Roles or ranks below the role")
        except discord.HTTPException as exc:
            return f"Discord answered HTTP {exc.status} to taking the group's role"
        except (TimeoutError, OSError):
            return N_("Discord did not answer in time when taking the group's role")
        return None

    def closing(self, channel_id: int, member_id: int) -> bool:
        """Is holdspace itself taking this member's access to the room away right now?"""
        key = (channel_id, member_id)
        return key in self._closing or key in self._repairs

    # -- access nobody gave through holdspace -------------------------------------------------------

    def stray_access(self, group: GroupInfo, channel: discord.abc.GuildChannel) -> list[tuple[ow.Target, ow.Want]]:
        """Member overwrites that open the room to someone holdspace did not let in (bots are the
        guard's; consenting members, named facilitators and grants in flight are holdspace's)."""
        me = channel.guild.me
        wanted = self.bot.access.desired_room_overwrites(group, channel.guild).get(channel.id, {})
        out = []
        for target, have in current_overwrites(channel).items():
            if target.kind != ow.MEMBER or not ow.grants_access(have) or (me is not None and target.id == me.id):
                continue
            if target in wanted or (group.id, target.id) in self.bot.state.pending_grants:
                continue
            if self.closing(channel.id, target.id):
                continue  # holdspace's own withdrawal, still on its way
            member = channel.guild.get_member(target.id)
            if member is not None and member.bot:
                continue
            out.append((target, have))
        return out

    def _holdspace_may_have_given(self, group: GroupInfo, guild: discord.Guild, member_id: int) -> bool:
        """Could this allow be holdspace's own, left from access it gave and is taking back (an enrolled
        member, a facilitator, someone whose access it closed in this run)? Those are removed quietly."""
        state = self.bot.state
        if state.is_enrolled(group.id, member_id) or member_id in state.facilitators_of(group.id):
            return True
        if (group.id, member_id) in self._closed_before:
            return True
        member = guild.get_member(member_id)
        cfg = state.guilds.get(group.guild_id)
        role_id = cfg.facilitator_role_id if cfg is not None else None
        return member is not None and role_id is not None and any(r.id == role_id for r in member.roles)

    async def revert_stray_access(self, group: GroupInfo, channel: discord.abc.GuildChannel, *, when: str) -> int:
        """Take stray member access away again; access holdspace never gave opens one ``permission_drift``
        case for the room."""
        strays = self.stray_access(group, channel)
        if not strays:
            return 0
        drifts = []
        problems = []
        for target, have in strays:
            fix = None if have.deny == 0 else ow.Want(0, have.deny)
            drifts.append(Drift(target, "stray", have, fix, have.allow, 0))
            try:
                await put_overwrite(self.bot, channel.id, target, fix, "holdspace: access without consent")
            except discord.NotFound:
                continue
            except discord.HTTPException as exc:
                problems.append(f"Discord answered HTTP {exc.status} to restoring the room")
                self._repair_later(group, channel.id, target.id, "access without consent")
        outbox = self.bot.outbox
        drifts = [d for d in drifts if not self._holdspace_may_have_given(group, channel.guild, d.target.id)]
        for target, _have in strays:
            await outbox.audit(
                group.guild_id,
                "access_without_consent_removed",
                group_id=group.id,
                subject_id=target.id,
                details={"channel_id": channel.id},
            )
        details: dict[str, Any] = {
            "channel_id": channel.id,
            "changes": describe_all(drifts),
            "restored": not problems,
            "when": when,
        }
        if problems:
            details["problems"] = sorted(set(problems))
        log.info("%d overwrite(s) giving access without consent found in a group room (%s)", len(strays), when)
        if not drifts:
            return len(strays)
        await outbox.case(
            group.guild_id,
            CASE_PERMISSION_DRIFT,
            group_id=group.id,
            details=details,
            dedupe_key=f"{CASE_PERMISSION_DRIFT}:{channel.id}",
        )
        return len(strays)

    async def revert_stray_access_in(self, guild: discord.Guild, *, when: str) -> None:
        """Every group room of the server, after the disconnects (start, resume)."""
        await self.bot.departures.quiet()
        for group in self.bot.state.groups_of_guild(guild.id):
            for channel_id in group.channel_ids:
                channel = guild.get_channel(channel_id)
                if channel is not None:
                    await self.revert_stray_access(group, channel, when=when)

    async def repairs_done(self) -> None:
        """Wait until every refused edit held (tests)."""
        while self._repairs:
            await asyncio.gather(*list(self._repairs.values()), return_exceptions=True)

    async def close(self) -> None:
        tasks = list(self._repairs.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
