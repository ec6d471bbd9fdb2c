"""A case's recorded details in plain words for moderators: one sentence per fact, never a raw key.

Cases keep their details as small key/value facts (``disconnected: True``, ``trigger: join``); this
module is the one place that says what each means. A fact this module does not know yet is still
shown, as "key in words: value", so nothing recorded is hidden. The facts stay English records;
the sentences are written in the reader's language when the case is shown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bot.i18n import N_, _

__all__ = ["TRIGGERS", "describe_details"]

#: What made holdspace look at someone in a group room.
TRIGGERS = {
    "join": N_("they joined the group's voice room"),
    "roles_changed": N_("their roles changed while they were in the voice room"),
    "session_locked": N_("the session ended and the rooms were locked"),
    "reconcile": N_("holdspace checked the rooms after being offline or reconnecting"),
    "adopt": N_("existing rooms were made into a group"),
}

_DONE = {
    "disconnect": N_("holdspace disconnected them from voice"),
    "kick": N_("holdspace removed them from the server (kick)"),
    "ban": N_("holdspace banned them from the server"),
    "nothing": N_("holdspace took no action"),
}


def _yes_no(yes: str, no: str) -> Callable[[Any], str]:
    """``yes`` or ``no`` (both marked with ``N_``) translated when the case is shown."""
    return lambda value: _(yes) if value else _(no)


def _known(words: Mapping[str, str], value: Any) -> str:
    """A recorded code in words for the reader; an unknown one as it was recorded."""
    found = words.get(str(value))
    return _(found) if found is not None else str(value).replace("_", " ")


_SENTENCES: dict[str, Callable[[Any], str]] = {
    "trigger": lambda v: _("What happened: {what}.").format(what=_known(TRIGGERS, v)),
    "disconnected": _yes_no(
        N_("They were disconnected from the voice room."), N_("They were not disconnected from voice.")
    ),
    "dm_sent": _yes_no(
        N_("They got a private message saying why."),
        N_("holdspace could not send them a private message (their messages from server members may be closed)."),
    ),
    "tries": lambda v: _("Attempts to disconnect: {count}.").format(count=v),
    "still_trying": _yes_no(N_("holdspace is still trying to disconnect them."), N_("holdspace has stopped trying.")),
    "moot": lambda v: _("No action was needed: {why}.").format(why=v),
    "bot": _yes_no(N_("This is a bot account."), N_("This is a person, not a bot.")),
    "administrator": _yes_no(
        N_(
            "The bot has the Administrator permission: holdspace cannot keep it out of rooms; remove the "
            "permission or the bot."
        ),
        N_("The bot does not have the Administrator permission."),
    ),
    "added_by": lambda v: _("Added to the server by: {who}.").format(who=v),
    "action": lambda v: _("The server's guard action is: {action}.").format(action=v),
    "done": lambda v: _("Outcome: {outcome}.").format(outcome=_known(_DONE, v)),
    "restored": _yes_no(
        N_("The room's permissions were put back."), N_("The room's permissions could not all be put back.")
    ),
    "rooms_closed": _yes_no(
        N_("The group's rooms were closed to them."), N_("The group's rooms could not be closed to them.")
    ),
    "version": lambda v: _("Agreement version: {version}.").format(version=v),
    "why": lambda v: _("Why: {why}.").format(why=v),
    "when": lambda v: _("When: {when}.").format(when=v),
    "change": lambda v: _("Change: {change}.").format(change=v),
    "problem": lambda v: _("Problem: {problem}.").format(problem=v),
    "warning": lambda v: _("Warning: {warning}.").format(warning=v),
    "note": lambda v: _("Note: {note}.").format(note=v),
}

#: Facts whose value is a code looked up above, not English words written by holdspace.
_CODED = {"trigger", "done", "action"}

_HIDDEN = {"voice_channel_id", "channel_id", "group_id", "case_id", "member_id", "role_id"}


def _words(value: Any) -> Any:
    """An English phrase holdspace stored (marked with ``N_`` where it was written), translated now;
    anything else (a moderator's words, a name a bot was added by) is shown as it is."""
    return _(value) if isinstance(value, str) and value else value


def describe_details(details: Mapping[str, Any]) -> list[str]:
    """One plain sentence per recorded fact, in a stable order (what happened first)."""
    order = [k for k in _SENTENCES if k in details] + sorted(k for k in details if k not in _SENTENCES)
    lines: list[str] = []
    for key in order:
        if key in _HIDDEN:
            continue
        value = details[key]
        if key == "problems" and isinstance(value, list | tuple):
            lines.extend(_("Problem: {problem}.").format(problem=_words(item)) for item in value if item)
            continue
        if not isinstance(value, str | int | float | bool):
            continue
        phrase = _SENTENCES.get(key)
        if key not in _CODED:
            value = _words(value)
        if phrase is not None:
            lines.append(phrase(value))
        else:
            shown = (_("yes") if value else _("no")) if isinstance(value, bool) else str(value)
            lines.append(_("{fact}: {value}.").format(fact=key.replace("_", " ").capitalize(), value=shown))
    return [line.replace("..", ".") for line in lines]
