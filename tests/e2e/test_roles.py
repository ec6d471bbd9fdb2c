"""Roles mean what they say: a named facilitator must hold the facilitator role, and a staff role held
by most members is refused by setup and reported by /guard audit."""

from __future__ import annotations

from bot.sandbox import permissions as P
from tests.e2e.conftest import Holdspace
from tests.e2e.test_guard import answer as guard_answer
from tests.e2e.test_setup import configure, final, rooms, started_with_group


async def test_a_named_facilitator_who_lost_the_role_while_holdspace_was_offline_loses_the_rooms(
    holdspace: Holdspace,
) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, "Tuesday circle")
    fran = staff.facilitator
    text, voice = rooms(hs, group)

    def sees() -> bool:
        return bool(hs.guild.permissions_for(fran, text) & P.VIEW_CHANNEL)

    added = await final(await hs.command(fran, None, "group facilitator add", group="Tuesday circle", member=fran))
    assert "now facilitates" in added
    await hs.sb.wait_until(sees)
    hs.guild.join_voice(fran, voice)
    await hs.stop()
    hs.guild.set_member_roles(fran, [hs.world.member_role.id])
    await hs.start()
    await hs.sb.wait_until(
        lambda: not sees()
        and hs.guild.voice_channel_of(fran) is None
        and fran.id not in text.overwrites
        and fran.id not in voice.overwrites
    )
    assert staff.fac_role.id not in text.overwrites, "the role gets nothing while the group names facilitators"
    refused = await hs.command(fran, None, "session start", group="Tuesday circle")
    assert refused.ephemeral and "facilitator" in (refused.content or "")


async def test_setup_refuses_a_staff_role_most_members_hold_and_the_audit_reports_one(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, _ = await started_with_group(hs, "Tuesday circle")
    everyone_ish = hs.world.member_role  # alice, bob, carol and fran: 4 of the 5 people
    for option in ("facilitator_role", "moderator_role"):
        refused = await configure(hs, staff, **{option: everyone_ish})
        text = refused.content or ""
        assert refused.ephemeral and "is held by 4 of the server's 5 people" in text and "Nothing was changed" in text
    assert hs.bot is not None and hs.bot.state.guilds[hs.guild.id].facilitator_role_id == staff.fac_role.id
    # Handed out widely afterwards: /guard audit says so.
    for name in ("alice", "bob", "carol"):
        hs.guild.set_member_roles(hs.member(name), [hs.world.member_role.id, staff.fac_role.id])
    bot = hs.bot
    await hs.sb.wait_until(
        lambda: sum(1 for m in bot.get_guild(hs.guild.id).members if m.get_role(staff.fac_role.id)) == 4  # type: ignore[union-attr]
    )
    audit = await guard_answer(hs, await hs.command(hs.member("owner"), None, "guard audit"))
    assert f"**fail** The facilitator role <@&{staff.fac_role.id}> is held by 4 of the server's 5 people" in audit
