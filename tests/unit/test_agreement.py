from __future__ import annotations

import pytest

from bot.core.agreement import (
    MAX_AGREEMENT_CHARS,
    MODAL_FIELD_LIMIT,
    PART_LIMIT,
    AgreementError,
    default_text,
    join_fields,
    normalise,
    split,
    split_for_fields,
    validate,
)


def test_default_text_covers_what_the_issue_asks_for() -> None:
    text = default_text("Tuesday circle")
    assert "Tuesday circle" in text
    lowered = text.lower()
    for needle in (
        "ground rules",
        "harm",
        "abuse",
        "court",
        "record",
        "screenshot",
        "clips",
        "cannot detect",
        "stores",
        "encrypted",
    ):
        assert needle in lowered, needle
    assert len(text) <= MAX_AGREEMENT_CHARS
    assert all(len(part) <= PART_LIMIT for part in split(text))


def test_split_keeps_every_word_and_respects_the_limit() -> None:
    text = "\n\n".join(f"Paragraph {i}. " + "word " * 150 for i in range(20))
    parts = split(text, 1000)
    assert all(0 < len(p) <= 1000 for p in parts)
    assert " ".join(" ".join(parts).split()) == " ".join(text.split())


def test_split_prefers_paragraphs() -> None:
    text = "a" * 50 + "\n\n" + "b" * 50
    assert split(text, 80) == ["a" * 50, "b" * 50]


def test_split_cuts_words_longer_than_the_limit() -> None:
    assert split("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_short_text_is_one_part() -> None:
    assert split("hello") == ["hello"]


def test_validate_refuses_empty_and_too_long() -> None:
    with pytest.raises(AgreementError):
        validate("   \n ")
    with pytest.raises(AgreementError):
        validate("x" * (MAX_AGREEMENT_CHARS + 1))
    assert validate("  rules \r\n") == "  rules"


def test_editor_fields_round_trip() -> None:
    text = default_text("G") * 2
    pieces = split_for_fields(text)
    assert all(len(p) <= MODAL_FIELD_LIMIT for p in pieces)
    rejoined = join_fields([*pieces, None])
    assert " ".join(rejoined.split()) == " ".join(normalise(text).split())


def test_editor_refuses_a_field_over_discords_limit() -> None:
    with pytest.raises(AgreementError):
        join_fields(["x" * (MODAL_FIELD_LIMIT + 1)])


def test_agreement_embeds_stay_within_discords_limits() -> None:
    from bot.ui.consent_views import agreement_embeds

    text = "\n\n".join(("Rule. " * 300) for _ in range(6))[:MAX_AGREEMENT_CHARS]
    embeds = agreement_embeds("G" * 100, 3, "ab" * 32, text)
    assert len(embeds) >= 3
    for embed in embeds:
        assert len(embed.description or "") <= 4096
        assert len(embed) <= 6000
        assert "Version 3" in (embed.footer.text or "")
