"""A group's consent events as a hash chain, so a file edited without the key gives itself away.

Each event carries, inside its encrypted and authenticated data, the chain's *epoch*, its number
``n`` in that epoch and ``prev``, the link of the event before it (``GENESIS`` for the first). The
link of an event hashes ``prev`` with the event's own facts. Deleting, reordering or replaying a row
breaks the numbering or a link; moving a row to another group fails its authentication (the row key
includes the group). Removing the newest events, or putting back an older copy of the whole file, is
caught by the *anchor*: the head (epoch, n, link) of each group's chain, kept beside the database and
signed with the key.

When a group's chain does not hold, holdspace starts a new epoch for it with a reset event: consents
from before it no longer count, so the group fails closed (its members consent again) while every
other group runs on. Pure code, no I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


@dataclass(frozen=True)
class Head:
    """Where a group's chain ends: the epoch, the number of its last event and that event's link."""

    epoch: int
    n: int
    link: str

    def as_list(self) -> list[Any]:
        return [self.epoch, self.n, self.link]

    @classmethod
    def from_list(cls, value: Any) -> Head:
        epoch, n, link = value
        if not isinstance(epoch, int) or not isinstance(n, int) or not isinstance(link, str):
            raise ValueError("not a chain head")
        return cls(epoch, n, link)


@dataclass(frozen=True)
class Linked:
    """One event as the chain sees it: its position and the facts its link covers."""

    epoch: int
    n: int
    prev: str
    facts: dict[str, Any]


def link(prev: str, facts: dict[str, Any]) -> str:
    """The link of an event: SHA-256 over the previous link and the event's facts (canonical JSON)."""
    body = json.dumps(facts, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(f"{prev}\n{body}".encode()).hexdigest()


def next_position(head: Head | None) -> tuple[int, int, str]:
    """(epoch, n, prev) for the event after ``head`` (the first event of epoch 1 without one)."""
    if head is None:
        return 1, 1, GENESIS
    return head.epoch, head.n + 1, head.link


def verify(events: Sequence[Linked], anchor: Head | None) -> tuple[Head | None, str | None]:
    """Check the events of the group's newest epoch (in file order) against each other and the anchor.

    Returns (the head of the chain, None) when it holds, else (None, what is wrong in words).
    Events of older epochs are history: they were set aside by a reset and are not checked.
    """
    if not events:
        if anchor is not None and anchor.n > 0:
            return None, "every consent event recorded for the group is gone"
        return None, None
    epoch = max(e.epoch for e in events)
    current = [e for e in events if e.epoch == epoch]
    links: list[str] = []
    prev = GENESIS
    for expected_n, event in enumerate(current, start=1):
        if event.n != expected_n:
            return None, "a consent event is missing, repeated or out of order"
        if event.prev != prev:
            return None, "a consent event does not follow the one before it"
        prev = link(event.prev, event.facts)
        links.append(prev)
    head = Head(epoch, len(current), prev)
    if anchor is not None:
        if anchor.epoch > epoch or (anchor.epoch == epoch and anchor.n > head.n):
            return None, "consent events recorded earlier are missing (an older copy of the file?)"
        if anchor.epoch == epoch and anchor.n > 0 and links[anchor.n - 1] != anchor.link:
            return None, "the group's consent events differ from what holdspace recorded"
    return head, None
