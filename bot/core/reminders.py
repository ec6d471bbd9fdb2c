"""Ground-rules reminders: what they say and when they are posted. Pure functions, no Discord types.

The cog turns a :class:`ReminderContent` into a ``discord.Embed``. The content is built from the
group's own agreement (its text and version) plus the points every reminder makes: what is said here
stays here; no recording or screenshots; a private space; the limits of confidentiality; how to raise
a concern (/report).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from bot.core.durations import format_duration
from bot.core.expiry import BATCH_WINDOW
from bot.core.records import ConsentFact

__all__ = [
    "EMBED_DESCRIPTION_LIMIT",
    "ReminderContent",
    "ReminderKind",
    "auto_reminder_due",
    "closing_content",
    "ground_rules_content",
    "stale_consents",
]

EMBED_DESCRIPTION_LIMIT = 4096
AGREEMENT_EXCERPT_LIMIT = 1500
EMBED_TITLE_LIMIT = 256
COLOUR = 0x5B8DEF
CLOSING_COLOUR = 0x8E9AAF


class ReminderKind(Enum):
    START = "start"  # a session starts
    AUTO = "auto"  # someone joined the voice room while no session runs
    PERIODIC = "periodic"  # every N minutes during a session


@dataclass(frozen=True)
class ReminderContent:
    title: str
    description: str
    fields: tuple[tuple[str, str], ...]
    footer: str
    colour: int = COLOUR


def _excerpt(text: str, limit: int) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    # end at a line or word boundary where one is near
    for sep in ("\n", " "):
        at = cut.rfind(sep)
        if at >= limit * 2 // 3:
            cut = cut[:at]
            break
    return cut.rstrip() + "…"


def _expiry_line(ttl: timedelta | None, expire_at_session_end: bool, window: timedelta = BATCH_WINDOW) -> str:
    parts = []
    if expire_at_session_end:
        parts.append("messages in these rooms are removed when the session ends")
    if ttl is not None:
        within = f" (within {int(window.total_seconds())} seconds)" if window > timedelta(0) else ""
        parts.append(f"every message is removed {format_duration(ttl)} after it was posted{within}")
    if not parts:
        return "Messages in these rooms are not removed automatically; please share only what you are comfortable with."
    text = " and ".join(parts)
    return text[0].upper() + text[1:] + "."


def ground_rules_content(
    *,
    group_name: str,
    agreement_text: str | None,
    agreement_version: int,
    ttl: timedelta | None,
    expire_at_session_end: bool,
    kind: ReminderKind = ReminderKind.START,
    late_by: timedelta | None = None,
    ends_at_text: str | None = None,
    removal_window: timedelta = BATCH_WINDOW,
) -> ReminderContent:
    """The ground-rules reminder for a group, from its agreement."""
    name = group_name.strip() or "this group"
    if kind is ReminderKind.START:
        title = f"{name}: the session has started"
    elif kind is ReminderKind.PERIODIC:
        title = f"{name}: a reminder of our ground rules"
    else:
        title = f"{name}: welcome, here are our ground rules"
    intro: list[str] = []
    if kind is ReminderKind.START and late_by is not None and late_by > timedelta(0):
        intro.append(
            f"(holdspace was offline at the planned start and opened this session {format_duration(late_by)} late; "
            "it still ends at the planned time.)"
        )
    if ends_at_text:
        intro.append(f"This session ends {ends_at_text}.")
    intro.append("Everyone here agreed to these ground rules before entering. In short:")
    description = "\n".join(intro)
    if agreement_text and agreement_text.strip():
        description += "\n\n**Our agreement**\n" + _excerpt(agreement_text, AGREEMENT_EXCERPT_LIMIT)
    description = _excerpt(description, EMBED_DESCRIPTION_LIMIT)
    fields = (
        (
            "What is said here stays here",
            "Do not repeat outside this group what others share, or who was here.",
        ),
        (
            "No recording, no screenshots",
            "No recording bots or apps, no screenshots or photos of the screen, no clips. Please switch off "
            '"Allow my voice to be recorded in Clips" in your Discord settings.',
        ),
        (
            "A private space",
            "Only members who agreed to these ground rules can enter these rooms. "
            + _expiry_line(ttl, expire_at_session_end, removal_window),
        ),
        (
            "The limits of confidentiality",
            "holdspace keeps recording bots out, but it cannot see someone recording on their own device, "
            "and Discord itself stores what is posted until it is removed. Facilitators may have to act "
            "if someone is at serious risk of harm.",
        ),
        (
            "Raising a concern",
            "Use /report at any time; it reaches the moderators privately. You can also speak to a facilitator.",
        ),
    )
    footer = f"Agreement version {agreement_version}" if agreement_version > 0 else "holdspace"
    return ReminderContent(_excerpt(title, EMBED_TITLE_LIMIT), description, fields, footer)


def closing_content(
    *, group_name: str, expiry_text: str | None = None, next_session_text: str | None = None
) -> ReminderContent:
    """The short reminder posted when a session ends."""
    name = group_name.strip() or "this group"
    lines = [
        "Thank you for being here. What was shared in this session stays with the people who were in it: "
        "please do not repeat it, record it or take screenshots of it.",
        "If something from this session worries you, use /report or speak to a facilitator.",
    ]
    if expiry_text:
        lines.append(f"Messages from this session: {expiry_text}.")
    if next_session_text:
        lines.append(f"Next session: {next_session_text}.")
    return ReminderContent(
        _excerpt(f"{name}: the session has ended", EMBED_TITLE_LIMIT),
        _excerpt("\n\n".join(lines), EMBED_DESCRIPTION_LIMIT),
        (),
        "holdspace",
        CLOSING_COLOUR,
    )


def auto_reminder_due(
    *,
    last_posted_at: datetime | None,
    now: datetime,
    gap: timedelta,
    session_running: bool,
    people_already_in_voice: int,
) -> bool:
    """Post the ground rules now? Only for the first person to join, outside a session, once per gap."""
    if session_running or people_already_in_voice > 0:
        return False
    if last_posted_at is None:
        return True
    return now - last_posted_at >= gap


def stale_consents(
    *,
    enrolled: Iterable[int],
    consents: Mapping[int, ConsentFact],
    agreement_version: int,
    reconsent_after_days: int,
    now: datetime,
) -> list[int]:
    """Enrolled members whose current consent is out of date (older agreement or too old), sorted.

    Members with no current consent (never agreed, declined or withdrew) are not included: they are
    not asked again by holdspace on its own.
    """
    cutoff = now - timedelta(days=reconsent_after_days)
    stale = []
    for member_id in enrolled:
        fact = consents.get(member_id)
        if fact is None:
            continue
        if fact.version != agreement_version or fact.given_at <= cutoff:
            stale.append(member_id)
    return sorted(stale)


def review_dm_text(*, group_name: str, starts_at_text: str) -> str:
    """The DM asking a member to review an out-of-date consent before a session."""
    return (
        f"A session of {group_name} starts {starts_at_text}. The group's agreement has changed, or your "
        "consent to it is due for renewal, since you last agreed. Please review it with /consent before "
        "the session so you can join. If you do not wish to continue, you do not need to do anything."
    )
