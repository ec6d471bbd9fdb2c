"""Permission drift of group rooms: compare, describe in words, plan the restoration.

Pure code over plain data. ``actual`` and ``desired`` map a target id (role or member) to its
overwrite. The rules:

- For a target the room must carry: its allow bits must be exactly the desired ones and its deny
  bits must include the desired ones. An extra deny bit only closes the room further and is kept.
- A target the room must not carry: an overwrite that allows anything opens the room and is
  removed (its deny bits, if any, are kept); a deny-only overwrite is left alone.

Restoring writes exactly what ``plan`` returns; after it lands, ``compare`` finds nothing, so the
CHANNEL_UPDATE that holdspace's own edit fires ends there (no loop). ``RestoreLimiter`` caps the
attempts per room in case someone (or something) keeps changing it back.

Descriptions never hold a name: targets are told apart by labels the caller gives ("@everyone",
"the facilitator role", "holdspace") or by kind ("a role", "a member", "a bot").
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

__all__ = [
    "ADMINISTRATOR",
    "Change",
    "Fix",
    "Overwrite",
    "RestoreLimiter",
    "compare",
    "describe",
    "describe_all",
    "permission_names",
    "plan",
    "role_change_warnings",
    "with_bot_denies",
]

ROLE = 0
MEMBER = 1
ADMINISTRATOR = 1 << 3

# Discord's permission bits with the names its client shows.
_NAMES: dict[int, str] = {
    0: "Create Invite",
    1: "Kick Members",
    2: "Ban Members",
    3: "Administrator",
    4: "Manage Channels",
    5: "Manage Server",
    6: "Add Reactions",
    7: "View Audit Log",
    8: "Priority Speaker",
    9: "Video",
    10: "View Channel",
    11: "Send Messages",
    12: "Send Text-to-Speech Messages",
    13: "Manage Messages",
    14: "Embed Links",
    15: "Attach Files",
    16: "Read Message History",
    17: "Mention Everyone",
    18: "Use External Emoji",
    19: "View Server Insights",
    20: "Connect",
    21: "Speak",
    22: "Mute Members",
    23: "Deafen Members",
    24: "Move Members",
    25: "Use Voice Activity",
    26: "Change Nickname",
    27: "Manage Nicknames",
    28: "Manage Roles",
    29: "Manage Webhooks",
    30: "Manage Expressions",
    31: "Use Application Commands",
    32: "Request to Speak",
    33: "Manage Events",
    34: "Manage Threads",
    35: "Create Public Threads",
    36: "Create Private Threads",
    37: "Use External Stickers",
    38: "Send Messages in Threads",
    39: "Use Activities",
    40: "Timeout Members",
    41: "View Creator Monetization Analytics",
    42: "Use Soundboard",
    43: "Create Expressions",
    44: "Create Events",
    45: "Use External Sounds",
    46: "Send Voice Messages",
    49: "Create Polls",
    50: "Use External Apps",
    51: "Pin Messages",
}


def permission_names(bits: int) -> list[str]:
    """The names of the permissions set in ``bits``, lowest bit first."""
    names: list[str] = []
    position = 0
    while bits >> position:
        if bits >> position & 1:
            names.append(_NAMES.get(position, f"permission bit {position}"))
        position += 1
    return names


def _joined(bits: int) -> str:
    return ", ".join(permission_names(bits))


@dataclass(frozen=True)
class Overwrite:
    """One channel overwrite: ``type`` 0 for a role, 1 for a member."""

    target_id: int
    type: int
    allow: int = 0
    deny: int = 0

    @property
    def is_role(self) -> bool:
        return self.type == ROLE


def with_bot_denies(desired: Mapping[int, Overwrite], bot_ids: Iterable[int], deny: int) -> dict[int, Overwrite]:
    """``desired`` plus a member-level deny of ``deny`` for every bot in ``bot_ids``.

    A bot that already has a desired overwrite keeps its other bits but loses any allow of ``deny``.
    """
    out = dict(desired)
    for bot_id in bot_ids:
        current = out.get(bot_id)
        if current is None:
            out[bot_id] = Overwrite(bot_id, MEMBER, 0, deny)
        else:
            out[bot_id] = Overwrite(bot_id, current.type, current.allow & ~deny, current.deny | deny)
    return out


@dataclass(frozen=True)
class Change:
    """How one target's overwrite differs from what the room must carry.

    ``opened``: bits that now let someone in or do more than they should (an extra allow or a
    missing deny). ``closed``: desired allow bits that are missing.
    """

    target_id: int
    type: int
    what: Literal["added", "removed", "changed"]
    opened: int
    closed: int

    @property
    def opens(self) -> bool:
        return bool(self.opened)


@dataclass(frozen=True)
class Fix:
    """One request that restores a target: put (allow, deny) or delete the overwrite."""

    target_id: int
    type: int
    allow: int = 0
    deny: int = 0
    delete: bool = False


def _judge(actual: Overwrite | None, desired: Overwrite | None) -> tuple[Change | None, Fix | None]:
    if desired is None:
        if actual is None or not actual.allow:
            return None, None  # absent, or deny-only: closes the room further, left alone
        change = Change(actual.target_id, actual.type, "added", actual.allow, 0)
        if actual.deny:
            return change, Fix(actual.target_id, actual.type, 0, actual.deny)
        return change, Fix(actual.target_id, actual.type, delete=True)
    if actual is None:
        change = Change(desired.target_id, desired.type, "removed", desired.deny, desired.allow)
        return change, Fix(desired.target_id, desired.type, desired.allow, desired.deny)
    extra_allow = actual.allow & ~desired.allow
    missing_deny = desired.deny & ~actual.deny
    missing_allow = desired.allow & ~actual.allow
    if not (extra_allow or missing_deny or missing_allow):
        return None, None
    change = Change(desired.target_id, desired.type, "changed", extra_allow | missing_deny, missing_allow)
    # Keep extra denies that do not fight a desired allow: they only close the room further.
    deny = desired.deny | (actual.deny & ~desired.allow)
    return change, Fix(desired.target_id, desired.type, desired.allow, deny)


def compare(actual: Mapping[int, Overwrite], desired: Mapping[int, Overwrite]) -> list[Change]:
    """Every difference that matters between a room's overwrites and what it must carry."""
    return [c for c, _ in _pairs(actual, desired) if c is not None]


def plan(actual: Mapping[int, Overwrite], desired: Mapping[int, Overwrite]) -> list[Fix]:
    """The requests that restore the room; empty when nothing is to be done."""
    return [f for _, f in _pairs(actual, desired) if f is not None]


def _pairs(actual: Mapping[int, Overwrite], desired: Mapping[int, Overwrite]) -> list[tuple[Change | None, Fix | None]]:
    out = []
    for target_id in sorted(set(actual) | set(desired)):
        out.append(_judge(actual.get(target_id), desired.get(target_id)))
    return out


def _label(change: Change, labels: Mapping[int, str], bot_ids: frozenset[int] | set[int]) -> str:
    if change.target_id in labels:
        return labels[change.target_id]
    if change.type == ROLE:
        return "a role"
    return "a bot" if change.target_id in bot_ids else "a member"


def describe(change: Change, labels: Mapping[int, str] | None = None, bot_ids: Iterable[int] = ()) -> str:
    """One line saying what changed, without any name."""
    who = _label(change, labels or {}, frozenset(bot_ids))
    if change.what == "added":
        return f"{who}: an overwrite was added that allows {_joined(change.opened)}"
    if change.what == "removed":
        parts = []
        if change.opened:
            parts.append(f"its deny of {_joined(change.opened)} is gone")
        if change.closed:
            parts.append(f"its allow of {_joined(change.closed)} is gone")
        return f"{who}: the overwrite the room must carry was removed ({'; '.join(parts) or 'empty'})"
    parts = []
    if change.opened:
        parts.append(f"now gets {_joined(change.opened)}, which the room must not give")
    if change.closed:
        parts.append(f"lost {_joined(change.closed)}, which the room must give")
    return f"{who}: {'; '.join(parts)}"


def describe_all(
    changes: Iterable[Change], labels: Mapping[int, str] | None = None, bot_ids: Iterable[int] = ()
) -> list[str]:
    bots = frozenset(bot_ids)
    return [describe(c, labels, bots) for c in changes]


def role_change_warnings(before: int, after: int) -> list[str]:
    """What a change of a role's server-wide permissions means for group rooms.

    Role permissions matter inside a group room only where its overwrites do not deny them, and
    the rooms deny @everyone; so the one change that opens every room is Administrator, which
    bypasses overwrites altogether.
    """
    if after & ADMINISTRATOR and not before & ADMINISTRATOR:
        return [
            "a role gained Administrator: everyone holding it now bypasses every group room's "
            "permissions and can enter and read them"
        ]
    return []


@dataclass
class RestoreLimiter:
    """At most ``limit`` restorations per room within ``window``; then holdspace stops and says so."""

    limit: int = 3
    window: timedelta = timedelta(seconds=60)
    _history: dict[int, deque[datetime]] = field(default_factory=dict)

    def _prune(self, channel_id: int, now: datetime) -> deque[datetime]:
        history = self._history.setdefault(channel_id, deque())
        while history and now - history[0] >= self.window:
            history.popleft()
        return history

    def allow(self, channel_id: int, now: datetime) -> bool:
        """Record one attempt at ``now`` if the cap allows it; False when the cap is reached."""
        history = self._prune(channel_id, now)
        if len(history) >= self.limit:
            return False
        history.append(now)
        return True

    def exhausted(self, channel_id: int, now: datetime) -> bool:
        return len(self._prune(channel_id, now)) >= self.limit
