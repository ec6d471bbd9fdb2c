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

__all__ = ["ANSWERS", "MAX_CHARS", "Receipt", "agreement_points", "receipt_id", "receipt_text"]

#: The answers a receipt is given for.
ANSWERS = ("agree", "decline", "withdraw")
#: Discord's limit for an embed description, less room for nothing else: the receipt is one embed.
MAX_CHARS = 4000
#: One agreement point on one line.
POINT_CHARS = 110

_HEADINGS = {
    "agree": "Consent receipt: you agreed",
    "decline": "Consent receipt: you did not agree",
    "withdraw": "Consent receipt: you withdrew your consent",
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
        "• This record: the group, your answer, the agreement version and its SHA-256, the time and how you "
        "answered. Your Discord ID is stored encrypted; your name, nickname and messages never are.",
    ]
    if r.answer == "agree":
        lines.append(
            f"• Your consent lasts {r.reconsent_after_days} days or until the agreement changes; "
            "holdspace then asks you again."
        )
    lines.append(
        f"• Consent records are kept while you are in the group and {r.withdrawn_consent_days} days after your "
        "last answer once you have withdrawn or left, then deleted."
    )
    lines.append(f"• Audit trail entries about this answer: {r.audit_days} days, then deleted.")
    return lines


def _how_to_withdraw(r: Receipt) -> str:
    if r.answer == "agree":
        return (
            f"**To withdraw** at any time: `/consent withdraw group:{r.group}` on {r.server}. You leave the "
            "group's rooms at once; nobody is told why."
        )
    return f"**To consent again**: `/consent give group:{r.group}` on {r.server}."


def receipt_text(r: Receipt) -> str:
    """The receipt, at most :data:`MAX_CHARS` characters (agreement points are left out from the end,
    with a note saying how many, when the whole would be longer)."""
    if r.answer not in ANSWERS:
        raise ValueError(f"no receipt for the answer {r.answer!r}")
    version = f"version {r.version}" if r.version else "no version recorded"
    head = [
        f"**{_HEADINGS[r.answer]}**",
        f"Group: **{r.group}** on {r.server}",
        f"Agreement: {version}",
        f"SHA-256: `{r.sha256 or 'not recorded'}`",
        f"When: {_times(r.at, r.time_zone)}",
        f"Receipt id: `{r.receipt_id}`",
    ]
    tail = [
        "**What holdspace stores, and for how long**",
        *_stores(r),
        "",
        _how_to_withdraw(r),
        "",
        "A facilitator can confirm this receipt id in `/group roster`, and the practice in its consent export; "
        "`/consent receipt` shows this receipt again. The SHA-256 identifies the exact words of this version.",
    ]
    points = agreement_points(r.agreement) if r.answer == "agree" and r.agreement else []

    def build(shown: int) -> str:
        body = list(head)
        if points:
            body += ["", "**What you agreed to**", *(f"• {p}" for p in points[:shown])]
            if shown < len(points):
                body.append(f"…and {len(points) - shown} more (read them all with `/consent give`).")
        body += ["", *tail]
        return "\n".join(body)

    shown = len(points)
    text = build(shown)
    while len(text) > MAX_CHARS and shown > 0:
        shown -= 1
        text = build(shown)
    return text[:MAX_CHARS]
