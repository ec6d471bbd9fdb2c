"""Expiring messages: recording, the scheduler's expiry source, catch-up, purge and session end.

How it fits together (see docs/architecture.md and the issue "Messages that expire"):

- **Recording.** Every new message in a group room (text room, the voice room's text chat, threads
  in them) becomes a row (channel id, message id, due time) through :class:`Recorder`, which buffers
  rows for a few milliseconds and commits them in one transaction together with the room's cursor
  (the newest message id seen). ``await recorder.add(...)`` returns once the row is committed.
  "Durable" therefore means: committed (WAL, ``synchronous=NORMAL``) within ``delay`` (5 ms) plus one
  transaction; it survives a crash of holdspace, and after a power cut it may lose the last
  commits. Either way the room cursor is in the same transaction, so a lost batch is lost together
  with its cursor and the catch-up on the next start reads those messages again from Discord.
- **Catch-up.** On every ready and resume each room's history after its cursor is read (pages of
  100) and recorded; what is overdue goes at once. A room seen for the first time starts at its
  current last message, so older messages are left alone (``purge`` is the explicit way to remove
  them). Live messages advance a cursor only once that room has been caught up since the last
  connect, so a gap in the gateway can never be skipped over.
- **Pinned messages** are tracked: MESSAGE_UPDATE carries ``pinned`` (no content needed), and on
  every connect and resume the pins of rooms in groups that keep pinned messages are read once and
  reconciled (one request per room per connect, none per deletion). Until a room's pins have been
  reconciled after a connect, its due rows wait (postponed, not failed), so a pin made while
  holdspace was offline is never missed. A kept pinned row has no due time; unpinning re-times it.
- **Deleting** is :meth:`ExpiryService.run_due`, a ``DueSource`` of the one scheduler: due rows are
  grouped per channel and planned by :func:`bot.core.expiry.plan_deletions`; rows go only after
  Discord confirmed the deletion (or 404: already gone). 403 opens one ``expiry_blocked`` case per
  channel and retries with backoff; 429/5xx/network trouble keep the rows and retry with backoff.
  Messages held by an open report are skipped and looked at again later, or at once when the hold is
  released.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
import discord

from bot.core.expiry import (
    DueMessage,
    ExpiryReport,
    Outcome,
    backoff,
    classify,
    due_time,
    plan_deletions,
    snowflake_floor,
)
from bot.storage import expiry as store
from bot.storage.db import Database
from bot.storage.expiry import GroupExpirySettings, NewMessage, PendingRow, Room

try:  # held messages (moderation); expiry works without it
    from bot.storage import holds as _holds
except ImportError:  # pragma: no cover - only while the moderation feature is absent
    _holds = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from bot.app import HoldspaceBot
    from bot.core.records import GroupInfo

log = logging.getLogger(__name__)

PASS_LIMIT = 5000  # rows per scheduler pass; the scheduler comes back at once for the rest
PARALLEL_CHANNELS = 8  # channels deleted from at the same time (each has its own rate limit)
HOLD_RECHECK = timedelta(hours=1)  # a held message is looked at again after this (or on release)
PINS_WAIT = timedelta(seconds=30)  # rows of a room whose pins are not yet reconciled wait this long
INLINE_GRACE = timedelta(minutes=2)  # purge / session end: the scheduler takes over after this
HISTORY_PAGE = 100


def settings_of(group: GroupInfo | None) -> GroupExpirySettings:
    """The expiry settings of ``group``; a group that no longer exists keeps pinned messages."""
    if group is None:
        return GroupExpirySettings(ttl=None, expire_at_session_end=False, keep_pinned=True)
    return GroupExpirySettings(group.ttl, group.expire_at_session_end, group.keep_pinned)


# -- the Discord side of deleting ------------------------------------------------------------------


class DeleteFailed(Exception):
    """A delete request that did not succeed: ``status`` None means no HTTP answer at all."""

    def __init__(self, status: int | None, code: int | None = None, reason: str = "") -> None:
        super().__init__(reason or f"HTTP {status} (code {code})")
        self.status = status
        self.code = code


class DeleteApi(Protocol):
    async def bulk_delete(self, channel_id: int, message_ids: Sequence[int]) -> None: ...

    async def delete(self, channel_id: int, message_id: int) -> None: ...


class DiscordDeleteApi:
    """Deletes through discord.py's HTTP client (which retries 5xx and waits out 429s itself)."""

    def __init__(self, http: Any) -> None:
        self._http = http

    async def _call(self, request: Awaitable[Any]) -> None:
        try:
            await request
        except discord.HTTPException as exc:
            raise DeleteFailed(exc.status, exc.code, type(exc).__name__) from None
        except (TimeoutError, discord.RateLimited, aiohttp.ClientError, OSError) as exc:
            raise DeleteFailed(None, None, type(exc).__name__) from None

    async def bulk_delete(self, channel_id: int, message_ids: Sequence[int]) -> None:
        await self._call(self._http.delete_messages(channel_id, [str(m) for m in message_ids]))

    async def delete(self, channel_id: int, message_id: int) -> None:
        await self._call(self._http.delete_message(channel_id, message_id))


# -- group commit of new rows ----------------------------------------------------------------------


class Recorder:
    """Buffers new rows for ``delay`` seconds and commits them (and room cursors) in one transaction.

    ``add`` returns once its row is committed. A failing commit is retried a few times; if it keeps
    failing, the waiting callers get the error, the affected rooms' cursors are not advanced and
    ``on_failure`` is told, so the next catch-up reads those messages again.
    """

    def __init__(
        self,
        db: Database,
        *,
        delay: float = 0.005,
        max_batch: int = 2000,
        on_commit: Callable[[Sequence[NewMessage]], None] | None = None,
        on_failure: Callable[[set[int]], None] | None = None,
    ) -> None:
        self.db = db
        self.delay = delay
        self.max_batch = max_batch
        self._on_commit = on_commit
        self._on_failure = on_failure
        self._rows: list[NewMessage] = []
        self._cursors: dict[int, int] = {}
        self._future: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._full = asyncio.Event()
        self._lock = asyncio.Lock()
        self.batches = 0  # commits so far (for benchmarks)

    async def add(self, message: NewMessage, *, advance_cursor: bool) -> None:
        self._rows.append(message)
        if advance_cursor:
            current = self._cursors.get(message.channel_id, 0)
            self._cursors[message.channel_id] = max(current, message.message_id)
        if self._future is None:
            self._future = asyncio.get_running_loop().create_future()
        future = self._future
        if len(self._rows) >= self.max_batch:
            self._full.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="holdspace-expiry-recorder")
        await asyncio.shield(future)

    async def _run(self) -> None:
        while self._rows or self._cursors:
            if len(self._rows) < self.max_batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self.delay)
            await self.flush()

    async def flush(self) -> None:
        """Commit whatever is buffered now."""
        async with self._lock:
            rows, cursors, future = self._rows, self._cursors, self._future
            self._rows, self._cursors, self._future = [], {}, None
            self._full.clear()
            if not rows and not cursors:
                if future is not None and not future.done():
                    future.set_result(None)
                return
            error: BaseException | None = None
            for pause in (0.0, 0.05, 0.25, 1.0):
                if pause:
                    await asyncio.sleep(pause)
                try:
                    await store.record(self.db, rows, cursors)
                except Exception as exc:  # retried below; reported if it keeps failing
                    error = exc
                    log.warning("could not record %d expiring messages (%s); retrying", len(rows), exc)
                    continue
                error = None
                break
            if error is None:
                self.batches += 1
                if self._on_commit is not None:
                    self._on_commit(rows)
                if future is not None and not future.done():
                    future.set_result(None)
                return
            # A warning: the outage itself is reported once (bot.services.outbox), not per batch.
            log.warning("could not record %d expiring messages; the next catch-up reads them again", len(rows))
            if self._on_failure is not None:
                self._on_failure({r.channel_id for r in rows} | set(cursors))
            if future is not None and not future.done():
                future.set_exception(error)
                future.exception()  # retrieved here, so an unawaited future does not warn


# -- the service -----------------------------------------------------------------------------------


class ExpiryService:
    """The expiry queue: a ``DueSource`` for ``bot.scheduler`` plus recording, catch-up and purges."""

    name = "expiry"

    def __init__(self, bot: HoldspaceBot, *, api: DeleteApi | None = None) -> None:
        self.bot = bot
        self.db: Database = bot.db
        self.clock = bot.clock
        self.api: DeleteApi = api or DiscordDeleteApi(bot.http)
        self.rooms: dict[int, Room] = {}
        self.synced: set[int] = set()  # rooms caught up since the last connect
        self.pins_checked: set[int] = set()  # rooms whose pins were reconciled since the last connect
        self.recorder = Recorder(self.db, on_commit=self._after_commit, on_failure=self._after_failure)
        self._known_next: datetime | None = None
        self._seen_settings: dict[str, GroupExpirySettings] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._locks: dict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._catch_up_task: asyncio.Task[None] | None = None
        self._catch_up_again = False
        self._retry_task: asyncio.Task[None] | None = None

    async def load(self) -> None:
        self.rooms = {room.channel_id: room for room in await store.rooms(self.db)}
        self._seen_settings = {gid: settings_of(g) for gid, g in self.bot.state.groups.items()}

    def notice_settings(self, group: GroupInfo) -> None:
        """Re-time a group's pending rows if its settings changed since last seen (by any feature).

        ``/expiry settings`` re-times at once; this catches changes made elsewhere (``/group
        settings``) on the group's next message or scheduler pass.
        """
        current = settings_of(group)
        previous = self._seen_settings.get(group.id)
        self._seen_settings[group.id] = current
        if previous is None or previous == current:
            return
        task = asyncio.create_task(self._retime(group.id, current), name="holdspace-expiry-retime")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def retime(self, group: GroupInfo) -> None:
        """Re-time a group's pending rows to its current settings now."""
        self._seen_settings[group.id] = settings_of(group)
        await self._retime(group.id, settings_of(group))

    async def _retime(self, group_id: str, settings: GroupExpirySettings) -> None:
        try:
            await self.recorder.flush()
            count = await store.retime_group(self.db, group_id, settings)
        except Exception:
            log.exception("could not re-time pending deletions after a settings change; retrying later")
            self._seen_settings.pop(group_id, None)
            return
        log.info("re-timed %d pending deletions after a settings change", count)
        self.wake()

    # -- settings and rooms ----------------------------------------------------------------------

    def group(self, group_id: str) -> GroupInfo | None:
        return self.bot.state.groups.get(group_id)

    def settings(self, group_id: str) -> GroupExpirySettings:
        return settings_of(self.group(group_id))

    def _channel_keeps_pinned(self, channel_id: int) -> bool:
        room = self.rooms.get(channel_id)
        return True if room is None else self.settings(room.group_id).keep_pinned

    def _waits_for_pins(self, channel_id: int) -> bool:
        """Deletions wait until the room's pins were reconciled since the last connect.

        Only for rooms of existing groups that keep pinned messages; a room whose group was deleted
        is not read any more, so its pending rows go as they are (rows parked as pinned stay).
        """
        if channel_id in self.pins_checked:
            return False
        room = self.rooms.get(channel_id)
        group = None if room is None else self.group(room.group_id)
        return group is not None and group.keep_pinned

    def group_of(self, channel_id: int, parent_id: int | None = None) -> GroupInfo | None:
        group = self.bot.state.group_of_channel(channel_id)
        if group is None and parent_id is not None:
            group = self.bot.state.group_of_channel(parent_id)
        return group

    def rooms_of(self, group_id: str) -> list[Room]:
        return [room for room in self.rooms.values() if room.group_id == group_id]

    async def _add_room(self, room: Room) -> Room:
        """Watch a room from ``room.cursor_id``; a room left by a deleted group is taken over."""
        self.rooms[room.channel_id] = room
        if not await store.add_room(self.db, room):
            await store.move_room(self.db, room)
        log.debug("expiry now watches channel %s from message %s", room.channel_id, room.cursor_id)
        return room

    async def track_group(self, group: GroupInfo) -> None:
        """Start watching a group's rooms (and threads in them) from their current last message."""
        now_floor = snowflake_floor(self.clock.now())
        added_parents: set[int] = set()
        for channel_id in (group.text_channel_id, group.voice_channel_id):
            if self._watched_for(channel_id, group.id):
                continue
            channel = self.bot.get_channel(channel_id)
            last = getattr(channel, "last_message_id", None)
            await self._add_room(Room(channel_id, group.id, None, int(last) if last else now_floor))
            added_parents.add(channel_id)
            if channel is not None:
                # Watched from now on: every later message and pin arrives as an event.
                self.synced.add(channel_id)
                self.pins_checked.add(channel_id)
        guild = self.bot.get_guild(group.guild_id)
        for thread in guild.threads if guild is not None else ():
            if self._watched_for(thread.id, group.id) or thread.parent_id not in group.channel_ids:
                continue
            # A thread that was there before its room became a group room starts at its end; one
            # made later is the group's from its first message.
            start = int(thread.last_message_id or now_floor) if thread.parent_id in added_parents else thread.id
            await self._add_room(Room(thread.id, group.id, thread.parent_id, start))
            self.synced.add(thread.id)
            self.pins_checked.add(thread.id)

    def _watched_for(self, channel_id: int, group_id: str) -> bool:
        """Whether the room is watched for this group (a room of a deleted group is not)."""
        room = self.rooms.get(channel_id)
        return room is not None and (room.group_id == group_id or room.group_id in self.bot.state.groups)

    # -- recording -------------------------------------------------------------------------------

    async def message_posted(self, channel_id: int, message_id: int, parent_id: int | None = None) -> None:
        """A new message in some channel: record it if the channel is (in) a group room."""
        room = self.rooms.get(channel_id)
        if room is not None and room.group_id not in self.bot.state.groups:
            room = None  # its group was deleted; a new group may have adopted the room
        if room is None:
            group = self.group_of(channel_id, parent_id)
            if group is None:
                return
            parent = parent_id if parent_id is not None and channel_id not in group.channel_ids else None
            # First seen with this message: everything from here on is the group's.
            room = await self._add_room(Room(channel_id, group.id, parent, message_id - 1))
            self.synced.add(channel_id)
            self.pins_checked.add(channel_id)
        group = self.group(room.group_id)
        if group is None:
            return  # the group is gone: new messages are no longer its concern
        self.notice_settings(group)
        due = due_time(message_id, group.ttl)
        row = NewMessage(channel_id, message_id, room.group_id, None if due is None else store.ms(due))
        await self.recorder.add(row, advance_cursor=channel_id in self.synced)

    async def messages_deleted(self, channel_id: int, message_ids: Sequence[int]) -> None:
        """Messages were deleted (by anyone): their rows are moot."""
        if channel_id not in self.rooms:
            return
        await self.recorder.flush()
        await store.forget(self.db, channel_id, message_ids)

    async def pin_changed(self, channel_id: int, message_id: int, pinned: bool) -> None:
        room = self.rooms.get(channel_id)
        if room is None:
            return
        await self.recorder.flush()
        if await store.set_pinned(self.db, channel_id, message_id, pinned, self.settings(room.group_id)):
            self.wake()

    async def hold_released(self, channel_id: int, message_id: int) -> None:
        if await store.make_due(self.db, channel_id, message_id, self.clock.now()):
            self.wake()

    async def channel_gone(self, channel_id: int) -> None:
        if channel_id not in self.rooms and not any(r.parent_id == channel_id for r in self.rooms.values()):
            return
        dropped = await store.drop_room(self.db, channel_id)
        for room in list(self.rooms.values()):
            if channel_id in (room.channel_id, room.parent_id):
                self.rooms.pop(room.channel_id, None)
        log.info("a watched room was deleted; %d pending deletions became moot", dropped)

    def disconnected(self) -> None:
        """The gateway connection dropped: rooms must be caught up again before cursors move."""
        self.synced.clear()
        self.pins_checked.clear()

    def _after_commit(self, rows: Sequence[NewMessage]) -> None:
        earliest = min((r.due_ms for r in rows if r.due_ms is not None), default=None)
        if earliest is None:
            return
        when = store.from_ms(earliest)
        if self._known_next is None or when < self._known_next:
            self._known_next = when
            self.wake()

    def _after_failure(self, channel_ids: set[int]) -> None:
        self.synced.difference_update(channel_ids)
        self._schedule_retry()

    def wake(self) -> None:
        self.bot.scheduler.wake()

    # -- catch-up --------------------------------------------------------------------------------

    def request_catch_up(self) -> None:
        """Catch up every room in the background (on ready and resume); coalesces repeated calls."""
        if self._catch_up_task is not None and not self._catch_up_task.done():
            self._catch_up_again = True
            return
        self._catch_up_task = asyncio.create_task(self._catch_up_loop(), name="holdspace-expiry-catch-up")

    async def stop_catching_up(self) -> None:
        """Stop the catch-up and its retry (at shutdown, before the database closes); what they did
        not read is read again at the next start, from the stored cursors."""
        tasks = [t for t in (self._catch_up_task, self._retry_task) if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def wait_caught_up(self) -> None:
        while self._catch_up_task is not None and not self._catch_up_task.done():
            await asyncio.shield(self._catch_up_task)

    async def _catch_up_loop(self) -> None:
        while True:
            self._catch_up_again = False
            try:
                complete = await self.catch_up_all()
            except Exception:
                log.exception("expiry catch-up failed; retrying shortly")
                complete = False
            if not complete:
                self._schedule_retry()
            if not self._catch_up_again:
                return

    def _schedule_retry(self, delay: float = 30.0) -> None:
        if self._retry_task is not None and not self._retry_task.done():
            return

        async def later() -> None:
            await asyncio.sleep(delay)
            self.request_catch_up()

        self._retry_task = asyncio.create_task(later(), name="holdspace-expiry-catch-up-retry")

    async def catch_up_all(self) -> bool:
        """Watch every group's rooms and read what was missed; True if every room could be read."""
        for group in list(self.bot.state.groups.values()):
            await self.track_group(group)
        complete = True
        for room in list(self.rooms.values()):
            if room.group_id not in self.bot.state.groups:
                continue  # the group is gone: its pending rows still go, nothing new is recorded
            if room.channel_id in self.synced and room.channel_id in self.pins_checked:
                continue
            complete = await self.catch_up_room(room) and complete
        self.wake()
        return complete

    async def catch_up_group(self, group_id: str) -> list[str]:
        """Catch up one group's rooms now; returns problems in words (empty if none)."""
        group = self.group(group_id)
        if group is not None:
            await self.track_group(group)
        problems: list[str] = []
        for room in self.rooms_of(group_id):
            if not await self.catch_up_room(room):
                problems.append(f"<#{room.channel_id}> could not be read")
        return problems

    async def _resolve(self, room: Room) -> Any | None:
        """The channel object of a room (None if it is gone or unreadable; handled here)."""
        channel = self.bot.get_channel(room.channel_id)
        if channel is not None:
            return channel
        try:
            return await self.bot.fetch_channel(room.channel_id)
        except discord.NotFound:
            await self.channel_gone(room.channel_id)
        except discord.Forbidden:
            await self._report_blocked(room, "read")
        except discord.HTTPException as exc:
            log.warning("could not look up a watched room (%s); will retry", exc.status)
        return None

    async def catch_up_room(self, room: Room) -> bool:
        """Record what was posted after the room's cursor, then reconcile its pins. True on success."""
        channel = await self._resolve(room)
        if channel is None:
            return room.channel_id not in self.rooms  # a deleted room needs nothing more
        settings = self.settings(room.group_id)
        await self.recorder.flush()
        # Live messages advance the stored cursor; start from there, not from the one in memory.
        room = dataclasses.replace(room, cursor_id=await store.cursor_of(self.db, room.channel_id, room.cursor_id))
        try:
            newest = await self._read_history(channel, room, after=room.cursor_id, due_override=None)
            self.rooms[room.channel_id] = dataclasses.replace(room, cursor_id=newest)
            self.synced.add(room.channel_id)
            if settings.keep_pinned:
                await self._reconcile_pins(channel, room, settings)
            self.pins_checked.add(room.channel_id)
            await store.release_postponed(self.db, room.channel_id, "pins", self.clock.now())
        except discord.NotFound:
            await self.channel_gone(room.channel_id)
        except discord.Forbidden:
            await self._report_blocked(room, "read")
            return False
        except discord.HTTPException as exc:
            log.warning("could not read a watched room's history (%s); will retry", exc.status)
            return False
        return True

    async def _read_history(self, channel: Any, room: Room, *, after: int, due_override: datetime | None) -> int:
        """Record every message after ``after`` (page by page, each page committed with the cursor)."""
        ttl = self.settings(room.group_id).ttl
        newest = after
        page: list[NewMessage] = []
        start = discord.Object(id=after) if after > 0 else None
        async for message in channel.history(limit=None, after=start, oldest_first=True):
            due = due_override or due_time(message.id, ttl)
            page.append(
                NewMessage(
                    room.channel_id,
                    message.id,
                    room.group_id,
                    None if due is None else store.ms(due),
                    bool(message.pinned),
                )
            )
            newest = max(newest, message.id)
            if len(page) >= HISTORY_PAGE:
                await store.record(self.db, page, {room.channel_id: newest})
                self._after_commit(page)
                page = []
        if page or newest != after:
            await store.record(self.db, page, {room.channel_id: newest})
            self._after_commit(page)
        return newest

    async def _reconcile_pins(self, channel: Any, room: Room, settings: GroupExpirySettings) -> None:
        pinned = {message.id async for message in channel.pins(limit=None)}
        changed = await store.reconcile_pins(self.db, room.channel_id, pinned, settings)
        if changed:
            log.info("reconciled %d pin changes made while holdspace was away", changed)

    async def _report_blocked(self, room: Room, what: str) -> None:
        group = self.group(room.group_id)
        guild_id = group.guild_id if group is not None else 0
        problem = (
            "holdspace cannot read this room's history (View Channel / Read Message History missing)"
            if what == "read"
            else "holdspace may not delete messages here (Manage Messages missing)"
        )
        log.warning("expiry blocked in a watched room: %s", problem)
        try:
            await self.bot.cases.open(
                guild_id,
                "expiry_blocked",
                group_id=room.group_id,
                details={"channel_id": room.channel_id, "problem": problem},
                dedupe_key=str(room.channel_id),
            )
        except Exception:
            log.exception("could not open the expiry_blocked case")

    # -- the scheduler source ------------------------------------------------------------------

    async def next_due(self) -> datetime | None:
        for group in list(self.bot.state.groups.values()):
            self.notice_settings(group)
        self._known_next = await store.next_due(self.db)
        return self._known_next

    async def run_due(self, now: datetime) -> None:
        rows = await store.due(self.db, now, limit=PASS_LIMIT)
        if rows:
            await self.process(rows, now, until=now)

    async def process(self, rows: Iterable[PendingRow], now: datetime, *, until: datetime) -> ExpiryReport:
        """Delete ``rows`` (those still due at ``until`` when their turn comes); report what happened."""
        report = ExpiryReport()
        by_channel: dict[int, list[PendingRow]] = defaultdict(list)
        for row in rows:
            by_channel[row.channel_id].append(row)
        held: set[tuple[int, int]] = set()
        if _holds is not None:
            for channel_id, channel_rows in by_channel.items():
                found = await _holds.held_message_ids(self.db, channel_id, [r.message_id for r in channel_rows], now)
                held.update((channel_id, i) for i in found)
        # A running session's ground-rules reminders stay until the session ends.
        kept = self.bot.state.kept_until_session_end()
        held.update(
            (channel_id, r.message_id)
            for channel_id, channel_rows in by_channel.items()
            for r in channel_rows
            if (channel_id, r.message_id) in kept
        )
        waiting = [ch for ch in by_channel if self._waits_for_pins(ch)]
        for channel_id in waiting:
            ids = [r.message_id for r in by_channel.pop(channel_id)]
            await store.postpone(self.db, channel_id, ids, now + PINS_WAIT, "pins")
            report.add_failed("waiting", len(ids))
        plan = plan_deletions(
            (DueMessage(r.channel_id, r.message_id, r.pinned) for rs in by_channel.values() for r in rs),
            now,
            keep_pinned=self._channel_keeps_pinned,
            held=held,
        )
        for channel_id, messages in _per_channel(plan.held).items():
            await store.postpone(self.db, channel_id, messages, now + HOLD_RECHECK, "held")
            report.add_failed("held", len(messages))
        for channel_id, messages in _per_channel(plan.kept_pinned).items():
            await store.park_pinned(self.db, channel_id, messages)
            report.add_failed("pinned", len(messages))
        attempts = {(r.channel_id, r.message_id): r.attempts for rs in by_channel.values() for r in rs}
        batches: dict[int, list[tuple[int, ...]]] = defaultdict(list)
        for batch in plan.batches:
            batches[batch.channel_id].append(batch.message_ids)
        limiter = asyncio.Semaphore(PARALLEL_CHANNELS)

        async def run_channel(channel_id: int, channel_batches: list[tuple[int, ...]]) -> None:
            async with limiter:
                for ids in channel_batches:
                    async with self._locks[channel_id]:
                        still = await store.still_due(self.db, channel_id, ids, until)
                        todo = [i for i in ids if i in still]
                        if todo:
                            await self._delete(channel_id, todo, attempts, report)

        await asyncio.gather(*(run_channel(ch, bs) for ch, bs in batches.items()))
        return report

    async def _delete(
        self, channel_id: int, ids: list[int], attempts: dict[tuple[int, int], int], report: ExpiryReport
    ) -> None:
        bulk = len(ids) >= 2
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
            await store.forget(self.db, channel_id, ids)
            report.removed += len(ids)
            log.debug("expired %d messages in channel %s", len(ids), channel_id)
            return
        if outcome is Outcome.SPLIT:
            for message_id in ids:
                await self._delete(channel_id, [message_id], attempts, report)
            return
        tries = 1 + max(attempts.get((channel_id, i), 0) for i in ids)
        blocked = outcome is Outcome.BLOCKED
        when = self.clock.now() + backoff(tries, blocked=blocked)
        await store.retry_later(self.db, channel_id, ids, when, "blocked" if blocked else "retry")
        report.add_failed("blocked" if blocked else "retry", len(ids))
        log.warning("could not delete %d expiring messages (%s); retrying at %s", len(ids), reason, when.isoformat())
        if blocked:
            room = self.rooms.get(channel_id) or Room(channel_id, "", None, 0)
            await self._report_blocked(room, "delete")

    # -- session end and purge -----------------------------------------------------------------

    async def expire_session(self, group_id: str, started_at: datetime) -> ExpiryReport:
        """Delete all that was posted in the group's rooms since ``started_at`` (session end)."""
        group = self.group(group_id)
        if group is None or not group.expire_at_session_end:
            return ExpiryReport(applies=False)
        await self.recorder.flush()
        problems = await self.catch_up_group(group_id)
        start_id = snowflake_floor(started_at)
        report = await self._expire_group(group_id, start_id)
        report.notes.extend(problems)
        await self._audit(group, "expiry_session_end", None, report)
        return report

    async def purge(self, group_id: str, actor_id: int | None = None) -> ExpiryReport:
        """Delete every message in the group's rooms, also those from before they were group rooms."""
        group = self.group(group_id)
        if group is None:
            return ExpiryReport(applies=False)
        await self.track_group(group)
        await self.recorder.flush()
        now = self.clock.now()
        until = now + INLINE_GRACE
        unreadable = 0
        for room in self.rooms_of(group_id):
            channel = await self._resolve(room)
            if channel is None:
                unreadable += room.channel_id in self.rooms
                continue
            try:
                newest = await self._read_history(channel, room, after=0, due_override=until)
                self.rooms[room.channel_id] = dataclasses.replace(room, cursor_id=max(newest, room.cursor_id))
                if group.keep_pinned:
                    await self._reconcile_pins(channel, room, settings_of(group))
                self.pins_checked.add(room.channel_id)
            except discord.NotFound:
                await self.channel_gone(room.channel_id)
            except discord.Forbidden:
                await self._report_blocked(room, "read")
                unreadable += 1
            except discord.HTTPException as exc:
                log.warning("could not read a room to purge it (%s)", exc.status)
                unreadable += 1
        report = await self._expire_group(group_id, 0)
        if unreadable:
            report.notes.append(
                f"{unreadable} room{'s' if unreadable != 1 else ''} could not be read "
                "(holdspace needs View Channel and Read Message History there)"
            )
        await self._audit(group, "expiry_purge", actor_id, report)
        return report

    async def _expire_group(self, group_id: str, start_id: int) -> ExpiryReport:
        now = self.clock.now()
        until = now + INLINE_GRACE
        # Written down first: if holdspace stops now, the scheduler finishes this after the grace time.
        await store.make_group_due(self.db, group_id, start_id, until)
        rows = await store.group_rows(self.db, group_id, start_id)
        report = await self.process(rows, now, until=until)
        self.wake()
        return report

    async def change_settings(self, group: GroupInfo, actor_id: int | None = None, **changes: Any) -> GroupInfo:
        """Store new expiry settings and re-time the group's pending rows, atomically."""
        from bot.storage import groups as group_store

        new = dataclasses.replace(group, **changes)
        locks = [self._locks[ch] for ch in sorted(r.channel_id for r in self.rooms_of(group.id))]
        async with contextlib.AsyncExitStack() as stack:
            for lock in locks:
                await stack.enter_async_context(lock)
            await self.recorder.flush()
            async with self.db.transaction():
                await group_store.update_group(self.db, new)
                await store.retime_group(self.db, group.id, settings_of(new))
            self.bot.state.update_group(group.id, **changes)
            self._seen_settings[group.id] = settings_of(new)
        # Rows recorded with the old ttl while this ran are re-timed once more.
        await self.recorder.flush()
        await store.retime_group(self.db, group.id, settings_of(new))
        self.wake()
        details = {k: (str(v) if isinstance(v, timedelta) else v) for k, v in changes.items()}
        with contextlib.suppress(Exception):
            await self.bot.audit.record(
                group.guild_id, "expiry_settings", actor_id=actor_id, group_id=group.id, details=details
            )
        return new

    async def _audit(self, group: GroupInfo, action: str, actor_id: int | None, report: ExpiryReport) -> None:
        try:
            await self.bot.audit.record(
                group.guild_id,
                action,
                actor_id=actor_id,
                group_id=group.id,
                details={"removed": report.removed, "not_removed": dict(report.not_removed)},
            )
        except Exception:
            log.exception("could not append %s to the audit log", action)

    async def status(self, group_id: str) -> store.QueueStatus:
        await self.recorder.flush()
        return await store.status(self.db, group_id)


def _per_channel(messages: Iterable[DueMessage]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = defaultdict(list)
    for message in messages:
        out[message.channel_id].append(message.message_id)
    return out
