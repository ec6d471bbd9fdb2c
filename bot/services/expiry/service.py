"""The expiry service: recording, catch-up and deleting of expiring messages, put together.

- **Recording** (``rooms``, ``recorder``): every new message in a group room (text room, the voice
  room's chat, threads in them) becomes a row (channel id, message id, due time), group-committed
  within a few milliseconds together with the room's cursor. The due time is worked out inside that
  transaction from the group's settings of that moment.
- **Catch-up** (``catchup``): on every ready and resume, threads are found (active and archived) and
  every room's history after its cursor is read and recorded; pins are reconciled.
- **Deleting** (``lanes``): one lane per room, started by the one scheduler, claims its due rows in
  the database and deletes them in batches gathered for at most ``window``.
- **Session end and purge** (``endings``): durable promises over ranges of a group's messages.

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

from bot.core.expiry import BATCH_WINDOW
from bot.services.discord_clock import DiscordClock
from bot.storage import expiry as store
from bot.storage.expiry import GroupExpirySettings, NewMessage

from .api import DeleteApi, DiscordDeleteApi
from .base import settings_of
from .catchup import CatchUpMixin
from .endings import EndingsMixin
from .lanes import Lanes
from .recorder import Recorder
from .rooms import RoomsMixin

if TYPE_CHECKING:
    from bot.app import HoldspaceBot
    from bot.core.records import GroupInfo

log = logging.getLogger(__name__)

DEFAULT_WINDOW = BATCH_WINDOW


class ExpiryService(RoomsMixin, CatchUpMixin, EndingsMixin):
    """The expiry queue: a ``DueSource`` for ``bot.scheduler`` plus recording, catch-up and purges."""

    name = "expiry"

    def __init__(self, bot: HoldspaceBot, *, api: DeleteApi | None = None, window: timedelta | None = None) -> None:
        self.bot = bot
        self.db = bot.db
        self.clock = bot.clock
        self.dclock = getattr(bot, "discord_clock", None) or DiscordClock(bot.clock)
        self.api = api or DiscordDeleteApi(bot.http)
        self.window = window if window is not None else _configured_window(bot)
        self.rooms = {}
        self.synced = set()
        self.pins_checked = set()
        self.recorder = Recorder(self.db, on_commit=self._after_commit, on_failure=self._after_failure)
        self.lanes = Lanes(self, window=self.window)
        self._background = set()
        self._tallies = []
        self._seen_settings: dict[str, GroupExpirySettings] = {}
        self._known_next_ms: int | None = None
        self._catch_up_task = None
        self._catch_up_again = False
        self._retry_task = None

    async def load(self) -> None:
        self.rooms = {room.channel_id: room for room in await store.rooms(self.db)}
        self._seen_settings = {gid: settings_of(g) for gid, g in self.bot.state.groups.items()}

    async def stop(self) -> None:
        """Stop the lanes and give up their claims (the rows stay pending for the next start)."""
        await self.stop_catching_up()
        for task in list(self._background):
            task.cancel()
        await self.lanes.stop()
        with contextlib.suppress(Exception):
            await self.recorder.flush()

    # -- settings ----------------------------------------------------------------------------------

    def notice_settings(self, group: GroupInfo) -> None:
        """Re-time a group's pending rows if its settings changed since last seen (by any feature)."""
        current = settings_of(group)
        previous = self._seen_settings.get(group.id)
        self._seen_settings[group.id] = current
        if previous is None or previous == current:
            return
        self.spawn(self._retime(group.id, current), "holdspace-expiry-retime")

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
        self.lanes.poke(room.channel_id for room in self.rooms_of(group_id))
        self.wake()

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
        self.lanes.poke(room.channel_id for room in self.rooms_of(group.id))
        self.wake()
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
            self.wake()

    def _after_failure(self, channel_ids: set[int]) -> None:
        self.synced.difference_update(channel_ids)
        self.schedule_retry()

    async def status(self, group_id: str) -> store.QueueStatus:
        await self.recorder.flush()
        return await store.status(self.db, group_id)


def _configured_window(bot: Any) -> timedelta:
    """``[expiry] batch_window_seconds`` in the config file, if the settings carry it."""
    expiry = getattr(getattr(bot, "settings", None), "expiry", None)
    seconds = getattr(expiry, "batch_window_seconds", None)
    return DEFAULT_WINDOW if seconds is None else timedelta(seconds=float(seconds))


__all__ = ["ExpiryService"]
