"""Pacing expiry's reads from Discord (histories, pins, archived threads).

Catch-up reads many rooms side by side; paced, their requests stay within Discord's overall limit
of 50 a second per bot, with the remainder kept for the rest of holdspace (disconnects first).
"""

from __future__ import annotations

import asyncio
import time

#: Reads a second after a first burst.
READS_PER_SECOND = 40.0
READS_BURST = 20


class Pacer:
    """At most ``rate`` calls of ``wait`` a second after a first ``burst``, on real time (a rate limit
    is Discord's, counted in real seconds, like discord.py's own)."""

    def __init__(self, rate: float, *, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._last = time.monotonic()

    async def wait(self) -> None:
        now = time.monotonic()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.rate)
        self._last = now
        self._tokens -= 1.0
        if self._tokens < 0:
            # Waits its turn: the deficit is already booked, so callers queue up in order.
            await asyncio.sleep(-self._tokens / self.rate)
