"""The /guard audit checklist from plain facts."""

from __future__ import annotations

from dataclasses import replace

from bot.core.server_audit import (
    ADMINISTRATOR,
    BAN_MEMBERS,
    KICK_MEMBERS,
    MOVE_MEMBERS,
    VIEW_AUDIT_LOG,
    AuditFacts,
    AuditLine,
    BotFacts,
    RoleFacts,
    RoomFacts,
    build_checklist,
    render,
    required_room_permissions,
)

OWN = 1000
TEXT_ROOM = 11
VOICE_ROOM = 12
ALL_ROOM = (1 << 52) - 1 & ~ADMINISTRATOR


def healthy() -> AuditFacts:
    return AuditFacts(
        own_id=OWN,
        own_top_position=10,
        own_guild_permissions=KICK_MEMBERS | VIEW_AUDIT_LOG | MOVE_MEMBERS,
        bot_action="kick",
        rooms=[RoomFacts(TEXT_ROOM, False, ALL_ROOM), RoomFacts(VOICE_ROOM, True, ALL_ROOM)],
        roles=[RoleFacts(1, 0, 0, people=5), RoleFacts(20, 10, 1 << 28, bot_ids=(OWN,))],
        bots=[BotFacts(50, allowed=True, top_position=3), BotFacts(51, False, 2, rooms_denied=2)],
        mfa_required=True,
        verification_level=2,
        members_intent=True,
        groups=1,
    )


def statuses(lines: list[AuditLine]) -> set[str]:
    return {line.status for line in lines}


def test_healthy_server_passes_everything() -> None:
    lines = build_checklist(healthy())
    assert statuses(lines) == {"pass"}, [line.text for line in lines if line.status != "pass"]
    texts = "\n".join(line.text for line in lines)
    assert "<@50> is allowed" in texts and "<@51> is not allowed and is kept out" in texts


def test_missing_holdspace_permission_fails_naming_it() -> None:
    facts = replace(healthy(), rooms=[RoomFacts(VOICE_ROOM, True, required_room_permissions(True) & ~MOVE_MEMBERS)])
    fails = [line for line in build_checklist(facts) if line.status == "fail"]
    assert len(fails) == 1
    assert "holdspace lacks Move Members in the voice room <#12>" in fails[0].text


def test_bot_holding_administrator_is_a_fail() -> None:
    facts = replace(
        healthy(),
        roles=[*healthy().roles, RoleFacts(30, 5, ADMINISTRATOR, people=1, bot_ids=(52,))],
        bots=[*healthy().bots, BotFacts(52, False, 5, administrator=True, rooms_denied=2)],
    )
    fails = [line.text for line in build_checklist(facts) if line.status == "fail"]
    assert any("<@&30> holds Administrator" in t and "<@52>" in t for t in fails)
    assert any(t.startswith("<@52> is not allowed but holds Administrator") for t in fails)


def test_administrator_roles_held_by_people_or_allowed_bots_warn() -> None:
    facts = replace(
        healthy(),
        roles=[RoleFacts(30, 5, ADMINISTRATOR, people=2), RoleFacts(31, 4, ADMINISTRATOR, bot_ids=(50,))],
    )
    warns = [line.text for line in build_checklist(facts) if line.status == "warn"]
    assert any("<@&30> holds Administrator (2 people)" in t for t in warns)
    assert any("<@&31>" in t and "allowed <@50>" in t for t in warns)


def test_security_settings_and_intent() -> None:
    facts = replace(healthy(), mfa_required=False, verification_level=0, members_intent=False)
    lines = build_checklist(facts)
    texts = {line.text.split(";")[0]: line.status for line in lines}
    assert texts["Moderators need not use two-factor authentication"] == "warn"
    assert texts["The server's verification level is none"] == "warn"
    assert any(line.status == "fail" and "Server Members intent is off" in line.text for line in lines)


def test_action_needs_its_permission() -> None:
    facts = replace(healthy(), bot_action="ban")
    assert any(line.status == "fail" and "lacks Ban Members" in line.text for line in build_checklist(facts))
    ok = replace(facts, own_guild_permissions=healthy().own_guild_permissions | BAN_MEMBERS)
    assert statuses(build_checklist(ok)) == {"pass"}


def test_role_order_and_undenied_bots() -> None:
    facts = replace(healthy(), bots=[BotFacts(51, False, 12, rooms_denied=1)])
    lines = build_checklist(facts)
    assert any(line.status == "fail" and "cannot kick or ban them" in line.text for line in lines)
    assert any(line.status == "fail" and "only 1 of 2 group rooms" in line.text for line in lines)
    softer = replace(facts, bot_action="disconnect")
    assert any(line.status == "warn" and "cannot kick or ban" in line.text for line in build_checklist(softer))


def test_roles_on_the_same_position_rank_by_id_as_discord_orders_them() -> None:
    """Two roles on one position: the older (smaller id) ranks above, so holdspace can act on a bot
    whose top role is younger and cannot on one whose top role is older."""
    own = replace(healthy(), own_top_position=10, own_top_role_id=500)
    younger = replace(own, bots=[BotFacts(51, False, 10, top_role_id=600, rooms_denied=2)])
    assert statuses(build_checklist(younger)) == {"pass"}
    older = replace(own, bots=[BotFacts(51, False, 10, top_role_id=400, rooms_denied=2)])
    assert any(line.status == "fail" and "cannot kick or ban them" in line.text for line in build_checklist(older))
    same = replace(own, bots=[BotFacts(51, False, 10, top_role_id=500, rooms_denied=2)])
    assert any(line.status == "fail" and "cannot kick or ban them" in line.text for line in build_checklist(same))


def test_administrator_roles_on_the_same_position_are_listed_in_discords_order() -> None:
    roles = [RoleFacts(rid, 7, ADMINISTRATOR, people=1) for rid in (900, 300, 600)]
    lines = build_checklist(replace(healthy(), roles=[*healthy().roles, *roles]))
    order = [rid for line in lines for rid in (900, 300, 600) if f"<@&{rid}>" in line.text]
    assert order == [300, 600, 900]


def test_no_rooms_and_audit_log_warn() -> None:
    facts = replace(healthy(), rooms=[], own_guild_permissions=KICK_MEMBERS)
    warns = [line.text for line in build_checklist(facts) if line.status == "warn"]
    assert any("no group rooms" in t for t in warns)
    assert any("View Audit Log" in t for t in warns)


def test_render_puts_failures_first_and_splits_long_lists() -> None:
    facts = replace(
        healthy(),
        bots=[BotFacts(100 + i, False, 1, administrator=True) for i in range(80)],
        rooms=[RoomFacts(VOICE_ROOM, True, 0)],
    )
    chunks = render(build_checklist(facts), limit=1900)
    assert len(chunks) > 1 and all(len(c) <= 1900 for c in chunks)
    assert chunks[0].startswith("Server audit: ")
    assert "❌ **fail**" in chunks[0].splitlines()[1]


def test_a_staff_role_held_by_most_people_fails() -> None:
    from bot.core.server_audit import held_by_most

    assert held_by_most(3, 5) and held_by_most(2, 2)
    assert not held_by_most(2, 4) and not held_by_most(1, 1) and not held_by_most(0, 0)
    narrow = replace(healthy(), humans=10, roles=[RoleFacts(7, 1, 0, people=2)], staff_roles=[("facilitator role", 7)])
    assert statuses(build_checklist(narrow)) == {"pass"}
    wide = replace(narrow, roles=[RoleFacts(7, 1, 0, people=6)])
    fails = [line.text for line in build_checklist(wide) if line.status == "fail"]
    assert fails == [
        "The facilitator role <@&7> is held by 6 of the server's 10 people, so it gives nearly everyone what "
        "only staff should have. Give it to the staff only, or pick another role with /setup configure."
    ]
