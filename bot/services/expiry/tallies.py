"""Counting what the lanes remove while an end-of-session or purge report waits for it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from .context import ExpiryContext


class Tally:
    """Messages of a group's id range that lanes removed while a report waits for them."""

    def __init__(self, group_id: str, from_id: int, to_id: int) -> None:
        self.group_id, self.from_id, self.to_id = group_id, from_id, to_id
        self.removed = 0


class Tallies:
    def __init__(self, ctx: ExpiryContext) -> None:
        self.ctx = ctx
        self._open: list[Tally] = []

    @contextmanager
    def counting(self, group_id: str, from_id: int, to_id: int) -> Iterator[Tally]:
        tally = Tally(group_id, from_id, to_id)
        self._open.append(tally)
        try:
            yield tally
        finally:
            self._open.remove(tally)

    def removed(self, channel_id: int, message_ids: Sequence[int]) -> None:
        """Lanes call this after Discord confirmed deletions (for the reports waiting on them)."""
        room = self.ctx.rooms.get(channel_id)
        if room is None:
            return
        for tally in self._open:
            if tally.group_id == room.group_id:
                tally.removed += sum(1 for i in message_ids if tally.from_id <= i < tally.to_id)
