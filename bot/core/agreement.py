"""The consent agreement: the default text shipped with holdspace, validation and splitting.

Discord limits: 2000 characters of message content, 4096 in an embed description, 6000 in all the
embeds of one message, 4000 in one modal text field. An agreement is shown as one embed per message
(``PART_LIMIT`` characters each, leaving room for the title and footer), split at paragraph, line,
sentence or word boundaries, never inside a word when that can be avoided.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources

from bot.core.durations import describe_duration
from bot.core.member_records import Retention
from bot.core.records import GroupInfo
from bot.i18n import N_, SOURCE, _, available, current, ngettext, slash, using
from bot.i18n.catalogues import translations

#: The most a facilitator may store (three modal fields of 4000 characters).
MAX_AGREEMENT_CHARS = 12000
#: One modal text field (Discord's limit).
MODAL_FIELD_LIMIT = 4000
#: How many modal fields the editor uses.
MODAL_FIELDS = 3
#: One shown part (embed description limit is 4096).
PART_LIMIT = 3900
#: The heading every agreement should keep: the exceptions to confidentiality, in full.
LIMITS_HEADING = N_("Limits of confidentiality")


class AgreementError(ValueError):
    """An agreement text that cannot be used; the message says why."""


@dataclass(frozen=True)
class GroupFacts:
    """What the default agreement says about a group's settings: how its messages leave, and the
    practice's ``[retention]`` periods."""

    ttl: timedelta | None
    expire_at_session_end: bool
    retention: Retention


def facts_of(group: GroupInfo, retention: Retention) -> GroupFacts:
    return GroupFacts(group.ttl, group.expire_at_session_end, retention)


def _days(days: int) -> str:
    if days % 365 == 0:
        years = days // 365
        return ngettext("a year", "{count} years", years).format(count=years)
    return ngettext("a day", "{count} days", days).format(count=days)


def expiry_promise(facts: GroupFacts) -> str:
    """What the agreement promises about deletion; nothing automatic is promised when nothing is set."""
    if facts.ttl is not None and facts.expire_at_session_end:
        return _(
            "holdspace deletes every message in this group's rooms {duration} after it was posted and "
            "deletes the messages of a session when the session ends."
        ).format(duration=describe_duration(facts.ttl))
    if facts.ttl is not None:
        return _("holdspace deletes every message in this group's rooms {duration} after it was posted.").format(
            duration=describe_duration(facts.ttl)
        )
    if facts.expire_at_session_end:
        return _("holdspace deletes the messages of a session when the session ends.")
    return _(
        "This group does not delete messages automatically: what you send stays until you or a "
        "facilitator delete it. Share only what you are comfortable with."
    )


def default_template(language: str | None = None) -> str:
    """The shipped default agreement in ``language`` (default: the current one), English where
    holdspace has none in that language (bot/data/default_agreement.<language>.md)."""
    data = resources.files("bot").joinpath("data")
    code = language or current()
    localised = data.joinpath(f"default_agreement.{code}.md")
    chosen = localised if code != SOURCE and localised.is_file() else data.joinpath("default_agreement.md")
    return chosen.read_text(encoding="utf-8")


def default_text(group_name: str, facts: GroupFacts, language: str | None = None, template: str | None = None) -> str:
    """A new group's first agreement: ``template`` (its server's default agreement; None: the one
    shipped with holdspace) for a group called ``group_name`` with its settings and the practice's
    retention periods written in, in ``language`` (default: current)."""
    with using(language or current()):
        return render(default_template() if template is None else template, group_name, facts)


#: What a template may say that each group's agreement fills in, with what it becomes.
PLACEHOLDERS = {
    "{group}": N_("the group's name"),
    "{expiry}": N_("how the group's messages are deleted (its settings)"),
    "{closed_cases}": N_("how long closed cases are kept"),
    "{consent_kept}": N_("how long consent records are kept after someone withdraws or leaves"),
    "{audit_kept}": N_("how long the audit trail keeps its entries"),
}


def validate_template(template: str, longest_name: str, retention: Retention) -> str:
    """A server's default agreement to store, or AgreementError: it must be a usable agreement itself
    and still fit once a group with the longest name and the longest expiry wording fills it in."""
    template = validate(template)
    widest = GroupFacts(timedelta(days=364, hours=23, minutes=59), True, retention)
    try:
        validate(render(template, longest_name, widest))
    except AgreementError:
        raise AgreementError(
            _(
                "Filled in for a group, this text can grow past the {limit} characters holdspace can show "
                "(the placeholders become the group's name and settings). Please shorten it."
            ).format(limit=MAX_AGREEMENT_CHARS)
        ) from None
    return template


def render(template: str, group_name: str, facts: GroupFacts) -> str:
    """A template with ``{group}``, ``{expiry}``, ``{closed_cases}``, ``{consent_kept}`` and
    ``{audit_kept}`` filled in (any other braces are left as written)."""
    values = {
        "{group}": group_name,
        "{expiry}": expiry_promise(facts),
        "{closed_cases}": _days(facts.retention.closed_cases_days),
        "{consent_kept}": _days(facts.retention.withdrawn_consent_days),
        "{audit_kept}": _days(facts.retention.audit_days),
    }
    text = template
    for key, value in values.items():
        text = text.replace(key, value)
    return normalise(text)


def limits_section(text: str) -> str | None:
    """The limits-of-confidentiality section of an agreement, heading included, in full (up to
    the next heading); None when the agreement has no such section."""
    lines = normalise(text).split("\n")
    headings = limits_headings()
    start = None
    for index, line in enumerate(lines):
        if _is_heading(line) and any(heading in line.lower() for heading in headings):
            start = index
            break
    if start is None:
        return None
    end = len(lines)
    for index in range(start + 1, len(lines)):
        if _is_heading(lines[index]):
            end = index
            break
    section = "\n".join(lines[start:end]).strip()
    return section if len(section.split("\n")) > 1 else None


def limits_headings() -> frozenset[str]:
    """The limits section's heading in every language holdspace speaks (lowercase): an agreement in
    any of them has the section."""
    return frozenset(translations(code).gettext(LIMITS_HEADING).lower() for code in available())


def _is_heading(line: str) -> bool:
    """A line that is only a bold or markdown title (how agreements mark their sections)."""
    stripped = line.strip()
    if stripped.startswith("#"):
        return True
    return stripped.startswith("**") and stripped.endswith("**") and stripped.count("**") == 2 and len(stripped) > 4


def missing_sections(text: str) -> list[str]:
    """The sections an agreement should have and does not (a warning to the editor, not a refusal)."""
    return [] if limits_section(text) is not None else [_(LIMITS_HEADING)]


def normalise(text: str) -> str:
    """Line endings to LF, no trailing spaces at line ends, no blank lines at either end."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    return "\n".join(lines).strip("\n")


def validate(text: str) -> str:
    """The text to store, or AgreementError saying what is wrong."""
    text = normalise(text)
    if not text.strip():
        raise AgreementError(_("The agreement is empty; write the ground rules the group agrees to."))
    if len(text) > MAX_AGREEMENT_CHARS:
        raise AgreementError(
            _(
                "The agreement is {length} characters long; the most holdspace can show is {limit}. Please shorten it."
            ).format(length=len(text), limit=MAX_AGREEMENT_CHARS)
        )
    return text


def join_fields(parts: list[str | None]) -> str:
    """The text from the editor's fields (empty fields are skipped; parts joined by a blank line)."""
    for part in parts:
        if part is not None and len(part) > MODAL_FIELD_LIMIT:
            raise AgreementError(
                _(
                    "One part of the agreement is {length} characters long; Discord allows {limit} per part. "
                    "Move some of it into the next part."
                ).format(length=len(part), limit=MODAL_FIELD_LIMIT)
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


def missing_sections_warning(text: str, edit_with: str) -> str:
    """A warning to append to the editor's confirmation, or "" when nothing is missing; ``edit_with``
    is the command that edits this text again (a group's agreement or the server's default)."""
    missing = missing_sections(text)
    if not missing:
        return ""
    names = ", ".join(f'"{name}"' for name in missing)
    return "\n\n" + _(
        "**Warning:** this agreement has no section headed {names}. Members should know when "
        "what they share may not stay confidential (serious risk of harm, abuse of a child or a "
        "vulnerable adult, a court order or the law). Add a line **{heading}** with those "
        "exceptions below it, using `{edit}`."
    ).format(names=names, heading=_(LIMITS_HEADING), edit=slash(edit_with))


def default_limits_text() -> str:
    """holdspace's own limits-of-confidentiality section, as in the default agreement, in the
    current language."""
    template = default_template()
    section = limits_section(template)
    if section is None:  # the shipped text always has it (a unit test checks); never answer nothing
        raise RuntimeError("the default agreement lost its limits-of-confidentiality section")
    return section
