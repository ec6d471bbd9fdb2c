"""Recurring sessions in local wall-clock time: pure functions, no I/O.

A weekly schedule is (weekday, local time, IANA time zone, duration). Its occurrences are computed in
local time and converted to UTC one by one, so a session at 18:00 Europe/Berlin starts at 18:00 local
time on both sides of a daylight-saving change (17:00 UTC in winter, 16:00 UTC in summer). The next
occurrence is never found by adding 7 * 24 hours to the previous one.

Defined answers for local times that a daylight-saving change makes odd (see docs/sessions.md):

- **Gap** (the local time does not exist, e.g. 02:30 on the spring-forward night in Berlin, when
  clocks jump from 02:00 to 03:00): the session starts the gap's length later, at 03:30 local time.
  This is what ``fold=0`` means in PEP 495: the wall time is read with the offset in force before
  the change.
- **Overlap** (the local time happens twice, e.g. 02:30 on the fall-back night): the first of the two
  is chosen (``fold=0``, the earlier instant).

Only schedules whose local time falls in a gap or an overlap are affected, and only on that one day.

Missed starts (the bot was offline at the start time): a start found less than the session's length
late still happens, late, ending at the time it would have ended; one found later is skipped and the
next occurrence is scheduled.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from bot.core import zones
from bot.core.overwrites import ROLE, GroupRooms, Overwrites, Target, desired_overwrites
from bot.i18n import N_, _, formats

__all__ = [
    "MAX_DURATION",
    "MIN_DURATION",
    "WEEKDAYS",
    "LocalResolution",
    "MissedStart",
    "Occurrence",
    "ScheduleError",
    "WeeklySchedule",
    "find_overlap",
    "local_to_utc",
    "missed_start",
    "next_occurrence",
    "occurrences",
    "parse_local_time",
    "parse_weekday",
    "resolve_zone",
    "session_desired_overwrites",
]

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# "every Monday" in words, for a schedule shown to people in their language.
_EVERY = (
    N_("Mondays"),
    N_("Tuesdays"),
    N_("Wednesdays"),
    N_("Thursdays"),
    N_("Fridays"),
    N_("Saturdays"),
    N_("Sundays"),
)
MIN_DURATION = timedelta(minutes=10)
MAX_DURATION = timedelta(hours=12)
# A start this little late counts as on time (no "late" note).
ON_TIME_TOLERANCE = timedelta(minutes=1)
# How far ahead two schedules are compared for overlaps: a year covers both sides of every DST change.
OVERLAP_HORIZON = timedelta(days=371)

_TIME_RE = re.compile(r"^\s*(\d{1,2})[:.h](\d{2})\s*$")


class ScheduleError(ValueError):
    """A schedule that cannot be used; the message says what to do instead."""


class LocalResolution(Enum):
    EXACT = "exact"
    GAP_SHIFTED = "gap"  # the local time did not exist that day; moved forward by the gap's length
    OVERLAP_FIRST = "overlap"  # the local time happened twice that day; the first one was chosen


@dataclass(frozen=True)
class Occurrence:
    start: datetime  # UTC
    end: datetime  # UTC
    local_date: date
    resolution: LocalResolution


@dataclass(frozen=True)
class WeeklySchedule:
    weekday: int  # 0 = Monday ... 6 = Sunday
    local_time: time
    zone: str
    duration: timedelta

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ScheduleError(_("the weekday must be one of Monday to Sunday"))
        if self.local_time.tzinfo is not None:
            raise ScheduleError(_("the local time must not carry a time zone; name the zone separately"))
        if not MIN_DURATION <= self.duration <= MAX_DURATION:
            raise ScheduleError(
                _("a session lasts from {shortest} to {longest}; choose a duration in that range").format(
                    shortest=formats.duration(MIN_DURATION), longest=formats.duration(MAX_DURATION)
                )
            )
        resolve_zone(self.zone)

    def describe(self) -> str:
        """The schedule in the reader's language: "Mondays at 18:00 (Europe/Berlin)"."""
        return _("{weekdays} at {time} ({zone})").format(
            weekdays=_(_EVERY[self.weekday]), time=f"{self.local_time:%H:%M}", zone=self.zone
        )


def resolve_zone(name: str) -> ZoneInfo:
    """The IANA zone called ``name``; refuses unknown names, paths and abbreviations like "CET"."""
    try:
        return zones.resolve(name)
    except zones.ZoneError as exc:
        raise ScheduleError(str(exc)) from None


def suggest_zones(prefix: str, *, limit: int = 25) -> list[str]:
    """Time zone names containing ``prefix`` (case-insensitive), for autocomplete."""
    return zones.suggest_zones(prefix, limit=limit)


def parse_local_time(text: str) -> time:
    """ "18:00" or "9:30" -> time; refuses anything else with a message naming the format."""
    match = _TIME_RE.match(text or "")
    if match is None:
        raise ScheduleError(
            _("{text} is not a time; write it as HH:MM in 24-hour form, such as 18:00").format(text=repr(text))
        )
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise ScheduleError(
            _("{text} is not a time of day; hours go from 00 to 23 and minutes from 00 to 59").format(text=repr(text))
        )
    return time(hour, minute)


def parse_weekday(text: str) -> int:
    """A weekday name, full or its first three letters ("Tuesday", "tue") -> 0 = Monday ... 6 = Sunday."""
    cleaned = (text or "").strip().lower()
    for index, name in enumerate(WEEKDAYS):
        if cleaned in (name.lower(), name[:3].lower()):
            return index
    raise ScheduleError(
        _("{text} is not a weekday; choose one of {weekdays}").format(text=repr(text), weekdays=", ".join(WEEKDAYS))
    )


def local_to_utc(day: date, at: time, zone: ZoneInfo) -> tuple[datetime, LocalResolution]:
    """The UTC instant of local wall time ``at`` on ``day`` in ``zone``, with how it was resolved."""
    first = datetime.combine(day, at, tzinfo=zone).replace(fold=0)
    second = first.replace(fold=1)
    first_utc = first.astimezone(UTC)
    round_trip = first_utc.astimezone(zone).replace(tzinfo=None)
    if round_trip != first.replace(tzinfo=None):
        # Nonexistent wall time: fold=0 reads it with the offset before the change, which lands the
        # gap's length later on the wall clock (02:30 -> 03:30 when clocks jump an hour).
        return first_utc, LocalResolution.GAP_SHIFTED
    if first.utcoffset() != second.utcoffset():
        return first_utc, LocalResolution.OVERLAP_FIRST
    return first_utc, LocalResolution.EXACT


def _occurrence_on(schedule: WeeklySchedule, day: date, zone: ZoneInfo) -> Occurrence:
    start, resolution = local_to_utc(day, schedule.local_time, zone)
    return Occurrence(start, start + schedule.duration, day, resolution)


def next_occurrence(schedule: WeeklySchedule, after: datetime) -> Occurrence:
    """The first occurrence that starts strictly after ``after`` (an aware datetime)."""
    if after.tzinfo is None:
        raise ValueError("next_occurrence needs a timezone-aware datetime")
    zone = resolve_zone(schedule.zone)
    local_day = after.astimezone(zone).date()
    # Start a day early: a gap-shifted or overlap-resolved time can sit on either side of midnight.
    day = local_day - timedelta(days=1)
    day += timedelta(days=(schedule.weekday - day.weekday()) % 7)
    while True:
        occurrence = _occurrence_on(schedule, day, zone)
        if occurrence.start > after:
            return occurrence
        day += timedelta(days=7)


def occurrences(schedule: WeeklySchedule, after: datetime, until: datetime) -> list[Occurrence]:
    """Every occurrence starting after ``after`` and before ``until``, in order."""
    found: list[Occurrence] = []
    cursor = after
    while True:
        occurrence = next_occurrence(schedule, cursor)
        if occurrence.start >= until:
            return found
        found.append(occurrence)
        cursor = occurrence.start


def find_overlap(
    new: WeeklySchedule, existing: list[WeeklySchedule], *, now: datetime
) -> tuple[WeeklySchedule, Occurrence] | None:
    """An existing schedule of the same group whose sessions would overlap ``new``'s, or None.

    Occurrences are compared as UTC intervals over the coming year, so schedules in different time
    zones, and shifts across daylight-saving changes, are taken into account. Sessions that only
    touch (one ends when the other starts) do not overlap.
    """
    # Look back one maximum session length, so a session already running counts too.
    start = now - MAX_DURATION
    until = now + OVERLAP_HORIZON
    mine = occurrences(new, start, until)
    for other in existing:
        theirs = occurrences(other, start, until)
        i = j = 0
        while i < len(mine) and j < len(theirs):
            a, b = mine[i], theirs[j]
            if a.start < b.end and b.start < a.end:
                return other, a
            if a.end <= b.end:
                i += 1
            else:
                j += 1
    return None


class MissedStart(Enum):
    NOT_YET = "not_yet"  # the start lies in the future
    ON_TIME = "on_time"
    LATE = "late"  # start now, with a note; the session ends when it would have ended
    SKIP = "skip"  # too late: skip this one and schedule the next


def missed_start(scheduled_start: datetime, duration: timedelta, now: datetime) -> MissedStart:
    """What to do with a scheduled start found at ``now`` (for example after the bot was offline)."""
    late = now - scheduled_start
    if late < timedelta(0):
        return MissedStart.NOT_YET
    if late <= ON_TIME_TOLERANCE:
        return MissedStart.ON_TIME
    if late < duration:
        return MissedStart.LATE
    return MissedStart.SKIP


# -- rooms between sessions ----------------------------------------------------------------------------


def session_desired_overwrites(
    rooms: GroupRooms,
    consented_member_ids: Iterable[int],
    facilitator_role_id: int | None,
    bot_id: int,
    everyone_role_id: int,
    *,
    lock_between_sessions: bool,
    session_running: bool,
) -> dict[int, Overwrites]:
    """``bot.core.overwrites.desired_overwrites`` with sessions taken into account.

    A group that locks between sessions gives its members access only while a session runs: between
    sessions there is no allow overwrite for consented members (access mode "member") nor for the
    group role (access mode "role"), so ``overwrites.diff`` removes the allow bits they carry. The
    closed @everyone overwrite, holdspace's own overwrite and the facilitator role's stay as they are,
    so facilitators can prepare the rooms. Groups that do not lock get exactly ``desired_overwrites``.
    """
    closed = lock_between_sessions and not session_running
    members = [] if closed else list(consented_member_ids)
    desired = desired_overwrites(rooms, members, facilitator_role_id, bot_id, everyone_role_id)
    if closed and rooms.access_mode == "role" and rooms.role_id is not None:
        for wants in desired.values():
            wants.pop(Target(ROLE, rooms.role_id), None)
    return desired
