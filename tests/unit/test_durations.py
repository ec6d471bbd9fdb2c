from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.durations import DurationError, describe_duration, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30m", timedelta(minutes=30)), ("12h", timedelta(hours=12)), ("7d", timedelta(days=7)),
     ("1h30m", timedelta(minutes=90)), (" 2 H ", timedelta(hours=2)), ("1w", timedelta(days=7))],
)
def test_parses(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "0m", "-5m", "5", "soon", "5x", "1h-", "99999999999d", "400d"])
def test_refuses(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)


@given(st.integers(min_value=1, max_value=365 * 86400))
def test_format_round_trips(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1.5h", timedelta(minutes=90)), ("90m", timedelta(minutes=90)), ("0.5d", timedelta(hours=12)),
     ("1,5h", timedelta(minutes=90)), ("1h 30m", timedelta(minutes=90)), ("2.25h", timedelta(minutes=135))],
)
def test_parses_fractions_and_minutes(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["1.h", ".5h", "1..5h", "0.0001s"])
def test_refuses_broken_fractions(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "words"),
    [(timedelta(days=1), "1 day"), (timedelta(minutes=90), "1 hour 30 minutes"), (timedelta(days=7), "7 days"),
     (timedelta(seconds=45), "45 seconds"), (timedelta(0), "no time")],
)
def test_describes_in_words(value: timedelta, words: str) -> None:
    assert describe_duration(value) == words
