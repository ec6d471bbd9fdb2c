"""Permission drift: compare a room's overwrites with what it must carry, plan and describe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.core.drift import (
    ADMINISTRATOR,
    Overwrite,
    RestoreLimiter,
    compare,
    describe,
    describe_all,
    permission_names,
    plan,
    role_change_warnings,
    with_bot_denies,
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
MEMBER = 60


def desired() -> dict[int, Overwrite]:
    return {
        GUILD: Overwrite(GUILD, 0, 0, VIEW | CONNECT),
        FACILITATORS: Overwrite(FACILITATORS, 0, VIEW | CONNECT | SPEAK, 0),
        HOLDSPACE: Overwrite(HOLDSPACE, 1, VIEW | CONNECT, 0),
    }


LABELS = {GUILD: "@everyone", FACILITATORS: "the facilitator role", HOLDSPACE: "holdspace"}


def test_equal_rooms_have_no_drift_and_no_plan() -> None:
    assert compare(desired(), desired()) == []
    assert plan(desired(), desired()) == []


def test_everyone_allowed_is_drift_restored_exactly() -> None:
    actual = desired()
    actual[GUILD] = Overwrite(GUILD, 0, VIEW | CONNECT, 0)
    changes = compare(actual, desired())
    assert len(changes) == 1 and changes[0].opens
    assert describe(changes[0], LABELS) == ("@everyone: now gets View Channel, Connect, which the room must not give")
    fixes = plan(actual, desired())
    assert [(f.target_id, f.allow, f.deny, f.delete) for f in fixes] == [(GUILD, 0, VIEW | CONNECT, False)]
    # After the restoration lands, nothing is left to do: holdspace's own CHANNEL_UPDATE ends there.
    restored = dict(actual)
    restored[GUILD] = Overwrite(GUILD, 0, fixes[0].allow, fixes[0].deny)
    assert compare(restored, desired()) == [] and plan(restored, desired()) == []


def test_removed_overwrite_is_put_back() -> None:
    actual = desired()
    del actual[GUILD]
    (change,) = compare(actual, desired())
    assert change.what == "removed" and change.opened == VIEW | CONNECT
    assert "the overwrite the room must carry was removed" in describe(change, LABELS)
    (fix,) = plan(actual, desired())
    assert (fix.target_id, fix.type, fix.allow, fix.deny) == (GUILD, 0, 0, VIEW | CONNECT)


def test_added_role_allow_is_removed_and_a_deny_only_overwrite_kept() -> None:
    actual = desired()
    actual[77] = Overwrite(77, 0, VIEW, 0)
    actual[78] = Overwrite(78, 0, 0, SEND)
    actual[79] = Overwrite(79, 0, VIEW, STREAM)
    changes = compare(actual, desired())
    assert [c.target_id for c in changes] == [77, 79]
    assert describe(changes[0], LABELS) == "a role: an overwrite was added that allows View Channel"
    fixes = {f.target_id: f for f in plan(actual, desired())}
    assert fixes[77].delete
    assert not fixes[79].delete and (fixes[79].allow, fixes[79].deny) == (0, STREAM)
    assert 78 not in fixes


def test_extra_denies_are_kept_but_a_lost_allow_is_restored() -> None:
    actual = desired()
    actual[GUILD] = Overwrite(GUILD, 0, 0, VIEW | CONNECT | STREAM)  # closes further: fine
    assert compare(actual, desired()) == []
    actual[FACILITATORS] = Overwrite(FACILITATORS, 0, VIEW, CONNECT)
    (change,) = compare(actual, desired())
    assert change.closed == CONNECT | SPEAK and not change.opens
    assert describe(change, LABELS) == ("the facilitator role: lost Connect, Speak, which the room must give")
    (fix,) = plan(actual, desired())
    assert (fix.allow, fix.deny) == (VIEW | CONNECT | SPEAK, 0)


def test_bot_denies_are_added_and_described_without_names() -> None:
    want = with_bot_denies(desired(), [BOT], VIEW | CONNECT)
    assert want[BOT] == Overwrite(BOT, 1, 0, VIEW | CONNECT)
    actual = desired()
    (change,) = compare(actual, want)
    assert describe(change, LABELS, bot_ids=[BOT]).startswith("a bot: ")
    actual[BOT] = Overwrite(BOT, 1, VIEW, 0)
    (change,) = compare(actual, want)
    assert change.opened == VIEW | CONNECT
    member_change = compare({MEMBER: Overwrite(MEMBER, 1, VIEW, 0)}, {})
    assert describe_all(member_change, LABELS) == ["a member: an overwrite was added that allows View Channel"]


def test_with_bot_denies_merges_into_an_existing_overwrite() -> None:
    base = {BOT: Overwrite(BOT, 1, VIEW | SEND, STREAM)}
    merged = with_bot_denies(base, [BOT], VIEW | CONNECT)
    assert merged[BOT] == Overwrite(BOT, 1, SEND, STREAM | VIEW | CONNECT)


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


overwrites = st.dictionaries(
    st.integers(1, 6),
    st.tuples(st.integers(0, 1), st.integers(0, (1 << 24) - 1), st.integers(0, (1 << 24) - 1)),
    max_size=5,
)


def _build(raw: dict[int, tuple[int, int, int]]) -> dict[int, Overwrite]:
    return {t: Overwrite(t, kind, allow, deny & ~allow) for t, (kind, allow, deny) in raw.items()}


@given(overwrites, overwrites)
def test_applying_the_plan_always_converges(raw_actual: dict, raw_desired: dict) -> None:  # type: ignore[type-arg]
    actual = _build(raw_actual)
    want = _build(raw_desired)
    for fix in plan(actual, want):
        if fix.delete:
            actual.pop(fix.target_id, None)
        else:
            actual[fix.target_id] = Overwrite(fix.target_id, fix.type, fix.allow, fix.deny)
    assert compare(actual, want) == []
    assert plan(actual, want) == []
