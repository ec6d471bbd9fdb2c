from __future__ import annotations

from bot.core.overwrites import (
    BOT_ALLOW,
    EVERYONE_DENY,
    FACILITATOR_ALLOW,
    MEMBER,
    MEMBER_ALLOW,
    ROLE,
    VIEW_CHANNEL,
    GroupRooms,
    Target,
    Want,
    desired_overwrites,
    diff,
    grants_access,
)

GUILD = 10
BOT = 1
FAC = 50
ROOMS = GroupRooms(100, 101)


def test_desired_closes_the_rooms_and_opens_them_to_consenting_members() -> None:
    desired = desired_overwrites(ROOMS, [7, 8], FAC, BOT, GUILD)
    assert set(desired) == {100, 101}
    want = desired[100]
    assert want[Target(ROLE, GUILD)] == Want(deny=EVERYONE_DENY)
    assert want[Target(MEMBER, BOT)] == Want(allow=BOT_ALLOW)
    assert want[Target(ROLE, FAC)] == Want(allow=FACILITATOR_ALLOW)
    assert want[Target(MEMBER, 7)] == Want(allow=MEMBER_ALLOW)
    assert want[Target(MEMBER, 8)] == Want(allow=MEMBER_ALLOW)
    assert desired[100] == desired[101]


def test_facilitators_consent_drops_the_role_overwrite_and_role_mode_uses_the_role() -> None:
    rooms = GroupRooms(100, 101, facilitators_consent=True, access_mode="role", role_id=77)
    want = desired_overwrites(rooms, [7], FAC, BOT, GUILD)[100]
    assert Target(ROLE, FAC) not in want
    assert Target(MEMBER, 7) not in want
    assert want[Target(ROLE, 77)] == Want(allow=MEMBER_ALLOW)


def test_diff_of_a_fresh_channel_adds_everything() -> None:
    desired = desired_overwrites(ROOMS, [7], FAC, BOT, GUILD)[100]
    changes = diff({}, desired)
    assert {c.target for c in changes} == set(desired)
    assert all(c.why == "missing" for c in changes)


def test_diff_of_a_right_channel_is_empty_and_extra_bits_are_kept() -> None:
    desired = desired_overwrites(ROOMS, [7], FAC, BOT, GUILD)[100]
    current = dict(desired)
    current[Target(ROLE, GUILD)] = Want(allow=0, deny=EVERYONE_DENY | (1 << 9))
    assert diff(current, desired) == []


def test_diff_removes_stray_allows_and_keeps_pure_denies() -> None:
    desired = desired_overwrites(ROOMS, [7], FAC, BOT, GUILD)[100]
    current = dict(desired)
    current[Target(MEMBER, 9)] = Want(allow=MEMBER_ALLOW)  # consent withdrawn while offline
    current[Target(MEMBER, 11)] = Want(deny=VIEW_CHANNEL)  # the guard's deny of a bot
    current[Target(MEMBER, 12)] = Want(allow=VIEW_CHANNEL, deny=1 << 9)
    current[Target(ROLE, 60)] = Want(allow=VIEW_CHANNEL)
    current[Target(MEMBER, 13)] = Want(allow=VIEW_CHANNEL)  # a bot: kept
    changes = {c.target: c for c in diff(current, desired, keep_member_ids=[13])}
    assert changes[Target(MEMBER, 9)].want is None
    assert Target(MEMBER, 11) not in changes
    assert changes[Target(MEMBER, 12)].want == Want(0, 1 << 9)
    assert changes[Target(ROLE, 60)].want is None
    assert Target(MEMBER, 13) not in changes


def test_diff_repairs_drift_by_merging() -> None:
    desired = desired_overwrites(ROOMS, [7], FAC, BOT, GUILD)[100]
    current = dict(desired)
    current[Target(ROLE, GUILD)] = Want(allow=VIEW_CHANNEL)  # someone opened the room
    current[Target(MEMBER, 7)] = Want(allow=VIEW_CHANNEL, deny=MEMBER_ALLOW & ~VIEW_CHANNEL)
    changes = {c.target: c for c in diff(current, desired)}
    assert changes[Target(ROLE, GUILD)].want == Want(0, EVERYONE_DENY)
    assert changes[Target(MEMBER, 7)].want == Want(MEMBER_ALLOW, 0)
    assert all(c.why == "drift" for c in changes.values())


def test_grants_access() -> None:
    assert grants_access(Want(allow=VIEW_CHANNEL))
    assert not grants_access(Want(deny=VIEW_CHANNEL))
    assert not grants_access(None)


def test_a_group_naming_its_facilitators_opens_to_them_and_not_to_the_role() -> None:
    rooms = GroupRooms(100, 101, facilitator_ids=(20, 21))
    want = desired_overwrites(rooms, [7], FAC, BOT, GUILD)[101]
    assert Target(ROLE, FAC) not in want
    assert want[Target(MEMBER, 20)] == want[Target(MEMBER, 21)] == Want(allow=FACILITATOR_ALLOW)
    current = desired_overwrites(ROOMS, [7], FAC, BOT, GUILD)[101]  # what the rooms carried before
    changes = {c.target: c for c in diff(current, want)}
    assert changes[Target(ROLE, FAC)].want is None  # the role's allow goes
    assert changes[Target(MEMBER, 20)].why == "missing"
    consenting = GroupRooms(100, 101, facilitator_ids=(20,), facilitators_consent=True)
    assert Target(MEMBER, 20) not in desired_overwrites(consenting, [], FAC, BOT, GUILD)[100]
