"""Discord snowflake ids stamped with the sandbox clock."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

DISCORD_EPOCH = datetime(2015, 1, 1, tzinfo=UTC)
DISCORD_EPOCH_MS = 1420070400000


def snowflake_time(snowflake: int) -> datetime:
    """When a snowflake was made (from its top 42 bits)."""
    return DISCORD_EPOCH + timedelta(milliseconds=snowflake >> 22)


def snowflake_at(when: datetime, low: int = 0) -> int:
    """A snowflake for ``when``; ``low`` fills the 22 low bits (worker, process, increment)."""
    ms = int((when - DISCORD_EPOCH).total_seconds() * 1000)
    if ms < 0:
        raise ValueError("snowflakes cannot predate 2015-01-01")
    return (ms << 22) | (low & 0x3FFFFF)


class SnowflakeMaker:
    """Unique snowflakes; the low 22 bits count up so ids in one millisecond stay distinct."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def make(self, when: datetime) -> int:
        return snowflake_at(when, next(self._counter))
