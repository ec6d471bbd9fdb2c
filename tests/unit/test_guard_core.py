"""The guard's pure decisions: non-allowed bots, recording markers, the action."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.config import DEFAULT_RECORDING_MARKERS
from bot.core.guard import (
    BOT_DENY,
    CASE_BOT_BLOCKED,
    CASE_MARKER,
    REASON_MARKER,
    REASON_NOT_ALLOWED,
    MarkerMatcher,
    MemberFacts,
    bots_needing_deny,
    decide,
    is_blocked_bot,
    parse_action,
)
from bot.crypto import KeyRing, generate_key
from bot.storage import guard as guard_store
from bot.storage.db import Database

OWN = 1000
MARKERS = MarkerMatcher(DEFAULT_RECORDING_MARKERS)


def verdict(member: MemberFacts, *, allowed: set[int] | None = None, action: str = "kick"):  # type: ignore[no-untyped-def]
    return decide(member, own_id=OWN, allowed_bot_ids=allowed or set(), bot_action=action, markers=MARKERS)


@pytest.mark.parametrize(
    "name",
    [
        "[RECORDING] Craig",
        "Craig [recording]",
        "[ REC ]",
        "(rec) notes",
        "🔴 REC",
        "REC Bot",
        "rec ● live",
        "Now Recording",
        "[Recording]",
    ],
)
def test_default_markers_match(name: str) -> None:
    assert MARKERS.matches(name)


@pytest.mark.parametrize("name", ["Rebecca", "Precious", "record keeper", "Alex", "wrecker", "recipe fan", ""])
def test_default_markers_leave_ordinary_names(name: str) -> None:
    assert not MARKERS.matches(name)


def test_matcher_skips_none_and_checks_every_name() -> None:
    assert not MARKERS.matches(None, None)
    assert MARKERS.matches(None, "[REC]")


def test_matcher_is_case_insensitive_and_compiled_once() -> None:
    matcher = MarkerMatcher([r"\bon air\b"])
    assert matcher.matches("ON AIR now")
    assert len(matcher) == 1
    assert "on air" not in repr(matcher)


def test_matcher_refuses_a_bad_pattern() -> None:
    with pytest.raises(ValueError, match="not a valid regular expression"):
        MarkerMatcher(["[unclosed"])


def test_is_blocked_bot() -> None:
    assert is_blocked_bot(5, True, own_id=OWN, allowed_bot_ids=set())
    assert not is_blocked_bot(5, True, own_id=OWN, allowed_bot_ids={5})
    assert not is_blocked_bot(OWN, True, own_id=OWN, allowed_bot_ids=set())
    assert not is_blocked_bot(6, False, own_id=OWN, allowed_bot_ids=set())


def test_bots_needing_deny_skips_holdspace_and_allowed() -> None:
    assert bots_needing_deny([3, OWN, 2, 3, 9], own_id=OWN, allowed_bot_ids={9}) == [2, 3]
    assert BOT_DENY == (1 << 10) | (1 << 20)


def test_non_allowed_bot_gets_the_server_action() -> None:
    v = verdict(MemberFacts(5, True, None, "Some Bot"), action="kick")
    assert v is not None
    assert (v.case_kind, v.reason, v.action, v.is_bot, v.removes) == (
        CASE_BOT_BLOCKED,
        REASON_NOT_ALLOWED,
        "kick",
        True,
        True,
    )
    ban = verdict(MemberFacts(5, True), action="ban")
    assert ban is not None and ban.action == "ban"
    plain = verdict(MemberFacts(5, True), action="disconnect")
    assert plain is not None and plain.action == "disconnect" and not plain.removes


def test_allowed_bot_and_holdspace_stay() -> None:
    assert verdict(MemberFacts(5, True, None, "Music"), allowed={5}) is None
    assert verdict(MemberFacts(OWN, True, "[RECORDING]", "holdspace")) is None


def test_allowed_bot_with_marker_is_disconnected_not_removed() -> None:
    v = verdict(MemberFacts(5, True, "[RECORDING] Helper", "Helper"), allowed={5}, action="ban")
    assert v is not None
    assert (v.case_kind, v.reason, v.action) == (CASE_BOT_BLOCKED, REASON_MARKER, "disconnect")


def test_person_with_marker_is_disconnected_never_kicked() -> None:
    v = verdict(MemberFacts(7, False, "Sam [REC]", "Sam [REC]"), action="ban")
    assert v is not None
    assert (v.case_kind, v.reason, v.action, v.is_bot) == (CASE_MARKER, REASON_MARKER, "disconnect", False)
    assert verdict(MemberFacts(7, False, None, "Sam")) is None


def test_verdict_and_facts_never_carry_a_name() -> None:
    facts = MemberFacts(7, False, "Secret Name [REC]", "Secret Name [REC]")
    v = verdict(facts)
    assert "Secret" not in repr(facts)
    assert "Secret" not in repr(v)


def test_parse_action() -> None:
    assert parse_action(" Kick ") == "kick"
    with pytest.raises(ValueError, match="disconnect, kick, ban"):
        parse_action("mute")


# -- the guard's storage (bot.storage.guard) -------------------------------------------------------

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
BOT_ID = 998877665544332211


async def test_allowlist_round_trip_is_encrypted(db: Database) -> None:
    ring = KeyRing.generate()
    assert await guard_store.allow_bot(db, ring, 10, BOT_ID, NOW)
    assert not await guard_store.allow_bot(db, ring, 10, BOT_ID, NOW)  # already allowed: one row
    assert await guard_store.allow_bot(db, ring, 11, BOT_ID, NOW)
    assert await guard_store.allowed_bots(db, ring, 10) == {BOT_ID}
    raw = await db.fetchall("SELECT bot_id, bot_index FROM guard_allowed_bots")
    assert len(raw) == 2
    assert all(str(BOT_ID).encode() not in bytes(r["bot_id"]) + bytes(r["bot_index"]) for r in raw)
    assert await guard_store.deny_bot(db, ring, 10, BOT_ID)
    assert not await guard_store.deny_bot(db, ring, 10, BOT_ID)
    facts = await guard_store.load_all(db, ring)
    assert facts.allowed == {11: {BOT_ID}}


async def test_action_round_trip_and_refusal(db: Database) -> None:
    ring = KeyRing.generate()
    assert await guard_store.get_action(db, 10) is None
    await guard_store.set_action(db, 10, "kick", NOW)
    await guard_store.set_action(db, 10, "ban", NOW)
    assert await guard_store.get_action(db, 10) == "ban"
    with pytest.raises(ValueError, match="disconnect, kick, ban"):
        await guard_store.set_action(db, 10, "mute", NOW)
    assert (await guard_store.load_all(db, ring)).actions == {10: "ban"}


async def test_allowlist_lookups_survive_a_new_key_in_the_ring(db: Database) -> None:
    old_key, new_key = generate_key(), generate_key()
    old = KeyRing.parse(old_key)
    await guard_store.allow_bot(db, old, 10, BOT_ID, NOW)
    new = KeyRing.parse(f"{new_key},{old_key}")
    assert not await guard_store.allow_bot(db, new, 10, BOT_ID, NOW)
    assert await guard_store.deny_bot(db, new, 10, BOT_ID)
