"""Someone who must leave a group's voice room is an obligation until they are gone.

A departure is one person who must leave one voice room (no consent, a locked room, a bot that is not
allowed, a recording marker). :class:`Departures` sends the disconnect at once and, when Discord
refuses or does not answer (5xx, a 429 past discord.py's own retries, a timeout, a missing
permission), tries again with back-off on the injected clock until the person is out of the room or
has gained a right to be there: both are decided afresh before every try, from memory. A bot's kick or
ban is carried the same way after its disconnect.

One departure per (room, person) at a time: a replayed event and the reconcile that both see someone
start one disconnect, and the follow-up (prompt, audit entry, case) runs once. Follow-ups wait until
no disconnect is waiting to be sent, before they start and between their steps (:meth:`quiet`), and
only ``FOLLOW_UPS`` run at once, so a burst of departures is never queued behind the DMs, audit entries
and cases of the first ones, nor of an earlier burst.

Nothing here is written to the database: who must leave is rebuilt from Discord's voice states and
``bot.state`` by the reconcile on every start and resume.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
import discord

from bot.i18n import N_
from bot.services.departure_pacing import InFlightGate, OwnRights

if TYPE_CHECKING:
    from discord.ext import commands

    from bot.clock import Clock

log = logging.getLogger(__name__)

#: Injected-clock seconds before the first retry; doubled after every failure up to RETRY_MAX.
RETRY_FIRST = 0.5
RETRY_MAX = 4.0
#: Real seconds one request may take before it counts as unanswered and is tried again; None: as long
#: as discord.py's own connection allows (a request waiting for its rate-limit bucket is not late).
ATTEMPT_TIMEOUT: float | None = None
#: Failed tries after which the follow-up runs anyway (saying the disconnect has not held yet).
REPORT_AFTER = 3
#: Real seconds a finished disconnect suppresses another for the same person, until the voice event
#: saying they left arrives (a replayed join and a reconcile must not disconnect and report twice).
SETTLE_SECONDS = 2.0
#: Disconnects in flight per server at once, until discord.py knows the bucket's real limit (then
#: that many): Discord paces them in one bucket per server, and discord.py loses whole rate-limit
#: windows when more requests wait in one bucket than it lets through per window.
IN_FLIGHT = 5
#: Disconnects in flight per server at most, whatever the bucket allows: more parallel requests than
#: this gain nothing from Discord's pacing, and each one beyond the connections already open costs a
#: new connection (with Discord, a TLS handshake) before its request can even leave.
MAX_IN_FLIGHT = 16
#: Real seconds without a disconnect waiting before follow-ups run (a burst's joins arrive over a few
#: milliseconds; their disconnects all go out before the first prompt, audit entry or case).
QUIET_SETTLE = 0.05
#: Follow-ups (prompt, audit entry, case) running at once. Each waits for calm before it starts and
#: between its steps, so a new burst of disconnects competes with at most this many, not with the
#: records of a whole earlier burst.
FOLLOW_UPS = 4
#: Discord's answer when the person is not connected to voice any more.
NOT_CONNECTED = 40032

Removal = Literal["kick", "ban"]


@dataclass
class Outcome:
    """What became of a departure; handed to its follow-up."""

    held: bool = False  # the person is out of the room
    moot: bool = False  # they gained a right to be there before they were out
    tries: int = 0
    problems: list[str] = field(default_factory=list)
    removal_done: bool = False  # the kick or ban went through (when one was asked for)
    final: bool = True  # False: reported early while holdspace keeps trying
    reported_early: bool = False  # final, and a report with final False went before it

    def details(self) -> dict[str, Any]:
        """The outcome as a case or audit entry shows it (no names, no ids)."""
        out: dict[str, Any] = {"disconnected": self.held, "tries": self.tries}
        if not self.held and not self.moot:
            out["still_trying"] = not self.final
        if self.moot:
            out["moot"] = N_("the person gained a right to be in the room before holdspace could disconnect them")
        if self.problems:
            out["problems"] = list(dict.fromkeys(self.problems))
        return out


MayStay = Callable[[], bool]
FollowUp = Callable[[Outcome], Awaitable[None]]


@dataclass
class _Job:
    guild_id: int
    channel_id: int
    member_id: int
    reason: str
    may_stay: MayStay
    follow_up: FollowUp | None
    removal: Removal | None
    removal_check: Callable[[], str | None] | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    outcome: Outcome = field(default_factory=Outcome)
    reported_early: bool = False
    left: bool = False  # a voice event said they left the room
    rejoined: bool = False  # seen in the room again after that
    first: asyncio.Future[bool] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Departures:
    """The one place that disconnects people (and removes bots) from group voice rooms."""

    def __init__(self, bot: commands.Bot, clock: Clock) -> None:
        self.bot = bot
        self.clock = clock
        self.retry_first = RETRY_FIRST
        self.retry_max = RETRY_MAX
        self.attempt_timeout = ATTEMPT_TIMEOUT
        self._jobs: dict[tuple[int, int], _Job] = {}
        self._gates: dict[int, InFlightGate] = {}
        self._recent: dict[tuple[int, int], float] = {}  # disconnected, not yet confirmed by a voice event
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sending = 0  # departures whose request is being sent or waits to be sent
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._calm_since = float("-inf")  # loop time when the last disconnect waiting to be sent went out
        self._follow_ups: deque[tuple[FollowUp, Outcome]] = deque()  # waiting for a worker
        self._followers = 0  # workers running
        self._routes: dict[int, tuple[str, str]] = {}  # guild id -> its disconnect bucket's key parts
        self._own_rights = OwnRights()

    # -- asking -----------------------------------------------------------------------------------

    def must_leave(
        self,
        guild_id: int,
        channel_id: int,
        member_id: int,
        *,
        reason: str,
        may_stay: MayStay,
        follow_up: FollowUp | None = None,
        removal: Removal | None = None,
        removal_check: Callable[[], str | None] | None = None,
    ) -> bool:
        """Make sure ``member_id`` leaves voice room ``channel_id``; False when that is under way already.

        ``may_stay`` is asked before every try (memory only): True ends the departure as moot.
        ``follow_up`` runs when the disconnect held or became moot (``outcome.final``); when a few
        tries failed it runs once before that too, with ``final`` False, so the case is not held
        back while holdspace keeps trying. ``removal`` kicks or bans the person (a bot) after the
        disconnect, retried while Discord fails; ``removal_check`` names what holdspace lacks for it
        (from its cache), and then no request is sent.
        """
        key = (channel_id, member_id)
        job = self._jobs.get(key)
        if job is not None:
            job.rejoined = job.rejoined or job.left
            job.wake.set()  # seen again: try again now rather than at the end of the back-off
            return False
        done_at = self._recent.get(key)
        if done_at is not None and asyncio.get_running_loop().time() - done_at < SETTLE_SECONDS:
            return False  # disconnected a moment ago; the voice event saying so is on its way
        job = _Job(guild_id, channel_id, member_id, reason, may_stay, follow_up, removal, removal_check)
        self._jobs[key] = job
        self._begin_sending()
        task = asyncio.create_task(self._run(key, job), name="holdspace-departure")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    def pending(self, channel_id: int, member_id: int) -> bool:
        return (channel_id, member_id) in self._jobs

    async def first_try(self, channel_id: int, member_id: int) -> bool:
        """Whether the person was out after the first try of their departure (False: none under way)."""
        job = self._jobs.get((channel_id, member_id))
        if job is None:
            return False
        return await asyncio.shield(job.first)

    def noticed_leave(self, channel_id: int, member_id: int) -> None:
        """A voice event says the person left ``channel_id``: end a back-off early; a later join is new."""
        key = (channel_id, member_id)
        self._recent.pop(key, None)
        job = self._jobs.get(key)
        if job is not None:
            job.left = True
            job.wake.set()

    async def quiet(self) -> None:
        """Wait until no disconnect has waited to be sent for ``QUIET_SETTLE`` (follow-ups and kicks run
        after all disconnects, also those of a burst whose events are still being read). Returns at
        once when it has been calm that long already, so work may call it between its steps."""
        loop = asyncio.get_running_loop()
        while True:
            await self._quiet.wait()
            left = self._calm_since + QUIET_SETTLE - loop.time()
            if left <= 0:
                return
            await asyncio.sleep(left)  # then looked at again: a disconnect may have come meanwhile

    async def drain(self) -> None:
        """Wait for every departure (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- the obligation ---------------------------------------------------------------------------

    def _begin_sending(self) -> None:
        self._sending += 1
        self._quiet.clear()

    def _end_sending(self) -> None:
        self._sending -= 1
        if self._sending <= 0:
            self._sending = 0
            self._calm_since = asyncio.get_running_loop().time()
            self._quiet.set()

    def _in_room(self, job: _Job) -> bool:
        guild = self.bot.get_guild(job.guild_id)
        member = guild.get_member(job.member_id) if guild is not None else None
        if member is None or member.voice is None or member.voice.channel is None:
            return False
        return member.voice.channel.id == job.channel_id

    async def _run(self, key: tuple[int, int], job: _Job) -> None:
        sending = True
        delay = self.retry_first
        failures = 0
        outcome = job.outcome
        try:
            while True:
                if not self._in_room(job):
                    outcome.held = True
                    break
                if job.may_stay():
                    outcome.moot = True
                    break
                if not sending:
                    self._begin_sending()
                    sending = True
                lacking = self._cannot_move(job)
                if lacking is None:
                    outcome.tries += 1
                    problem = await self._attempt(job, self._disconnect)
                else:
                    problem = lacking  # no request Discord would refuse anyway; looked at again later
                self._end_sending()
                sending = False
                if not job.first.done():
                    job.first.set_result(problem is None)
                if problem is None:
                    if job.rejoined:  # they came back after this disconnect landed: once more
                        job.left = job.rejoined = False
                        continue
                    outcome.held = True
                    self._remember(key, job)
                    break
                repeated = problem in outcome.problems
                outcome.problems.append(problem)
                if lacking is None or not repeated:
                    log.warning(
                        "could not disconnect someone from a group's voice room (try %d): %s; trying again in %.1f s",
                        outcome.tries,
                        problem,
                        delay,
                    )
                failures += 1
                if not job.reported_early and (failures >= REPORT_AFTER or lacking is not None):
                    # Say so now rather than after the retries: a missing permission waits for people.
                    self._spawn_follow_up(job, final=False)
                await self._back_off(job, delay)
                delay = min(delay * 2, self.retry_max)
            if outcome.held and job.removal is not None:
                await self._remove(job)
        finally:
            if sending:
                self._end_sending()
            if not job.first.done():
                job.first.set_result(outcome.held)
            self._jobs.pop(key, None)
        if outcome.tries > 1 and outcome.held:
            log.warning("the disconnect held after %d tries", outcome.tries)
        self._spawn_follow_up(job, final=True)

    def _cannot_move(self, job: _Job) -> str | None:
        """What holdspace lacks to disconnect from the room, as its cache shows (None: nothing)."""
        guild = self.bot.get_guild(job.guild_id)
        room = guild.get_channel(job.channel_id) if guild is not None else None
        me = guild.me if guild is not None else None
        if room is None or me is None:
            return None
        return self._own_rights.lacking(room, me)

    def problems(self, channel_id: int, member_id: int) -> list[str]:
        """What kept the person's departure from holding so far (empty: none under way or no problem)."""
        job = self._jobs.get((channel_id, member_id))
        return list(dict.fromkeys(job.outcome.problems)) if job is not None else []

    def _remember(self, key: tuple[int, int], job: _Job) -> None:
        if not self._in_room(job):
            return  # the voice event came first: a join from now on is a new one
        now = asyncio.get_running_loop().time()
        if len(self._recent) > 1000:
            self._recent = {k: t for k, t in self._recent.items() if now - t < SETTLE_SECONDS}
        self._recent[key] = now

    async def _remove(self, job: _Job) -> None:
        """Kick or ban the bot; retried like the disconnect while Discord fails, not when it refuses."""
        await self.quiet()  # it is out already: the disconnects of everyone else go first
        delay = self.retry_first
        outcome = job.outcome
        action = job.removal
        while True:
            guild = self.bot.get_guild(job.guild_id)
            if guild is None or guild.get_member(job.member_id) is None:
                outcome.removal_done = True  # gone already
                return
            if job.may_stay():
                return
            blocked = job.removal_check() if job.removal_check is not None else None
            if blocked is not None:
                outcome.problems.append(blocked)
                return
            try:
                await self._kick_or_ban(job)
            except discord.NotFound:
                outcome.removal_done = True
                return
            except discord.Forbidden:
                outcome.problems.append(
                    f"Discord refused to {action} the bot (holdspace lacks the permission or its role is too low)"
                )
                return
            except discord.HTTPException as exc:
                problem = f"Discord refused to {action} the bot (HTTP {exc.status})"
            except (TimeoutError, aiohttp.ClientError, OSError):
                problem = f"Discord did not answer the {action} in time"
            else:
                outcome.removal_done = True
                return
            outcome.problems.append(problem)
            log.warning("could not %s a bot from the server: %s; trying again in %.1f s", action, problem, delay)
            await self._back_off(job, delay)
            delay = min(delay * 2, self.retry_max)

    async def _back_off(self, job: _Job, seconds: float) -> None:
        job.wake.clear()
        sleeper = asyncio.ensure_future(self.clock.sleep_until(self.clock.now() + timedelta(seconds=seconds)))
        waker = asyncio.ensure_future(job.wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()

    async def _attempt(self, job: _Job, request: Callable[[_Job], Awaitable[Any]]) -> str | None:
        """One request; None when it did what was asked (or the person is gone), else the problem."""
        try:
            await asyncio.wait_for(request(job), self.attempt_timeout)
        except discord.NotFound:
            return None
        except discord.Forbidden:
            return N_("Discord refused the disconnect: holdspace lacks Move Members (or Connect) in the voice room")
        except discord.HTTPException as exc:
            if exc.code == NOT_CONNECTED:
                return None
            return f"Discord answered HTTP {exc.status}"
        except (TimeoutError, aiohttp.ClientError, OSError):
            return N_("Discord did not answer in time")
        return None

    async def _disconnect(self, job: _Job) -> None:
        gate = self._gates.setdefault(job.guild_id, InFlightGate())
        limit = functools.partial(self._bucket_limit, job.guild_id)
        await gate.enter(limit)
        try:
            await self.bot.http.edit_member(job.guild_id, job.member_id, reason=job.reason, channel_id=None)
        finally:
            gate.leave(limit)

    def _bucket_limit(self, guild_id: int) -> int:
        """How many disconnects the server's bucket takes per window, as discord.py learnt it from
        Discord's headers (IN_FLIGHT until it knows). Read from discord.py's rate-limit table."""
        http = self.bot.http
        parts = self._routes.get(guild_id)
        if parts is None:  # built once per server: a Route formats its URL, too slow for every disconnect
            route = discord.http.Route("PATCH", "/guilds/{guild_id}/members/{user_id}", guild_id=guild_id, user_id=0)
            parts = self._routes[guild_id] = (route.key, route.major_parameters)
        bucket_hash = getattr(http, "_bucket_hashes", {}).get(parts[0])
        if bucket_hash is None:
            return IN_FLIGHT
        bucket = getattr(http, "_buckets", {}).get(f"{bucket_hash}:{parts[1]}")
        limit = getattr(bucket, "limit", 0)
        return min(max(IN_FLIGHT, int(limit)), MAX_IN_FLIGHT) if isinstance(limit, int) else IN_FLIGHT

    async def _kick_or_ban(self, job: _Job) -> None:
        if job.removal == "ban":
            await self.bot.http.ban(job.member_id, job.guild_id, delete_message_seconds=0, reason=job.reason)
        else:
            await self.bot.http.kick(job.member_id, job.guild_id, reason=job.reason)

    # -- follow-ups -------------------------------------------------------------------------------

    def _spawn_follow_up(self, job: _Job, *, final: bool) -> None:
        if job.follow_up is None:
            return
        if not final:
            job.reported_early = True
        snapshot = Outcome(
            held=job.outcome.held,
            moot=job.outcome.moot,
            tries=job.outcome.tries,
            problems=list(job.outcome.problems),
            removal_done=job.outcome.removal_done,
            final=final,
            reported_early=job.reported_early and final,
        )
        self._follow_ups.append((job.follow_up, snapshot))
        if self._followers < FOLLOW_UPS:
            self._followers += 1
            task = asyncio.create_task(self._follow(), name="holdspace-departure-follow-ups")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _follow(self) -> None:
        """One of at most ``FOLLOW_UPS`` workers: follow-ups in the order their departures ended."""
        try:
            while self._follow_ups:
                follow_up, outcome = self._follow_ups.popleft()
                await self.quiet()
                try:
                    await follow_up(outcome)
                except Exception:
                    log.exception("recording a disconnect failed")
        finally:
            self._followers -= 1
