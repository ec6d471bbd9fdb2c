"""Which staff commands a staff role can see, by Discord's order: command override, application
override, then the default permissions the role or @everyone grants."""

from __future__ import annotations

from bot.core.command_access import CommandFacts, Gap, Override, closed_staff_commands, open_step, role_may_use

GUILD, APP, FAC, MOD = 100, 200, 300, 400
MANAGE_GUILD, MOVE_MEMBERS = 1 << 5, 1 << 24
GROUP = CommandFacts("group", 1, MANAGE_GUILD)
SESSION = CommandFacts("session", 2, MOVE_MEMBERS)
CASES = CommandFacts("cases", 3, MANAGE_GUILD)
STAFF = {"facilitator": FAC, "moderator": MOD}


def may(command: CommandFacts, overrides: dict[int, list[Override]], perms: dict[int, int] | None = None) -> bool:
    return role_may_use(command, overrides, app_id=APP, guild_id=GUILD, role_id=FAC, role_permissions=perms or {})


def test_defaults_close_staff_commands_to_a_plain_role() -> None:
    assert not may(GROUP, {})
    assert may(GROUP, {}, {FAC: MANAGE_GUILD}) and not may(SESSION, {}, {FAC: MANAGE_GUILD})
    assert may(SESSION, {}, {GUILD: MOVE_MEMBERS}), "@everyone's permissions count too"
    assert may(GROUP, {}, {FAC: 1 << 3}), "Administrator sees everything"


def test_command_overrides_come_before_application_overrides() -> None:
    assert may(GROUP, {GROUP.id: [Override(FAC, 1, True)]})
    assert may(GROUP, {APP: [Override(GUILD, 1, True)]}), "opened to everyone for the whole application"
    assert not may(GROUP, {GROUP.id: [Override(FAC, 1, False)], APP: [Override(GUILD, 1, True)]})
    assert not may(GROUP, {GROUP.id: [Override(GUILD, 1, False)]}, {FAC: MANAGE_GUILD})
    assert may(GROUP, {GROUP.id: [Override(GUILD, 1, False), Override(FAC, 1, True)]})


def test_closed_commands_and_the_step_that_opens_them() -> None:
    gaps = closed_staff_commands(
        [GROUP, SESSION, CASES, CommandFacts("consent", 9, None)],
        {SESSION.id: [Override(FAC, 1, True)]},
        app_id=APP, guild_id=GUILD, staff_roles=STAFF, role_permissions={},
    )
    assert gaps == [Gap("group", "facilitator", FAC), Gap("cases", "moderator", MOD)]
    assert open_step(gaps).startswith(f"Open /group to <@&{FAC}> and /cases to <@&{MOD}> in Server Settings")
    none_set = closed_staff_commands([GROUP], {}, app_id=APP, guild_id=GUILD,
                                     staff_roles={"facilitator": None, "moderator": None}, role_permissions={})
    assert none_set == []
