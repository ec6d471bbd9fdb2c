"""Durations, dates and times written for the current language (Babel's CLDR data)."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from bot.i18n import current

_UNITS = (("duration-day", 86400), ("duration-hour", 3600), ("duration-minute", 60), ("duration-second", 1))


def _locale(locale: str | None) -> str:
    return locale or current()


def duration(value: timedelta, locale: str | None = None) -> str:
    """A duration in words, whole: 90 minutes -> "1 hour 30 minutes" / "1 Stunde 30 Minuten"."""
    from babel.units import format_unit  # deferred: Babel's data loads only when a text needs it

    seconds = int(value.total_seconds())
    where = _locale(locale)
    if seconds <= 0:
        return format_unit(0, "duration-minute", length="long", locale=where)
    parts = []
    for unit, size in _UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(format_unit(count, unit, length="long", locale=where))
    return " ".join(parts)


def moment(value: datetime, zone: tzinfo | None = None, locale: str | None = None) -> str:
    """A date and time for people, in ``zone``: "30 Nov 2026, 18:00" / "30.11.2026, 18:00"."""
    from babel import Locale
    from babel.dates import format_date, format_time

    where = Locale.parse(_locale(locale))
    local = value.astimezone(zone) if zone is not None else value
    # the locale's own way of joining a date and a time, with the date in words and no seconds
    return str(where.datetime_formats["medium"]).format(
        format_time(local, "short", locale=where), format_date(local, "medium", locale=where)
    )


def day(value: datetime, zone: tzinfo | None = None, locale: str | None = None) -> str:
    """A date for people, in ``zone``."""
    from babel.dates import format_date

    local = value.astimezone(zone) if zone is not None else value
    return format_date(local, "medium", locale=_locale(locale))


def clock_time(value: datetime, zone: tzinfo | None = None, locale: str | None = None) -> str:
    """A time of day for people, in ``zone``: "6:00 PM" / "18:00"."""
    from babel.dates import format_time

    local = value.astimezone(zone) if zone is not None else value
    return format_time(local, "short", locale=_locale(locale))


def number(value: int | float, locale: str | None = None) -> str:
    from babel.numbers import format_decimal

    return format_decimal(value, locale=_locale(locale))


def language_name(code: str) -> str:
    """A language's name in itself: "English", "Deutsch" (how people find theirs in a list)."""
    from babel import Locale

    name = Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]
