"""Permission drift: compare a room's overwrites with what it must carry, describe and restore."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.core.drift import (
    ADMINISTRATOR,
    Drift,
    RestoreLimiter,
    compare,
    describe,
    describe_all,
    guard_wants,
    permission_names,
    role_change_warnings,
)
from bot.core.guard import BOT_DENY
from bot.core.overwrites import (
    EVERYONE_DENY,
    FACILITATOR_ALLOW,
    MEMBER,
    MEMBER_ALLOW,
    ROLE,
    GroupRooms,
    Target,
    Want,
    desired_for_channel,
)

VIEW = 1 << 10
SEND = 1 << 11
CONNECT = 1 << 20
SPEAK = 1 << 21
STREAM = 1 << 9
GUILD = 1
FACILITATORS = 2
HOLDSPACE = 3
BOT = 50
ALLOWED_BOT = 51
MEMBER_ID = 60

EVERYONE = Target(ROLE, GUILD)
FAC = Target(ROLE, FACILITATORS)
LABELS = {GUILD: "@everyone", FACILITATORS: "the facilitator role", HOLDSPACE: "holdspace"}


def desired() -> dict[Target, Want]:
    rooms = GroupRooms(10, 11)
    want = desired_for_channel(rooms, [MEMBER_ID], FACILITATORS, HOLDSPACE, GUILD)
    want.update(guard_wants(blocked_bot_ids=[BOT], allowed_bot_ids=[ALLOWED_BOT], deny=BOT_DENY, allow=MEMBER_ALLOW))
    return want


def applied(current: dict[Target, Want], drifts: list[Drift]) -> dict[Target, Want]:
    out = dict(current)
    for d in drifts:
        if d.fix is None:
            out.pop(d.target, None)
        else:
            out[d.target] = d.fix
    return out


def test_equal_rooms_have_no_drift() -> None:
    assert compare(desired(), desired()) == []


def test_guard_wants() -> None:
    wants = guard_wants(blocked_bot_ids=[BOT], allowed_bot_ids=[ALLOWED_BOT], deny=BOT_DENY, allow=MEMBER_ALLOW)
    assert wants == {Target(MEMBER, BOT): Want(deny=BOT_DENY), Target(MEMBER, ALLOWED_BOT): Want(allow=MEMBER_ALLOW)}


def test_everyone_allowed_is_drift_and_restored() -> None:
    current = desired()
    current[EVERYONE] = Want(allow=VIEW | CONNECT)
    (drift,) = compare(current, desired())
    assert drift.opens and drift.what == "drift"
    assert describe(drift, LABELS) == "@everyone: now gets View Channel, Connect, which the room must not give"
    assert drift.fix == Want(0, EVERYONE_DENY)
    # After the restoration lands, nothing is left to do: holdspace's own CHANNEL_UPDATE ends there.
    assert compare(applied(current, [drift]), desired()) == []


def test_allow_and_deny_of_the_same_bit_is_drift() -> None:
    current = desired()
    current[EVERYONE] = Want(allow=VIEW, deny=EVERYONE_DENY)  # allow beats deny within one overwrite
    (drift,) = compare(current, desired())
    assert drift.opened == VIEW and drift.fix == Want(0, EVERYONE_DENY)
    current[Target(MEMBER, BOT)] = Want(allow=CONNECT, deny=BOT_DENY)
    drifts = compare(current, desired())
    assert {d.target for d in drifts} == {EVERYONE, Target(MEMBER, BOT)}
    assert compare(applied(current, drifts), desired()) == []


def test_removed_overwrite_is_put_back() -> None:
    current = desired()
    del current[EVERYONE]
    (drift,) = compare(current, desired())
    assert drift.what == "missing" and drift.opened == EVERYONE_DENY and drift.fix == Want(0, EVERYONE_DENY)
    assert describe(drift, LABELS).startswith("@everyone: the overwrite the room must carry was removed")


def test_added_role_allow_is_stripped_and_a_deny_only_overwrite_kept() -> None:
    current = desired()
    current[Target(ROLE, 77)] = Want(allow=VIEW)
    current[Target(ROLE, 78)] = Want(deny=SEND)
    current[Target(ROLE, 79)] = Want(allow=VIEW, deny=STREAM)
    drifts = {d.target.id: d for d in compare(current, desired())}
    assert set(drifts) == {77, 79}
    assert describe(drifts[77], LABELS) == "a role: an overwrite was added that allows View Channel"
    assert drifts[77].fix is None
    assert drifts[79].fix == Want(0, STREAM)


def test_stray_member_allow_is_drift_but_kept_for_allowed_bots() -> None:
    current = desired()
    current[Target(MEMBER, 99)] = Want(allow=VIEW | CONNECT)
    (drift,) = compare(current, desired())
    assert describe_all([drift], LABELS) == ["a member: an overwrite was added that allows View Channel, Connect"]
    assert compare(current, desired(), keep_member_ids=[99]) == []


def test_lost_facilitator_allow_is_restored_and_extra_denies_kept() -> None:
    current = desired()
    current[EVERYONE] = Want(deny=EVERYONE_DENY | STREAM)  # closes further: fine
    assert compare(current, desired()) == []
    current[FAC] = Want(allow=FACILITATOR_ALLOW & ~(CONNECT | SPEAK))
    (drift,) = compare(current, desired())
    assert drift.closed == CONNECT | SPEAK and not drift.opens
    assert describe(drift, LABELS) == "the facilitator role: lost Connect, Speak, which the room must give"


def test_bot_deny_removed_is_described_as_a_bot() -> None:
    current = desired()
    del current[Target(MEMBER, BOT)]
    (drift,) = compare(current, desired())
    assert describe(drift, LABELS, bot_ids=[BOT]).startswith("a bot: the overwrite the room must carry was removed")
    assert drift.fix == Want(deny=BOT_DENY)


def test_permission_names() -> None:
    assert permission_names(VIEW | CONNECT | (1 << 28)) == ["View Channel", "Connect", "Manage Roles"]
    assert permission_names(1 << 47) == ["permission bit 47"]
    assert permission_names(0) == []


def test_role_gaining_administrator_warns() -> None:
    assert role_change_warnings(0, ADMINISTRATOR | VIEW)
    assert role_change_warnings(ADMINISTRATOR, ADMINISTRATOR) == []
    assert role_change_warnings(0, VIEW | CONNECT) == []  # the rooms deny @everyone; roles do not open them


def test_restore_limiter_caps_attempts_per_room_and_window() -> None:
    limiter = RestoreLimiter(limit=3, window=timedelta(seconds=60))
    t0 = datetime(2026, 3, 2, 12, tzinfo=UTC)
    assert all(limiter.allow(10, t0 + timedelta(seconds=i)) for i in range(3))
    assert not limiter.allow(10, t0 + timedelta(seconds=5))
    assert limiter.exhausted(10, t0 + timedelta(seconds=5))
    assert limiter.allow(11, t0)  # another room is not affected
    assert limiter.allow(10, t0 + timedelta(seconds=61))


bits = st.integers(0, (1 << 24) - 1)
targets = st.builds(Target, st.sampled_from([ROLE, MEMBER]), st.integers(1, 6))
overwrites = st.dictionaries(targets, st.builds(Want, bits, bits), max_size=6)
# What a room must carry never allows and denies the same bit.
requirements = st.dictionaries(targets, st.tuples(bits, bits).map(lambda p: Want(p[0], p[1] & ~p[0])), max_size=6)


@given(overwrites, requirements)
def test_applying_the_fixes_always_converges(current: dict[Target, Want], want: dict[Target, Want]) -> None:
    drifts = compare(current, want)
    assert compare(applied(current, drifts), want) == []
