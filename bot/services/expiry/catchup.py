"""Catch-up: read what was posted while holdspace was not watching, on every connect and resume.

Every room's history after its cursor is read (pages of 100, each committed with the cursor) and
reconciled with its pins; threads Discord knows of (active and archived, public and private) are
found first, so one started or archived while holdspace was offline is read too. A room that cannot
be read is tried again, on holdspace's clock, until it can. Reading a room through to its end also
tells the end-of-session promises waiting for it (see ``endings``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import discord

from bot.services.outbox import is_database_error
from bot.storage import expiry as store
from bot.storage import expiry_promises as promises
from bot.storage.expiry import GroupExpirySettings, NewMessage, Room

from .blocked import BlockedRooms
from .context import ExpiryContext
from .lanes import Lanes
from .recorder import Recorder
from .rooms import Rooms

log = logging.getLogger(__name__)

HISTORY_PAGE = 100
#: Rooms read at the same time in a catch-up; their requests are paced (below), not their number.
ROOMS_AT_ONCE = 50
RETRY_AFTER = timedelta(seconds=30)  # an unreadable room is read again this long after (holdspace's clock)


class CatchUp:
    """Reading every watched room's history after its cursor, in the background or for one group."""

    def __init__(
        self,
        ctx: ExpiryContext,
        rooms: Rooms,
        recorder: Recorder,
        lanes: Lanes,
        blocked: BlockedRooms,
        on_commit: Callable[[Sequence[NewMessage], int | None], None],
    ) -> None:
        self.ctx = ctx
        self.rooms = rooms
        self.recorder = recorder
        self.lanes = lanes
        self.blocked = blocked
        self._on_commit = on_commit
        self._catch_up_task: asyncio.Task[None] | None = None
        self._catch_up_again = False
        self._retry_task: asyncio.Task[None] | None = None

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
            except Exception as exc:
                if is_database_error(exc):  # one ERROR per outage (the outbox's), not one per try
                    log.warning("expiry catch-up could not write to the database; retrying shortly")
                    self.ctx.bot.outbox.failed(exc)
                else:
                    log.exception("expiry catch-up failed; retrying shortly")
                complete = False
            if not complete:
                self.schedule_retry()
            if not self._catch_up_again:
                return

    def schedule_retry(self) -> None:
        """Read again what could not be read, ``RETRY_AFTER`` from now on holdspace's clock."""
        if self._retry_task is not None and not self._retry_task.done():
            return

        async def later() -> None:
            await self.ctx.clock.sleep_until(self.ctx.clock.now() + RETRY_AFTER)
            self.request_catch_up()

        self._retry_task = asyncio.create_task(later(), name="holdspace-expiry-catch-up-retry")

    async def catch_up_all(self) -> bool:
        """Watch every group's rooms and threads and read what was missed; True if all could be read."""
        complete = True
        active: dict[int, list[Any]] = {}
        for group in list(self.ctx.bot.state.groups.values()):
            await self.rooms.track_group(group)
            problems = await self.rooms.discover_threads(group, active)
            # A missing permission is reported, not retried every half minute.
            complete = not [p for p in problems if "Manage Threads" not in p] and complete
        todo = [
            room
            for room in list(self.ctx.rooms.values())
            # A room of a deleted group is not read: its pending rows still go, nothing new is recorded.
            if room.group_id in self.ctx.bot.state.groups
            and not (room.channel_id in self.ctx.synced and room.channel_id in self.ctx.pins_checked)
        ]
        complete = all(await self._read_side_by_side(todo)) and complete
        self.ctx.wake()
        return complete

    async def _read_side_by_side(self, rooms: list[Room]) -> list[bool]:
        """Read the rooms side by side (``ROOMS_AT_ONCE`` at a time). discord.py holds a request that
        spends a room's rate limit until that limit resets (5 s under Discord's model), so rooms read
        one after another would each wait for that in turn. Every room is tried; the first error (a
        database outage, say) is raised after all have finished."""
        gate = asyncio.Semaphore(ROOMS_AT_ONCE)

        async def read(room: Room) -> bool:
            async with gate:
                return await self.catch_up_room(room)

        results = await asyncio.gather(*(read(room) for room in rooms), return_exceptions=True)
        read_ok: list[bool] = []
        for result in results:
            if isinstance(result, BaseException):
                raise result
            read_ok.append(result)
        return read_ok

    async def catch_up_group(self, group_id: str) -> list[str]:
        """Catch up one group's rooms and threads now; returns problems in words (empty if none)."""
        group = self.ctx.group(group_id)
        problems: list[str] = []
        if group is not None:
            await self.rooms.track_group(group)
            problems.extend(await self.rooms.discover_threads(group, {}))
        rooms = self.ctx.rooms_of(group_id)
        for room, read in zip(rooms, await self._read_side_by_side(rooms), strict=True):
            if not read:
                problems.append(f"<#{room.channel_id}> could not be read")
        if problems:
            self.schedule_retry()
        return problems

    async def resolve(self, room: Room) -> Any | None:
        """The channel object of a room (None if it is gone or unreadable; handled here)."""
        channel = self.ctx.bot.get_channel(room.channel_id)
        if channel is not None:
            return channel
        try:
            return await self.ctx.bot.fetch_channel(room.channel_id)
        except discord.NotFound:
            await self.rooms.channel_gone(room.channel_id)
        except discord.Forbidden:
            await self.blocked.report(room, "read")
        except discord.HTTPException as exc:
            log.warning("could not look up a watched room (%s); will retry", exc.status)
        return None

    async def catch_up_room(self, room: Room) -> bool:
        """Record what was posted after the room's cursor, then reconcile its pins. True on success."""
        began = self.ctx.clock.now()
        channel = await self.resolve(room)
        if channel is None:
            return room.channel_id not in self.ctx.rooms  # a deleted room needs nothing more
        settings = self.ctx.settings(room.group_id)
        await self.recorder.flush()
        # Live messages advance the stored cursor; start from there, not from the one in memory.
        room = dataclasses.replace(room, cursor_id=await store.cursor_of(self.ctx.db, room.channel_id, room.cursor_id))
        try:
            newest = await self.read_history(channel, room, after=room.cursor_id, due_override=None)
            self.ctx.rooms[room.channel_id] = dataclasses.replace(room, cursor_id=newest)
            self.ctx.synced.add(room.channel_id)
            await promises.room_read(self.ctx.db, room.channel_id, store.ms(began))
            if settings.keep_pinned:
                await self.reconcile_pins(channel, room, settings)
            self.ctx.pins_checked.add(room.channel_id)
            # They waited already: they go at once, not after another batching window.
            overdue = self.ctx.dclock.now() - self.ctx.window - timedelta(seconds=1)
            if await store.release_postponed(self.ctx.db, room.channel_id, "pins", overdue):
                self.lanes.start(room.channel_id)
        except discord.NotFound:
            await self.rooms.channel_gone(room.channel_id)
        except discord.Forbidden:
            await self.blocked.report(room, "read")
            return False
        except discord.HTTPException as exc:
            log.warning("could not read a watched room's history (%s); will retry", exc.status)
            return False
        return True

    async def read_history(self, channel: Any, room: Room, *, after: int, due_override: datetime | None) -> int:
        """Record every message after ``after`` (page by page, each page committed with the cursor).

        Due times are worked out as each page is written, from the settings of that moment, so a
        setting changed while a long history is read applies to every page.
        """
        override = None if due_override is None else store.ms(due_override)
        newest = after
        while True:
            # One request per page (limit 100), each paced, so rooms read side by side stay within
            # Discord's overall limit.
            await self.ctx.reads.wait()
            start = discord.Object(id=newest) if newest > 0 else None
            page = [
                NewMessage(room.channel_id, message.id, room.group_id, override, bool(message.pinned))
                async for message in channel.history(limit=HISTORY_PAGE, after=start, oldest_first=True)
            ]
            if not page:
                return newest
            newest = max(newest, *(row.message_id for row in page))
            await self._commit_page(page, room.channel_id, newest)
            if len(page) < HISTORY_PAGE:
                return newest

    async def _commit_page(self, page: list[NewMessage], channel_id: int, newest: int) -> None:
        earliest = await store.record(self.ctx.db, page, {channel_id: newest})
        self._on_commit(page, earliest)

    async def reconcile_pins(self, channel: Any, room: Room, settings: GroupExpirySettings) -> None:
        await self.ctx.reads.wait()
        pinned = {message.id async for message in channel.pins(limit=None)}
        changed = await store.reconcile_pins(self.ctx.db, room.channel_id, pinned, settings)
        if changed:
            log.info("reconciled %d pin changes made while holdspace was away", changed)
