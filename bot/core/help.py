"""What ``/help`` tells each person: the commands they may use, in their words.

Four audiences, each a list of (command, what it does for you) lines: everyone (members), then what
facilitators add, what moderators add, and what server managers add. A person sees the sections of
every role they hold. The guides in docs/ quote these same lines (tests/unit/test_guides.py keeps
them in step).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.i18n import N_, _, slash

__all__ = [
    "FACILITATOR",
    "MEMBER",
    "MODERATOR",
    "SECTION_ROLES",
    "SERVER_MANAGER",
    "HelpSection",
    "help_sections",
    "help_text",
]


@dataclass(frozen=True)
class HelpSection:
    title: str
    lines: tuple[tuple[str, str], ...]


MEMBER = HelpSection(
    N_("For everyone"),
    (
        ("/consent give", N_("read a group's agreement and say whether you agree")),
        ("/consent agreement", N_("read again, word for word, the agreement you agreed to")),
        ("/consent status", N_("see which groups you agreed to, and when")),
        ("/consent withdraw", N_("take back your consent; you leave the group's rooms at once")),
        ("/report new", N_("tell the moderators about a problem; only they read it")),
        ("/report status", N_("see how your reports are going")),
        ("/privacy notice", N_("what holdspace keeps about people, and for how long")),
        ("/privacy mydata", N_("see what holdspace holds about you, and get a copy")),
        ("/privacy forget", N_("erase what holdspace holds about you, as far as the rules allow")),
    ),
)

FACILITATOR = HelpSection(
    N_("For facilitators"),
    (
        ("/group create", N_("make a new group with a private text room and voice room")),
        ("/group enroll", N_("invite a member; they get the agreement to read")),
        ("/group roster", N_("who is enrolled and who has agreed")),
        ("/group settings", N_("see or change how a group works")),
        ("/group agreement show", N_("read the agreement, the current one or an earlier version")),
        ("/group agreement edit", N_("change the agreement; members are asked to agree again")),
        ("/session start", N_("open the rooms and post the ground rules")),
        ("/session end", N_("end the session")),
        ("/session schedule add", N_("a weekly session that starts and ends by itself")),
        ("/session status", N_("what is running and what comes next")),
        ("/session history", N_("past sessions' integrity reports")),
    ),
)

MODERATOR = HelpSection(
    N_("For moderators"),
    (
        ("/cases list", N_("the server's cases, newest first")),
        ("/cases show", N_("one case: what happened and what was done")),
        ("/cases claim", N_("take a case so other moderators see you have it")),
        ("/cases note", N_("add a note only moderators read")),
        ("/cases resolve", N_("close a case as actioned or dismissed")),
    ),
)

SERVER_MANAGER = HelpSection(
    N_("For server managers"),
    (
        ("/setup configure", N_("roles, channels and time zone")),
        ("/setup agreement edit", N_("the agreement new groups start from")),
        ("/guard audit", N_("check the server's set-up, line by line")),
        ("/guard list", N_("the bots allowed into group rooms")),
    ),
)

#: Each section with the role its commands ask for (None: everyone); a test holds the two together.
SECTION_ROLES: tuple[tuple[HelpSection, str | None], ...] = (
    (MEMBER, None),
    (FACILITATOR, "facilitator"),
    (MODERATOR, "moderator"),
    (SERVER_MANAGER, "server manager"),
)


def help_sections(*, facilitator: bool, moderator: bool, manager: bool = False) -> list[HelpSection]:
    """The sections a person with these roles sees, everyone's first."""
    sections = [MEMBER]
    if facilitator:
        sections.append(FACILITATOR)
    if moderator:
        sections.append(MODERATOR)
    if manager:
        sections.append(SERVER_MANAGER)
    return sections


def help_text(*, facilitator: bool, moderator: bool, manager: bool = False) -> str:
    """The whole answer to ``/help`` (well within one message's 2,000 characters)."""
    parts = ["**" + _("What you can do with holdspace") + "**"]
    for section in help_sections(facilitator=facilitator, moderator=moderator, manager=manager):
        parts.append(f"\n**{_(section.title)}**")
        parts.extend(f"`{slash(command)}`: {_(what)}" for command, what in section.lines)
    parts.append("\n" + _("Everything holdspace says to you here is visible to you only."))
    return "\n".join(parts)
