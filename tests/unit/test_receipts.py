"""The consent receipt's text: every fact it promises, within Discord's limit, about its member only."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.agreement import GroupFacts, default_text
from bot.core.member_records import Retention
from bot.core.receipts import MAX_CHARS, Receipt, agreement_points, receipt_id, receipt_text

AT = datetime(2026, 7, 1, 18, 30, 5, tzinfo=UTC)
SHA = "ab" * 32


def receipt(**changes: object) -> Receipt:
    base = Receipt(
        receipt_id=receipt_id("g1", 42, "agree", AT),
        answer="agree",
        server="Practice",
        group="Tuesday circle",
        version=3,
        sha256=SHA,
        at=AT,
        time_zone="Europe/Berlin",
        agreement=default_text("Tuesday circle", GroupFacts(timedelta(days=1), True, Retention(365, 730, 2190))),
        reconsent_after_days=180,
        withdrawn_consent_days=2190,
        audit_days=730,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_receipt_id_is_short_stable_and_depends_on_every_fact() -> None:
    rid = receipt_id("g1", 42, "agree", AT)
    assert len(rid) == 11 and rid[5] == "-"
    assert rid == receipt_id("g1", 42, "agree", AT.astimezone())  # the same instant in any zone
    others = {
        receipt_id("g2", 42, "agree", AT),
        receipt_id("g1", 43, "agree", AT),
        receipt_id("g1", 42, "withdraw", AT),
        receipt_id("g1", 42, "agree", AT.replace(microsecond=1)),
    }
    assert rid not in others and len(others) == 4


def test_agree_receipt_names_every_promised_fact() -> None:
    r = receipt()
    text = receipt_text(r)
    assert "you agreed" in text
    assert "**Tuesday circle** on Practice" in text
    assert "version 3" in text and SHA in text
    assert "2026-07-01 20:30:05 Europe/Berlin (2026-07-01 18:30:05 UTC)" in text
    assert r.receipt_id in text
    assert "2190 days" in text and "730 days" in text and "180 days" in text
    assert "/consent withdraw group:Tuesday circle" in text
    assert "• What is shared here stays here." in text
    assert len(text) <= MAX_CHARS


def test_withdraw_and_decline_receipts_say_how_to_come_back_and_list_no_points() -> None:
    for answer, heading in (("withdraw", "you withdrew"), ("decline", "you did not agree")):
        text = receipt_text(receipt(answer=answer, receipt_id=receipt_id("g1", 42, answer, AT)))
        assert heading in text
        assert "/consent give group:Tuesday circle" in text
        assert "What you agreed to" not in text
        assert "lasts 180 days" not in text


def test_utc_server_shows_one_time_and_unknown_zone_falls_back_to_utc() -> None:
    assert "When: 2026-07-01 18:30:05 UTC\n" in receipt_text(receipt(time_zone="UTC"))
    assert "When: 2026-07-01 18:30:05 UTC\n" in receipt_text(receipt(time_zone="Mars/Olympus"))


def test_missing_version_is_said_not_invented() -> None:
    text = receipt_text(receipt(answer="withdraw", version=None, sha256=None))
    assert "no version recorded" in text and "not recorded" in text


def test_long_agreement_is_cut_at_points_with_a_note() -> None:
    long = "\n".join(f"• Point number {n} " + "word " * 40 for n in range(200))
    text = receipt_text(receipt(agreement=long))
    assert len(text) <= MAX_CHARS
    assert "more (read them all with `/consent give`)" in text
    assert "Receipt id" in text and "To withdraw" in text  # the facts are never cut


def test_points_one_line_each_without_markup() -> None:
    points = agreement_points("**Rules**\n• Be **kind**\n- Keep   it\n  short\n\nEnd.")
    assert points == ["Be kind", "Keep it"]
    assert agreement_points("First paragraph\nmore.\n\nSecond.") == ["First paragraph more.", "Second."]
    assert all(len(p) <= 110 and "\n" not in p for p in agreement_points("• " + "x " * 300))


def test_only_three_answers_have_receipts() -> None:
    with pytest.raises(ValueError):
        receipt_text(receipt(answer="revoked"))
