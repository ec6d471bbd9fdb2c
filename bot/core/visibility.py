"""Who may see what: the one home of holdspace's visibility model (docs/privacy.md), pure, no I/O.

Every place that shows a case or a group's records asks here: /cases list|show|claim|note|resolve,
the case buttons, /privacy mydata and the group read commands. The callers gather the facts (who is
looking, which groups they facilitate, whether a case's subject facilitates its group) from memory;
the rules below decide.

The rules:

- nobody sees a case about themselves beyond its number and status (not even a moderator or a
  server manager: its details may name who flagged it), and nothing at all of a member's report
  about them (in a small group the timing alone can name the reporter);
- member reports, and cases whose subject facilitates the group, are for moderators only;
- a facilitator sees the other cases of the groups they facilitate, and only those: attending a
  group as a member gives no more than any member has;
- moderators and server managers see every other case of their server; only moderators (and server
  managers) work on cases;
- a group's schedules, session status and facilitator list are read by the people who may change
  them: its facilitators and the server managers;
- a group's session integrity reports (numbers, statuses and case numbers, never names) are read by
  its facilitators and by moderators and server managers.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

#: The kind of case a member's report opens ("/report new" and "Report to moderators").
MEMBER_REPORT = "breach_report"


class CaseSight(Enum):
    """How much of a case someone may see."""

    NONE = "none"  # not even that it exists
    STATUS = "status"  # its number and status only
    FULL = "full"  # what holdspace shows of a case (never its reporter)


@dataclass(frozen=True)
class Viewer:
    """The facts about the person looking, gathered by the caller."""

    member_id: int
    is_moderator: bool = False  # the moderator role (server managers count as moderators)
    is_server_manager: bool = False
    facilitates: frozenset[str] = frozenset()  # ids of the groups they facilitate (not just attend)

    @property
    def works_cases(self) -> bool:
        return self.is_moderator or self.is_server_manager


@dataclass(frozen=True)
class CaseFacts:
    """The facts about a case that visibility depends on."""

    kind: str
    group_id: str | None
    subject_id: int | None
    subject_facilitates: bool  # the subject facilitates the case's group (unknown counts as yes)


def case_sight(viewer: Viewer, case: CaseFacts) -> CaseSight:
    """How much of ``case`` ``viewer`` may see."""
    if case.subject_id is not None and case.subject_id == viewer.member_id:
        # Not even that a member reported them: in a small group the timing names the reporter.
        return CaseSight.NONE if case.kind == MEMBER_REPORT else CaseSight.STATUS
    if viewer.works_cases:
        return CaseSight.FULL
    if case.kind == MEMBER_REPORT or case.subject_facilitates:
        return CaseSight.NONE
    if case.group_id is not None and case.group_id in viewer.facilitates:
        return CaseSight.FULL
    return CaseSight.NONE


def may_work_case(viewer: Viewer, case: CaseFacts) -> bool:
    """Claim, note, resolve: moderators, on cases that are not about themselves."""
    return viewer.works_cases and case_sight(viewer, case) is CaseSight.FULL


def may_see_any_case(viewer: Viewer) -> bool:
    """Whether /cases is for this person at all (before any case is read)."""
    return viewer.works_cases or bool(viewer.facilitates)


def case_group_scope(viewer: Viewer) -> frozenset[str] | None:
    """The groups whose cases may be read at all (None: every group and cases of no group)."""
    return None if viewer.works_cases else viewer.facilitates


def may_read_group(viewer: Viewer, group_id: str) -> bool:
    """A group's schedules, session status and facilitator list: its facilitators, server managers."""
    return viewer.is_server_manager or group_id in viewer.facilitates


def may_read_session_reports(viewer: Viewer, group_id: str) -> bool:
    """A group's session integrity reports: its facilitators, moderators and server managers."""
    return viewer.works_cases or group_id in viewer.facilitates
