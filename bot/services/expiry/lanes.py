"""Deleting, one lane per room: a rate-limited or failing room delays only itself.

The scheduler asks :meth:`Lanes.run_due` for the rooms with due rows and gets an answer at once: each
such room gets its own task (a lane) that claims its due rows in the database (so no second process
could act on them), gathers them for up to ``window`` (so live chat costs few requests), deletes
them, and keeps going while the room has rows due soon. Nothing here waits for another room, and
nothing the scheduler runs (session starts and ends, locks, reminders) waits for a lane.

Batching with a bound: a lane sends when its oldest due row has waited ``window`` or when a full bulk
request (100 ids) is due, whichever comes first. So a message is removed at most ``window`` after
its due time plus the request itself (and Discord's rate limit of the room, if it binds).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from bot.core.expiry import (
    BULK_MAX,
    DueMessage,
    Outcome,
    backoff,
    classify,
    plan_deletions,
)
from bot.services.outbox import is_database_error
from bot.storage import expiry as store
from bot.storage import expiry_claims as claims
from bot.storage import holds
from bot.storage.expiry import PendingRow

from .api import DeleteApi, DeleteFailed
from .blocked import BlockedRooms
from .context import ExpiryContext
from .tallies import Tallies

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)  # a claim runs out this long after it was taken or renewed
IDLE = timedelta(minutes=1)  # a lane whose room has nothing due sooner than this ends
HOLD_RECHECK = timedelta(hours=1)  # a held message is looked at again after this (or on release)
PINS_WAIT = timedelta(seconds=30)  # rows of a room whose pins are not yet reconciled wait this long
REQUEST_MARGIN = timedelta(milliseconds=500)  # the part of the window left for the delete request


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


class Lanes:
    """The deleting lanes of one process, and the scheduler's view of them."""

    def __init__(self, ctx: ExpiryContext, api: DeleteApi, *, blocked: BlockedRooms, tallies: Tallies) -> None:
        self.ctx = ctx
        self.api = api  # replaceable (tests put a failing one in)
        self.blocked = blocked
        self.tallies = tallies
        self.owner = uuid.uuid4().hex  # this process's name on its claims
        self.window = ctx.window
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._pokes: dict[int, asyncio.Event] = defaultdict(asyncio.Event)
        self._wake_at: dict[int, int] = {}
        self.locks: dict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    @property
    def busy(self) -> bool:
        """A lane is working now (not waiting for its next due time or its batching window)."""
        return any(not task.done() and ch not in self._wake_at for ch, task in self._tasks.items())

    @property
    def active(self) -> set[int]:
        return {ch for ch, task in self._tasks.items() if not task.done()}

    # -- the scheduler's side ------------------------------------------------------------------

    async def next_due(self) -> datetime | None:
        """Host time of the earliest work no lane of this process has yet."""
        value = await claims.next_free_due(self.ctx.db, self.active)
        if value is None:
            return None
        return self.ctx.dclock.to_host(store.from_ms(value))

    async def run_due(self, now: datetime) -> None:
        """Start a lane for every room with due rows; returns at once."""
        discord_now = ms(now + self.ctx.dclock.offset)
        for channel_id in await claims.channels_due(self.ctx.db, discord_now, self.active):
            self.start(channel_id)

    def start(self, channel_id: int) -> None:
        """Make sure the room has a lane; a running one looks again now."""
        task = self._tasks.get(channel_id)
        if task is not None and not task.done():
            self._pokes[channel_id].set()
            return
        self._tasks[channel_id] = asyncio.create_task(
            self._lane(channel_id), name=f"holdspace-expiry-lane-{channel_id}"
        )

    def poke(self, channel_ids: Iterable[int], earliest_ms: int | None = None) -> None:
        """New rows in these rooms: a lane that would sleep past ``earliest_ms`` looks again."""
        for channel_id in channel_ids:
            task = self._tasks.get(channel_id)
            if task is None or task.done():
                continue
            planned = self._wake_at.get(channel_id)
            if earliest_ms is None or planned is None or earliest_ms < planned:
                self._pokes[channel_id].set()

    async def stop(self) -> None:
        tasks = [t for t in self._tasks.values() if not t.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        with contextlib.suppress(Exception):
            await claims.release_claims(self.ctx.db, self.owner)

    # -- one lane ---------------------------------------------------------------------------------

    async def _lane(self, channel_id: int) -> None:
        poke = self._pokes[channel_id]
        try:
            while True:
                poke.clear()
                now = self.ctx.dclock.now()
                now_ms = ms(now)
                rows = await claims.claim_due(self.ctx.db, channel_id, self.owner, now_ms, ms(now + LEASE) - now_ms)
                if not rows:
                    upcoming = await claims.channel_next_due(self.ctx.db, channel_id, self.owner)
                    if upcoming is None or upcoming - now_ms > IDLE.total_seconds() * 1000:
                        return
                    await self._sleep(channel_id, poke, upcoming)
                    continue
                oldest = rows[0].due_ms or now_ms
                # Sent a little before the window is over, so the request itself ends within it.
                send_at = oldest + max(0, int((self.window - REQUEST_MARGIN).total_seconds() * 1000))
                if len(rows) < BULK_MAX and now_ms < send_at:
                    full_at = await claims.nth_due(self.ctx.db, channel_id, BULK_MAX)
                    await self._sleep(channel_id, poke, min(send_at, full_at) if full_at else send_at)
                    continue
                await self.process(channel_id, rows, now)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if is_database_error(exc):  # one ERROR per outage (the outbox's), not one per lane
                log.warning("an expiry lane could not use the database; its rows stay pending")
                self.ctx.bot.outbox.failed(exc)
            else:
                log.exception("an expiry lane failed; its rows stay pending and are tried again")
        finally:
            self._wake_at.pop(channel_id, None)
            if self._tasks.get(channel_id) is asyncio.current_task():
                self._tasks.pop(channel_id, None)
            with contextlib.suppress(Exception):
                await claims.release_claims(self.ctx.db, self.owner, channel_id)
            self.ctx.wake()  # the scheduler looks at this room again

    async def _sleep(self, channel_id: int, poke: asyncio.Event, until_ms: int) -> None:
        self._wake_at[channel_id] = until_ms
        host_time = self.ctx.dclock.to_host(store.from_ms(until_ms))
        sleeper = asyncio.ensure_future(self.ctx.clock.sleep_until(host_time))
        waker = asyncio.ensure_future(poke.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._wake_at.pop(channel_id, None)
            for task in (sleeper, waker):
                task.cancel()

    # -- deleting what a lane holds -------------------------------------------------------------------

    async def process(self, channel_id: int, rows: list[PendingRow], now: datetime) -> None:
        """Delete the claimed ``rows`` of one room (held, kept and waiting ones are put aside)."""
        db = self.ctx.db
        ids = [r.message_id for r in rows]
        if self.ctx.waits_for_pins(channel_id):
            await store.postpone(db, channel_id, ids, now + PINS_WAIT, "pins")
            return
        found = await holds.held_message_ids(db, channel_id, ids, now)
        held = {(channel_id, i) for i in found}
        kept = self.ctx.bot.state.kept_until_session_end()
        session = [i for i in ids if (channel_id, i) in kept]
        if session:
            await store.keep_for_session(db, channel_id, session)
        plan = plan_deletions(
            (DueMessage(r.channel_id, r.message_id, r.pinned) for r in rows if (channel_id, r.message_id) not in kept),
            now,
            keep_pinned=self.ctx.channel_keeps_pinned,
            held=held,
        )
        if plan.held:
            await store.postpone(db, channel_id, [m.message_id for m in plan.held], now + HOLD_RECHECK, "held")
        if plan.kept_pinned:
            await store.park_pinned(db, channel_id, [m.message_id for m in plan.kept_pinned])
        attempts = {r.message_id: r.attempts for r in rows}
        for batch in plan.batches:
            async with self.locks[channel_id]:
                # A settings change may have re-timed rows since they were claimed.
                still = await store.still_due(db, channel_id, batch.message_ids, now)
                todo = [i for i in batch.message_ids if i in still]
                if not todo:
                    continue
                await claims.renew_claims(db, channel_id, self.owner, ms(self.ctx.dclock.now() + LEASE))
                await self._delete(channel_id, todo, attempts)

    async def _delete(self, channel_id: int, ids: list[int], attempts: dict[int, int]) -> None:
        bulk = len(ids) >= 2
        reason = ""
        try:
            if bulk:
                await self.api.bulk_delete(channel_id, ids)
            else:
                await self.api.delete(channel_id, ids[0])
            outcome = Outcome.REMOVED
        except DeleteFailed as exc:
            outcome = classify(exc.status, exc.code, bulk=bulk)
            reason = str(exc)
        if outcome is Outcome.REMOVED:
            await store.forget(self.ctx.db, channel_id, ids)
            self.tallies.removed(channel_id, ids)
            log.debug("expired %d messages in channel %s", len(ids), channel_id)
            return
        if outcome is Outcome.SPLIT:
            for message_id in ids:
                await self._delete(channel_id, [message_id], attempts)
            return
        tries = 1 + max(attempts.get(i, 0) for i in ids)
        blocked = outcome is Outcome.BLOCKED
        when = self.ctx.dclock.now() + backoff(tries, blocked=blocked)
        await store.retry_later(self.ctx.db, channel_id, ids, when, "blocked" if blocked else "retry")
        log.warning("could not delete %d expiring messages (%s); retrying at %s", len(ids), reason, when.isoformat())
        if blocked:
            await self.blocked.report_channel(channel_id, "delete")
