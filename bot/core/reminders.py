"""Ground-rules reminders: what they say and when they are posted. Pure functions, no Discord types.

The cog turns a :class:`ReminderContent` into a ``discord.Embed``. Every reminder makes the same
points, short and whole (never a cut sentence): what is said here stays here; no recording,
screenshots or Clips; a private space and how messages leave it (the group's own settings); the
limits of confidentiality (one sentence, the full text a button away); how to raise a concern.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from bot.core.durations import describe_duration
from bot.core.expiry import BATCH_WINDOW
from bot.core.records import ConsentFact
from bot.i18n import N_, _

__all__ = [
    "EMBED_DESCRIPTION_LIMIT",
    "LIMITS_BUTTON_LABEL",
    "REMINDER_LIMIT",
    "ReminderContent",
    "ReminderKind",
    "auto_reminder_due",
    "closing_content",
    "expiry_sentence",
    "ground_rules_content",
    "stale_consents",
]

EMBED_DESCRIPTION_LIMIT = 4096
#: The most a ground-rules reminder says, title, text, fields and footer together: people read it
#: at the start of every session, so it stays short; the full agreement is one command away.
REMINDER_LIMIT = 900
EMBED_TITLE_LIMIT = 256
#: A group's name as shown in a reminder's title (Discord's room names are up to 100 characters).
NAME_LIMIT = 40
COLOUR = 0x5B8DEF
CLOSING_COLOUR = 0x8E9AAF
#: The label of the button under every reminder that shows the limits of confidentiality in full.
LIMITS_BUTTON_LABEL = N_("Limits of confidentiality in full")


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
    #: Show the button that answers with the full limits of confidentiality.
    limits_button: bool = False

    def length(self) -> int:
        """Every character a reader sees (what Discord counts towards an embed's size)."""
        return len(self.title) + len(self.description) + len(self.footer) + sum(len(n) + len(v) for n, v in self.fields)


def _minutes(value: timedelta) -> timedelta:
    """Rounded to whole minutes (at least one): how lateness is told."""
    return max(timedelta(minutes=round(value.total_seconds() / 60)), timedelta(minutes=1))


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


def expiry_sentence(ttl: timedelta | None, expire_at_session_end: bool, window: timedelta = BATCH_WINDOW) -> str:
    """How messages leave this group's rooms, from its settings, as one sentence for members."""
    seconds = int(window.total_seconds())
    within = _(" (within {seconds} seconds)").format(seconds=seconds) if window > timedelta(0) else ""
    if ttl is not None and expire_at_session_end:
        return _(
            "Messages here are removed when the session ends, and each one {duration} after it was posted{within}."
        ).format(duration=describe_duration(ttl), within=within)
    if ttl is not None:
        return _("Each message here is removed {duration} after it was posted{within}.").format(
            duration=describe_duration(ttl), within=within
        )
    if expire_at_session_end:
        return _("Messages here are removed when the session ends.")
    return _("Messages here are not removed automatically; share only what you are comfortable with.")


def ground_rules_content(
    *,
    group_name: str,
    agreement_version: int,
    ttl: timedelta | None,
    expire_at_session_end: bool,
    kind: ReminderKind = ReminderKind.START,
    late_by: timedelta | None = None,
    ends_at_text: str | None = None,
    removal_window: timedelta = BATCH_WINDOW,
) -> ReminderContent:
    """The ground-rules reminder for a group: every point in a few words, none of them cut.

    The agreement itself is not pasted in (members read it before they could enter); the limits of
    confidentiality are summed up in one sentence and shown in full by the button under the post.
    """
    name = _excerpt(group_name.strip() or _("this group"), NAME_LIMIT)
    if kind is ReminderKind.START:
        title = _("{group}: the session has started").format(group=name)
    elif kind is ReminderKind.PERIODIC:
        title = _("{group}: a reminder of our ground rules").format(group=name)
    else:
        title = _("{group}: welcome, here are our ground rules").format(group=name)
    intro: list[str] = []
    if kind is ReminderKind.START and late_by is not None and late_by > timedelta(0):
        intro.append(
            _("(Opened {duration} late; it still ends on time.)").format(duration=describe_duration(_minutes(late_by)))
        )
    if ends_at_text:
        intro.append(_("This session ends {when}.").format(when=ends_at_text))
    intro.append(_("Everyone here agreed to these ground rules:"))
    fields = (
        (_("What is said here stays here"), _("Do not repeat what others share, or who was here.")),
        (
            _("No recording, no screenshots"),
            _('No recording, screenshots or Clips (switch off "Allow my voice to be recorded in Clips").'),
        ),
        (
            _("A private space"),
            _("Only members who agreed can enter.") + " " + expiry_sentence(ttl, expire_at_session_end, removal_window),
        ),
        (
            _("The limits of confidentiality"),
            _(
                "Facilitators may have to share something if someone is at serious risk of harm or abuse, "
                "or if a court or the law requires it. Full text: the button below."
            ),
        ),
        (_("Raising a concern"), _("Use /report new at any time; only the moderators read it.")),
    )
    footer = (
        _("Agreement version {version}").format(version=agreement_version) if agreement_version > 0 else "holdspace"
    )
    return ReminderContent(_excerpt(title, EMBED_TITLE_LIMIT), "\n".join(intro), fields, footer, limits_button=True)


def closing_content(
    *, group_name: str, expiry_text: str | None = None, next_session_text: str | None = None
) -> ReminderContent:
    """The short reminder posted when a session ends."""
    name = group_name.strip() or _("this group")
    lines = [
        _(
            "Thank you for being here. What was shared in this session stays with the people who were in it: "
            "please do not repeat it, record it or take screenshots of it."
        ),
        _("If something from this session worries you, use /report new or speak to a facilitator."),
    ]
    if expiry_text:
        lines.append(_("Messages from this session: {what}.").format(what=expiry_text))
    if next_session_text:
        lines.append(_("Next session: {when}.").format(when=next_session_text))
    return ReminderContent(
        _excerpt(_("{group}: the session has ended").format(group=name), EMBED_TITLE_LIMIT),
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
    next_start: datetime | None = None,
) -> bool:
    """Post the ground rules now? Only for the first person to join, outside a session, once per gap,
    and not when a scheduled session starts within the gap (its own reminder follows in minutes)."""
    if session_running or people_already_in_voice > 0:
        return False
    if next_start is not None and now <= next_start < now + gap:
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
    return _(
        "A session of {group} starts {when}. The group's agreement has changed, or your "
        "consent to it is due for renewal, since you last agreed. Please review it with /consent before "
        "the session so you can join. If you do not wish to continue, you do not need to do anything."
    ).format(group=group_name, when=starts_at_text)
