"""One order of events per (group, person): every change to someone's access in a group goes through it.

Consent given, withdrawn or expired, enrolment and removal, a facilitator named or dropped: each
holds the person's turn for the group while it changes memory, Discord and the database, so changes
never interleave and the last decision wins. A removal also *supersedes* whatever is in flight for the
person before it waits for its turn: an "I agree" still waiting on Discord sees that it went stale
and undoes itself instead of reopening the rooms.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

Key = tuple[str, int]


@dataclass
class _Turn:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class AccessOrder:
    def __init__(self) -> None:
        self._turns: dict[Key, _Turn] = {}
        self._epochs: dict[Key, int] = {}

    @asynccontextmanager
    async def turn(self, group_id: str, member_id: int) -> AsyncIterator[int]:
        """Hold the person's turn in the group; yields the epoch to check :meth:`stale` against."""
        key = (group_id, member_id)
        turn = self._turns.setdefault(key, _Turn())
        turn.users += 1
        try:
            async with turn.lock:
                yield self._epochs.get(key, 0)
        finally:
            turn.users -= 1
            if turn.users == 0:
                self._turns.pop(key, None)

    def supersede(self, group_id: str, member_id: int) -> None:
        """Make every change in flight for the person stale (a removal, before it waits its turn)."""
        key = (group_id, member_id)
        self._epochs[key] = self._epochs.get(key, 0) + 1

    def stale(self, group_id: str, member_id: int, epoch: int) -> bool:
        """Was the person's access decided anew since ``epoch`` was handed out?"""
        return self._epochs.get((group_id, member_id), 0) != epoch

    def busy(self, group_id: str, member_id: int) -> bool:
        """Is a change for the person in flight or waiting?"""
        return (group_id, member_id) in self._turns
