"""The one durable scheduler.

One task sleeps until the earliest due time over all sources and wakes early when something earlier
arrives. Sources are the timers table (session starts and ends, reminders, retention, holds) and any
feature with its own durable queue (expiring messages). A source's work stays written down until
its handler succeeded or the work became moot; a crash or restart resumes it.

Nothing waits for anything else: a source's ``run_due`` only hands work out and returns. Each due
timer runs in its own task (so one group's slow session end never delays another's lock), and the
expiry source gives each room its own lane. Before acting, work is claimed in the database (a
process id and a lease end on the row), so a second process could never do the same work twice; a
claim left by a process that died runs out at its lease end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot.clock import Clock, SystemClock
from bot.crypto import KeyRing
from bot.storage import timers as timer_store
from bot.storage.db import Database

log = logging.getLogger(__name__)


class DueSource(Protocol):
    """A durable queue of work with due times."""

    name: str

    async def next_due(self) -> datetime | None:
        """The earliest due time of pending work, or None."""
        ...

    async def run_due(self, now: datetime) -> None:
        """Do the work due at ``now``; leave unfinished work pending with a later due time."""
        ...


class RetryLater(Exception):
    """Raised by a timer handler: keep the timer and try again after ``delay``."""

    def __init__(self, delay: timedelta, reason: str = "") -> None:
        super().__init__(reason or f"retry in {delay}")
        self.delay = delay
        self.reason = reason


class _Connectable(Protocol):
    def is_ready(self) -> bool: ...
    async def wait_until_ready(self) -> None: ...


#: How long a timer handler waits for the connection before it puts its timer back for later.
READY_WAIT_SECONDS = 30.0


async def until_connected(client: _Connectable) -> None:
    """For a timer handler that needs Discord: wait a while for the connection, else keep the timer
    and try again in 30 s (a timer due while holdspace is still connecting is never lost)."""
    if client.is_ready():
        return
    try:
        await asyncio.wait_for(client.wait_until_ready(), READY_WAIT_SECONDS)
    except TimeoutError:
        raise RetryLater(timedelta(seconds=30), "not connected to Discord yet") from None


@dataclass(frozen=True)
class Timer:
    id: str
    kind: str
    due_at: datetime
    payload: dict[str, Any]
    attempts: int


TimerHandler = Callable[[Timer], Awaitable[None]]

_MAX_BACKOFF = timedelta(minutes=30)
TIMER_LEASE = timedelta(minutes=5)  # a timer's handler must finish (or renew) within this


class TimerSource:
    """Timers stored in the ``timers`` table, each handled by the handler registered for its kind."""

    name = "timers"

    def __init__(self, db: Database, ring: KeyRing, clock: Clock | None = None) -> None:
        self._db = db
        self._ring = ring
        self._clock: Clock = clock or SystemClock()
        self._handlers: dict[str, TimerHandler] = {}
        self.owner = uuid.uuid4().hex  # this process's name on its claims
        self._running: dict[str, asyncio.Task[None]] = {}
        self._started: dict[str, datetime] = {}
        self.on_done: Callable[[], None] = lambda: None

    def register(self, kind: str, handler: TimerHandler) -> None:
        self._handlers[kind] = handler

    @property
    def busy(self) -> bool:
        return any(not task.done() for task in self._running.values())

    @property
    def oldest_running(self) -> datetime | None:
        """When the longest-running handler began (a hung one shows here)."""
        times = [self._started[i] for i, task in self._running.items() if not task.done() and i in self._started]
        return min(times) if times else None

    async def next_due(self) -> datetime | None:
        return await timer_store.next_free_due(self._db, kinds=tuple(self._handlers), now=self._clock.now())

    async def add(self, kind: str, due_at: datetime, payload: dict[str, Any], *, key: str | None = None) -> str:
        timer_id = uuid.uuid4().hex
        blob = self._ring.encrypt(json.dumps(payload), table="timers", column="payload", row=timer_id)
        return await timer_store.upsert(self._db, timer_id, kind, key, due_at, blob)

    async def cancel(self, kind: str, key: str) -> bool:
        return await timer_store.delete_by_key(self._db, kind, key)

    async def due_time(self, kind: str, key: str) -> datetime | None:
        return await timer_store.due_time(self._db, kind, key)

    async def run_due(self, now: datetime) -> None:
        """Claim the due timers and start each handler in its own task; returns at once."""
        rows = await timer_store.claim_due(
            self._db, now, kinds=tuple(self._handlers), owner=self.owner, lease_until=now + TIMER_LEASE, limit=100
        )
        for row in rows:
            if row.id in self._running and not self._running[row.id].done():
                continue
            self._started[row.id] = now
            self._running[row.id] = asyncio.create_task(self._run(row, now), name=f"holdspace-timer-{row.kind}")

    async def _run(self, row: timer_store.TimerRow, now: datetime) -> None:
        try:
            payload = json.loads(self._ring.decrypt(row.payload, table="timers", column="payload", row=row.id))
            timer = Timer(row.id, row.kind, row.due_at, payload, row.attempts)
            try:
                await self._handlers[row.kind](timer)
            except RetryLater as retry:
                await timer_store.reschedule(self._db, row.id, self._clock.now() + retry.delay, retry.reason)
            except asyncio.CancelledError:
                # Stopped mid-way: the timer stays, unclaimed, for the next start.
                await asyncio.shield(timer_store.release(self._db, row.id, self.owner))
                raise
            except Exception as exc:  # a failing handler must not stop the others
                delay = min(_MAX_BACKOFF, timedelta(seconds=5 * 2 ** min(row.attempts, 10)))
                log.exception("timer %s (%s) failed; retrying in %s", row.id, row.kind, delay)
                await timer_store.reschedule(self._db, row.id, self._clock.now() + delay, type(exc).__name__)
            else:
                await timer_store.finish(self._db, row.id, self.owner)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("timer %s (%s) could not be run; it stays pending", row.id, row.kind)
        finally:
            if self._running.get(row.id) is asyncio.current_task():
                self._running.pop(row.id, None)
                self._started.pop(row.id, None)
            self.on_done()

    async def stop(self) -> None:
        tasks = [t for t in self._running.values() if not t.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._running.clear()


class Scheduler:
    """Runs every source's due work from one task."""

    def __init__(self, clock: Clock, db: Database, ring: KeyRing) -> None:
        self.clock = clock
        self.timers = TimerSource(db, ring, clock)
        self.timers.on_done = self.wake
        self._sources: list[DueSource] = [self.timers]
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._pass_started_at: datetime | None = None

    @property
    def pass_started_at(self) -> datetime | None:
        """When the oldest scheduled work still running began: the current pass, or a timer's handler
        (each runs in its own task). None when nothing runs; the health heartbeat reports it."""
        times = [t for t in (self._pass_started_at, self.timers.oldest_running) if t is not None]
        return min(times) if times else None

    @property
    def running(self) -> bool:
        """True while the scheduler task is alive."""
        return self._task is not None and not self._task.done()

    @property
    def idle(self) -> bool:
        """True while the task sleeps with nothing due (tests use it to know holdspace has settled)."""
        return (
            self._idle.is_set()
            and not self._wake.is_set()
            and not any(getattr(source, "busy", False) for source in self._sources)
        )

    def add_source(self, source: DueSource) -> None:
        self._sources.append(source)
        self.wake()

    def wake(self) -> None:
        """Something may be due earlier than the task is sleeping for: look again."""
        self._wake.set()

    async def schedule(self, kind: str, due_at: datetime, payload: dict[str, Any], *, key: str | None = None) -> str:
        """Store a timer durably; with ``key`` an existing timer of that kind and key is replaced."""
        timer_id = await self.timers.add(kind, due_at, payload, key=key)
        self.wake()
        return timer_id

    async def cancel(self, kind: str, key: str) -> bool:
        return await self.timers.cancel(kind, key)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="holdspace-scheduler")

    async def stop(self) -> None:
        """Stop the task and every source's running work (claims are given back for the next start)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for source in self._sources:
            stop = getattr(source, "stop", None)
            if stop is not None:
                with contextlib.suppress(Exception):
                    await stop()

    async def run_once(self) -> datetime | None:
        """Run all that is due now; return the next due time. Used by the task and by tests."""
        now = self.clock.now()
        self._pass_started_at = now
        try:
            for source in self._sources:
                due = await source.next_due()
                if due is not None and due <= now:
                    try:
                        await source.run_due(now)
                    except Exception:
                        log.exception("scheduler source %s failed; it will be retried", source.name)
        finally:
            self._pass_started_at = None
        return await self.earliest_due()

    async def earliest_due(self) -> datetime | None:
        """The earliest due time of pending work over every source."""
        earliest: datetime | None = None
        for source in self._sources:
            due = await source.next_due()
            if due is not None and (earliest is None or due < earliest):
                earliest = due
        return earliest

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                earliest = await self.run_once()
            except Exception:
                log.exception("scheduler pass failed; retrying in 5 seconds")
                earliest = self.clock.now() + timedelta(seconds=5)
            if earliest is not None and earliest <= self.clock.now():
                await asyncio.sleep(0.05)  # failed work that is already due again: do not spin
                continue
            self._idle.set()
            sleeper = asyncio.ensure_future(self.clock.sleep_until(earliest or datetime.max.replace(tzinfo=UTC)))
            waker = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                self._idle.clear()
                for task in (sleeper, waker):
                    task.cancel()
