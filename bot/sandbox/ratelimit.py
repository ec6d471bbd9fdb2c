"""Discord-style rate limits: per-route buckets per major parameter and a global per-bot limit.

Timing uses real (loop) time, never the sandbox clock. Defaults are generous so tests are not
slowed; set ``RateLimitConfig(route_limit=5, route_window=5.0, global_limit=50)`` to model Discord.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field


@dataclass
class RateLimitConfig:
    route_limit: int = 1000
    route_window: float = 1.0
    global_limit: int | None = None  # Discord: 50 per second per bot
    global_window: float = 1.0
    overrides: dict[str, tuple[int, float]] = field(default_factory=dict)  # "METHOD template" -> (limit, window)


@dataclass
class Bucket:
    limit: int
    window: float
    remaining: int
    reset_at: float


@dataclass
class Verdict:
    headers: dict[str, str]
    retry_after: float = 0.0
    scope: str | None = None  # "user" / "global" when limited

    @property
    def limited(self) -> bool:
        return self.scope is not None


def bucket_hash(method: str, template: str) -> str:
    return hashlib.sha1(f"{method} {template}".encode()).hexdigest()[:16]


class RateLimiter:
    def __init__(self, config: RateLimitConfig | None = None) -> None:
        self.config = config or RateLimitConfig()
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self._global: dict[int, Bucket] = {}

    def _bucket(self, key: tuple[str, str], limit: int, window: float, now: float) -> Bucket:
        b = self._buckets.get(key)
        if b is None or now >= b.reset_at:
            b = Bucket(limit, window, limit, now + window)
            self._buckets[key] = b
        return b

    def check(self, method: str, template: str, major: str, app_id: int | None, *,
              exempt_global: bool = False) -> Verdict:
        now = time.monotonic()
        cfg = self.config
        limit, window = cfg.overrides.get(f"{method} {template}", (cfg.route_limit, cfg.route_window))
        bhash = bucket_hash(method, template)
        b = self._bucket((bhash, major), limit, window, now)

        if cfg.global_limit is not None and app_id is not None and not exempt_global:
            g = self._global.get(app_id)
            if g is None or now >= g.reset_at:
                g = Bucket(cfg.global_limit, cfg.global_window, cfg.global_limit, now + cfg.global_window)
                self._global[app_id] = g
            if g.remaining <= 0:
                return Verdict(self._headers(b, bhash, now), max(g.reset_at - now, 0.001), "global")
            g.remaining -= 1

        if b.remaining <= 0:
            return Verdict(self._headers(b, bhash, now), max(b.reset_at - now, 0.001), "user")
        b.remaining -= 1
        return Verdict(self._headers(b, bhash, now))

    @staticmethod
    def _headers(b: Bucket, bhash: str, now: float) -> dict[str, str]:
        reset_after = max(b.reset_at - now, 0.0)
        return {
            "X-RateLimit-Limit": str(b.limit),
            "X-RateLimit-Remaining": str(b.remaining),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bhash,
        }
