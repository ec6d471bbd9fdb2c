"""The tamper-evident audit trail: every action appended as a hash-chained entry.

The entry's payload (actor, subject, group, details and a random salt) is encrypted; the chain hashes
the plaintext canonical entry so it survives ``holdspace rotate-key``. See bot/core/audit_chain.py.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

from bot.clock import Clock
from bot.core.audit_chain import VerifyResult, new_salt
from bot.crypto import KeyRing
from bot.storage import audit as audit_store
from bot.storage.db import Database

log = logging.getLogger(__name__)

_ACTION_RE = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")


def build_payload(
    *,
    actor_id: int | None,
    group_id: str | None,
    subject_id: int | None,
    details: dict[str, Any] | None,
    salt: str | None = None,
) -> dict[str, Any]:
    """The payload document of one entry. Ids are decimal strings; ``actor`` None: holdspace acted."""
    return {
        "salt": salt or new_salt(),
        "actor": None if actor_id is None else str(int(actor_id)),
        "group": group_id,
        "subject": None if subject_id is None else str(int(subject_id)),
        "details": dict(details or {}),
    }


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
        at: datetime | None = None,
    ) -> None:
        """Append one entry. ``actor_id`` None means holdspace itself acted; ``at`` (default now) is
        when it happened, for entries written late (``bot.services.outbox``).

        ``action`` is a short lowercase name such as ``case_claimed`` or ``group.member_removed``.
        ``details`` must be JSON-serialisable and must not hold message content or names.
        Raises on failure (the caller decides whether its action may go ahead without a record);
        inside the caller's ``db.transaction()`` the entry commits or rolls back with the action.
        """
        if not _ACTION_RE.match(action):
            raise ValueError(f"an audit action is a short lowercase name, not {action!r}")
        payload = build_payload(actor_id=actor_id, group_id=group_id, subject_id=subject_id, details=details)
        seq = await audit_store.append(
            self.db, self.ring, guild_id=guild_id, action=action, payload=payload, now=at or self.clock.now()
        )
        log.debug("audit entry %d: %s in guild %s", seq, action, guild_id)

    async def verify(self) -> VerifyResult:
        return await audit_store.verify(self.db, self.ring)
