"""Work started from a place that cannot wait for it (a gateway handler, a listener): each task is
kept until it ends, so it is not collected half-way, and its failure is logged rather than lost."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any


class Background:
    def __init__(self, log: logging.Logger, failure: str) -> None:
        self._log = log
        self._failure = failure  # the ERROR line when a task fails
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._log.error("%s", self._failure, exc_info=task.exception())

    def cancel(self) -> list[asyncio.Task[Any]]:
        """Cancel every task still running; returns them, to be awaited by whoever must."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        return tasks

    async def close(self) -> None:
        await asyncio.gather(*self.cancel(), return_exceptions=True)
