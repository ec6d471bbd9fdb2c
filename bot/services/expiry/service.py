"""The expiry service: recording, catch-up and deleting of expiring messages, put together.

- **Recording** (``rooms``, ``recorder``): every new message in a group room (text room, the voice
  room's chat, threads in them) becomes a row (channel id, message id, due time), group-committed
  within a few milliseconds together with the room's cursor. The due time is worked out inside that
  transaction from the group's settings of that moment.
- **Catch-up** (``catchup``): on every ready and resume, threads are found (active and archived) and
  every room's history after its cursor is read and recorded; pins are reconciled.
- **Deleting** (``lanes``): one lane per room, started by the one scheduler, claims its due rows in
  the database and deletes them in batches gathered for at most ``window``.
- **Session end and purge** (``endings``): durable promises over ranges of a group's messages;
  ``tallies`` counts what the lanes removed for the report that waits.

The parts are plain classes, each given the parts it uses when it is made: all share the
``ExpiryContext`` (``context``: bot, database, clocks, window, the rooms watched); a room where
holdspace may not read or delete is reported by ``blocked``. ``ExpiryService`` builds them in order
(recorder, lanes, rooms, catch-up, endings) and is the one face the rest of holdspace calls.

Times in rows are Discord's (message ids carry Discord's time); ``dclock`` turns them into host time
to wait for (see ``bot.services.discord_clock``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.core.expiry import BATCH_WINDOW, ExpiryReport
from bot.services.discord_clock import DiscordClock
from bot.storage import expiry as store
from bot.storage.expiry import GroupExpirySettings, NewMessage

from .api import DeleteApi, DiscordDeleteApi
from .blocked import BlockedRooms
from .catchup import CatchUp
from .context import ExpiryContext, settings_of
from .endings import REPORT_WAIT, Endings
from .lanes import Lanes
from .recorder import Recorder
from .rooms import Rooms
from .tallies import Tallies

if TYPE_CHECKING:
    from bot.app import HoldspaceBot
    from bot.core.records import GroupInfo
    from bot.storage.expiry import Room

log = logging.getLogger(__name__)

DEFAULT_WINDOW = BATCH_WINDOW


class ExpiryService:
    """The expiry queue: a ``DueSource`` for ``bot.scheduler`` plus recording, catch-up and purges.

    Put together from parts that each get what they use: the shared context (``context``), the
    recorder, the lanes, the rooms, the catch-up and the endings. This class is what the rest of
    holdspace calls; it passes each call to the part that does it and keeps the settings' re-timing.
    """

    name = "expiry"

    def __init__(self, bot: HoldspaceBot, *, api: DeleteApi | None = None, window: timedelta | None = None) -> None:
        dclock = getattr(bot, "discord_clock", None) or DiscordClock(bot.clock)
        self.ctx = ExpiryContext(bot, dclock=dclock, window=window if window is not None else _configured_window(bot))
        self.bot = bot
        self.db = bot.db
        self.dclock = dclock
        self.window = self.ctx.window
        # The same collections as the parts see (changed in place, never replaced).
        self.rooms: dict[int, Room] = self.ctx.rooms
        self.synced: set[int] = self.ctx.synced
        self.pins_checked: set[int] = self.ctx.pins_checked
        self.recorder = Recorder(self.db, on_commit=self._after_commit, on_failure=self._after_failure)
        self.blocked = BlockedRooms(self.ctx)
        self.tallies = Tallies(self.ctx)
        self.lanes = Lanes(self.ctx, api or DiscordDeleteApi(bot.http), blocked=self.blocked, tallies=self.tallies)
        self.room_watch = Rooms(self.ctx, self.recorder, self.lanes)
        self.catch_up = CatchUp(self.ctx, self.room_watch, self.recorder, self.lanes, self.blocked, self._after_commit)
        self.endings = Endings(
            self.ctx, self.room_watch, self.catch_up, self.recorder, self.lanes, self.blocked, self.tallies
        )
        self._seen_settings: dict[str, GroupExpirySettings] = {}
        self._known_next_ms: int | None = None

    @property
    def api(self) -> DeleteApi:
        return self.lanes.api

    @api.setter
    def api(self, api: DeleteApi) -> None:
        self.lanes.api = api

    async def load(self) -> None:
        await self.room_watch.load()
        self._seen_settings = {gid: settings_of(g) for gid, g in self.bot.state.groups.items()}

    async def stop(self) -> None:
        """Stop the lanes and give up their claims (the rows stay pending for the next start)."""
        await self.catch_up.stop_catching_up()
        self.ctx.cancel_background()
        await self.lanes.stop()
        with contextlib.suppress(Exception):
            await self.recorder.flush()

    # -- rooms and recording (``rooms``) --------------------------------------------------------------

    def group_of(self, channel_id: int, parent_id: int | None = None) -> GroupInfo | None:
        return self.ctx.group_of(channel_id, parent_id)

    async def track_group(self, group: GroupInfo) -> None:
        await self.room_watch.track_group(group)

    async def track_thread(self, group: GroupInfo, thread: Any, *, live: bool = False) -> None:
        await self.room_watch.track_thread(group, thread, live=live)

    async def message_posted(self, channel_id: int, message_id: int, parent_id: int | None = None) -> None:
        await self.room_watch.message_posted(channel_id, message_id, parent_id)

    async def messages_deleted(self, channel_id: int, message_ids: Sequence[int]) -> None:
        await self.room_watch.messages_deleted(channel_id, message_ids)

    async def pin_changed(self, channel_id: int, message_id: int, pinned: bool) -> None:
        await self.room_watch.pin_changed(channel_id, message_id, pinned)

    async def hold_released(self, channel_id: int, message_id: int) -> None:
        await self.room_watch.hold_released(channel_id, message_id)

    async def channel_gone(self, channel_id: int) -> None:
        await self.room_watch.channel_gone(channel_id)

    def disconnected(self) -> None:
        self.room_watch.disconnected()

    # -- catch-up (``catchup``) ---------------------------------------------------------------------

    def request_catch_up(self) -> None:
        self.catch_up.request_catch_up()

    async def wait_caught_up(self) -> None:
        await self.catch_up.wait_caught_up()

    async def catch_up_group(self, group_id: str) -> list[str]:
        return await self.catch_up.catch_up_group(group_id)

    # -- session ends and purges (``endings``) ------------------------------------------------------

    async def expire_session(
        self, group_id: str, start_id: int, end_id: int | None = None, *, wait: float = REPORT_WAIT
    ) -> ExpiryReport:
        return await self.endings.expire_session(group_id, start_id, end_id, wait=wait)

    async def session_reminders_done(self, group_id: str, messages: Sequence[tuple[int, int]]) -> None:
        await self.endings.session_reminders_done(group_id, messages)

    async def purge(self, group_id: str, actor_id: int | None = None, *, wait: float = REPORT_WAIT) -> ExpiryReport:
        return await self.endings.purge(group_id, actor_id, wait=wait)

    # -- settings ----------------------------------------------------------------------------------

    def notice_settings(self, group: GroupInfo) -> None:
        """Re-time a group's pending rows if its settings changed since last seen (by any feature)."""
        current = settings_of(group)
        previous = self._seen_settings.get(group.id)
        self._seen_settings[group.id] = current
        if previous is None or previous == current:
            return
        self.ctx.spawn(self._retime(group.id, current), "holdspace-expiry-retime")

    async def retime(self, group: GroupInfo) -> None:
        """Re-time a group's pending rows to its current (already stored) settings now."""
        self._seen_settings[group.id] = settings_of(group)
        await self._retime(group.id, settings_of(group))

    async def _retime(self, group_id: str, settings: GroupExpirySettings) -> None:
        try:
            # Rows are timed from the stored settings when written; whatever was written before the
            # change is re-timed here, so every pending row follows the new settings.
            await self.recorder.flush()
            count = await store.retime_group(self.db, group_id, settings)
        except Exception:
            log.exception("could not re-time pending deletions after a settings change; retrying later")
            self._seen_settings.pop(group_id, None)
            return
        log.info("re-timed %d pending deletions after a settings change", count)
        self.lanes.poke(room.channel_id for room in self.ctx.rooms_of(group_id))
        self.ctx.wake()

    async def change_settings(self, group: GroupInfo, actor_id: int | None = None, **changes: Any) -> GroupInfo:
        """Store new expiry settings and re-time the group's pending rows, atomically."""
        from bot.storage import groups as group_store

        new = dataclasses.replace(group, **changes)
        await self.recorder.flush()
        async with self.db.transaction():
            await group_store.update_group(self.db, new)
            await store.retime_group(self.db, group.id, settings_of(new))
        self.bot.state.update_group(group.id, **changes)
        self._seen_settings[group.id] = settings_of(new)
        self.lanes.poke(room.channel_id for room in self.ctx.rooms_of(group.id))
        self.ctx.wake()
        details = {k: (str(v) if isinstance(v, timedelta) else v) for k, v in changes.items()}
        with contextlib.suppress(Exception):
            await self.bot.audit.record(
                group.guild_id, "expiry_settings", actor_id=actor_id, group_id=group.id, details=details
            )
        return new

    # -- the scheduler source ------------------------------------------------------------------

    async def next_due(self) -> datetime | None:
        for group in list(self.bot.state.groups.values()):
            self.notice_settings(group)
        due = await self.lanes.next_due()
        self._known_next_ms = None if due is None else store.ms(due + self.dclock.offset)
        return due

    async def run_due(self, now: datetime) -> None:
        await self.lanes.run_due(now)

    @property
    def busy(self) -> bool:
        return self.lanes.busy

    def _after_commit(self, rows: Sequence[NewMessage], earliest: int | None) -> None:
        if earliest is None:
            return
        self.lanes.poke({r.channel_id for r in rows}, earliest)
        if self._known_next_ms is None or earliest < self._known_next_ms:
            self._known_next_ms = earliest
            self.ctx.wake()

    def _after_failure(self, channel_ids: set[int]) -> None:
        self.synced.difference_update(channel_ids)
        self.catch_up.schedule_retry()

    async def status(self, group_id: str) -> store.QueueStatus:
        await self.recorder.flush()
        return await store.status(self.db, group_id)


def _configured_window(bot: Any) -> timedelta:
    """``[expiry] batch_window_seconds`` in the config file, if the settings carry it."""
    expiry = getattr(getattr(bot, "settings", None), "expiry", None)
    seconds = getattr(expiry, "batch_window_seconds", None)
    return DEFAULT_WINDOW if seconds is None else timedelta(seconds=float(seconds))


__all__ = ["ExpiryService"]
