"""The consent receipt: the record a member keeps of each answer they gave a group.

Pure code, no I/O. When a member agrees, declines or withdraws, holdspace sends them this text (by DM,
or ephemerally where their DMs are closed) and `/consent receipt` builds it again from the stored
consent record. It names the group, the server, the agreement version and its SHA-256, the time in the
server's time zone and in UTC, the agreement's points one line each, what holdspace stores and for how
long (the practice's ``[retention]``), how to withdraw, and a receipt id. The receipt id is worked out
from the consent record itself (:func:`receipt_id`), so `/group roster` and ``holdspace export
consents`` show the same id. Nothing in a receipt concerns anyone but the member it is for.

Every word of the receipt lives here, in one place, so it can be translated as a whole.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.i18n import N_, _, ngettext, slash

__all__ = ["ANSWERS", "MAX_CHARS", "Receipt", "agreement_points", "receipt_id", "receipt_text"]

#: The answers a receipt is given for.
ANSWERS = ("agree", "decline", "withdraw")
#: Discord's limit for an embed description, less room for nothing else: the receipt is one embed.
MAX_CHARS = 4000
#: One agreement point on one line.
POINT_CHARS = 110

_HEADINGS = {
    "agree": N_("Consent receipt: you agreed"),
    "decline": N_("Consent receipt: you did not agree"),
    "withdraw": N_("Consent receipt: you withdrew your consent"),
}
_BULLET = re.compile(r"^\s*(?:[•\-*–]|\d+[.)])\s+")
_MARKUP = re.compile(r"\*\*|__|`")


def receipt_id(group_id: str, member_id: int, answer: str, at: datetime) -> str:
    """The short id of one consent record, worked out from what the record holds (so it can be found
    again from the record, in any export, whatever key the database is encrypted with)."""
    basis = f"holdspace-receipt/1|{group_id}|{member_id}|{answer}|{at.astimezone(UTC).isoformat()}"
    digest = hashlib.sha256(basis.encode()).hexdigest()[:10].upper()
    return f"{digest[:5]}-{digest[5:]}"


def _one_line(text: str) -> str:
    text = " ".join(_MARKUP.sub("", text).split())
    if len(text) <= POINT_CHARS:
        return text
    cut = text[: POINT_CHARS - 1].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


def agreement_points(text: str) -> list[str]:
    """The agreement's points, one line each: its bullet points, or its paragraphs when it has none."""
    lines = text.splitlines()
    bullets = [_BULLET.sub("", line) for line in lines if _BULLET.match(line)]
    if bullets:
        return [_one_line(b) for b in bullets if b.strip()]
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    return [_one_line(p) for p in paragraphs]


@dataclass(frozen=True)
class Receipt:
    """The facts of one receipt."""

    receipt_id: str
    answer: str  # one of ANSWERS
    server: str
    group: str
    version: int | None  # the agreement version the answer was about (None: unknown)
    sha256: str | None
    at: datetime  # timezone-aware
    time_zone: str  # the server's zone, Region/City or UTC
    agreement: str | None  # the agreed text (agree only)
    reconsent_after_days: int
    withdrawn_consent_days: int
    audit_days: int


def _times(at: datetime, zone: str) -> str:
    utc = at.astimezone(UTC)
    try:
        local = at.astimezone(ZoneInfo(zone))
    except (KeyError, ValueError):  # a zone this host does not know: UTC alone is still true
        return f"{utc:%Y-%m-%d %H:%M:%S} UTC"
    if zone == "UTC":
        return f"{utc:%Y-%m-%d %H:%M:%S} UTC"
    return f"{local:%Y-%m-%d %H:%M:%S} {zone} ({utc:%Y-%m-%d %H:%M:%S} UTC)"


def _stores(r: Receipt) -> list[str]:
    lines = [
        _(
            "• This record: the group, your answer, the agreement version and its SHA-256, the time and how you "
            "answered. Your Discord ID is stored encrypted; your name, nickname and messages never are."
        ),
    ]
    if r.answer == "agree":
        lines.append(
            ngettext(
                "• Your consent lasts {days} day or until the agreement changes; holdspace then asks you again.",
                "• Your consent lasts {days} days or until the agreement changes; holdspace then asks you again.",
                r.reconsent_after_days,
            ).format(days=r.reconsent_after_days)
        )
    lines.append(
        ngettext(
            "• Consent records are kept while you are in the group and {days} day after your last answer once "
            "you have withdrawn or left, then deleted.",
            "• Consent records are kept while you are in the group and {days} days after your last answer once "
            "you have withdrawn or left, then deleted.",
            r.withdrawn_consent_days,
        ).format(days=r.withdrawn_consent_days)
    )
    lines.append(
        ngettext(
            "• Audit trail entries about this answer: {days} day, then deleted.",
            "• Audit trail entries about this answer: {days} days, then deleted.",
            r.audit_days,
        ).format(days=r.audit_days)
    )
    return lines


def _how_to_withdraw(r: Receipt) -> str:
    if r.answer == "agree":
        return _(
            "**To withdraw** at any time: `{command} group:{group}` on {server}. You leave the "
            "group's rooms at once; nobody is told why."
        ).format(command=slash("consent withdraw"), group=r.group, server=r.server)
    return _("**To consent again**: `{command} group:{group}` on {server}.").format(
        command=slash("consent give"), group=r.group, server=r.server
    )


def receipt_text(r: Receipt) -> str:
    """The receipt, at most :data:`MAX_CHARS` characters (agreement points are left out from the end,
    with a note saying how many, when the whole would be longer)."""
    if r.answer not in ANSWERS:
        raise ValueError(f"no receipt for the answer {r.answer!r}")
    version = _("version {number}").format(number=r.version) if r.version else _("no version recorded")
    head = [
        f"**{_(_HEADINGS[r.answer])}**",
        _("Group: **{group}** on {server}").format(group=r.group, server=r.server),
        _("Agreement: {version}").format(version=version),
        _("SHA-256: `{sha256}`").format(sha256=r.sha256 or _("not recorded")),
        _("When: {when}").format(when=_times(r.at, r.time_zone)),
        _("Receipt id: `{id}`").format(id=r.receipt_id),
    ]
    tail = [
        _("**What holdspace stores, and for how long**"),
        *_stores(r),
        "",
        _how_to_withdraw(r),
        "",
        _(
            "A facilitator can confirm this receipt id in `{roster}`, and the practice in its consent export; "
            "`{receipt}` shows this receipt again. The SHA-256 identifies the exact words of this version."
        ).format(roster=slash("group roster"), receipt=slash("consent receipt")),
    ]
    points = agreement_points(r.agreement) if r.answer == "agree" and r.agreement else []

    def build(shown: int) -> str:
        body = list(head)
        if points:
            body += ["", _("**What you agreed to**"), *(f"• {p}" for p in points[:shown])]
            if shown < len(points):
                body.append(
                    _("…and {count} more (read them all with `{command}`).").format(
                        count=len(points) - shown, command=slash("consent give")
                    )
                )
        body += ["", *tail]
        return "\n".join(body)

    shown = len(points)
    text = build(shown)
    while len(text) > MAX_CHARS and shown > 0:
        shown -= 1
        text = build(shown)
    return text[:MAX_CHARS]
