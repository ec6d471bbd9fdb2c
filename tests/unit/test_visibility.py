"""The visibility model (bot.core.visibility, docs/privacy.md): every viewer against every kind of case."""

from __future__ import annotations

import pytest

from bot.core.visibility import (
    MEMBER_REPORT,
    CaseFacts,
    CaseSight,
    Viewer,
    case_group_scope,
    case_sight,
    may_read_group,
    may_see_any_case,
    may_work_case,
)

ME, OTHER = 1, 2
MEMBER = Viewer(ME)
FACILITATOR = Viewer(ME, facilitates=frozenset({"g"}))
MODERATOR = Viewer(ME, is_moderator=True)
MANAGER = Viewer(ME, is_server_manager=True)


def _case(kind: str = "unconsented_join", *, group: str | None = "g", subject: int | None = OTHER,
          subject_facilitates: bool = False) -> CaseFacts:
    return CaseFacts(kind, group, subject, subject_facilitates)


@pytest.mark.parametrize(
    ("viewer", "case", "sight"),
    [
        # an automatic case about a member of group g
        (MEMBER, _case(), CaseSight.NONE),
        (FACILITATOR, _case(), CaseSight.FULL),
        (MODERATOR, _case(), CaseSight.FULL),
        (MANAGER, _case(), CaseSight.FULL),
        # ... of another group
        (FACILITATOR, _case(group="h"), CaseSight.NONE),
        (FACILITATOR, _case(group=None), CaseSight.NONE),
        (MODERATOR, _case(group=None), CaseSight.FULL),
        # a member's report: moderators only
        (FACILITATOR, _case(MEMBER_REPORT), CaseSight.NONE),
        (MODERATOR, _case(MEMBER_REPORT), CaseSight.FULL),
        (MANAGER, _case(MEMBER_REPORT), CaseSight.FULL),
        # a case whose subject facilitates the group: moderators only
        (FACILITATOR, _case(subject_facilitates=True), CaseSight.NONE),
        (MODERATOR, _case(subject_facilitates=True), CaseSight.FULL),
        # a case about the viewer: its status at most, nothing of a report about them
        (MEMBER, _case(subject=ME), CaseSight.STATUS),
        (FACILITATOR, _case(subject=ME), CaseSight.STATUS),
        (MODERATOR, _case(subject=ME), CaseSight.STATUS),
        (MANAGER, _case(subject=ME), CaseSight.STATUS),
        (MODERATOR, _case(MEMBER_REPORT, subject=ME), CaseSight.NONE),
        (FACILITATOR, _case(MEMBER_REPORT, subject=ME), CaseSight.NONE),
    ],
)
def test_case_sight(viewer: Viewer, case: CaseFacts, sight: CaseSight) -> None:
    assert case_sight(viewer, case) is sight


def test_only_moderators_work_cases_and_never_their_own() -> None:
    assert may_work_case(MODERATOR, _case()) and may_work_case(MANAGER, _case(MEMBER_REPORT))
    assert not may_work_case(FACILITATOR, _case())
    assert not may_work_case(MODERATOR, _case(subject=ME))


def test_who_may_open_the_case_list_and_which_groups() -> None:
    assert not may_see_any_case(MEMBER)
    assert may_see_any_case(FACILITATOR) and may_see_any_case(MODERATOR)
    assert case_group_scope(FACILITATOR) == frozenset({"g"})
    assert case_group_scope(MODERATOR) is None and case_group_scope(MANAGER) is None


def test_group_records_are_read_by_those_who_run_the_group() -> None:
    assert may_read_group(FACILITATOR, "g") and may_read_group(MANAGER, "g")
    assert not may_read_group(FACILITATOR, "h")
    assert not may_read_group(MEMBER, "g") and not may_read_group(MODERATOR, "g")
