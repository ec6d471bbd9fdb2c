"""Staff commands stay hidden until a server admin opens them to the staff roles (Discord's default
member permissions); /setup configure's reply and /guard audit say so, from the command permissions
Discord reports, and stop saying so once they are open."""

from __future__ import annotations

import pytest

from bot.sandbox import Sandbox, SandboxRefused
from tests.conftest import StandardWorld
from tests.e2e.conftest import Holdspace, build_holdspace_world
from tests.e2e.test_setup import add_staff, configure, final


@pytest.fixture
def hs_world(sandbox: Sandbox) -> StandardWorld:
    # A server whose admin has not opened any command yet: Discord's defaults apply.
    return build_holdspace_world(sandbox, open_commands=False)


async def audit(hs: Holdspace) -> str:
    handle = await hs.command(hs.member("owner"), None, "guard audit")
    await handle.response()
    await hs.sb.wait_until(lambda: handle.followups or (handle.message and not handle.message.flags & 128), 3)
    return await final(handle, count=max(1, len(handle.followups)))


async def test_set_up_says_to_open_the_staff_commands_until_they_are_open(holdspace: Holdspace) -> None:
    hs = holdspace
    staff = add_staff(hs)
    await hs.start()
    fac, mod = staff.fac_role.id, staff.mod_role.id

    # Discord hides /group from a facilitator without Manage Server: the command never reaches holdspace.
    with pytest.raises(SandboxRefused, match="/group"):
        hs.sb.run_command(staff.facilitator, hs.guild.channels[0], "group create", name="Circle")

    text = await final(await configure(hs, staff))
    assert f"Open /group, /session and /expiry to <@&{fac}> and /cases to <@&{mod}>" in text, text
    assert "Run /guard audit" in text
    checklist = await audit(hs)
    assert f"Open /group, /session and /expiry to <@&{fac}>" in checklist and "❌" in checklist

    # The owner opens them, as Server Settings > Integrations > holdspace does.
    for name in ("group", "session", "expiry"):
        hs.sb.set_command_permissions(hs.guild, name, roles={staff.fac_role: True})
    text = await final(await configure(hs, staff))
    assert f"Open /cases to <@&{mod}>" in text and "/group, /session" not in text  # only /cases is left
    hs.sb.set_command_permissions(hs.guild, "cases", roles={staff.mod_role: True})
    text = await final(await configure(hs, staff))
    assert "Open /" not in text and "Run /guard audit" in text
    assert "The staff commands are open to the facilitator and moderator roles." in await audit(hs)
    handle = await hs.command(staff.facilitator, None, "group create", name="Circle")
    assert "Created" in await final(handle)


async def test_a_role_that_already_holds_the_default_permissions_needs_no_override(holdspace: Holdspace) -> None:
    hs = holdspace
    staff = add_staff(hs)
    hs.guild.update_role(staff.fac_role, permissions=(1 << 5) | (1 << 24))  # Manage Server, Move Members
    await hs.start()
    text = await final(await configure(hs, staff))
    assert f"Open /cases to <@&{staff.mod_role.id}> in" in text and "Open /group" not in text


async def test_opened_to_everyone_counts_as_open(holdspace: Holdspace) -> None:
    hs = holdspace
    staff = add_staff(hs)
    hs.sb.set_command_permissions(hs.guild, None, app=hs.world.app, everyone=True)
    await hs.start()
    text = await final(await configure(hs, staff))
    assert "Open /" not in text


async def test_when_discord_will_not_say_the_reply_still_names_the_step(holdspace: Holdspace) -> None:
    hs = holdspace
    staff = add_staff(hs)
    await hs.start()
    hs.sb.faults.fail("GET", "/applications/{application_id}/guilds/{guild_id}/commands/permissions", 403)
    text = await final(await configure(hs, staff))
    assert "could not read whether they are open" in text


async def test_the_setup_guide_names_each_commands_default_permission(hs: Holdspace) -> None:
    """docs/setup.md's table against what holdspace registers with Discord."""
    import re
    from pathlib import Path

    names = {"Manage Server": str(1 << 5), "Move Members": str(1 << 24), "everyone": None}
    guide = (Path(__file__).resolve().parents[2] / "docs/setup.md").read_text(encoding="utf-8")
    documented: dict[str, str | None] = {}
    for cells in re.findall(r"^\s*\| (`/.+?`) \| (.+?) \|", guide, re.M):
        for command in re.findall(r"`/(\w+)`", cells[0]):
            documented[command] = names[cells[1]]
    registered = {c["name"]: c["default_member_permissions"] for c in hs.world.app.global_commands if c["type"] == 1}
    assert documented == registered
