"""A group's settings in plain words, as `/group settings` shows them (and the facilitators' guide
quotes them): each line says what the setting does and names the option that changes it."""

from __future__ import annotations

from bot.core.durations import describe_duration, format_duration
from bot.core.records import GroupInfo
from bot.i18n import _, pgettext


def _yes(flag: bool) -> str:
    return pgettext("setting", "yes") if flag else pgettext("setting", "no")


def settings_text(group: GroupInfo, language: str, language_option: str) -> str:
    """The settings in plain words, in the current language; each line names the option that changes
    it, in brackets (option names and values stay as typed). ``language``: the name of the group's
    language; ``language_option``: the option's value."""
    ttl = (
        _("never (off)")
        if group.ttl is None
        else _("{duration} after they are posted").format(duration=describe_duration(group.ttl))
    )
    enrolment = {
        "open": _("anyone on the server may ask to join"),
        "invite": _("only members a facilitator enrols"),
    }.get(group.enrolment, group.enrolment)
    access = {
        "member": _("each member is let in by name"),
        "role": _("through the group's role"),
    }.get(group.access_mode, group.access_mode)
    if group.language is None:
        language = _("{language} (the server's)").format(language=language)
    ttl_option = "off" if group.ttl is None else format_duration(group.ttl)
    return "\n".join(
        [
            _("Who can join: {enrolment} (`enrolment`: {value})").format(enrolment=enrolment, value=group.enrolment),
            _("Members agree again every {days} days (`reconsent_after_days`)").format(
                days=group.reconsent_after_days
            ),
            _("Facilitators must agree too: {answer} (`facilitators_consent`)").format(
                answer=_yes(group.facilitators_consent)
            ),
            _("How the rooms are opened: {access} (`access_mode`: {value})").format(
                access=access, value=group.access_mode
            ),
            _("Rooms locked between sessions: {answer} (`lock_between_sessions`)").format(
                answer=_yes(group.lock_between_sessions)
            ),
            _("Messages are removed: {when} (`ttl`: {value})").format(when=ttl, value=ttl_option),
            _("Messages removed when a session ends: {answer} (`expire_at_session_end`)").format(
                answer=_yes(group.expire_at_session_end)
            ),
            _("Pinned messages kept: {answer} (`keep_pinned`)").format(answer=_yes(group.keep_pinned)),
            _(
                "Ground rules posted for the first person to join after {quiet} of quiet "
                "(`auto_reminder_gap`: {value})"
            ).format(quiet=describe_duration(group.auto_reminder_gap), value=format_duration(group.auto_reminder_gap)),
            _("A moderator's hold keeps messages for at most {days} days (`max_hold_days`)").format(
                days=group.max_hold_days
            ),
            _("Agreement: version {version} (SHA-256 {digest})").format(
                version=group.agreement_version, digest=group.agreement_sha256[:16]
            ),
            _("Language: {language} (`language`: {value})").format(language=language, value=language_option),
        ]
    )
