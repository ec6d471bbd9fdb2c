"""Roles mean what they say: a named facilitator must hold the facilitator role, and a staff role held
by most members is refused by setup and reported by /guard audit."""

from __future__ import annotations

from datetime import timedelta

from bot.core.records import GroupInfo
from bot.sandbox import permissions as P
from bot.sandbox.world import Channel, Member
from tests.e2e.conftest import Holdspace
from tests.e2e.test_enforcement import DISCONNECT, advance_until, audit_actions, disconnects
from tests.e2e.test_guard import answer as guard_answer
from tests.e2e.test_setup import Staff, agree, configure, enroll, final, rooms, started_with_group


def _sees(hs: Holdspace, who: Member, room: Channel) -> bool:
    return bool(hs.guild.permissions_for(who, room) & P.VIEW_CHANNEL)


async def _named_in_voice(hs: Holdspace) -> tuple[Staff, GroupInfo, Channel, Channel]:
    """fran, the one named facilitator of "Tuesday circle", sits in its voice room."""
    staff, group = await started_with_group(hs, "Tuesday circle")
    fran = staff.facilitator
    text, voice = rooms(hs, group)
    added = await final(await hs.command(fran, None, "group facilitator add", group="Tuesday circle", member=fran))
    assert "now facilitates" in added
    await hs.sb.wait_until(lambda: _sees(hs, fran, text) and _sees(hs, fran, voice))
    hs.guild.join_voice(fran, voice)
    await hs.settle()
    assert hs.guild.voice_channel_of(fran) == voice
    return staff, group, text, voice


def _discord_requests(hs: Holdspace, since: int) -> list:  # type: ignore[type-arg]
    return [r for r in hs.sb.requests[since:] if not r.path.startswith(("/interactions/", "/webhooks/"))]


async def test_a_named_facilitator_who_loses_the_role_is_disconnected_and_shut_out_at_once(
    holdspace: Holdspace,
) -> None:
    hs = holdspace
    staff, _, text, voice = await _named_in_voice(hs)
    fran = staff.facilitator
    before = len(hs.sb.requests)
    hs.guild.set_member_roles(fran, [hs.world.member_role.id])
    await hs.sb.wait_until(
        lambda: (
            hs.guild.voice_channel_of(fran) is None
            and fran.id not in text.overwrites
            and fran.id not in voice.overwrites
        )
    )
    await hs.settle()
    assert not _sees(hs, fran, text) and not _sees(hs, fran, voice)
    sent = _discord_requests(hs, before)
    assert sent[0].method == "PATCH" and sent[0].json == {"channel_id": None}, "the disconnect is the first request"
    assert "facilitator_role_lost" in await audit_actions(hs)
    # Trying to come back is refused by Discord itself: the rooms are closed to her.
    assert not _sees(hs, fran, voice)


async def test_the_facilitator_role_given_back_opens_the_rooms_again(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, _, text, voice = await _named_in_voice(hs)
    fran = staff.facilitator
    hs.guild.set_member_roles(fran, [hs.world.member_role.id])
    await hs.sb.wait_until(lambda: not _sees(hs, fran, text) and hs.guild.voice_channel_of(fran) is None)
    await hs.settle()
    hs.guild.set_member_roles(fran, [hs.world.member_role.id, staff.fac_role.id])
    await hs.sb.wait_until(lambda: _sees(hs, fran, text) and _sees(hs, fran, voice))
    hs.guild.join_voice(fran, voice)
    await hs.settle()
    assert hs.guild.voice_channel_of(fran) == voice, "a facilitator again may stay"


async def test_the_role_taken_and_given_back_at_once_ends_with_the_last_change(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, _, text, voice = await _named_in_voice(hs)
    fran = staff.facilitator
    # Discord is slow to answer, so the closing is still under way when the role comes back.
    hs.sb.faults.add_latency(0.2, None)
    hs.guild.set_member_roles(fran, [hs.world.member_role.id])
    hs.guild.set_member_roles(fran, [hs.world.member_role.id, staff.fac_role.id])
    await hs.settle()
    hs.sb.faults.clear()
    assert _sees(hs, fran, text) and _sees(hs, fran, voice), "the last change wins: she facilitates"
    # And the other way round: given back, then taken again.
    hs.sb.faults.add_latency(0.2, None)
    hs.guild.set_member_roles(fran, [hs.world.member_role.id])
    hs.guild.set_member_roles(fran, [hs.world.member_role.id, staff.fac_role.id])
    hs.guild.set_member_roles(fran, [hs.world.member_role.id])
    await hs.settle()
    hs.sb.faults.clear()
    assert not _sees(hs, fran, text) and not _sees(hs, fran, voice)


async def test_a_facilitator_who_got_the_role_back_while_holdspace_was_offline_has_the_rooms_at_start(
    holdspace: Holdspace,
) -> None:
    hs = holdspace
    staff, _, text, voice = await _named_in_voice(hs)
    fran = staff.facilitator
    hs.guild.set_member_roles(fran, [hs.world.member_role.id])
    await hs.sb.wait_until(lambda: not _sees(hs, fran, text) and hs.guild.voice_channel_of(fran) is None)
    await hs.settle()
    await hs.stop()
    hs.guild.set_member_roles(fran, [hs.world.member_role.id, staff.fac_role.id])
    await hs.start()
    await hs.sb.wait_until(lambda: _sees(hs, fran, text) and _sees(hs, fran, voice))


async def test_a_new_facilitator_role_in_setup_mid_session_moves_the_rooms_to_its_holders(
    holdspace: Holdspace,
) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, "Tuesday circle")  # names nobody: the role runs it
    fran, carol = staff.facilitator, hs.member("carol")
    text, voice = rooms(hs, group)
    started = await final(await hs.command(fran, None, "session start", group="Tuesday circle"))
    assert "started" in started.lower(), started
    hs.guild.join_voice(fran, voice)
    await hs.settle()
    leads = hs.guild.create_role("Leads", 0)
    hs.guild.set_member_roles(carol, [*carol.role_ids, leads.id])
    await hs.settle()
    before = len(hs.sb.requests)
    changed = await final(await configure(hs, staff, facilitator_role=leads))
    assert "set up" in changed, changed
    await hs.sb.wait_until(
        lambda: hs.guild.voice_channel_of(fran) is None and not _sees(hs, fran, text) and _sees(hs, carol, voice)
    )
    assert staff.fac_role.id not in text.overwrites or not text.overwrites[staff.fac_role.id].allow
    sent = _discord_requests(hs, before)
    assert sent[0].method == "PATCH" and sent[0].json == {"channel_id": None}, "the disconnect is the first request"
    hs.guild.join_voice(carol, voice)
    await hs.settle()
    assert hs.guild.voice_channel_of(carol) == voice, "the new role's holders facilitate"


async def test_a_new_facilitator_role_in_setup_closes_the_rooms_to_named_facilitators_without_it(
    holdspace: Holdspace,
) -> None:
    hs = holdspace
    staff, _, text, voice = await _named_in_voice(hs)
    fran = staff.facilitator
    leads = hs.guild.create_role("Leads", 0)
    await hs.settle()
    changed = await final(await configure(hs, staff, facilitator_role=leads))
    assert "set up" in changed, changed
    await hs.sb.wait_until(
        lambda: (
            hs.guild.voice_channel_of(fran) is None
            and fran.id not in text.overwrites
            and fran.id not in voice.overwrites
        )
    )
    # Given the new role, she is a named facilitator with the role again.
    hs.guild.set_member_roles(fran, [*fran.role_ids, leads.id])
    await hs.sb.wait_until(lambda: _sees(hs, fran, text) and _sees(hs, fran, voice))


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
        lambda: (
            not sees()
            and hs.guild.voice_channel_of(fran) is None
            and fran.id not in text.overwrites
            and fran.id not in voice.overwrites
        )
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
        hs.guild.set_member_roles(hs.member(name), [hs.world.member_role.id, staff.fac_role.id, staff.mod_role.id])
    bot = hs.bot
    await hs.sb.wait_until(
        lambda: sum(1 for m in bot.get_guild(hs.guild.id).members if m.get_role(staff.fac_role.id)) == 4  # type: ignore[union-attr]
    )
    audit = await guard_answer(hs, await hs.command(hs.member("owner"), None, "guard audit"))
    assert f"**fail** The facilitator role <@&{staff.fac_role.id}> is held by 4 of the server's 5 people" in audit
    assert f"**fail** The moderator role <@&{staff.mod_role.id}> is held by 3 of the server's 5 people" in audit


async def test_a_deleted_facilitator_role_shuts_the_named_facilitators_out(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, _, text, voice = await _named_in_voice(hs)
    fran = staff.facilitator
    hs.guild.delete_role(staff.fac_role)
    await hs.sb.wait_until(
        lambda: (
            hs.guild.voice_channel_of(fran) is None
            and fran.id not in text.overwrites
            and fran.id not in voice.overwrites
        )
    )
    assert not _sees(hs, fran, text) and not _sees(hs, fran, voice)


async def test_a_facilitator_by_role_who_withdraws_keeps_no_member_access_to_outlast_the_role(
    holdspace: Holdspace,
) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, "Tuesday circle")  # names nobody: the role runs it
    fran = staff.facilitator
    text, voice = rooms(hs, group)
    await enroll(hs, staff, "Tuesday circle", fran)
    assert "agree" in (await agree(hs, fran, "Tuesday circle")).casefold()
    await hs.sb.wait_until(lambda: fran.id in text.overwrites and fran.id in voice.overwrites)
    withdrawn = await final(await hs.command(fran, None, "consent withdraw", group="Tuesday circle"))
    assert "withdrawn" in withdrawn
    await hs.sb.wait_until(lambda: fran.id not in text.overwrites and fran.id not in voice.overwrites)
    assert _sees(hs, fran, text), "the facilitator role still opens the rooms"
    hs.guild.set_member_roles(fran, [hs.world.member_role.id])
    await hs.sb.wait_until(lambda: not _sees(hs, fran, text) and not _sees(hs, fran, voice))


async def test_a_refused_disconnect_is_decided_again_and_dropped_when_the_role_came_back(
    holdspace: Holdspace,
) -> None:
    hs = holdspace
    staff, _, text, voice = await _named_in_voice(hs)
    fran = staff.facilitator
    hs.sb.faults.fail("PATCH", DISCONNECT, 503, times=1)
    hs.guild.set_member_roles(fran, [hs.world.member_role.id])
    await hs.sb.wait_for_request("PATCH", DISCONNECT)
    hs.guild.set_member_roles(fran, [hs.world.member_role.id, staff.fac_role.id])
    await advance_until(hs, lambda: _sees(hs, fran, text) and _sees(hs, fran, voice), limit=40)
    for _ in range(4):  # past every back-off a retry would have waited
        hs.clock.advance(timedelta(seconds=15))
        await hs.settle()
    assert hs.guild.voice_channel_of(fran) == voice, "a facilitator again: she stays"
    assert [r.status for r in disconnects(hs, fran)] == [503]
