from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.records import ConsentFact
from bot.core.reminders import (
    REMINDER_LIMIT,
    ReminderContent,
    ReminderKind,
    auto_reminder_due,
    closing_content,
    ground_rules_content,
    review_dm_text,
    stale_consents,
)

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
GAP = timedelta(hours=2)

REQUIRED_POINTS = [
    "What is said here stays here",
    "No recording, no screenshots",
    "A private space",
    "The limits of confidentiality",
    "Raising a concern",
]


def content(**kw: object) -> ReminderContent:
    args: dict[str, object] = {
        "group_name": "Tuesday circle",
        "agreement_version": 3,
        "ttl": timedelta(hours=24),
        "expire_at_session_end": True,
    }
    args.update(kw)
    return ground_rules_content(**args)  # type: ignore[arg-type]


def test_ground_rules_have_every_required_point() -> None:
    c = content()
    assert [name for name, _ in c.fields] == REQUIRED_POINTS
    text = " ".join(value for _, value in c.fields)
    assert "/report new" in text
    assert "Clips" in text and "screenshots" in text
    assert "removed when the session ends, and each one 1 day after it was posted" in text
    limits = dict(c.fields)["The limits of confidentiality"]
    assert "court" in limits and "harm" in limits and "button below" in limits
    assert c.limits_button
    assert c.footer == "Agreement version 3"
    assert c.title == "Tuesday circle: the session has started"


def test_no_sentence_is_cut() -> None:
    """Every field and line ends a sentence: nothing is excerpted, so nothing can end mid-way."""
    for kind in ReminderKind:
        c = content(kind=kind, late_by=timedelta(minutes=3), ends_at_text="at <t:1:t>")
        for _, value in c.fields:
            assert value.endswith((".", ".)")), value
            assert "…" not in value
        assert "…" not in c.description


@pytest.mark.parametrize(
    ("kind", "title"),
    [
        (ReminderKind.START, "Tuesday circle: the session has started"),
        (ReminderKind.AUTO, "Tuesday circle: welcome, here are our ground rules"),
        (ReminderKind.PERIODIC, "Tuesday circle: a reminder of our ground rules"),
    ],
)
def test_titles_per_kind(kind: ReminderKind, title: str) -> None:
    assert content(kind=kind).title == title


def test_late_note_only_at_start() -> None:
    late = content(late_by=timedelta(minutes=12))
    assert "12 minutes late" in late.description
    assert "1 minute late" in content(late_by=timedelta(seconds=5)).description
    assert "late" not in content(kind=ReminderKind.AUTO, late_by=timedelta(minutes=12)).description
    assert "late" not in content(late_by=timedelta(0)).description


def test_expiry_wording() -> None:
    def private(**kw: object) -> str:
        return dict(content(**kw).fields)["A private space"]

    assert "not removed automatically" in private(ttl=None, expire_at_session_end=False)
    assert "when the session ends." in private(ttl=None, expire_at_session_end=True)
    assert "7 days after" in private(ttl=timedelta(days=7), expire_at_session_end=False)


def test_the_longest_reminder_is_within_the_limit() -> None:
    """Every part at its longest: a 100-character room name, the longest ttl and lateness told."""
    longest = timedelta(days=364, hours=23, minutes=59, seconds=59)
    c = content(
        group_name="x" * 100, ttl=longest, expire_at_session_end=True, late_by=longest,
        ends_at_text="at <t:17900000000:t>", agreement_version=10**9, removal_window=timedelta(seconds=3600),
    )
    assert c.length() <= REMINDER_LIMIT


def test_no_agreement_and_no_name() -> None:
    c = content(agreement_version=0, group_name="  ")
    assert c.footer == "holdspace"
    assert c.title.startswith("this group")


@given(
    st.text(min_size=0, max_size=400),
    st.one_of(st.none(), st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=365))),
    st.booleans(),
    st.sampled_from(list(ReminderKind)),
    st.one_of(st.none(), st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=2))),
    st.integers(0, 10**6),
)
def test_no_reminder_is_over_the_limit(
    name: str, ttl: timedelta | None, at_end: bool, kind: ReminderKind, late: timedelta | None, version: int
) -> None:
    c = content(
        group_name=name, ttl=ttl, expire_at_session_end=at_end, kind=kind, late_by=late,
        ends_at_text="at <t:1790000000:t>", agreement_version=version, removal_window=timedelta(seconds=30),
    )
    assert c.length() <= REMINDER_LIMIT < 1000
    for n, v in c.fields:
        assert len(n) <= 256 and len(v) <= 1024


def test_closing_content() -> None:
    c = closing_content(group_name="Circle", expiry_text="12 removed", next_session_text="Thursday at 18:00")
    assert c.title == "Circle: the session has ended"
    assert "12 removed" in c.description and "Thursday at 18:00" in c.description
    assert "/report new" in c.description
    bare = closing_content(group_name="Circle")
    assert "Next session" not in bare.description and "Messages from" not in bare.description


# -- the automatic reminder's gap --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("last", "running", "already", "due"),
    [
        (None, False, 0, True),  # never posted
        (NOW - GAP, False, 0, True),  # exactly one gap ago
        (NOW - GAP + timedelta(seconds=1), False, 0, False),  # within the gap
        (NOW - timedelta(days=3), False, 0, True),
        (None, True, 0, False),  # a session runs: its own reminder was posted at start
        (None, False, 1, False),  # not the first person in the room
        (NOW - timedelta(days=3), False, 2, False),
    ],
)
def test_auto_reminder_due(last: datetime | None, running: bool, already: int, due: bool) -> None:
    assert (
        auto_reminder_due(
            last_posted_at=last, now=NOW, gap=GAP, session_running=running, people_already_in_voice=already
        )
        is due
    )


@given(st.lists(st.integers(0, 48 * 60), max_size=40))
def test_auto_reminder_at_most_once_per_gap(joins: list[int]) -> None:
    """Replaying first-joins at arbitrary minutes: any two posts are at least a gap apart."""
    last: datetime | None = None
    posts: list[datetime] = []
    for minute in sorted(joins):
        now = NOW + timedelta(minutes=minute)
        if auto_reminder_due(last_posted_at=last, now=now, gap=GAP, session_running=False, people_already_in_voice=0):
            posts.append(now)
            last = now
    assert all(b - a >= GAP for a, b in pairwise(posts))
    if joins:
        assert posts, "the first join always gets the ground rules"


# -- consents out of date -------------------------------------------------------------------------------


def fact(member_id: int, version: int, days_ago: int) -> ConsentFact:
    return ConsentFact(f"c{member_id}", member_id, version, "sha", NOW - timedelta(days=days_ago), "command")


def test_stale_consents() -> None:
    consents = {
        1: fact(1, 2, 10),  # current
        2: fact(2, 1, 10),  # older agreement version
        3: fact(3, 2, 200),  # too old (reconsent after 180 days)
        5: fact(5, 2, 180),  # exactly at the limit: due
    }
    stale = stale_consents(
        enrolled=[1, 2, 3, 4, 5],  # 4 never consented (or withdrew): not asked by holdspace
        consents=consents,
        agreement_version=2,
        reconsent_after_days=180,
        now=NOW,
    )
    assert stale == [2, 3, 5]


def test_stale_consents_ignores_people_not_enrolled() -> None:
    assert (
        stale_consents(enrolled=[], consents={2: fact(2, 1, 1)}, agreement_version=2, reconsent_after_days=180, now=NOW)
        == []
    )


def test_review_dm_names_no_one_else() -> None:
    text = review_dm_text(group_name="Circle", starts_at_text="<t:1:R>")
    assert "Circle" in text and "<t:1:R>" in text and "/consent" in text
