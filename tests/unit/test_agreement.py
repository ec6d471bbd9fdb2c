from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.agreement import (
    LIMITS_HEADING,
    MAX_AGREEMENT_CHARS,
    MODAL_FIELD_LIMIT,
    PART_LIMIT,
    PLACEHOLDERS,
    AgreementError,
    GroupFacts,
    default_limits_text,
    default_template,
    default_text,
    join_fields,
    limits_section,
    missing_sections,
    missing_sections_warning,
    normalise,
    split,
    split_for_fields,
    validate,
    validate_template,
)
from bot.core.member_records import Retention
from bot.core.reminders import ground_rules_content

FACTS = GroupFacts(timedelta(days=1), True, Retention(365, 2190, 2190))
FULL_LIMITS = (
    "when there is a serious risk of harm to yourself or to someone else;",
    "when a child or a vulnerable adult is being abused or is at risk of abuse, which the facilitators must report;",
    "when a court orders disclosure, or the law otherwise requires it.",
)


def test_default_text_covers_what_the_issue_asks_for() -> None:
    text = default_text("Tuesday circle", FACTS)
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
    text = default_text("G", FACTS) * 2
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


def test_default_text_covers_breach_emergencies_and_discord() -> None:
    text = default_text("Circle", FACTS)
    assert "If someone breaks confidentiality" in text and "removed from the group" in text
    assert "This is not an emergency service" in text and "emergency number" in text and "crisis" in text
    assert "Discord itself stores everything sent in these rooms until it is deleted" in text
    assert "`/privacy forget`" in text and "`/privacy mydata`" in text  # what erasure added stays
    assert "{" not in text  # every placeholder filled


@pytest.mark.parametrize(
    ("retention", "phrases"),
    [
        (Retention(365, 2190, 2190), ("deleted after a year", "for 6 years after", "kept for 6 years")),
        (Retention(90, 730, 30), ("closed cases are deleted after 90 days", "for 30 days after", "kept for 2 years")),
        (Retention(1, 1, 1), ("closed cases are deleted after a day", "for a day after", "kept for a day")),
    ],
)
def test_retention_numbers_follow_the_config(retention: Retention, phrases: tuple[str, ...]) -> None:
    text = default_text("Circle", GroupFacts(None, False, retention))
    for phrase in phrases:
        assert phrase in text, phrase
    assert "after a year" not in text or retention.closed_cases_days == 365


def test_expiry_promise_follows_the_group_settings() -> None:
    retention = Retention(365, 2190, 2190)
    off = default_text("C", GroupFacts(None, False, retention))
    assert "does not delete messages automatically" in off
    assert "deleted automatically" not in off and "holdspace deletes" not in off
    ttl = default_text("C", GroupFacts(timedelta(hours=12), False, retention))
    assert "holdspace deletes every message in this group's rooms 12 hours after it was posted." in ttl
    end = default_text("C", GroupFacts(None, True, retention))
    assert "deletes the messages of a session when the session ends." in end


def _limits_present(text: str) -> bool:
    section = limits_section(text)
    return section is not None and all(line in section for line in FULL_LIMITS)


def test_limits_in_full_in_the_default_agreement_and_its_reminder() -> None:
    assert _limits_present(default_text("Circle", FACTS))
    assert default_limits_text().startswith(f"**{LIMITS_HEADING}**")
    assert all(line in default_limits_text() for line in FULL_LIMITS)
    # the reminder gives the summary and the button; the button answers default_limits_text()
    reminder = ground_rules_content(group_name="Circle", agreement_version=1, ttl=None, expire_at_session_end=False)
    assert reminder.limits_button and "court" in dict(reminder.fields)["The limits of confidentiality"]


def test_limits_in_full_in_an_agreement_edited_to_4000_characters() -> None:
    base = default_text("Circle", FACTS)
    padding = "\n\n**Our own rules**\n" + ("We arrive on time and leave phones aside. " * 200)
    edited = (base + padding)[:4000]
    edited = join_fields([edited])
    assert len(edited) >= 3990
    assert _limits_present(edited)
    assert missing_sections(edited) == [] and missing_sections_warning(edited, "/group agreement edit") == ""
    # the section stays whole whatever follows it, and ends at the next heading
    assert limits_section(edited) == default_limits_text()


def test_an_agreement_without_the_limits_gets_a_warning() -> None:
    text = "**Ground rules**\nWe listen.\n\n" + "We keep it here. " * 230
    assert len(text) <= 4000
    assert missing_sections(text) == [LIMITS_HEADING]
    warning = missing_sections_warning(text, "/group agreement edit")
    assert "Limits of confidentiality" in warning and "/group agreement edit" in warning
    assert "`/setup agreement edit`" in missing_sections_warning(text, "/setup agreement edit")
    # a heading with nothing under it is no section
    assert limits_section("**Limits of confidentiality**") is None
    assert limits_section("## Limits of confidentiality\nOnly if a court orders it.") is not None


def test_a_server_template_is_filled_in_for_each_group() -> None:
    template = "**Welcome to {group}.**\n{expiry}\nClosed cases go after {closed_cases}.\n\n" + default_limits_text()
    text = default_text("Circle", FACTS, template=template)
    assert text.startswith("**Welcome to Circle.**") and "{" not in text
    assert "1 day after it was posted" in text and "after a year" in text
    assert default_text("Circle", FACTS) == default_text("Circle", FACTS, template=default_template())
    assert all(key in default_template() for key in PLACEHOLDERS)


def test_a_server_template_must_fit_once_filled_in() -> None:
    retention = Retention(365, 2190, 2190)
    assert validate_template("We listen.\r\n\n", "G" * 100, retention) == "We listen."
    with pytest.raises(AgreementError, match="empty"):
        validate_template(" \n ", "G", retention)
    # fits as written, but not once every {group} becomes a 100-character name
    grows = "{group} " * (MAX_AGREEMENT_CHARS // 8 - 10)
    assert len(grows) <= MAX_AGREEMENT_CHARS
    with pytest.raises(AgreementError, match="placeholders"):
        validate_template(grows, "G" * 100, retention)
