"""Expiry batching and outcome classification: pure functions, no Discord."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.expiry import (
    BULK_MAX,
    DueMessage,
    ExpiryReport,
    Outcome,
    backoff,
    bulk_cutoff,
    classify,
    due_time,
    even_chunks,
    plan_deletions,
    snowflake_floor,
    snowflake_time,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
CH, CH2 = 111, 222


def sf(when: datetime, low: int = 0) -> int:
    return snowflake_floor(when) | low


def msgs(channel: int, ages: list[timedelta], *, pinned: frozenset[int] = frozenset()) -> list[DueMessage]:
    return [DueMessage(channel, sf(NOW - age, i), i in pinned) for i, age in enumerate(ages)]


def test_snowflake_round_trip() -> None:
    when = datetime(2026, 1, 5, 8, 30, 15, 123000, tzinfo=UTC)
    assert snowflake_time(snowflake_floor(when)) == when
    assert snowflake_time(snowflake_floor(when) | 0x3FFFFF) == when
    assert snowflake_floor(when - timedelta(milliseconds=1)) < snowflake_floor(when)


def test_due_time_from_id_and_ttl() -> None:
    message_id = sf(NOW)
    assert due_time(message_id, timedelta(hours=1)) == NOW + timedelta(hours=1)
    assert due_time(message_id, None) is None


def test_250_young_messages_need_three_bulk_deletes() -> None:
    plan = plan_deletions(msgs(CH, [timedelta(hours=1)] * 250), NOW)
    assert [len(b.message_ids) for b in plan.batches] == [84, 83, 83]
    assert all(b.bulk for b in plan.batches)


def test_101_messages_never_leave_a_lone_bulk_id() -> None:
    plan = plan_deletions(msgs(CH, [timedelta(minutes=5)] * 101), NOW)
    assert sorted(len(b.message_ids) for b in plan.batches) == [50, 51]


def test_a_single_young_message_uses_a_single_delete() -> None:
    plan = plan_deletions(msgs(CH, [timedelta(minutes=1)]), NOW)
    assert len(plan.batches) == 1 and not plan.batches[0].bulk


def test_old_messages_go_one_by_one_the_rest_in_bulk() -> None:
    ages = [timedelta(days=20)] * 20 + [timedelta(hours=2)] * 150
    plan = plan_deletions(msgs(CH, ages), NOW)
    singles = [b for b in plan.batches if not b.bulk]
    bulks = [b for b in plan.batches if b.bulk]
    assert len(singles) == 20
    assert len(bulks) == 2 and sum(len(b.message_ids) for b in bulks) == 150
    cutoff = bulk_cutoff(NOW)
    assert all(i >= cutoff for b in bulks for i in b.message_ids)


def test_the_safety_margin_keeps_almost_14_day_old_messages_out_of_bulk() -> None:
    just_inside = timedelta(days=14) - timedelta(minutes=30)  # within the 1 h margin
    comfortably = timedelta(days=14) - timedelta(hours=2)
    plan = plan_deletions(msgs(CH, [just_inside, comfortably, comfortably]), NOW)
    singles = [b.message_ids[0] for b in plan.batches if not b.bulk]
    assert singles == [sf(NOW - just_inside, 0)]


def test_channels_are_planned_separately() -> None:
    plan = plan_deletions(msgs(CH, [timedelta(hours=1)] * 3) + msgs(CH2, [timedelta(hours=1)] * 2), NOW)
    assert plan.requests(CH) == 1 and plan.requests(CH2) == 1
    assert {b.channel_id for b in plan.batches} == {CH, CH2}


def test_pinned_are_kept_only_where_the_group_keeps_them() -> None:
    due = msgs(CH, [timedelta(hours=1)] * 5, pinned=frozenset({1, 3})) + msgs(
        CH2, [timedelta(hours=1)] * 5, pinned=frozenset({0})
    )
    plan = plan_deletions(due, NOW, keep_pinned={CH})
    assert sorted(m.message_id for m in plan.kept_pinned) == sorted([due[1].message_id, due[3].message_id])
    deleted = {(b.channel_id, i) for b in plan.batches for i in b.message_ids}
    assert (CH, due[1].message_id) not in deleted and (CH, due[0].message_id) in deleted
    assert (CH2, due[5].message_id) in deleted  # CH2 does not keep pinned
    plan2 = plan_deletions(due, NOW, keep_pinned=lambda ch: ch == CH2)
    assert [m.message_id for m in plan2.kept_pinned] == [due[5].message_id]


def test_held_messages_are_left_out() -> None:
    due = msgs(CH, [timedelta(hours=1)] * 3)
    plan = plan_deletions(due, NOW, held={(CH, due[2].message_id)})
    assert plan.held == [due[2]]
    assert {i for b in plan.batches for i in b.message_ids} == {due[0].message_id, due[1].message_id}


def test_duplicates_are_planned_once() -> None:
    due = msgs(CH, [timedelta(hours=1)] * 2)
    plan = plan_deletions(due + due, NOW)
    assert [len(b.message_ids) for b in plan.batches] == [2]


@given(st.integers(min_value=0, max_value=1000))
def test_even_chunks_are_minimal_and_within_bounds(n: int) -> None:
    ids = list(range(n))
    chunks = even_chunks(ids)
    assert len(chunks) == math.ceil(n / BULK_MAX)
    assert [i for c in chunks for i in c] == ids
    assert all(1 <= len(c) <= BULK_MAX for c in chunks)
    if n >= 2:
        assert all(len(c) >= 2 for c in chunks)


@given(
    st.lists(
        st.tuples(st.sampled_from([CH, CH2]), st.integers(min_value=0, max_value=40 * 24 * 60), st.booleans()),
        max_size=400,
    )
)
def test_plan_deletes_each_unpinned_message_exactly_once(items: list[tuple[int, int, bool]]) -> None:
    due = [DueMessage(ch, sf(NOW - timedelta(minutes=m), i), pin) for i, (ch, m, pin) in enumerate(items)]
    plan = plan_deletions(due, NOW, keep_pinned={CH})
    deleted = [(b.channel_id, i) for b in plan.batches for i in b.message_ids]
    assert len(deleted) == len(set(deleted))
    expected = {(m.channel_id, m.message_id) for m in due if not (m.pinned and m.channel_id == CH)}
    assert set(deleted) == expected
    cutoff = bulk_cutoff(NOW)
    for batch in plan.batches:
        assert len(batch.message_ids) <= BULK_MAX
        if batch.bulk:
            assert all(i >= cutoff for i in batch.message_ids)
    for channel in (CH, CH2):
        young = {i for (c, i) in expected if c == channel and i >= cutoff}
        bulk_calls = sum(1 for b in plan.batches if b.channel_id == channel and min(b.message_ids) >= cutoff)
        assert bulk_calls == math.ceil(len(young) / BULK_MAX)


@pytest.mark.parametrize(
    ("status", "code", "bulk", "outcome"),
    [
        (204, None, True, Outcome.REMOVED),
        (200, None, False, Outcome.REMOVED),
        (404, 10008, False, Outcome.REMOVED),
        (404, 10003, True, Outcome.REMOVED),
        (403, 50013, True, Outcome.BLOCKED),
        (403, 50001, False, Outcome.BLOCKED),
        (429, None, True, Outcome.RETRY),
        (500, None, True, Outcome.RETRY),
        (502, None, False, Outcome.RETRY),
        (503, None, False, Outcome.RETRY),
        (None, None, True, Outcome.RETRY),
        (400, 50034, True, Outcome.SPLIT),
        (400, 50034, False, Outcome.RETRY),
        (400, 50035, True, Outcome.RETRY),
    ],
)
def test_classify(status: int | None, code: int | None, bulk: bool, outcome: Outcome) -> None:
    assert classify(status, code, bulk=bulk) is outcome


def test_backoff_doubles_and_is_capped() -> None:
    assert backoff(1) == timedelta(seconds=5)
    assert backoff(2) == timedelta(seconds=10)
    assert backoff(100) == timedelta(minutes=30)
    assert backoff(1, blocked=True) == timedelta(minutes=1)
    assert backoff(100, blocked=True) == timedelta(hours=1)
    assert backoff(0) == backoff(1)


def test_report_text() -> None:
    report = ExpiryReport(removed=12)
    assert report.text == "12 messages removed."
    report.add_failed("pinned", 2)
    report.add_failed("blocked", 1)
    assert report.text == (
        "12 messages removed, 3 could not be (2 kept because they are pinned; "
        "1 holdspace lacks the Manage Messages permission there)."
    )
    other = ExpiryReport(removed=1, notes=["<#5> could not be read"])
    report.merge(other)
    assert report.removed == 13 and report.text.endswith("<#5> could not be read.")
    assert "kept" in ExpiryReport(applies=False).text
    assert ExpiryReport(removed=1).text == str(ExpiryReport(removed=1)) == "1 message removed."
