"""Parse and format durations such as 30m, 90m, 1.5h, 12h, 7d or 1h30m."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from bot.i18n import _, formats

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:[.,]\d+)?)\s*([smhdw])", re.IGNORECASE)
_WHOLE = re.compile(r"^\s*(?:\d+(?:[.,]\d+)?\s*[smhdw]\s*)+$", re.IGNORECASE)
_EXAMPLES = "30m, 1.5h, 12h, 7d"


class DurationError(ValueError):
    """A duration that cannot be used; the message says what is expected."""


def _refuse(text: str, **values: object) -> DurationError:
    """A refusal in the reader's language; ``text`` went through ``_()`` where it was written."""
    return DurationError(text.format(examples=_EXAMPLES, **values))


def parse_duration(
    text: str,
    *,
    minimum: timedelta = timedelta(seconds=1),
    maximum: timedelta = timedelta(days=365),
) -> timedelta:
    """Turn "1h30m" or "1.5h" into a timedelta, refusing zero, negative, unparseable and
    out-of-range values. Fractions are rounded to whole seconds."""
    if not isinstance(text, str) or not text.strip():
        raise _refuse(_("a duration is needed, such as {examples}"))
    if text.strip().startswith("-"):
        raise _refuse(_("a duration cannot be negative; use a value such as {examples}"))
    if not _WHOLE.match(text):
        raise _refuse(_("use a number and a unit (s, m, h, d or w), such as {examples}"))
    seconds = Decimal(0)
    for number, unit in _PART.findall(text):
        if len(number) > 12:
            raise _refuse(_("that is too long; the longest allowed is {longest}"), longest=describe_duration(maximum))
        try:
            seconds += Decimal(number.replace(",", ".")) * _UNITS[unit.lower()]
        except InvalidOperation:  # cannot happen after the pattern matched; refuse rather than guess
            raise _refuse(_("use a number and a unit, such as {examples}")) from None
    if seconds > Decimal(maximum.total_seconds()):
        raise _refuse(_("the longest allowed is {longest}"), longest=describe_duration(maximum))
    value = timedelta(seconds=int(seconds.to_integral_value()))
    if value <= timedelta(0):
        raise _refuse(_("a duration must be longer than zero, such as {examples}"))
    if value < minimum:
        raise _refuse(_("the shortest allowed is {shortest}"), shortest=describe_duration(minimum))
    if value > maximum:
        raise _refuse(_("the longest allowed is {longest}"), longest=describe_duration(maximum))
    return value


def format_duration(value: timedelta) -> str:
    """The shortest typed form: 90 minutes -> "1h30m" (what a command accepts back)."""
    seconds = int(value.total_seconds())
    if seconds <= 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def describe_duration(value: timedelta) -> str:
    """The same in words for people, in the current language: 90 minutes -> "1 hour 30 minutes"."""
    if int(value.total_seconds()) <= 0:
        return _("no time")
    return formats.duration(value)
