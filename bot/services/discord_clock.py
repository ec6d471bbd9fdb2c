"""Discord's clock as holdspace sees it: the host clock plus a measured offset.

Message ids carry Discord's time, so every boundary that is compared with message ids (the start and
end of a session, the due time of an expiring message) is taken on Discord's clock, never on the
host clock alone. The offset is measured from ids Discord makes while holdspace watches: an
interaction (made by Discord the moment someone ran a command) and a message holdspace posted (made
while holdspace waited for the answer). Each sample is ``id time - host time on arrival``, which is
the offset minus the travel time, so it is accurate to the network latency; the median of the last
few samples is used, so one delayed event does not move it. Above ``WARN_ABOVE`` a warning is
logged once per change, and ``holdspace check`` / the health report show the stored value
(:func:`stored_offset`).
"""

from __future__ import annotations

import json
import logging
import statistics
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.clock import Clock
from bot.core.expiry import snowflake_ms
from bot.storage import meta
from bot.storage.db import Database

log = logging.getLogger(__name__)

WARN_ABOVE = timedelta(seconds=5)
SAMPLES = 5
META_KEY = "discord_clock_offset"


@dataclass(frozen=True)
class ClockOffset:
    """Discord's clock minus the host's (positive: the host is behind), and when it was measured."""

    offset: timedelta
    measured_at: datetime
    samples: int

    @property
    def too_far(self) -> bool:
        return abs(self.offset) > WARN_ABOVE

    def text(self) -> str:
        seconds = self.offset.total_seconds()
        side = "behind" if seconds > 0 else "ahead of"
        if abs(seconds) < 0.5:
            return "the host clock agrees with Discord's (within half a second)"
        return f"the host clock is {abs(seconds):.1f} s {side} Discord's"

    def report(self) -> str:
        """``text()``, flagged with what to do when the offset is too far (check and health show this)."""
        return f"WARNING: {self.text()}; synchronise it (NTP)" if self.too_far else self.text()


class DiscordClock:
    """``now()`` on Discord's clock; ``to_host`` turns a Discord time into the host time to wait for."""

    def __init__(self, clock: Clock, *, samples: int = SAMPLES) -> None:
        self.clock = clock
        self._samples: deque[float] = deque(maxlen=samples)
        self._warned_at: float | None = None
        self._db: Database | None = None
        self._stored: float | None = None

    def attach(self, db: Database) -> None:
        """Keep the measured offset in the database (for ``holdspace check`` and the health report)."""
        self._db = db

    @property
    def offset(self) -> timedelta:
        if not self._samples:
            return timedelta(0)
        return timedelta(milliseconds=statistics.median(self._samples))

    @property
    def measured(self) -> bool:
        return bool(self._samples)

    def now(self) -> datetime:
        return self.clock.now() + self.offset

    def to_host(self, discord_time: datetime) -> datetime:
        return discord_time - self.offset

    def current(self) -> ClockOffset | None:
        if not self._samples:
            return None
        return ClockOffset(self.offset, self.clock.now(), len(self._samples))

    def observe(self, snowflake: int) -> None:
        """Discord made ``snowflake`` a moment ago (an interaction, a message holdspace just posted)."""
        host_ms = self.clock.now().timestamp() * 1000
        self._samples.append(snowflake_ms(snowflake) - host_ms)
        offset_ms = statistics.median(self._samples)
        if abs(offset_ms) > WARN_ABOVE.total_seconds() * 1000 and (
            self._warned_at is None or abs(self._warned_at - offset_ms) > 1000
        ):
            self._warned_at = offset_ms
            log.warning(
                "the host clock differs from Discord's by %.1f s; holdspace uses Discord's time for message "
                "deadlines and session boundaries, but please synchronise the host clock (NTP)",
                -offset_ms / 1000 if offset_ms < 0 else offset_ms / 1000,
            )
        if self._stored is None or abs(self._stored - offset_ms) >= 250:
            self._stored = offset_ms
            self._persist()

    def _persist(self) -> None:
        if self._db is None:
            return
        current = self.current()
        if current is None:
            return
        import asyncio

        value = json.dumps(
            {"offset_ms": round(current.offset.total_seconds() * 1000), "measured_at": current.measured_at.isoformat()}
        )
        task = asyncio.get_running_loop().create_task(_store(self._db, value))
        _pending.add(task)
        task.add_done_callback(_pending.discard)


_pending: set[object] = set()


async def _store(db: Database, value: str) -> None:
    try:
        await meta.put(db, META_KEY, value)
    except Exception:  # a measurement that could not be stored is measured again soon
        log.debug("could not store the clock offset", exc_info=True)


async def stored_offset(db: Database) -> ClockOffset | None:
    """The offset last measured by a running holdspace (None if it never measured one)."""
    raw = await meta.get(db, META_KEY)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        measured = datetime.fromisoformat(str(data["measured_at"]))
        return ClockOffset(timedelta(milliseconds=int(data["offset_ms"])), measured.astimezone(UTC), 0)
    except (ValueError, KeyError, TypeError):
        return None
