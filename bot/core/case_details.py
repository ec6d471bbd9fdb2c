"""A case's recorded details in plain words for moderators: one sentence per fact, never a raw key.

Cases keep their details as small key/value facts (``disconnected: True``, ``trigger: join``); this
module is the one place that says what each means. A fact this module does not know yet is still
shown, as "key in words: value", so nothing recorded is hidden.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["TRIGGERS", "describe_details"]

#: What made holdspace look at someone in a group room.
TRIGGERS = {
    "join": "they joined the group's voice room",
    "roles_changed": "their roles changed while they were in the voice room",
    "session_locked": "the session ended and the rooms were locked",
    "reconcile": "holdspace checked the rooms after being offline or reconnecting",
    "adopt": "existing rooms were made into a group",
}

_DONE = {
    "disconnect": "holdspace disconnected them from voice",
    "kick": "holdspace removed them from the server (kick)",
    "ban": "holdspace banned them from the server",
    "nothing": "holdspace took no action",
}


def _yes_no(yes: str, no: str) -> Callable[[Any], str]:
    return lambda value: yes if value else no


_SENTENCES: dict[str, Callable[[Any], str]] = {
    "trigger": lambda v: f"What happened: {TRIGGERS.get(str(v), str(v).replace('_', ' '))}.",
    "disconnected": _yes_no("They were disconnected from the voice room.", "They were not disconnected from voice."),
    "dm_sent": _yes_no(
        "They got a private message saying why.",
        "holdspace could not send them a private message (their messages from server members may be closed).",
    ),
    "tries": lambda v: f"Attempts to disconnect: {v}.",
    "still_trying": _yes_no("holdspace is still trying to disconnect them.", "holdspace has stopped trying."),
    "moot": lambda v: f"No action was needed: {v}.",
    "bot": _yes_no("This is a bot account.", "This is a person, not a bot."),
    "administrator": _yes_no(
        "The bot has the Administrator permission: holdspace cannot keep it out of rooms; remove the "
        "permission or the bot.",
        "The bot does not have the Administrator permission.",
    ),
    "added_by": lambda v: f"Added to the server by: {v}.",
    "action": lambda v: f"The server's guard action is: {v}.",
    "done": lambda v: f"Outcome: {_DONE.get(str(v), str(v))}.",
    "restored": _yes_no("The room's permissions were put back.", "The room's permissions could not all be put back."),
    "rooms_closed": _yes_no("The group's rooms were closed to them.", "The group's rooms could not be closed to them."),
    "version": lambda v: f"Agreement version: {v}.",
    "why": lambda v: f"Why: {v}.",
}

_HIDDEN = {"voice_channel_id", "channel_id", "group_id", "case_id", "member_id", "role_id"}


def describe_details(details: Mapping[str, Any]) -> list[str]:
    """One plain sentence per recorded fact, in a stable order (what happened first)."""
    order = [k for k in _SENTENCES if k in details] + sorted(k for k in details if k not in _SENTENCES)
    lines: list[str] = []
    for key in order:
        if key in _HIDDEN:
            continue
        value = details[key]
        if key == "problems" and isinstance(value, list | tuple):
            lines.extend(f"Problem: {item}." for item in value if item)
            continue
        if not isinstance(value, str | int | float | bool):
            continue
        phrase = _SENTENCES.get(key)
        if phrase is not None:
            lines.append(phrase(value))
        else:
            shown = ("yes" if value else "no") if isinstance(value, bool) else str(value)
            lines.append(f"{key.replace('_', ' ').capitalize()}: {shown}.")
    return [line.replace("..", ".") for line in lines]
