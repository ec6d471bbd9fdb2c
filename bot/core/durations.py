"""Parse and format durations such as 30m, 12h, 7d or 1h30m."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+)\s*([smhdw])", re.IGNORECASE)
_WHOLE = re.compile(r"^\s*(?:\d+\s*[smhdw]\s*)+$", re.IGNORECASE)


class DurationError(ValueError):
    """A duration that cannot be used; the message says what is expected."""


def parse_duration(
    text: str,
    *,
    minimum: timedelta = timedelta(seconds=1),
    maximum: timedelta = timedelta(days=365),
) -> timedelta:
    """Turn "1h30m" into a timedelta, refusing zero, negative, unparseable and out-of-range values."""
    if not isinstance(text, str) or not text.strip():
        raise DurationError("a duration is needed, such as 30m, 12h or 7d")
    if text.strip().startswith("-"):
        raise DurationError("a duration cannot be negative; use a value such as 30m, 12h or 7d")
    if not _WHOLE.match(text):
        raise DurationError("use a number and a unit (s, m, h, d or w), such as 30m, 12h or 7d")
    seconds = 0
    for number, unit in _PART.findall(text):
        if len(number) > 9:
            raise DurationError(f"that is too long; the longest allowed is {format_duration(maximum)}")
        seconds += int(number) * _UNITS[unit.lower()]
    value = timedelta(seconds=seconds)
    if value <= timedelta(0):
        raise DurationError("a duration must be longer than zero, such as 30m, 12h or 7d")
    if value < minimum:
        raise DurationError(f"the shortest allowed is {format_duration(minimum)}")
    if value > maximum:
        raise DurationError(f"the longest allowed is {format_duration(maximum)}")
    return value


def format_duration(value: timedelta) -> str:
    """The shortest readable form: 90 minutes -> "1h30m"."""
    seconds = int(value.total_seconds())
    if seconds <= 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
