"""The one rule for time zone names: IANA Region/City names (Europe/Berlin), plus UTC.

Abbreviations such as CET or EST are refused with a suggestion: they name an offset, not a place,
and do not follow a region's daylight-saving changes (a New York group set to EST would meet an hour
off all summer). The config file, /setup configure and session schedules all go through here.
"""

from __future__ import annotations

import functools
import zoneinfo

from bot.i18n import _

__all__ = ["EXAMPLES", "ZoneError", "canonical_zone", "suggest_zones", "zone_names"]

EXAMPLES = "Europe/Berlin, America/New_York, UTC"
MAX_LENGTH = 64

# Abbreviations people type, and the places they most often mean.
_ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "cet": ("Europe/Berlin", "Europe/Paris"),
    "cest": ("Europe/Berlin", "Europe/Paris"),
    "met": ("Europe/Berlin", "Europe/Paris"),
    "eet": ("Europe/Athens", "Europe/Helsinki"),
    "eest": ("Europe/Athens", "Europe/Helsinki"),
    "wet": ("Europe/Lisbon",),
    "west": ("Europe/Lisbon",),
    "gmt": ("Europe/London", "UTC"),
    "bst": ("Europe/London",),
    "ist": ("Asia/Kolkata", "Europe/Dublin"),
    "est": ("America/New_York", "America/Toronto"),
    "edt": ("America/New_York", "America/Toronto"),
    "est5edt": ("America/New_York",),
    "cst": ("America/Chicago", "America/Mexico_City"),
    "cdt": ("America/Chicago",),
    "cst6cdt": ("America/Chicago",),
    "mst": ("America/Denver", "America/Phoenix"),
    "mdt": ("America/Denver",),
    "mst7mdt": ("America/Denver",),
    "pst": ("America/Los_Angeles", "America/Vancouver"),
    "pdt": ("America/Los_Angeles",),
    "pst8pdt": ("America/Los_Angeles",),
    "akst": ("America/Anchorage",),
    "hst": ("Pacific/Honolulu",),
    "aest": ("Australia/Sydney", "Australia/Brisbane"),
    "aedt": ("Australia/Sydney",),
    "acst": ("Australia/Adelaide",),
    "awst": ("Australia/Perth",),
    "jst": ("Asia/Tokyo",),
    "kst": ("Asia/Seoul",),
    "nzst": ("Pacific/Auckland",),
    "nzdt": ("Pacific/Auckland",),
}
_UTC_ALIASES = {"utc", "etc/utc", "z", "zulu", "uct", "universal", "etc/universal", "etc/zulu", "etc/uct"}


class ZoneError(ValueError):
    """A time zone name holdspace does not accept; the message says what to use instead."""


@functools.cache
def zone_names() -> tuple[str, ...]:
    """Every accepted name: IANA Region/City names and UTC, sorted."""
    names = {n for n in zoneinfo.available_timezones() if "/" in n and not n.startswith(("Etc/", "SystemV/"))}
    return tuple(sorted(names | {"UTC"}))


@functools.cache
def _by_folded_name() -> dict[str, str]:
    return {name.casefold(): name for name in zone_names()}


def canonical_zone(raw: str) -> str:
    """The accepted spelling of ``raw`` (Region/City or UTC, any case), or ZoneError saying what to use."""
    name = (raw or "").strip() if isinstance(raw, str) else ""
    if not name:
        raise ZoneError(_("a time zone is needed, such as {examples}").format(examples=EXAMPLES))
    folded = name.casefold()
    if folded in _UTC_ALIASES:
        return "UTC"
    shown = name[:40]
    if len(name) > MAX_LENGTH or name.startswith(("/", ".")) or ".." in name or "\\" in name or "\x00" in name:
        raise ZoneError(
            _("that is not a time zone; use a Region/City name such as {examples}").format(examples=EXAMPLES)
        )
    places = _ABBREVIATIONS.get(folded)
    if places is not None:
        raise ZoneError(
            _(
                "{name} is an abbreviation, which does not follow daylight-saving changes; use the place's "
                "Region/City name instead, such as {places}"
            ).format(name=repr(shown), places=", ".join(places))
        )
    found = _by_folded_name().get(folded)
    if found is not None:
        return found
    if folded.startswith("etc/gmt") or folded.startswith("gmt") or folded.startswith("utc"):
        raise ZoneError(
            _(
                "{name} is a fixed offset, which does not follow daylight-saving changes; use the place's "
                "Region/City name, such as {examples}"
            ).format(name=repr(shown), examples=EXAMPLES)
        )
    raise ZoneError(
        _("unknown time zone {name}; use a Region/City name such as {examples}").format(
            name=repr(shown), examples=EXAMPLES
        )
    )


def resolve(raw: str) -> zoneinfo.ZoneInfo:
    """The zone for an accepted name (see :func:`canonical_zone`)."""
    return zoneinfo.ZoneInfo(canonical_zone(raw))


def suggest_zones(prefix: str, *, limit: int = 25) -> list[str]:
    """Accepted names containing ``prefix`` (case-insensitive), for autocomplete."""
    needle = (prefix or "").strip().casefold()
    names = [n for n in zone_names() if needle in n.casefold()] if needle else list(zone_names())
    return names[:limit]
