"""The consent agreement: the default text shipped with holdspace, validation and splitting.

Discord limits: 2000 characters of message content, 4096 in an embed description, 6000 in all the
embeds of one message, 4000 in one modal text field. An agreement is shown as one embed per message
(``PART_LIMIT`` characters each, leaving room for the title and footer), split at paragraph, line,
sentence or word boundaries, never inside a word when that can be avoided.
"""

from __future__ import annotations

import re
from importlib import resources

#: The most a facilitator may store (three modal fields of 4000 characters).
MAX_AGREEMENT_CHARS = 12000
#: One modal text field (Discord's limit).
MODAL_FIELD_LIMIT = 4000
#: How many modal fields the editor uses.
MODAL_FIELDS = 3
#: One shown part (embed description limit is 4096).
PART_LIMIT = 3900
#: A group name, as it appears in the default text.
_PLACEHOLDER = "{group}"


class AgreementError(ValueError):
    """An agreement text that cannot be used; the message says why."""


def default_text(group_name: str) -> str:
    """The default agreement shipped with holdspace, for a group called ``group_name``."""
    template = resources.files("bot").joinpath("data/default_agreement.md").read_text(encoding="utf-8")
    return normalise(template.replace(_PLACEHOLDER, group_name))


def normalise(text: str) -> str:
    """Line endings to LF, no trailing spaces at line ends, no blank lines at either end."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    return "\n".join(lines).strip("\n")


def validate(text: str) -> str:
    """The text to store, or AgreementError saying what is wrong."""
    text = normalise(text)
    if not text.strip():
        raise AgreementError("The agreement is empty; write the ground rules the group agrees to.")
    if len(text) > MAX_AGREEMENT_CHARS:
        raise AgreementError(
            f"The agreement is {len(text)} characters long; the most holdspace can show is "
            f"{MAX_AGREEMENT_CHARS}. Please shorten it."
        )
    return text


def join_fields(parts: list[str | None]) -> str:
    """The text from the editor's fields (empty fields are skipped; parts joined by a blank line)."""
    for part in parts:
        if part is not None and len(part) > MODAL_FIELD_LIMIT:
            raise AgreementError(
                f"One part of the agreement is {len(part)} characters long; Discord allows "
                f"{MODAL_FIELD_LIMIT} per part. Move some of it into the next part."
            )
    return validate("\n\n".join(p.strip("\n") for p in parts if p and p.strip()))


def split_for_fields(text: str) -> list[str]:
    """Cut ``text`` into at most ``MODAL_FIELDS`` pieces of at most ``MODAL_FIELD_LIMIT`` for editing."""
    pieces = split(text, MODAL_FIELD_LIMIT)
    if len(pieces) > MODAL_FIELDS:  # cannot happen for validated text, but never lose any
        head = pieces[: MODAL_FIELDS - 1]
        tail = "\n\n".join(pieces[MODAL_FIELDS - 1 :])
        pieces = [*head, tail[:MODAL_FIELD_LIMIT]]
    return pieces


_BREAKS = (re.compile(r"\n\s*\n"), re.compile(r"\n"), re.compile(r"(?<=[.!?;:])\s"), re.compile(r"\s"))


def split(text: str, limit: int = PART_LIMIT) -> list[str]:
    """Split ``text`` into parts of at most ``limit`` characters at the best boundary available.

    Parts are stripped of the whitespace at the cut. A word longer than ``limit`` is cut hard.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    text = text.strip()
    parts: list[str] = []
    while len(text) > limit:
        window = text[: limit + 1]
        cut = -1
        for pattern in _BREAKS:
            found = [m for m in pattern.finditer(window) if 0 < m.start() <= limit]
            if found:
                last = found[-1]
                cut = last.start()
                rest_at = last.end()
                break
        if cut <= 0:
            cut = rest_at = limit
        parts.append(text[:cut].rstrip())
        text = text[rest_at:].lstrip()
    if text:
        parts.append(text)
    return parts
