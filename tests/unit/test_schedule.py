from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core import overwrites as ow
from bot.core.schedule import (
    LocalResolution,
    MissedStart,
    ScheduleError,
    WeeklySchedule,
    find_overlap,
    local_to_utc,
    missed_start,
    next_occurrence,
    occurrences,
    parse_local_time,
    parse_weekday,
    resolve_zone,
    session_desired_overwrites,
)

BERLIN = "Europe/Berlin"
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
EXACT, GAP, OVERLAP = LocalResolution.EXACT, LocalResolution.GAP_SHIFTED, LocalResolution.OVERLAP_FIRST
P = pytest.param


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def weekly(weekday: int, hhmm: str, zone: str = BERLIN, minutes: int = 90) -> WeeklySchedule:
    return WeeklySchedule(weekday, parse_local_time(hhmm), zone, timedelta(minutes=minutes))


# --- next occurrence: table ----------------------------------------------------------------------

# Europe/Berlin 2026: clocks go forward on Sunday 29 March (02:00 -> 03:00) and back on Sunday
# 25 October (03:00 -> 02:00).
NEXT_CASES = [
    # (weekday, local time, after (UTC), expected start (UTC), resolution)
    P(THU, "18:00", utc(2026, 3, 20), utc(2026, 3, 26, 17), EXACT, id="winter-CET"),
    P(THU, "18:00", utc(2026, 3, 26, 17), utc(2026, 4, 2, 16), EXACT, id="after-spring"),
    P(SAT, "18:00", utc(2026, 3, 27), utc(2026, 3, 28, 17), EXACT, id="day-before-spring"),
    P(SUN, "18:00", utc(2026, 3, 28), utc(2026, 3, 29, 16), EXACT, id="spring-day-evening"),
    P(SUN, "01:30", utc(2026, 3, 28), utc(2026, 3, 29, 0, 30), EXACT, id="spring-before-gap"),
    P(SUN, "02:00", utc(2026, 3, 28), utc(2026, 3, 29, 1), GAP, id="gap-start"),
    P(SUN, "02:30", utc(2026, 3, 28), utc(2026, 3, 29, 1, 30), GAP, id="gap"),
    P(SUN, "03:00", utc(2026, 3, 28), utc(2026, 3, 29, 1), EXACT, id="gap-end"),
    P(SUN, "02:30", utc(2026, 3, 30), utc(2026, 4, 5, 0, 30), EXACT, id="week-after-gap"),
    P(THU, "18:00", utc(2026, 10, 20), utc(2026, 10, 22, 16), EXACT, id="summer-CEST"),
    P(THU, "18:00", utc(2026, 10, 22, 16), utc(2026, 10, 29, 17), EXACT, id="after-fall"),
    P(SUN, "02:30", utc(2026, 10, 24), utc(2026, 10, 25, 0, 30), OVERLAP, id="overlap"),
    P(SUN, "02:00", utc(2026, 10, 24), utc(2026, 10, 25, 0), OVERLAP, id="overlap-start"),
    P(SUN, "03:00", utc(2026, 10, 24), utc(2026, 10, 25, 2), EXACT, id="overlap-end"),
    P(SUN, "02:30", utc(2026, 10, 26), utc(2026, 11, 1, 1, 30), EXACT, id="week-after-overlap"),
    # strictly after: an occurrence starting exactly at `after` is not returned
    P(THU, "18:00", utc(2026, 3, 26, 16, 59), utc(2026, 3, 26, 17), EXACT, id="just-before"),
    # local date differs from the UTC date
    P(MON, "00:30", utc(2026, 3, 1, 23, 0), utc(2026, 3, 1, 23, 30), EXACT, id="local-midnight"),
]


@pytest.mark.parametrize(("weekday", "hhmm", "after", "expected", "resolution"), NEXT_CASES)
def test_next_occurrence_berlin(
    weekday: int, hhmm: str, after: datetime, expected: datetime, resolution: LocalResolution
) -> None:
    occurrence = next_occurrence(weekly(weekday, hhmm), after)
    assert occurrence.start == expected
    assert occurrence.resolution is resolution
    assert occurrence.end == expected + timedelta(minutes=90)


def test_weekly_18_berlin_stays_at_18_local_all_year() -> None:
    schedule = weekly(THU, "18:00")
    zone = ZoneInfo(BERLIN)
    found = occurrences(schedule, utc(2026, 1, 1), utc(2027, 1, 1))
    assert len(found) == 53
    for occurrence in found:
        local = occurrence.start.astimezone(zone)
        assert (local.weekday(), local.hour, local.minute) == (THU, 18, 0)
    utc_hours = {o.start.hour for o in found}
    assert utc_hours == {16, 17}  # CEST and CET


def test_new_york_and_sydney() -> None:
    # New York goes forward on 8 March 2026 at 02:00; Sydney goes back on 5 April 2026 at 03:00.
    ny = weekly(SUN, "02:30", "America/New_York")
    assert next_occurrence(ny, utc(2026, 3, 7)).start == utc(2026, 3, 8, 7, 30)  # 03:30 EDT
    sydney = weekly(SUN, "02:30", "Australia/Sydney")
    occurrence = next_occurrence(sydney, utc(2026, 4, 3))
    assert occurrence.resolution is LocalResolution.OVERLAP_FIRST
    assert occurrence.start == utc(2026, 4, 4, 15, 30)  # 02:30 AEDT (+11), the first one


def test_half_hour_dst_zone() -> None:
    # Lord Howe Island moves its clocks by 30 minutes (02:00 -> 02:30 on 4 October 2026).
    schedule = weekly(SUN, "02:15", "Australia/Lord_Howe")
    occurrence = next_occurrence(schedule, utc(2026, 10, 2))
    assert occurrence.resolution is LocalResolution.GAP_SHIFTED
    assert occurrence.start.astimezone(ZoneInfo("Australia/Lord_Howe")).strftime("%H:%M") == "02:45"


def test_naive_after_is_refused() -> None:
    with pytest.raises(ValueError):
        next_occurrence(weekly(MON, "10:00"), datetime(2026, 1, 1))


def test_local_to_utc_direct() -> None:
    zone = ZoneInfo(BERLIN)
    assert local_to_utc(date(2026, 3, 29), time(2, 30), zone) == (
        utc(2026, 3, 29, 1, 30),
        LocalResolution.GAP_SHIFTED,
    )
    assert local_to_utc(date(2026, 10, 25), time(2, 30), zone) == (
        utc(2026, 10, 25, 0, 30),
        LocalResolution.OVERLAP_FIRST,
    )


# --- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["Mars/Olympus", "", "   ", "CET-ish", "../etc/passwd", "/etc/localtime", "Europe/../UTC", "a\x00b"],
)
def test_unknown_zones_are_refused(name: str) -> None:
    with pytest.raises(ScheduleError):
        resolve_zone(name)


def test_known_zone() -> None:
    assert resolve_zone(" Europe/Berlin ").key == BERLIN


@pytest.mark.parametrize("text", ["24:00", "18:60", "18", "6pm", "", "18:0", "-1:00", "1800", "18:00:00"])
def test_bad_local_times(text: str) -> None:
    with pytest.raises(ScheduleError):
        parse_local_time(text)


@pytest.mark.parametrize(("text", "expected"), [("18:00", time(18)), ("9:05", time(9, 5)), (" 00:00 ", time(0))])
def test_good_local_times(text: str, expected: time) -> None:
    assert parse_local_time(text) == expected


def test_weekdays() -> None:
    assert parse_weekday("Tuesday") == TUE
    assert parse_weekday("sun") == SUN
    with pytest.raises(ScheduleError):
        parse_weekday("Funday")


@pytest.mark.parametrize("minutes", [0, 5, 9, 12 * 60 + 1, 7 * 24 * 60])
def test_bad_durations(minutes: int) -> None:
    with pytest.raises(ScheduleError):
        weekly(MON, "10:00", minutes=minutes)


def test_bad_weekday_and_zone_in_schedule() -> None:
    with pytest.raises(ScheduleError):
        WeeklySchedule(7, time(10), BERLIN, timedelta(hours=1))
    with pytest.raises(ScheduleError):
        WeeklySchedule(0, time(10), "Nowhere/Land", timedelta(hours=1))


# --- overlaps --------------------------------------------------------------------------------------

NOW = utc(2026, 3, 2, 12)


@pytest.mark.parametrize(
    ("new", "other", "overlaps"),
    [
        (weekly(MON, "18:00"), weekly(MON, "18:00"), True),
        (weekly(MON, "18:00"), weekly(MON, "19:00"), True),  # 18:00-19:30 vs 19:00
        (weekly(MON, "18:00"), weekly(MON, "19:30"), False),  # touching is fine
        (weekly(MON, "18:00"), weekly(TUE, "18:00"), False),
        (weekly(SUN, "23:00"), weekly(MON, "00:00"), True),  # across midnight
        (weekly(SUN, "23:00", minutes=60), weekly(MON, "00:00"), False),
        # same instant in two zones: 18:00 Berlin is 12:00 New York except in the weeks when only one
        # of them has switched to summer time
        (weekly(MON, "18:00", minutes=30), weekly(MON, "12:00", "America/New_York", 30), True),
        (weekly(MON, "18:00", minutes=30), weekly(MON, "13:00", "America/New_York", 30), True),
        (weekly(MON, "18:00", minutes=30), weekly(MON, "14:00", "America/New_York", 30), False),
    ],
)
def test_overlap_table(new: WeeklySchedule, other: WeeklySchedule, overlaps: bool) -> None:
    found = find_overlap(new, [other], now=NOW)
    assert (found is not None) is overlaps
    if found is not None:
        assert found[0] == other


def test_overlap_only_across_a_dst_difference() -> None:
    # 17:00 UTC on Mondays vs 18:00 Berlin: the same in winter, an hour apart in summer. Overlaps.
    berlin = weekly(MON, "18:00", minutes=30)
    fixed = weekly(MON, "17:00", "UTC", minutes=30)
    assert find_overlap(berlin, [fixed], now=utc(2026, 4, 1)) is not None
    # 16:00 UTC meets 18:00 Berlin only in summer; still an overlap seen from winter.
    assert find_overlap(berlin, [weekly(MON, "16:00", "UTC", 30)], now=utc(2026, 1, 5)) is not None


def test_no_existing_schedules() -> None:
    assert find_overlap(weekly(MON, "18:00"), [], now=NOW) is None


# --- missed starts ---------------------------------------------------------------------------------

START = utc(2026, 3, 2, 17)
HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("now", "decision"),
    [
        (START - timedelta(seconds=1), MissedStart.NOT_YET),
        (START, MissedStart.ON_TIME),
        (START + timedelta(seconds=60), MissedStart.ON_TIME),
        (START + timedelta(seconds=61), MissedStart.LATE),
        (START + timedelta(minutes=59, seconds=59), MissedStart.LATE),
        (START + HOUR, MissedStart.SKIP),
        (START + timedelta(days=3), MissedStart.SKIP),
    ],
)
def test_missed_start_policy(now: datetime, decision: MissedStart) -> None:
    assert missed_start(START, HOUR, now) is decision


# --- properties ------------------------------------------------------------------------------------

ZONES = [
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/St_Johns",
    "America/Santiago",
    "Australia/Lord_Howe",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Asia/Tehran",
    "Pacific/Chatham",
    "UTC",
]

schedules = st.builds(
    WeeklySchedule,
    weekday=st.integers(0, 6),
    local_time=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    zone=st.sampled_from(ZONES),
    duration=st.integers(10, 12 * 60).map(lambda m: timedelta(minutes=m)),
)
instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2036, 12, 31), timezones=st.just(UTC))


@settings(max_examples=300, deadline=None)
@given(schedule=schedules, after=instants)
def test_next_occurrence_properties(schedule: WeeklySchedule, after: datetime) -> None:
    occurrence = next_occurrence(schedule, after)
    zone = ZoneInfo(schedule.zone)
    # strictly later, and within a week (plus the longest gap shift)
    assert after < occurrence.start <= after + timedelta(days=7, hours=3)
    assert occurrence.local_date.weekday() == schedule.weekday
    local = occurrence.start.astimezone(zone)
    if occurrence.resolution is LocalResolution.GAP_SHIFTED:
        assert local.replace(tzinfo=None) > datetime.combine(occurrence.local_date, schedule.local_time)
    else:
        assert local.date() == occurrence.local_date
        assert local.time() == schedule.local_time
    # none skipped: asking from just before it gives the same occurrence
    assert next_occurrence(schedule, occurrence.start - timedelta(seconds=1)) == occurrence
    # the following one is exactly one local week later, never 7 * 24 hours by construction
    following = next_occurrence(schedule, occurrence.start)
    assert following.local_date == occurrence.local_date + timedelta(days=7)


@settings(max_examples=100, deadline=None)
@given(a=schedules, b=schedules, now=instants)
def test_overlap_is_symmetric(a: WeeklySchedule, b: WeeklySchedule, now: datetime) -> None:
    assert (find_overlap(a, [b], now=now) is None) == (find_overlap(b, [a], now=now) is None)


@settings(max_examples=100, deadline=None)
@given(a=schedules, now=instants)
def test_a_schedule_overlaps_itself(a: WeeklySchedule, now: datetime) -> None:
    assert find_overlap(a, [a], now=now) is not None


@settings(max_examples=200, deadline=None)
@given(
    start=instants,
    minutes=st.integers(10, 12 * 60),
    late=st.integers(-10_000, 100_000),
)
def test_missed_start_partitions_time(start: datetime, minutes: int, late: int) -> None:
    duration = timedelta(minutes=minutes)
    decision = missed_start(start, duration, start + timedelta(seconds=late))
    if late < 0:
        assert decision is MissedStart.NOT_YET
    elif late >= duration.total_seconds():
        assert decision is MissedStart.SKIP
    else:
        assert decision in (MissedStart.ON_TIME, MissedStart.LATE)


# --- rooms between sessions ---------------------------------------------------------------------------

EVERYONE, BOT, FACILITATOR, GROUP_ROLE, ALICE, BOB = 1, 2, 3, 4, 10, 11


def room_wants(*, lock: bool, running: bool, mode: str = "member") -> dict[int, ow.Overwrites]:
    rooms = ow.GroupRooms(100, 200, access_mode=mode, role_id=GROUP_ROLE if mode == "role" else None)
    return session_desired_overwrites(
        rooms, [ALICE, BOB], FACILITATOR, BOT, EVERYONE, lock_between_sessions=lock, session_running=running
    )


@pytest.mark.parametrize("running", [True, False])
def test_unlocked_groups_get_the_plain_overwrites(running: bool) -> None:
    rooms = ow.GroupRooms(100, 200)
    assert room_wants(lock=False, running=running) == ow.desired_overwrites(
        rooms, [ALICE, BOB], FACILITATOR, BOT, EVERYONE
    )


def test_locked_group_opens_to_consented_members_only_while_running() -> None:
    member = ow.Target(ow.MEMBER, ALICE)
    for channel_id in (100, 200):
        open_ = room_wants(lock=True, running=True)[channel_id]
        closed = room_wants(lock=True, running=False)[channel_id]
        assert ow.grants_access(open_.get(member))
        assert member not in closed
        # what stays: @everyone closed, holdspace itself and the facilitators
        for target in (ow.Target(ow.ROLE, EVERYONE), ow.Target(ow.MEMBER, BOT), ow.Target(ow.ROLE, FACILITATOR)):
            assert closed[target] == open_[target]
        # a current member overwrite that allows access is taken away by the diff
        current = {t: w for t, w in open_.items() if t.kind == ow.ROLE or t.id == BOT}
        current[member] = ow.Want(allow=ow.MEMBER_ALLOW)
        changes = ow.diff(current, closed)
        assert [(c.target, c.want) for c in changes] == [(member, None)]


def test_locked_group_in_role_mode_drops_the_group_role_between_sessions() -> None:
    role = ow.Target(ow.ROLE, GROUP_ROLE)
    assert ow.grants_access(room_wants(lock=True, running=True, mode="role")[100].get(role))
    assert role not in room_wants(lock=True, running=False, mode="role")[100]
