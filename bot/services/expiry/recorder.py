"""Group commit of new expiry rows: buffered for a few milliseconds, committed with room cursors."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from bot.storage import expiry as store
from bot.storage.db import Database
from bot.storage.expiry import NewMessage

log = logging.getLogger(__name__)


class Recorder:
    """Buffers new rows for ``delay`` seconds and commits them (and room cursors) in one transaction.

    ``add`` returns once its row is committed. A failing commit is retried a few times; if it keeps
    failing, the waiting callers get the error, the affected rooms' cursors are not advanced and
    ``on_failure`` is told, so the next catch-up reads those messages again.
    """

    def __init__(
        self,
        db: Database,
        *,
        delay: float = 0.005,
        max_batch: int = 2000,
        on_commit: Callable[[Sequence[NewMessage], int | None], None] | None = None,
        on_failure: Callable[[set[int]], None] | None = None,
    ) -> None:
        self.db = db
        self.delay = delay
        self.max_batch = max_batch
        self._on_commit = on_commit
        self._on_failure = on_failure
        self._rows: list[NewMessage] = []
        self._cursors: dict[int, int] = {}
        self._future: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._full = asyncio.Event()
        self._lock = asyncio.Lock()
        self.batches = 0  # commits so far (for benchmarks)

    async def add(self, message: NewMessage, *, advance_cursor: bool) -> None:
        self._rows.append(message)
        if advance_cursor:
            current = self._cursors.get(message.channel_id, 0)
            self._cursors[message.channel_id] = max(current, message.message_id)
        if self._future is None:
            self._future = asyncio.get_running_loop().create_future()
        future = self._future
        if len(self._rows) >= self.max_batch:
            self._full.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="holdspace-expiry-recorder")
        await asyncio.shield(future)

    async def _run(self) -> None:
        while self._rows or self._cursors:
            if len(self._rows) < self.max_batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self.delay)
            await self.flush()

    async def flush(self) -> None:
        """Commit whatever is buffered now."""
        async with self._lock:
            rows, cursors, future = self._rows, self._cursors, self._future
            self._rows, self._cursors, self._future = [], {}, None
            self._full.clear()
            if not rows and not cursors:
                if future is not None and not future.done():
                    future.set_result(None)
                return
            error: BaseException | None = None
            earliest: int | None = None
            for pause in (0.0, 0.05, 0.25, 1.0):
                if pause:
                    await asyncio.sleep(pause)
                try:
                    earliest = await store.record(self.db, rows, cursors)
                except Exception as exc:  # retried below; reported if it keeps failing
                    error = exc
                    log.warning("could not record %d expiring messages (%s); retrying", len(rows), exc)
                    continue
                error = None
                break
            if error is None:
                self.batches += 1
                if self._on_commit is not None:
                    try:
                        self._on_commit(rows, earliest)
                    except Exception:  # the rows are committed; waking early is only an optimisation
                        log.exception("expiry commit callback failed")
                if future is not None and not future.done():
                    future.set_result(None)
                return
            # A warning: the outage itself is reported once (bot.services.outbox), not per batch.
            log.warning("could not record %d expiring messages; the next catch-up reads them again", len(rows))
            if self._on_failure is not None:
                self._on_failure({r.channel_id for r in rows} | set(cursors))
            if future is not None and not future.done():
                future.set_exception(error)
                future.exception()  # retrieved here, so an unawaited future does not warn
