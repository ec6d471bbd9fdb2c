"""A group's settings in plain words, as `/group settings` shows them (and the facilitators' guide
quotes them): each line says what the setting does and names the option that changes it."""

from __future__ import annotations

from bot.core.durations import describe_duration, format_duration
from bot.core.records import GroupInfo


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def settings_text(group: GroupInfo, language: str, language_option: str) -> str:
    """The settings in plain words; each line names the option that changes it, in brackets.
    ``language``: the name of the group's language; ``language_option``: the option's value."""
    ttl = "never (off)" if group.ttl is None else f"{describe_duration(group.ttl)} after they are posted"
    enrolment = {
        "open": "anyone on the server may ask to join",
        "invite": "only members a facilitator enrols",
    }.get(group.enrolment, group.enrolment)
    access = {
        "member": "each member is let in by name",
        "role": "through the group's role",
    }.get(group.access_mode, group.access_mode)
    if group.language is None:
        language = f"{language} (the server's)"
    return "\n".join(
        [
            f"Who can join: {enrolment} (`enrolment`: {group.enrolment})",
            f"Members agree again every {group.reconsent_after_days} days (`reconsent_after_days`)",
            f"Facilitators must agree too: {_yes(group.facilitators_consent)} (`facilitators_consent`)",
            f"How the rooms are opened: {access} (`access_mode`: {group.access_mode})",
            f"Rooms locked between sessions: {_yes(group.lock_between_sessions)} (`lock_between_sessions`)",
            f"Messages are removed: {ttl} (`ttl`: {'off' if group.ttl is None else format_duration(group.ttl)})",
            f"Messages removed when a session ends: {_yes(group.expire_at_session_end)} (`expire_at_session_end`)",
            f"Pinned messages kept: {_yes(group.keep_pinned)} (`keep_pinned`)",
            f"Ground rules posted for the first person to join after {describe_duration(group.auto_reminder_gap)} "
            f"of quiet (`auto_reminder_gap`: {format_duration(group.auto_reminder_gap)})",
            f"A moderator's hold keeps messages for at most {group.max_hold_days} days (`max_hold_days`)",
            f"Agreement: version {group.agreement_version} (SHA-256 {group.agreement_sha256[:16]})",
            f"Language: {language} (`language`: {language_option})",
        ]
    )
