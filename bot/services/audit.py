"""The tamper-evident audit trail: every action appended as a hash-chained entry."""

from __future__ import annotations

from typing import Any

from bot.clock import Clock
from bot.crypto import KeyRing
from bot.storage.db import Database


class AuditLog:
    def __init__(self, db: Database, ring: KeyRing, clock: Clock) -> None:
        self.db = db
        self.ring = ring
        self.clock = clock

    async def record(
        self,
        guild_id: int,
        action: str,
        *,
        actor_id: int | None = None,
        group_id: str | None = None,
        subject_id: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append one entry. ``actor_id`` None means holdspace itself acted."""
