"""Keeping recording bots out: who is a non-allowed bot, whose name shows a recording marker, what to do.

Pure decisions over plain data. The guard cog feeds them from ``bot.state`` and the gateway event
alone, so no database or network read stands between an event and the disconnect it leads to.

Names are only ever matched in memory: nothing here returns, stores or logs a name; a verdict says
"recording marker matched" and nothing more.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from bot.i18n import N_

__all__ = [
    "ACTIONS",
    "BOT_DENY",
    "CASE_BOT_ADDED",
    "CASE_BOT_BLOCKED",
    "CASE_MARKER",
    "CASE_PERMISSION_DRIFT",
    "REASON_MARKER",
    "REASON_NOT_ALLOWED",
    "Action",
    "MarkerMatcher",
    "MemberFacts",
    "Verdict",
    "decide",
    "is_blocked_bot",
    "parse_action",
]

Action = Literal["disconnect", "kick", "ban"]
ACTIONS: tuple[Action, ...] = ("disconnect", "kick", "ban")

# Discord permission bits the guard places as a member-level deny on every group room.
VIEW_CHANNEL = 1 << 10
CONNECT = 1 << 20
BOT_DENY = VIEW_CHANNEL | CONNECT

CASE_BOT_ADDED = "bot_added"
CASE_BOT_BLOCKED = "recording_bot_blocked"
CASE_MARKER = "recording_marker"
CASE_PERMISSION_DRIFT = "permission_drift"

REASON_NOT_ALLOWED = N_("bot not on the allowlist")
REASON_MARKER = N_("recording marker matched")


def parse_action(value: str) -> Action:
    """``value`` as a guard action; ValueError names the choices."""
    text = value.strip().lower()
    for action in ACTIONS:
        if text == action:
            return action
    raise ValueError("the action must be one of " + ", ".join(ACTIONS))


class MarkerMatcher:
    """Recording-marker patterns, compiled once, matched case-insensitively."""

    __slots__ = ("_patterns",)

    def __init__(self, patterns: Iterable[str]) -> None:
        compiled: list[re.Pattern[str]] = []
        for pattern in patterns:
            try:
                compiled.append(re.compile(pattern, re.IGNORECASE))
            except re.error as exc:
                raise ValueError(
                    f"recording marker pattern {pattern!r} is not a valid regular expression: {exc}"
                ) from None
        self._patterns = tuple(compiled)

    def __len__(self) -> int:
        return len(self._patterns)

    def __repr__(self) -> str:
        return f"<MarkerMatcher patterns={len(self._patterns)}>"

    def matches(self, *names: str | None) -> bool:
        """True when any of ``names`` (None and empty ones skipped) shows a marker."""
        for name in names:
            if not name:
                continue
            for pattern in self._patterns:
                if pattern.search(name):
                    return True
        return False


def is_blocked_bot(member_id: int, is_bot: bool, *, own_id: int, allowed_bot_ids: Iterable[int]) -> bool:
    """A bot account that is neither holdspace itself nor on the server's allowlist."""
    if not is_bot or member_id == own_id:
        return False
    return member_id not in set(allowed_bot_ids)


@dataclass(frozen=True)
class MemberFacts:
    """What the guard knows about one member at the moment of an event (held in memory only)."""

    id: int
    is_bot: bool
    nick: str | None = None
    display_name: str | None = None

    def __repr__(self) -> str:  # never show names, not even in a traceback
        return f"<MemberFacts id={self.id} bot={self.is_bot}>"


@dataclass(frozen=True)
class Verdict:
    """What to do about a member in a group voice room.

    ``disconnect`` is always done first; ``action`` is the server's action for a non-allowed bot
    ("disconnect" means nothing beyond it). ``reason`` is fit for storage: it never holds a name.
    """

    case_kind: str
    reason: str
    action: Action
    is_bot: bool

    @property
    def removes(self) -> bool:
        return self.action in ("kick", "ban")


def decide(
    member: MemberFacts,
    *,
    own_id: int,
    allowed_bot_ids: Iterable[int],
    bot_action: str,
    markers: MarkerMatcher,
) -> Verdict | None:
    """The guard's verdict on ``member`` being in a group voice room, or None when it may stay.

    - holdspace itself always stays;
    - a bot not on the allowlist is disconnected, then the server's action is taken;
    - any member whose nickname or display name shows a recording marker is disconnected; a bot
      that is not allowed also gets the server's action, an allowed bot and a person do not (a
      person is never kicked or banned automatically; moderators decide from the case).
    """
    if member.id == own_id:
        return None
    action = parse_action(bot_action) if bot_action else "disconnect"
    blocked = is_blocked_bot(member.id, member.is_bot, own_id=own_id, allowed_bot_ids=allowed_bot_ids)
    if blocked:
        return Verdict(CASE_BOT_BLOCKED, REASON_NOT_ALLOWED, action, True)
    if markers.matches(member.nick, member.display_name):
        if member.is_bot:
            return Verdict(CASE_BOT_BLOCKED, REASON_MARKER, "disconnect", True)
        return Verdict(CASE_MARKER, REASON_MARKER, "disconnect", False)
    return None


def bots_needing_deny(bots: Iterable[int], *, own_id: int, allowed_bot_ids: Iterable[int]) -> list[int]:
    """The bot ids (from ``bots``, all known to be bots) that must carry the member-level deny."""
    allowed = set(allowed_bot_ids)
    return sorted({b for b in bots if b != own_id and b not in allowed})
