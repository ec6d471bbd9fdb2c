"""Every request the sandbox served and every event it dispatched, for tests and benchmarks."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .settle import WAIT_TIMEOUT


@dataclass
class RecordedRequest:
    method: str
    path: str
    route: str | None
    status: int = 0
    json: Any = None
    query: dict[str, str] = field(default_factory=dict)
    response: Any = None
    started: float = 0.0
    finished: float = 0.0
    app_id: int | None = None

    @property
    def duration(self) -> float:
        return self.finished - self.started


@dataclass
class RecordedEvent:
    name: str
    data: dict[str, Any]
    guild_id: int | None
    at: float


def _matches(pattern: str, text: str) -> bool:
    return pattern == text or re.fullmatch(pattern, text) is not None


class Recorder:
    """Keeps requests and events; wakes waiters whenever something new is recorded."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.events: list[RecordedEvent] = []
        self._changed = asyncio.Event()

    def notify(self) -> None:
        self._changed.set()

    def add_request(self, req: RecordedRequest) -> None:
        self.requests.append(req)
        self.notify()

    def add_event(self, ev: RecordedEvent) -> None:
        self.events.append(ev)
        self.notify()

    def requests_matching(self, method: str | None = None, path: str | None = None,
                          status: int | None = None) -> list[RecordedRequest]:
        """Finished requests; ``path`` matches the route template exactly or the concrete path as regex."""
        out = []
        for r in self.requests:
            if r.finished == 0.0:
                continue
            if method is not None and r.method != method.upper():
                continue
            if path is not None and r.route != path and not _matches(path, r.path):
                continue
            if status is not None and r.status != status:
                continue
            out.append(r)
        return out

    async def wait_until(self, predicate: Callable[[], Any], timeout: float = WAIT_TIMEOUT) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked after every request, event or change)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.05))

    async def wait_for_request(self, method: str, path: str, *, timeout: float = WAIT_TIMEOUT,
                               status: int | None = None, after: int = 0) -> RecordedRequest:
        """The first finished request (from index ``after``) matching method and path."""
        def find() -> RecordedRequest | None:
            for r in self.requests[after:]:
                if r.finished and r.method == method.upper() and (r.route == path or _matches(path, r.path)) \
                        and (status is None or r.status == status):
                    return r
            return None
        result: RecordedRequest = await self.wait_until(find, timeout)
        return result

    async def wait_for_event(self, name: str, check: Callable[[dict[str, Any]], bool] | None = None, *,
                             timeout: float = WAIT_TIMEOUT, after: int = 0) -> RecordedEvent:
        def find() -> RecordedEvent | None:
            for e in self.events[after:]:
                if e.name == name and (check is None or check(e.data)):
                    return e
            return None
        result: RecordedEvent = await self.wait_until(find, timeout)
        return result
