"""How storage writes times and durations: whole milliseconds since the Unix epoch (UTC) and whole
seconds. Every ``*_ms`` and ``*_seconds`` column goes through these, so the encoding has one home."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import overload


def to_ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


@overload
def from_ms(ms: int) -> datetime: ...
@overload
def from_ms(ms: None) -> None: ...
@overload
def from_ms(ms: int | None) -> datetime | None: ...
def from_ms(ms: int | None) -> datetime | None:
    """The time a ``*_ms`` column holds; None stays None (a time not set)."""
    return None if ms is None else datetime.fromtimestamp(int(ms) / 1000, UTC)


@overload
def to_seconds(span: timedelta) -> int: ...
@overload
def to_seconds(span: None) -> None: ...
@overload
def to_seconds(span: timedelta | None) -> int | None: ...
def to_seconds(span: timedelta | None) -> int | None:
    return None if span is None else int(span.total_seconds())


@overload
def from_seconds(seconds: int) -> timedelta: ...
@overload
def from_seconds(seconds: None) -> None: ...
@overload
def from_seconds(seconds: int | None) -> timedelta | None: ...
def from_seconds(seconds: int | None) -> timedelta | None:
    return None if seconds is None else timedelta(seconds=int(seconds))
