"""Case statuses, transitions and the validation of what people type."""

from __future__ import annotations

import pytest

from bot.core.cases import (
    MAX_NOTE,
    CaseRuleError,
    Status,
    check_claim,
    check_note,
    check_resolve,
    kind_label,
    normalise_text,
    validate_dedupe_key,
    validate_kind,
)


def test_open_statuses_and_closed_statuses() -> None:
    assert not Status.OPEN.closed and not Status.INVESTIGATING.closed
    assert Status.ACTIONED.closed and Status.DISMISSED.closed


def test_claim_an_open_case() -> None:
    assert check_claim(3, Status.OPEN, assigned_to_me=False, assigned=False) is Status.INVESTIGATING


def test_claim_refusals_never_name_anyone() -> None:
    with pytest.raises(CaseRuleError, match="already claimed by another moderator"):
        check_claim(3, Status.INVESTIGATING, assigned_to_me=False, assigned=True)
    with pytest.raises(CaseRuleError, match="already yours"):
        check_claim(3, Status.INVESTIGATING, assigned_to_me=True, assigned=True)
    for closed in (Status.ACTIONED, Status.DISMISSED):
        with pytest.raises(CaseRuleError, match=r"#3 is already closed"):
            check_claim(3, closed, assigned_to_me=False, assigned=False)


@pytest.mark.parametrize("status", [Status.OPEN, Status.INVESTIGATING])
@pytest.mark.parametrize("outcome", ["actioned", "dismissed", " Dismissed "])
def test_resolve_needs_outcome_and_note(status: Status, outcome: str) -> None:
    target, note = check_resolve(1, status, outcome, "  looked at it  ")
    assert target.closed and target.value == outcome.strip().lower()
    assert note == "looked at it"


@pytest.mark.parametrize("note", [None, "", "   \n\t "])
def test_resolving_without_a_note_is_refused(note: str | None) -> None:
    with pytest.raises(CaseRuleError, match="note"):
        check_resolve(1, Status.OPEN, "dismissed", note)


@pytest.mark.parametrize("outcome", ["open", "investigating", "closed", "", "DROP TABLE"])
def test_resolve_refuses_other_outcomes(outcome: str) -> None:
    with pytest.raises(CaseRuleError, match="actioned' or 'dismissed"):
        check_resolve(1, Status.OPEN, outcome, "note")


def test_resolving_twice_is_refused() -> None:
    with pytest.raises(CaseRuleError, match="cannot be resolved twice"):
        check_resolve(9, Status.ACTIONED, "dismissed", "again")


def test_note_limits_at_and_beyond_discord() -> None:
    assert check_note("x" * MAX_NOTE) == "x" * MAX_NOTE
    with pytest.raises(CaseRuleError, match="limit is 4000"):
        check_note("x" * (MAX_NOTE + 1))
    with pytest.raises(CaseRuleError):
        check_note("  ")


def test_normalise_text_optional() -> None:
    assert normalise_text("  ", what="x", limit=5, required=False) is None
    assert normalise_text(" ab ", what="x", limit=2, required=False) == "ab"


@pytest.mark.parametrize("kind", ["breach_report", "expiry_blocked", "new_kind_later", "a"])
def test_any_snake_case_kind_is_accepted(kind: str) -> None:
    assert validate_kind(kind) == kind


@pytest.mark.parametrize("kind", ["", "Breach", "has space", "x" * 41, "1abc", "drop;table"])
def test_bad_kinds_are_refused(kind: str) -> None:
    with pytest.raises(CaseRuleError):
        validate_kind(kind)


def test_dedupe_key_limits() -> None:
    assert validate_dedupe_key(None) is None
    assert validate_dedupe_key("channel:1") == "channel:1"
    with pytest.raises(CaseRuleError):
        validate_dedupe_key("")
    with pytest.raises(CaseRuleError):
        validate_dedupe_key("k" * 201)


def test_kind_labels() -> None:
    assert kind_label("breach_report") == "report from a member"
    assert kind_label("something_new") == "something new"
