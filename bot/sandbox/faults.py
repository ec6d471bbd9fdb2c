"""Injected faults: 429s, 5xx responses and added latency for requests matching a pattern."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass
class Fault:
    method: str | None
    pattern: str
    status: int
    remaining: int
    retry_after: float = 0.05
    is_global: bool = False

    def matches(self, method: str, path: str, template: str | None) -> bool:
        if self.method is not None and self.method != method:
            return False
        return self.pattern == template or re.fullmatch(self.pattern, path) is not None


@dataclass
class Latency:
    method: str | None
    pattern: str
    seconds: float

    def matches(self, method: str, path: str, template: str | None) -> bool:
        if self.method is not None and self.method != method:
            return False
        return self.pattern == template or re.fullmatch(self.pattern, path) is not None


class Faults:
    """``pattern`` is a route template (``/channels/{channel_id}/messages``) or a regex on the path."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._latency: list[Latency] = []

    def fail(self, method: str | None, pattern: str = ".*", status: int = 500, *, times: int = 1) -> Fault:
        """The next ``times`` matching requests answer ``status`` (500/502/503/504...)."""
        f = Fault(method.upper() if method else None, pattern, status, times)
        self._faults.append(f)
        return f

    def rate_limit(self, method: str | None, pattern: str = ".*", *, times: int = 1,
                   retry_after: float = 0.05, is_global: bool = False) -> Fault:
        """The next ``times`` matching requests answer 429 (route scope, or global)."""
        f = Fault(method.upper() if method else None, pattern, 429, times, retry_after, is_global)
        self._faults.append(f)
        return f

    def add_latency(self, seconds: float, method: str | None = None, pattern: str = ".*") -> Latency:
        lat = Latency(method.upper() if method else None, pattern, seconds)
        self._latency.append(lat)
        return lat

    def clear(self) -> None:
        self._faults.clear()
        self._latency.clear()

    def take(self, method: str, path: str, template: str | None) -> Fault | None:
        for f in self._faults:
            if f.remaining > 0 and f.matches(method, path, template):
                f.remaining -= 1
                return f
        return None

    def latency_for(self, method: str, path: str, template: str | None) -> float:
        return sum(lat.seconds for lat in self._latency if lat.matches(method, path, template))
