"""Permission drift of group rooms: compare with what they must carry, describe it, restore it.

Pure code. What a room must carry is ``bot.core.overwrites.desired_for_channel`` (the groups and
consent feature's single definition, also used by its reconcile) plus the guard's share
(:func:`guard_wants`): a member-level deny of View Channel and Connect for every bot that is not
allowed, a member-level allow for every allowed bot. :func:`compare` uses ``overwrites.diff`` so both
features agree on "right"; it adds one rule: a target that must be denied a bit must not allow that
bit in the same overwrite either (within one overwrite an allow beats a deny).

Restoring writes each :class:`Drift`'s ``fix``; once that landed, ``compare`` finds nothing, so the
CHANNEL_UPDATE that holdspace's own edit fires ends there (no loop). :class:`RestoreLimiter` caps the
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

from bot.core.overwrites import MEMBER, ROLE, Overwrites, Target, Want, diff
from bot.core.overwrites import Change as OvChange
from bot.i18n import N_, _

__all__ = [
    "ADMINISTRATOR",
    "Drift",
    "RestoreLimiter",
    "compare",
    "describe",
    "describe_all",
    "guard_wants",
    "permission_names",
    "role_change_warnings",
]

ADMINISTRATOR = 1 << 3

# Discord's permission bits with the names its client shows.
_NAMES: dict[int, str] = {
    0: N_("Create Invite"),
    1: N_("Kick Members"),
    2: N_("Ban Members"),
    3: N_("Administrator"),
    4: N_("Manage Channels"),
    5: N_("Manage Server"),
    6: N_("Add Reactions"),
    7: N_("View Audit Log"),
    8: N_("Priority Speaker"),
    9: N_("Video"),
    10: N_("View Channel"),
    11: N_("Send Messages"),
    12: N_("Send Text-to-Speech Messages"),
    13: N_("Manage Messages"),
    14: N_("Embed Links"),
    15: N_("Attach Files"),
    16: N_("Read Message History"),
    17: N_("Mention Everyone"),
    18: N_("Use External Emoji"),
    19: N_("View Server Insights"),
    20: N_("Connect"),
    21: N_("Speak"),
    22: N_("Mute Members"),
    23: N_("Deafen Members"),
    24: N_("Move Members"),
    25: N_("Use Voice Activity"),
    26: N_("Change Nickname"),
    27: N_("Manage Nicknames"),
    28: N_("Manage Roles"),
    29: N_("Manage Webhooks"),
    30: N_("Manage Expressions"),
    31: N_("Use Application Commands"),
    32: N_("Request to Speak"),
    33: N_("Manage Events"),
    34: N_("Manage Threads"),
    35: N_("Create Public Threads"),
    36: N_("Create Private Threads"),
    37: N_("Use External Stickers"),
    38: N_("Send Messages in Threads"),
    39: N_("Use Activities"),
    40: N_("Timeout Members"),
    41: N_("View Creator Monetization Analytics"),
    42: N_("Use Soundboard"),
    43: N_("Create Expressions"),
    44: N_("Create Events"),
    45: N_("Use External Sounds"),
    46: N_("Send Voice Messages"),
    49: N_("Create Polls"),
    50: N_("Use External Apps"),
    51: N_("Pin Messages"),
}


def permission_names(bits: int) -> list[str]:
    """The names of the permissions set in ``bits``, lowest bit first, in the current language."""
    names: list[str] = []
    position = 0
    while bits >> position:
        if bits >> position & 1:
            known = _NAMES.get(position)
            names.append(_(known) if known is not None else _("permission bit {bit}").format(bit=position))
        position += 1
    return names


def _joined(bits: int) -> str:
    return ", ".join(permission_names(bits))


def guard_wants(*, blocked_bot_ids: Iterable[int], allowed_bot_ids: Iterable[int], deny: int, allow: int) -> Overwrites:
    """The guard's share of a group room's overwrites.

    Every bot that is not allowed carries a member-level deny of ``deny`` (a member deny beats any
    role allow); every allowed bot that is in the server carries a member-level allow of ``allow``.
    """
    wants: Overwrites = {Target(MEMBER, b): Want(allow=allow) for b in allowed_bot_ids}
    for bot_id in blocked_bot_ids:
        wants[Target(MEMBER, bot_id)] = Want(deny=deny)
    return wants


@dataclass(frozen=True)
class Drift:
    """One target whose overwrite differs from what the room must carry, and how to restore it.

    ``opened``: bits that now let someone in or do more than they should (a missing deny, an allow
    the room must not give). ``closed``: allow bits the room must give that are missing. ``fix`` is
    the overwrite to write, None to delete it.
    """

    target: Target
    what: Literal["missing", "drift", "stray"]
    before: Want | None
    fix: Want | None
    opened: int
    closed: int

    @property
    def opens(self) -> bool:
        return bool(self.opened)


def compare(
    current: Mapping[Target, Want],
    desired: Mapping[Target, Want],
    *,
    keep_member_ids: Iterable[int] = (),
    keep_role_ids: Iterable[int] = (),
) -> list[Drift]:
    """Every difference that matters between a room's overwrites and what it must carry.

    Built on :func:`bot.core.overwrites.diff` (the one definition of "right" that consent's
    reconcile uses too), plus one rule: a target must not allow any bit it must deny, since an
    allow beats a deny within one overwrite.
    """
    out: list[Drift] = []
    planned = {
        c.target: c for c in diff(current, desired, keep_member_ids=keep_member_ids, keep_role_ids=keep_role_ids)
    }
    for target, want in desired.items():
        have = current.get(target)
        if have is None or target in planned:
            continue
        if have.allow & want.deny:
            planned[target] = OvChange(target, Want(have.allow & ~want.deny, have.deny | want.deny), have, "drift")
    for target in sorted(planned, key=lambda t: (t.kind, t.id)):
        change = planned[target]
        before = change.before
        if change.why == "stray":
            assert before is not None
            out.append(Drift(target, "stray", before, change.want, before.allow, 0))
            continue
        want = desired[target]
        have = before or Want()
        opened = (want.deny & ~have.deny) | (have.allow & want.deny)
        closed = want.allow & ~have.allow
        what: Literal["missing", "drift"] = "missing" if before is None else "drift"
        out.append(Drift(target, what, before, change.want, opened, closed))
    return out


def _label(target: Target, labels: Mapping[int, str], bot_ids: frozenset[int]) -> str:
    if target.id in labels:
        return labels[target.id]
    if target.kind == ROLE:
        return _("a role")
    return _("a bot") if target.id in bot_ids else _("a member")


def describe(drift: Drift, labels: Mapping[int, str] | None = None, bot_ids: Iterable[int] = ()) -> str:
    """One line saying what changed, without any name."""
    who = _label(drift.target, labels or {}, frozenset(bot_ids))
    if drift.what == "stray":
        return _("{who}: an overwrite was added that allows {permissions}").format(
            who=who, permissions=_joined(drift.opened)
        )
    parts = []
    if drift.opened:
        if drift.what == "missing":
            parts.append(_("its deny of {permissions} is gone").format(permissions=_joined(drift.opened)))
        else:
            parts.append(
                _("now gets {permissions}, which the room must not give").format(permissions=_joined(drift.opened))
            )
    if drift.closed:
        if drift.what == "missing":
            parts.append(_("its allow of {permissions} is gone").format(permissions=_joined(drift.closed)))
        else:
            parts.append(_("lost {permissions}, which the room must give").format(permissions=_joined(drift.closed)))
    if drift.what == "missing":
        return _("{who}: the overwrite the room must carry was removed ({changes})").format(
            who=who, changes="; ".join(parts)
        )
    return _("{who}: {changes}").format(who=who, changes="; ".join(parts))


def describe_all(
    drifts: Iterable[Drift], labels: Mapping[int, str] | None = None, bot_ids: Iterable[int] = ()
) -> list[str]:
    bots = frozenset(bot_ids)
    return [describe(d, labels, bots) for d in drifts]


def role_change_warnings(before: int, after: int) -> list[str]:
    """What a change of a role's server-wide permissions means for group rooms.

    Role permissions matter inside a group room only where its overwrites do not deny them, and
    the rooms deny @everyone; so the one change that opens every room is Administrator, which
    bypasses overwrites altogether.
    """
    if after & ADMINISTRATOR and not before & ADMINISTRATOR:
        return [
            _(
                "a role gained Administrator: everyone holding it now bypasses every group room's "
                "permissions and can enter and read them"
            )
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
