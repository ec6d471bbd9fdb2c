"""What permission overwrites a group's rooms should carry, and how to get there (pure, no I/O).

``desired_overwrites(...)`` is the single definition of "right" for a group's two rooms; the
reconcile on ready/resume, group creation and adoption, and the guard feature's permission_drift
check all use it:

* @everyone: deny VIEW_CHANNEL and CONNECT (the rooms are closed to the server).
* holdspace itself (member overwrite): allow what it needs to run the rooms (``BOT_ALLOW``).
* the facilitator role: allow ``FACILITATOR_ALLOW`` -- unless the group asks facilitators to
  consent like everyone else (``facilitators_consent``); then they get in through their own
  consent like a member. A group that names its own facilitators (``facilitator_ids``) gives each
  of them a member overwrite instead, and the role gets nothing: other facilitators stay out.
* access mode "member": one member overwrite per consenting member allowing ``MEMBER_ALLOW``
  (per-member overwrites do not show group membership to the whole server the way a role would).
* access mode "role": the group's role allowed ``MEMBER_ALLOW`` instead.

A :class:`Want` is a requirement, not an exact value: a current overwrite satisfies it when it
allows at least ``allow`` and denies at least ``deny``; other bits (say a facilitator also denying
STREAM to @everyone) are left alone.

``diff(current, desired, ...)`` turns the current overwrites of one channel into the changes to make:
unsatisfied wants are merged in, and overwrites holdspace does not want are handled as follows:

* member overwrites that allow something (stale consent, added by hand) lose their allow bits:
  deleted when they deny nothing, else reduced to their denies;
* member overwrites that only deny are left alone (the guard feature denies bots that way), as are
  member overwrites of ``keep_member_ids`` (bots: the guard's business);
* role overwrites that allow something lose their allow bits in the same way, except roles in
  ``keep_role_ids`` (e.g. bots' managed roles).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import discord

from bot.core.permissions import (
    CLOSED_PERMISSIONS,
    MEMBER_ROOM_PERMISSIONS,
    ROOM_PERMISSIONS,
    permissions_of,
)

ROLE = "role"
MEMBER = "member"


VIEW_CHANNEL = discord.Permissions(view_channel=True).value
CONNECT = discord.Permissions(connect=True).value

#: @everyone is denied these on both rooms.
EVERYONE_DENY = permissions_of(CLOSED_PERMISSIONS).value
#: A consenting member (or the group role) is allowed these.
MEMBER_ALLOW = permissions_of(MEMBER_ROOM_PERMISSIONS).value
#: The facilitator role is allowed these (holdspace can only grant what it holds itself).
FACILITATOR_ALLOW = MEMBER_ALLOW | discord.Permissions(manage_messages=True, move_members=True).value
#: holdspace's own member overwrite: view and run the rooms.
BOT_ALLOW = permissions_of(ROOM_PERMISSIONS).value


@dataclass(frozen=True)
class Target:
    """Who an overwrite is for: ``kind`` is "role" or "member"."""

    kind: str
    id: int


@dataclass(frozen=True)
class Want:
    """Overwrite bits: as a requirement (``desired``) or as an exact value (``current``)."""

    allow: int = 0
    deny: int = 0

    def satisfied_by(self, current: Want | None) -> bool:
        if current is None:
            return self.allow == 0 and self.deny == 0
        return current.allow & self.allow == self.allow and current.deny & self.deny == self.deny

    def merged_into(self, current: Want | None) -> Want:
        """``current`` changed as little as possible to satisfy this requirement."""
        base = current or Want()
        return Want(
            allow=(base.allow | self.allow) & ~self.deny,
            deny=(base.deny | self.deny) & ~self.allow,
        )


@dataclass(frozen=True)
class GroupRooms:
    """The facts about a group that decide its overwrites."""

    text_channel_id: int
    voice_channel_id: int
    access_mode: str = "member"
    role_id: int | None = None
    facilitators_consent: bool = False
    facilitator_ids: tuple[int, ...] = ()
    #: The group names its own facilitators (even if none of them holds the role right now, the role
    #: itself then gets nothing).
    names_facilitators: bool = False

    @property
    def channel_ids(self) -> tuple[int, int]:
        return (self.text_channel_id, self.voice_channel_id)


Overwrites = dict[Target, Want]


def desired_for_channel(
    rooms: GroupRooms,
    consented_member_ids: Iterable[int],
    facilitator_role_id: int | None,
    bot_id: int,
    everyone_role_id: int,
) -> Overwrites:
    """The overwrites one room of the group should carry (both rooms carry the same)."""
    want: Overwrites = {
        Target(ROLE, everyone_role_id): Want(deny=EVERYONE_DENY),
        Target(MEMBER, bot_id): Want(allow=BOT_ALLOW),
    }
    if rooms.facilitators_consent:
        pass  # facilitators get in through their own consent, like members
    elif rooms.facilitator_ids or rooms.names_facilitators:
        for facilitator_id in rooms.facilitator_ids:
            if facilitator_id != bot_id:
                want[Target(MEMBER, facilitator_id)] = Want(allow=FACILITATOR_ALLOW)
    elif facilitator_role_id is not None and facilitator_role_id != everyone_role_id:
        want[Target(ROLE, facilitator_role_id)] = Want(allow=FACILITATOR_ALLOW)
    if rooms.access_mode == "role":
        if rooms.role_id is not None:
            want[Target(ROLE, rooms.role_id)] = Want(allow=MEMBER_ALLOW)
    else:
        for member_id in consented_member_ids:
            if member_id != bot_id:
                want[Target(MEMBER, member_id)] = Want(allow=MEMBER_ALLOW)
    return want


def desired_overwrites(
    rooms: GroupRooms,
    consented_member_ids: Iterable[int],
    facilitator_role_id: int | None,
    bot_id: int,
    everyone_role_id: int,
) -> dict[int, Overwrites]:
    """Channel id -> the overwrites it should carry, for both rooms of the group."""
    members = list(consented_member_ids)
    return {
        channel_id: desired_for_channel(rooms, members, facilitator_role_id, bot_id, everyone_role_id)
        for channel_id in rooms.channel_ids
    }


@dataclass(frozen=True)
class Change:
    """One request to make: ``want`` None means delete the overwrite."""

    target: Target
    want: Want | None
    before: Want | None
    why: str


def diff(
    current: Mapping[Target, Want],
    desired: Mapping[Target, Want],
    *,
    keep_member_ids: Iterable[int] = (),
    keep_role_ids: Iterable[int] = (),
) -> list[Change]:
    """The changes that bring one channel's ``current`` overwrites to ``desired`` (see module doc)."""
    keep_members = set(keep_member_ids)
    keep_roles = set(keep_role_ids)
    changes: list[Change] = []
    for target, want in desired.items():
        have = current.get(target)
        if not want.satisfied_by(have):
            changes.append(Change(target, want.merged_into(have), have, "missing" if have is None else "drift"))
    for target, have in current.items():
        if target in desired or have.allow == 0:
            continue
        if target.kind == MEMBER and target.id in keep_members:
            continue
        if target.kind == ROLE and target.id in keep_roles:
            continue
        new = None if have.deny == 0 else Want(0, have.deny)
        changes.append(Change(target, new, have, "stray"))
    return changes


def grants_access(want: Want | None) -> bool:
    """Does this overwrite allow seeing or joining a room?"""
    return want is not None and bool(want.allow & (VIEW_CHANNEL | CONNECT))
