from __future__ import annotations

from datetime import UTC, datetime

from bot.core.access import Reason, decide, decide_from_state, named_facilitators_in_role
from bot.core.records import ConsentFact, GroupInfo, GuildConfig, RunningSession
from bot.state import State

BOT = 1
FAC_ROLE = 50
FACT = ConsentFact("c1", 7, 1, "ab", datetime(2026, 1, 1, tzinfo=UTC), "command")


def _decide(**kw: object) -> Reason:
    args: dict[str, object] = dict(
        member_id=7,
        is_bot=False,
        role_ids=[],
        bot_id=BOT,
        facilitator_role_id=FAC_ROLE,
        facilitators_consent=False,
        consent=None,
    )
    args.update(kw)
    decision = decide(**args)  # type: ignore[arg-type]
    assert decision.allowed == (decision.reason not in (Reason.NO_CONSENT, Reason.NOT_READY, Reason.LOCKED))
    return decision.reason


def test_unconsented_member_is_not_allowed() -> None:
    assert _decide() is Reason.NO_CONSENT


def test_consented_member_is_allowed() -> None:
    assert _decide(consent=FACT) is Reason.CONSENTED


def test_holdspace_itself_and_other_bots_are_not_this_features_business() -> None:
    assert _decide(member_id=BOT) is Reason.HOLDSPACE
    assert _decide(is_bot=True) is Reason.BOT


def test_facilitators_are_exempt_unless_the_group_asks_them_to_consent() -> None:
    assert _decide(role_ids=[FAC_ROLE]) is Reason.FACILITATOR
    assert _decide(role_ids=[FAC_ROLE], facilitators_consent=True) is Reason.NO_CONSENT
    assert _decide(role_ids=[FAC_ROLE], facilitators_consent=True, consent=FACT) is Reason.CONSENTED
    assert _decide(role_ids=[99]) is Reason.NO_CONSENT
    assert _decide(role_ids=[FAC_ROLE], facilitator_role_id=None) is Reason.NO_CONSENT


def test_fails_closed_before_the_state_is_loaded() -> None:
    assert _decide(state_ready=False, consent=FACT) is Reason.NOT_READY


def test_decide_from_state_reads_memory_only() -> None:
    state = State()
    state.loaded = True
    state.guilds[10] = GuildConfig(10, facilitator_role_id=FAC_ROLE)
    group = GroupInfo("g", 10, "Tuesday", 100, 101)
    state.put_group(group)
    kw = dict(is_bot=False, role_ids=[], bot_id=BOT)
    assert decide_from_state(state, group, member_id=7, **kw).reason is Reason.NO_CONSENT  # type: ignore[arg-type]
    state.set_consent("g", FACT)
    assert decide_from_state(state, group, member_id=7, **kw).allowed  # type: ignore[arg-type]
    state.set_consent("g", None, member_id=7)
    assert not decide_from_state(state, group, member_id=7, **kw).allowed  # type: ignore[arg-type]


def test_button_tags_belong_to_one_member_and_survive_a_key_rotation() -> None:
    from bot.crypto import KeyRing, generate_key
    from bot.ui.consent_views import AgreeButton, member_tag, tag_matches

    old_key = generate_key()
    ring = KeyRing.parse(old_key)
    tag = member_tag(ring, 7)
    assert len(tag) == 12 and tag_matches(ring, 7, tag) and not tag_matches(ring, 8, tag)
    rotated = KeyRing.parse(generate_key() + "," + old_key)
    assert tag_matches(rotated, 7, tag)
    button = AgreeButton("a" * 32, 12, "f" * 16, tag)
    assert button.custom_id == f"hs:agree:{'a' * 32}:12:{'f' * 16}:{tag}"
    assert len(button.custom_id) <= 100
    assert AgreeButton.__discord_ui_compiled_template__.fullmatch(button.custom_id)


def test_a_group_naming_its_facilitators_exempts_only_them() -> None:
    named = frozenset({7})
    assert _decide(role_ids=[FAC_ROLE], group_facilitator_ids=named) is Reason.FACILITATOR
    assert _decide(member_id=8, role_ids=[FAC_ROLE], group_facilitator_ids=named) is Reason.NO_CONSENT
    assert _decide(group_facilitator_ids=named, facilitators_consent=True) is Reason.NO_CONSENT
    assert _decide(member_id=8, group_facilitator_ids=named, consent=FACT) is Reason.CONSENTED


def test_a_named_facilitator_without_the_role_is_not_exempt() -> None:
    named = frozenset({7})
    assert _decide(group_facilitator_ids=named) is Reason.NO_CONSENT
    assert _decide(group_facilitator_ids=named, room_locked=True) is Reason.LOCKED
    assert _decide(group_facilitator_ids=named, consent=FACT) is Reason.CONSENTED
    assert named_facilitators_in_role({7, 8, 9}, [9, 7, 3]) == (7, 9)


def test_state_knows_who_facilitates_a_group() -> None:
    state = State()
    state.guilds[5] = GuildConfig(5, facilitator_role_id=FAC_ROLE)
    group = GroupInfo(id="g", guild_id=5, name="G", text_channel_id=1, voice_channel_id=2)
    state.put_group(group)
    assert state.facilitates(group, 7, [FAC_ROLE]) and state.facilitates(group, 8, [FAC_ROLE])
    state.set_facilitator("g", 7, True)
    assert state.facilitates(group, 7, [FAC_ROLE]) and not state.facilitates(group, 8, [FAC_ROLE])
    assert not state.facilitates(group, 7, []), "a named facilitator without the role facilitates nothing"
    state.set_facilitator("g", 7, False)
    assert state.facilitates(group, 8, [FAC_ROLE])


def test_a_room_locked_between_sessions_keeps_only_exempt_facilitators() -> None:
    assert _decide(consent=FACT, room_locked=True) is Reason.LOCKED
    assert _decide(room_locked=True) is Reason.LOCKED
    assert _decide(role_ids=[FAC_ROLE], room_locked=True) is Reason.FACILITATOR
    assert _decide(role_ids=[FAC_ROLE], group_facilitator_ids=frozenset({7}), room_locked=True) is Reason.FACILITATOR
    assert _decide(member_id=8, role_ids=[FAC_ROLE], group_facilitator_ids=frozenset({7}), room_locked=True) is (
        Reason.LOCKED
    )
    assert _decide(role_ids=[FAC_ROLE], facilitators_consent=True, consent=FACT, room_locked=True) is Reason.LOCKED


def test_decide_from_state_knows_whether_the_rooms_are_locked() -> None:
    state = State()
    state.loaded = True
    state.guilds[10] = GuildConfig(10, facilitator_role_id=FAC_ROLE)
    group = GroupInfo("g", 10, "Tuesday", 100, 101, lock_between_sessions=True)
    state.put_group(group)
    state.set_consent("g", FACT)
    kw = dict(member_id=7, is_bot=False, role_ids=[], bot_id=BOT)
    decision = decide_from_state(state, group, **kw)  # type: ignore[arg-type]
    assert decision.reason is Reason.LOCKED and decision.act and not decision.prompt
    state.running_sessions["s"] = RunningSession("s", "g", FACT.given_at)
    assert decide_from_state(state, group, **kw).reason is Reason.CONSENTED  # type: ignore[arg-type]
    state.running_sessions.clear()
    state.set_consent("g", None, member_id=7)
    assert decide_from_state(state, group, **kw).prompt is False  # type: ignore[arg-type]
    group = state.update_group("g", lock_between_sessions=False)
    assert decide_from_state(state, group, **kw).prompt  # type: ignore[arg-type]
