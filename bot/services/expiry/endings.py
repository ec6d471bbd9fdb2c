"""Session end and purge: everything in a range of a group's messages goes, durably.

End of session is a promise written down before anything is attempted: every message of the group
posted between the session's start and its end (both on Discord's clock) goes, including messages a
catch-up records only later because a room could not be read at the end. The promise stays until
each room of the group was read through the end; until then the room is read again every
``RETRY_AFTER`` on holdspace's clock. The report counts what is known and says what is still pending.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

import discord

from bot.core.expiry import ExpiryReport, snowflake_floor
from bot.storage import expiry as store
from bot.storage import expiry_promises as promises

from .blocked import BlockedRooms
from .catchup import CatchUp
from .context import ExpiryContext, settings_of
from .lanes import Lanes
from .recorder import Recorder
from .rooms import Rooms
from .tallies import Tallies, Tally

log = logging.getLogger(__name__)

REPORT_WAIT = 20.0  # seconds: how long an end-of-session or purge report waits for the lanes
_NO_END = (1 << 63) - 1  # the largest id SQLite can hold


class Endings:
    """Session ends and purges: ranges of a group's messages that go, whatever it takes."""

    def __init__(
        self,
        ctx: ExpiryContext,
        rooms: Rooms,
        catch_up: CatchUp,
        recorder: Recorder,
        lanes: Lanes,
        blocked: BlockedRooms,
        tallies: Tallies,
    ) -> None:
        self.ctx = ctx
        self.rooms = rooms
        self.catch_up = catch_up
        self.recorder = recorder
        self.lanes = lanes
        self.blocked = blocked
        self.tallies = tallies

    async def expire_session(
        self, group_id: str, start_id: int, end_id: int | None = None, *, wait: float = REPORT_WAIT
    ) -> ExpiryReport:
        """Delete everything posted in the group's rooms with ``start_id <= id < end_id`` (Discord's
        clock; ``end_id`` None: up to now). ``wait``: how long to wait for the deletions to report."""
        group = self.ctx.group(group_id)
        if group is None or not group.expire_at_session_end:
            return ExpiryReport(applies=False)
        end = end_id if end_id is not None else snowflake_floor(self.ctx.dclock.now() + timedelta(seconds=1))
        await self.recorder.flush()
        await self.rooms.track_group(group)
        with self.tallies.counting(group_id, start_id, end) as tally:
            return await self._expire_session(group_id, start_id, end, wait, tally)

    async def _expire_session(self, group_id: str, start_id: int, end: int, wait: float, tally: Tally) -> ExpiryReport:
        group = self.ctx.group(group_id)
        assert group is not None
        rooms = [room.channel_id for room in self.ctx.rooms_of(group_id)]
        # Written down first: if holdspace stops now, the promise is kept after the next start.
        await promises.add_promise(
            self.ctx.db,
            uuid.uuid4().hex,
            group_id,
            start_id,
            end,
            self.ctx.urgent_ms(),
            rooms,
            store.ms(self.ctx.clock.now()),
        )
        self._start_lanes(group_id)
        problems = await self.catch_up.catch_up_group(group_id)
        report = await self._await_range(group_id, start_id, end, wait, tally)
        if problems:
            report.notes.append(
                "; ".join(problems) + ": what was posted there during the session is removed as soon as "
                "holdspace can read it (tried again every 30 seconds)"
            )
        await self._audit(group.guild_id, group_id, "expiry_session_end", None, report)
        return report

    async def session_reminders_done(self, group_id: str, messages: Sequence[tuple[int, int]]) -> None:
        """A session ended: its ground-rules reminders go now, whatever the ttl and the settings."""
        if not messages:
            return
        await self.recorder.flush()
        await store.due_now(self.ctx.db, group_id, messages, self.ctx.urgent_ms())
        for channel_id in {channel_id for channel_id, _ in messages}:
            self.lanes.start(channel_id)
        self.ctx.wake()

    async def purge(self, group_id: str, actor_id: int | None = None, *, wait: float = REPORT_WAIT) -> ExpiryReport:
        """Delete every message in the group's rooms, also those from before they were group rooms."""
        group = self.ctx.group(group_id)
        if group is None:
            return ExpiryReport(applies=False)
        await self.rooms.track_group(group)
        await self.rooms.discover_threads(group, {})
        await self.recorder.flush()
        urgent = store.from_ms(self.ctx.urgent_ms())
        unreadable = 0
        for room in self.ctx.rooms_of(group_id):
            channel = await self.catch_up.resolve(room)
            if channel is None:
                unreadable += room.channel_id in self.ctx.rooms
                continue
            try:
                newest = await self.catch_up.read_history(channel, room, after=0, due_override=urgent)
                self.ctx.rooms[room.channel_id] = type(room)(
                    room.channel_id, room.group_id, room.parent_id, max(newest, room.cursor_id), room.watch_from_id
                )
                if group.keep_pinned:
                    await self.catch_up.reconcile_pins(channel, room, settings_of(group))
                self.ctx.pins_checked.add(room.channel_id)
            except discord.NotFound:
                await self.rooms.channel_gone(room.channel_id)
            except discord.Forbidden:
                await self.blocked.report(room, "read")
                unreadable += 1
            except discord.HTTPException as exc:
                log.warning("could not read a room to purge it (%s)", exc.status)
                unreadable += 1
        # Rows recorded earlier (live) go too.
        await store.make_group_due(self.ctx.db, group_id, 0, urgent)
        with self.tallies.counting(group_id, 0, _NO_END) as tally:
            self._start_lanes(group_id)
            report = await self._await_range(group_id, 0, _NO_END, wait, tally)
        if unreadable:
            report.notes.append(
                f"{unreadable} room{'s' if unreadable != 1 else ''} could not be read "
                "(holdspace needs View Channel and Read Message History there)"
            )
        await self._audit(group.guild_id, group_id, "expiry_purge", actor_id, report)
        return report

    def _start_lanes(self, group_id: str) -> None:
        for room in self.ctx.rooms_of(group_id):
            self.lanes.start(room.channel_id)
        self.ctx.wake()

    async def _await_range(self, group_id: str, from_id: int, to_id: int, wait: float, tally: Tally) -> ExpiryReport:
        """Wait (up to ``wait`` seconds) until the lanes have done what they can with the range, then
        count: removed (confirmed by Discord); left = why (pinned, held, no permission, Discord's
        trouble, still pending)."""
        deadline = time.monotonic() + wait
        while True:
            rows = await promises.range_rows(self.ctx.db, group_id, from_id, to_id)
            busy = [r for r in rows if r[0] is not None and r[1] is None]
            if not busy or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.02)  # polling the queue the lanes work on, bounded by ``wait``
        report = ExpiryReport(removed=tally.removed)
        reasons: Counter[str] = Counter()
        for due_ms, error, pinned in rows:
            if due_ms is None and pinned:
                reasons["pinned"] += 1
            elif error in ("held", "blocked", "retry"):
                reasons[error] += 1
            elif error == "pins":
                reasons["waiting"] += 1
            elif error == "session":
                reasons["session"] += 1
            else:
                reasons["pending"] += 1
        for reason, count in reasons.items():
            report.add_failed(reason, count)
        return report

    async def _audit(
        self, guild_id: int, group_id: str, action: str, actor_id: int | None, report: ExpiryReport
    ) -> None:
        try:
            await self.ctx.bot.audit.record(
                guild_id,
                action,
                actor_id=actor_id,
                group_id=group_id,
                details={"removed": report.removed, "not_removed": dict(report.not_removed)},
            )
        except Exception:
            log.exception("could not append %s to the audit log", action)


def session_start_id(started_at: datetime) -> int:
    """The first message id of a session that started at ``started_at`` (Discord's clock)."""
    return snowflake_floor(started_at)
