from __future__ import annotations

from bot.core.case_details import TRIGGERS, describe_details


def test_a_disconnect_case_reads_as_sentences() -> None:
    lines = describe_details({"disconnected": True, "dm_sent": True, "trigger": "join", "tries": 1})
    assert lines == [
        "What happened: they joined the group's voice room.",
        "They were disconnected from the voice room.",
        "They got a private message saying why.",
        "Attempts to disconnect: 1.",
    ]
    text = "\n".join(lines)
    assert "True" not in text and "dm_sent" not in text and "trigger:" not in text


def test_every_known_trigger_and_unknown_keys_are_readable() -> None:
    for trigger, words in TRIGGERS.items():
        assert describe_details({"trigger": trigger}) == [f"What happened: {words}."]
    assert describe_details({"some_new_fact": False, "voice_channel_id": 5}) == ["Some new fact: no."]
    assert describe_details({"problems": ["missing Move Members"]}) == ["Problem: missing Move Members."]
    assert describe_details({"dm_sent": False})[0].startswith("holdspace could not send them a private message")


def test_phrases_holdspace_stored_in_english_are_read_in_the_readers_language() -> None:
    from bot.i18n import using
    from cogs.guard.bots import UNKNOWN_ADDER
    from cogs.guard.rooms import WHILE_OFFLINE

    details = {"added_by": UNKNOWN_ADDER, "when": WHILE_OFFLINE, "problems": ["a moderator's own words"]}
    with using("de"):
        lines = describe_details(details)
    assert lines == [
        "Zum Server hinzugefügt von: unbekannt (holdspace kann das Audit-Log nicht lesen, oder es sagt nichts dazu).",
        "Wann: während holdspace offline war.",
        "Problem: a moderator's own words.",
    ]
    assert describe_details({"when": WHILE_OFFLINE}) == ["When: while holdspace was offline."]  # stored English
