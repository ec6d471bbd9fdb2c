"""The seal of a group's roster: its enrolments and named facilitators as one digest and a count.

Enrolments and named facilitators are sets (a removal deletes its row), so they are not chained
event by event like consents. Instead every change writes, in the same transaction, the group's
*seal*: the number of changes so far and a digest of every row the roster holds. The seal is
encrypted and bound to the group and its server, so it cannot be written without the key. At load
the digest is worked out again from the rows: a row deleted, copied back in or moved there from
another group changes it. The count goes into the anchor beside the database (bot.storage
.consent_anchor), so an older copy of the file, whose seal and rows agree with each other, is still
caught: its count is behind the anchor's. Pure code, no I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: The digest of a roster without rows.
EMPTY = hashlib.sha256(b"[]").hexdigest()


@dataclass(frozen=True)
class Seal:
    """How many changes the roster has had, and the digest of its rows after the last one."""

    n: int
    digest: str

    def as_list(self) -> list[Any]:
        return [self.n, self.digest]

    @classmethod
    def from_list(cls, value: Any) -> Seal:
        n, digest = value
        if not isinstance(n, int) or not isinstance(digest, str):
            raise ValueError("not a roster seal")
        return cls(n, digest)


def digest(rows: Iterable[tuple[str, str, int]]) -> str:
    """SHA-256 of the roster's rows, each (table, row id, member id), in a fixed order."""
    body = json.dumps(sorted([list(r) for r in rows]), separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def check(seal: Seal | None, rows_digest: str, has_rows: bool, anchor: Seal | None) -> str | None:
    """What is wrong with a group's roster, in words, or None when it holds."""
    if seal is None:
        if has_rows or (anchor is not None and anchor.n > 0):
            return "the seal of the group's enrolments and facilitators is gone"
        return None
    if seal.digest != rows_digest:
        return "an enrolment or named facilitator was removed, copied in or moved from another group"
    if anchor is not None:
        if anchor.n > seal.n:
            return "changes to the group's enrolments or facilitators are missing (an older copy of the file?)"
        if anchor.n == seal.n and anchor.digest != seal.digest:
            return "the group's enrolments and facilitators differ from what holdspace recorded"
    return None
