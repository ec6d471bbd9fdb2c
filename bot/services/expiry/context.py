"""What every part of the expiry service reads: the bot, the database, the clocks, the batching window,
and the rooms watched, with the small look-ups over them.

The collections (``rooms``, ``synced``, ``pins_checked``) are shared by the parts and changed in place,
never replaced, so every part always sees the same ones.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bot.background import Background
from bot.storage import expiry as store
from bot.storage.expiry import GroupExpirySettings, Room

from .pacer import READS_BURST, READS_PER_SECOND, Pacer

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from bot.app import HoldspaceBot
    from bot.core.records import GroupInfo
    from bot.services.discord_clock import DiscordClock


def settings_of(group: GroupInfo | None) -> GroupExpirySettings:
    """The expiry settings of ``group``; a group that no longer exists keeps pinned messages."""
    if group is None:
        return GroupExpirySettings(ttl=None, expire_at_session_end=False, keep_pinned=True)
    return GroupExpirySettings(group.ttl, group.expire_at_session_end, group.keep_pinned)


class ExpiryContext:
    def __init__(self, bot: HoldspaceBot, *, dclock: DiscordClock, window: timedelta) -> None:
        self.bot = bot
        self.db = bot.db
        self.clock = bot.clock
        self.dclock = dclock
        self.window = window
        self.rooms: dict[int, Room] = {}
        self.synced: set[int] = set()  # rooms caught up since the last connect
        self.pins_checked: set[int] = set()  # rooms whose pins were reconciled since the last connect
        self._background = Background(log, "expiry work started in the background failed")
        self.reads = Pacer(READS_PER_SECOND, burst=READS_BURST)  # every read of Discord's history

    def group(self, group_id: str) -> GroupInfo | None:
        return self.bot.state.groups.get(group_id)

    def settings(self, group_id: str) -> GroupExpirySettings:
        return settings_of(self.group(group_id))

    def group_of(self, channel_id: int, parent_id: int | None = None) -> GroupInfo | None:
        group = self.bot.state.group_of_channel(channel_id)
        if group is None and parent_id is not None:
            group = self.bot.state.group_of_channel(parent_id)
        return group

    def rooms_of(self, group_id: str) -> list[Room]:
        return [room for room in self.rooms.values() if room.group_id == group_id]

    def channel_keeps_pinned(self, channel_id: int) -> bool:
        room = self.rooms.get(channel_id)
        return True if room is None else self.settings(room.group_id).keep_pinned

    def waits_for_pins(self, channel_id: int) -> bool:
        """Deletions wait until the room's pins were reconciled since the last connect.

        Only for rooms of existing groups that keep pinned messages; a room whose group was deleted
        is not read any more, so its pending rows go as they are (rows parked as pinned stay).
        """
        if channel_id in self.pins_checked:
            return False
        room = self.rooms.get(channel_id)
        group = None if room is None else self.group(room.group_id)
        return group is not None and group.keep_pinned

    def urgent_ms(self) -> int:
        """A due time that lanes act on at once (already past the batching window)."""
        return store.ms(self.dclock.now() - self.window - timedelta(seconds=1))

    def wake(self) -> None:
        self.bot.scheduler.wake()

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self._background.spawn(coro, name)

    def cancel_background(self) -> None:
        self._background.cancel()
