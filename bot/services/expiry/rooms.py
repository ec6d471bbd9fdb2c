"""Which rooms expire, and recording what is posted in them.

A group's rooms are its text room, its voice room's chat and every thread in them, public or private,
active or archived. A room is the group's from the message it was first watched at (its cursor then,
kept as ``watch_from_id``); a thread found later, after an outage or in an archive, is read from its
own beginning but never from before its parent became a group room.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import discord

from bot.core.expiry import snowflake_floor
from bot.core.records import GroupInfo
from bot.storage import expiry as store
from bot.storage.expiry import NewMessage, Room

from .context import ExpiryContext
from .lanes import Lanes
from .recorder import Recorder

log = logging.getLogger(__name__)


class Rooms:
    """Which rooms are watched, and what their gateway events mean for expiry."""

    def __init__(self, ctx: ExpiryContext, recorder: Recorder, lanes: Lanes) -> None:
        self.ctx = ctx
        self.recorder = recorder
        self.lanes = lanes

    async def load(self) -> None:
        """The rooms watched before this start (from the database)."""
        self.ctx.rooms.clear()
        self.ctx.rooms.update({room.channel_id: room for room in await store.rooms(self.ctx.db)})

    async def _add_room(self, room: Room) -> Room:
        """Watch a room from ``room.cursor_id``; a room left by a deleted group is taken over."""
        room = Room(room.channel_id, room.group_id, room.parent_id, room.cursor_id, room.cursor_id)
        self.ctx.rooms[room.channel_id] = room
        if not await store.add_room(self.ctx.db, room):
            await store.move_room(self.ctx.db, room)
        log.debug("expiry now watches channel %s from message %s", room.channel_id, room.cursor_id)
        return room

    def _watched_for(self, channel_id: int, group_id: str) -> bool:
        """Whether the room is watched for this group (a room of a deleted group is not)."""
        room = self.ctx.rooms.get(channel_id)
        return room is not None and (room.group_id == group_id or room.group_id in self.ctx.bot.state.groups)

    async def track_group(self, group: GroupInfo) -> None:
        """Start watching a group's rooms (from their current last message) and the threads in them."""
        now_floor = snowflake_floor(self.ctx.dclock.now())
        for channel_id in (group.text_channel_id, group.voice_channel_id):
            if self._watched_for(channel_id, group.id):
                continue
            channel = self.ctx.bot.get_channel(channel_id)
            last = getattr(channel, "last_message_id", None)
            await self._add_room(Room(channel_id, group.id, None, int(last) if last else now_floor))
            if channel is not None:
                # Watched from now on: every later message and pin arrives as an event.
                self.ctx.synced.add(channel_id)
                self.ctx.pins_checked.add(channel_id)
        guild = self.ctx.bot.get_guild(group.guild_id)
        for thread in guild.threads if guild is not None else ():
            await self.track_thread(group, thread)

    async def track_thread(self, group: GroupInfo, thread: Any, *, live: bool = False) -> None:
        """Watch a thread of one of the group's rooms: from its beginning, or from when its parent
        became a group room if the thread is older. ``live``: it was just made and seen being made."""
        if thread.parent_id not in group.channel_ids or self._watched_for(thread.id, group.id):
            return
        parent = self.ctx.rooms.get(thread.parent_id)
        start = max(int(thread.id) - 1, parent.watch_from_id if parent is not None else 0)
        await self._add_room(Room(thread.id, group.id, thread.parent_id, start))
        if live:
            self.ctx.synced.add(thread.id)
            self.ctx.pins_checked.add(thread.id)

    async def discover_threads(self, group: GroupInfo, active: dict[int, list[Any]]) -> list[str]:
        """Find the group's threads Discord knows and holdspace does not watch yet: the server's active
        ones (``active``, fetched once per server per catch-up) and the archived public and private ones
        of its rooms. Returns problems in words."""
        problems: list[str] = []
        guild = self.ctx.bot.get_guild(group.guild_id)
        if guild is None:
            return problems
        if guild.id not in active:
            await self.ctx.reads.wait()
            try:
                active[guild.id] = list(await guild.active_threads())
            except discord.HTTPException as exc:
                log.warning("could not list the server's active threads (%s); will retry", exc.status)
                active[guild.id] = list(guild.threads)
                problems.append("the server's active threads could not be listed")
        for thread in active[guild.id]:
            await self.track_thread(group, thread)
        for channel_id in group.channel_ids:
            channel = guild.get_channel(channel_id)
            if not isinstance(channel, discord.TextChannel):
                continue  # only text rooms have threads
            for private in (False, True):
                await self.ctx.reads.wait()
                try:
                    async for thread in channel.archived_threads(limit=None, private=private):
                        await self.track_thread(group, thread)
                except discord.Forbidden:
                    what = "private" if private else "public"
                    log.warning("holdspace may not list archived %s threads of a group room", what)
                    problems.append(f"archived {what} threads of <#{channel_id}> could not be listed (Manage Threads)")
                except discord.HTTPException as exc:
                    log.warning("could not list archived threads of a group room (%s); will retry", exc.status)
                    problems.append(f"archived threads of <#{channel_id}> could not be listed")
        return problems

    # -- recording -------------------------------------------------------------------------------

    async def message_posted(self, channel_id: int, message_id: int, parent_id: int | None = None) -> None:
        """A new message in some channel: record it if the channel is (in) a group room."""
        room = self.ctx.rooms.get(channel_id)
        if room is not None and room.group_id not in self.ctx.bot.state.groups:
            room = None  # its group was deleted; a new group may have adopted the room
        if room is None:
            group = self.ctx.group_of(channel_id, parent_id)
            if group is None:
                return
            parent = parent_id if parent_id is not None and channel_id not in group.channel_ids else None
            # First seen with this message: everything from here on is the group's.
            room = await self._add_room(Room(channel_id, group.id, parent, message_id - 1))
            self.ctx.synced.add(channel_id)
            self.ctx.pins_checked.add(channel_id)
        if self.ctx.group(room.group_id) is None:
            return  # the group is gone: new messages are no longer its concern
        # The due time is worked out when the row is written, from the settings of that moment.
        row = NewMessage(channel_id, message_id, room.group_id, None)
        await self.recorder.add(row, advance_cursor=channel_id in self.ctx.synced)

    async def messages_deleted(self, channel_id: int, message_ids: Sequence[int]) -> None:
        """Messages were deleted (by anyone): their rows are moot."""
        if channel_id not in self.ctx.rooms:
            return
        await self.recorder.flush()
        await store.forget(self.ctx.db, channel_id, message_ids)

    async def pin_changed(self, channel_id: int, message_id: int, pinned: bool) -> None:
        room = self.ctx.rooms.get(channel_id)
        if room is None:
            return
        await self.recorder.flush()
        if await store.set_pinned(self.ctx.db, channel_id, message_id, pinned, self.ctx.settings(room.group_id)):
            self.lanes.poke([channel_id])
            self.ctx.wake()

    async def hold_released(self, channel_id: int, message_id: int) -> None:
        # Overdue already: it goes at once, not after another batching window.
        if await store.make_due(self.ctx.db, channel_id, message_id, self.ctx.dclock.now() - self.ctx.window):
            self.lanes.start(channel_id)
            self.ctx.wake()

    async def channel_gone(self, channel_id: int) -> None:
        if channel_id not in self.ctx.rooms and not any(r.parent_id == channel_id for r in self.ctx.rooms.values()):
            return
        dropped = await store.drop_room(self.ctx.db, channel_id)
        for room in list(self.ctx.rooms.values()):
            if channel_id in (room.channel_id, room.parent_id):
                self.ctx.rooms.pop(room.channel_id, None)
        log.info("a watched room was deleted; %d pending deletions became moot", dropped)

    def disconnected(self) -> None:
        """The gateway connection dropped: rooms must be caught up again before cursors move."""
        self.ctx.synced.clear()
        self.ctx.pins_checked.clear()
