"""What ``/help`` tells each person: the commands they may use, in their words.

Three audiences, each a list of (command, what it does for you) lines: everyone (members), then what
facilitators add, then what moderators add. A person sees the sections of every role they hold. The
guides in docs/ quote these same lines (tests/unit/test_guides.py keeps them in step).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FACILITATOR", "MEMBER", "MODERATOR", "HelpSection", "help_sections", "help_text"]


@dataclass(frozen=True)
class HelpSection:
    title: str
    lines: tuple[tuple[str, str], ...]


MEMBER = HelpSection(
    "For everyone",
    (
        ("/consent give", "read a group's agreement and say whether you agree; then you can enter its rooms"),
        ("/consent agreement", "read again, word for word, the agreement you agreed to"),
        ("/consent status", "see which groups you agreed to, and when"),
        ("/consent withdraw", "take back your consent; you leave the group's rooms at once"),
        ("/report new", "tell the moderators about a problem; only they read it"),
        ("/report status", "see how your reports are going"),
        ("/privacy notice", "what holdspace keeps about people, and for how long"),
        ("/privacy mydata", "see what holdspace holds about you, and get a copy"),
        ("/privacy forget", "erase what holdspace holds about you, as far as the rules allow"),
    ),
)

FACILITATOR = HelpSection(
    "For facilitators",
    (
        ("/group create", "make a new group with a private text room and voice room"),
        ("/group enroll", "invite a member; they get the agreement to read"),
        ("/group roster", "who is enrolled and who has agreed"),
        ("/group settings", "see or change how a group works (how long messages stay, who can join)"),
        ("/group agreement show", "read the agreement, the current one or an earlier version"),
        ("/group agreement edit", "change the agreement; members are asked to agree again"),
        ("/session start", "open the rooms and post the ground rules"),
        ("/session end", "end the session; the rooms lock where the group says so"),
        ("/session schedule add", "a weekly session that starts and ends by itself"),
        ("/session status", "what is running and what comes next"),
    ),
)

MODERATOR = HelpSection(
    "For moderators",
    (
        ("/cases list", "the server's cases, newest first"),
        ("/cases show", "one case: what happened and what was done"),
        ("/cases claim", "take a case so other moderators see you have it"),
        ("/cases note", "add a note only moderators read"),
        ("/cases resolve", "close a case as actioned or dismissed"),
        ("/guard audit", "check the server's set-up, line by line"),
        ("/guard list", "the bots allowed into group rooms"),
    ),
)


def help_sections(*, facilitator: bool, moderator: bool) -> list[HelpSection]:
    """The sections a person with these roles sees, everyone's first."""
    sections = [MEMBER]
    if facilitator:
        sections.append(FACILITATOR)
    if moderator:
        sections.append(MODERATOR)
    return sections


def help_text(*, facilitator: bool, moderator: bool) -> str:
    """The whole answer to ``/help`` (well within one message's 2,000 characters)."""
    parts = ["**What you can do with holdspace**"]
    for section in help_sections(facilitator=facilitator, moderator=moderator):
        parts.append(f"\n**{section.title}**")
        parts.extend(f"`{command}`: {what}" for command, what in section.lines)
    parts.append("\nEverything holdspace says to you here is visible to you only.")
    return "\n".join(parts)
