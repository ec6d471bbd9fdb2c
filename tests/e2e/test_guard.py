"""The guard end to end: the real holdspace bot against the sandbox, nothing of discord.py mocked.

Groups are put in place the way the groups feature leaves them (rooms closed to @everyone, holdspace's
own overwrite, the facilitator role), written to the database and to ``bot.state``.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import cast

import pytest

from bot.core import overwrites as ow
from bot.core.guard import BOT_DENY
from bot.core.records import ConsentFact, GroupInfo, RunningSession
from bot.sandbox import InteractionHandle, Overwrite, SandboxRefused, permissions
from bot.sandbox.world import LOADING, Application, Channel, Member
from bot.storage import groups as group_store
from bot.storage import guard as guard_store
from cogs.guard import Guard
from tests.e2e.conftest import Holdspace
from tests.e2e.waits import cases, until, until_cases

P = permissions


async def settle(hs: Holdspace) -> None:
    """Wait until holdspace has reacted to everything, grace periods included (used before asserting
    that nothing happened)."""
    await hs.settle()


async def answer(hs: Holdspace, handle: InteractionHandle) -> str:
    """Everything holdspace answered to ``handle`` (after a deferral, its follow-ups)."""
    await handle.response()
    if handle.deferred:  # the first follow-up fills the "thinking" message
        await until(lambda: handle.message is not None and not handle.message.flags & LOADING, what="reply")
        await hs.settle()  # and any further follow-ups
    parts = [handle.content or ""] + [m.content for m in handle.followups]
    return "\n".join(p for p in parts if p)


def cog(hs: Holdspace) -> Guard:
    assert hs.bot is not None
    found = hs.bot.get_cog("Guard")
    assert type(found).__name__ == "Guard"  # loaded as an extension: its own copy of the class
    return cast(Guard, found)


def member_deny(channel: Channel, member_id: int) -> int:
    overwrite = channel.overwrites.get(member_id)
    return 0 if overwrite is None else overwrite.deny


async def make_group(
    hs: Holdspace, name: str = "tuesday", *, session: bool = False
) -> tuple[GroupInfo, Channel, Channel]:
    """A group whose rooms carry what the groups feature gives them, known to the running bot."""
    bot = hs.bot
    assert bot is not None
    guild = hs.guild
    own_id = hs.world.app.bot.id
    closed = [
        Overwrite(guild.id, P.ROLE_OVERWRITE, 0, ow.EVERYONE_DENY),
        Overwrite(own_id, P.MEMBER_OVERWRITE, ow.BOT_ALLOW, 0),
    ]
    text = guild.create_text_channel(f"{name}-text", overwrites=closed)
    voice = guild.create_voice_channel(f"{name}-voice", overwrites=closed)
    group = GroupInfo.with_defaults(
        bot.settings.defaults,
        id=uuid.uuid4().hex,
        guild_id=guild.id,
        name=name,
        text_channel_id=text.id,
        voice_channel_id=voice.id,
    )
    await group_store.insert_group(bot.db, bot.ring, group, "Be kind. No recording.", bot.clock.now())
    bot.state.put_group(group)
    if session:
        bot.state.running_sessions["s-" + group.id] = RunningSession("s-" + group.id, group.id, bot.clock.now())
    await until(lambda: guild.id in {g.id for g in bot.guilds} and bot.get_channel(voice.id), what="rooms cached")
    return group, text, voice


def new_bot(hs: Holdspace, name: str, perms: int = 0) -> tuple[Application, Member]:
    app = hs.sb.create_application(name)
    member = hs.guild.add_bot(app, permissions=perms)
    return app, member


# -- prevention ---------------------------------------------------------------------------------------


async def test_added_bot_gets_denies_on_every_group_room_and_a_case(hs: Holdspace) -> None:
    _, text, voice = await make_group(hs, "tuesday")
    _, text2, voice2 = await make_group(hs, "thursday")
    rooms = (text, voice, text2, voice2)
    # Someone gives the newcomer a role that allows everything in the rooms: a member deny still wins.
    _, recorder = new_bot(hs, "recorder", P.VIEW_CHANNEL | P.CONNECT)
    await until(lambda: all(member_deny(r, recorder.id) & BOT_DENY == BOT_DENY for r in rooms), what="denies")
    with pytest.raises(SandboxRefused):
        hs.guild.join_voice(recorder, voice)
    case = (await until_cases(hs, "bot_added"))[0]
    assert case.subject_id == recorder.id
    assert case.details["added_by"] == hs.world.owner.id
    assert case.details["rooms_changed"] == 4
    # Reading the audit log is how the adder is known; nothing asked for a name.
    assert hs.sb.requests_matching("GET", "/guilds/{guild_id}/audit-logs")


async def test_new_group_gets_denies_for_bots_already_in_the_server(hs: Holdspace) -> None:
    _, recorder = new_bot(hs, "recorder")
    await settle(hs)
    _, text, voice = await make_group(hs)  # as /group create does: rooms first, then the group stored
    await until(lambda: member_deny(voice, recorder.id) & BOT_DENY and member_deny(text, recorder.id), what="denies")
    assert not await cases(hs, "permission_drift"), "a new group's bot denies are not a drift"


# -- reaction -------------------------------------------------------------------------------------------


async def test_administrator_bot_joining_voice_is_disconnected_kicked_and_the_session_told(hs: Holdspace) -> None:
    group, text, voice = await make_group(hs, session=True)
    await answer(hs, await hs.command(hs.member("owner"), None, "guard action", action="kick"))
    _, recorder = new_bot(hs, "craig", P.ADMINISTRATOR)
    own_role = next(r for r in hs.guild.member(hs.world.app.bot.id).roles if r.managed)
    hs.guild.update_role(own_role, position=recorder.top_position() + 1)  # holdspace above the bot
    await until_cases(hs, "bot_added")
    hs.guild.join_voice(recorder, voice)  # Administrator bypasses every overwrite
    await until(lambda: recorder.id not in hs.guild.members, what="kick")
    assert hs.guild.voice_channel_of(recorder) is None
    disconnects = [
        r
        for r in hs.sb.requests_matching("PATCH", "/guilds/{guild_id}/members/{user_id}")
        if r.json == {"channel_id": None}
    ]
    kicks = hs.sb.requests_matching("DELETE", "/guilds/{guild_id}/members/{user_id}")
    assert len(disconnects) == 1 and len(kicks) == 1
    assert disconnects[0].started <= kicks[0].started, "disconnected first, then kicked"
    case = (await until_cases(hs, "recording_bot_blocked"))[0]
    assert case.group_id == group.id and case.details["done"] == "kick"
    notice = await until(lambda: [m for m in text.messages if m.author.id == hs.world.app.bot.id], what="notice")
    assert len(notice) == 1 and "\n" not in notice[0].content and "removed" in notice[0].content


async def test_ban_action_and_an_allowed_bot_showing_a_marker(hs: Holdspace) -> None:
    _, _, voice = await make_group(hs)
    assert "ban" in await answer(hs, await hs.command(hs.member("owner"), None, "guard action", action="ban"))
    _, craig = new_bot(hs, "craig", P.ADMINISTRATOR)
    _, helper = new_bot(hs, "helper")
    own_role = next(r for r in hs.guild.member(hs.world.app.bot.id).roles if r.managed)
    hs.guild.update_role(own_role, position=max(craig.top_position(), helper.top_position()) + 1)
    await until_cases(hs, "bot_added", count=2)
    await answer(hs, await hs.command(hs.member("owner"), None, "guard allow", bot=helper))
    await until(lambda: voice.overwrites.get(helper.id) and not member_deny(voice, helper.id), what="allow")
    hs.guild.join_voice(craig, voice)
    await until(lambda: craig.id in hs.guild.bans, what="ban")
    hs.guild.join_voice(helper, voice)
    await settle(hs)
    assert hs.guild.voice_channel_of(helper) is voice  # allowed
    helper.set_nick("helper [RECORDING]")
    await until(lambda: hs.guild.voice_channel_of(helper) is None, what="disconnect")
    assert helper.id in hs.guild.members and helper.id not in hs.guild.bans  # allowed: disconnected only
    blocked = {c.subject_id: c for c in await until_cases(hs, "recording_bot_blocked", count=2)}
    assert blocked[craig.id].details["done"] == "ban"
    assert blocked[helper.id].details["reason"] == "recording marker matched"


async def test_allowed_bot_can_join(hs: Holdspace) -> None:
    _, _, voice = await make_group(hs)
    _, helper = new_bot(hs, "notetaker")
    await until(lambda: member_deny(voice, helper.id), what="deny")
    handle = await hs.command(hs.member("owner"), None, "guard allow", bot=helper)
    assert "now allowed" in await answer(hs, handle)
    await until(lambda: voice.overwrites.get(helper.id) and not member_deny(voice, helper.id), what="allow")
    hs.guild.join_voice(helper, voice)
    await settle(hs)
    assert hs.guild.voice_channel_of(helper) is voice
    assert not hs.sb.requests_matching("PATCH", "/guilds/{guild_id}/members/{user_id}")
    listing = await hs.command(hs.member("owner"), None, "guard list")
    assert f"<@{helper.id}>" in await answer(hs, listing)
    # Allowed after a restart too (stored), and taken off again with /guard deny.
    await hs.restart()
    assert helper.id in cog(hs).bot.state.guild(hs.guild.id).allowed_bot_ids
    denied = await hs.command(hs.member("owner"), None, "guard deny", bot=helper)
    assert "not allowed" in await answer(hs, denied)
    await until(lambda: hs.guild.voice_channel_of(helper) is None, what="disconnect after deny")
    assert member_deny(voice, helper.id) & BOT_DENY == BOT_DENY


async def test_member_renamed_with_a_recording_marker_is_disconnected(hs: Holdspace) -> None:
    group, _, voice = await make_group(hs)
    alice = hs.member("alice")
    hs.guild.set_overwrite(voice, alice, allow=ow.MEMBER_ALLOW)  # let her in for this test
    assert hs.bot is not None
    fact = ConsentFact("c1", alice.id, 1, "0" * 64, hs.bot.clock.now(), "button")
    hs.bot.state.set_consent(group.id, fact)  # she consented (as the consent feature records it)
    hs.guild.join_voice(alice, voice)
    await settle(hs)
    assert hs.guild.voice_channel_of(alice) is voice
    alice.set_nick("alice [REC]")
    await until(lambda: hs.guild.voice_channel_of(alice) is None, what="disconnect")
    assert alice.id in hs.guild.members, "a person is never kicked"
    case = (await until_cases(hs, "recording_marker"))[0]
    assert case.details["reason"] == "recording marker matched"
    assert "alice" not in repr(case.details)


# -- integrity ----------------------------------------------------------------------------------------


async def test_everyone_allowed_is_restored(hs: Holdspace) -> None:
    # How fast is a benchmark's question (performance targets never live in tests).
    _, text, _ = await make_group(hs)
    await settle(hs)
    hs.guild.set_overwrite(text, hs.guild.everyone, allow=P.VIEW_CHANNEL | P.SEND_MESSAGES)
    await until(lambda: text.overwrites[hs.guild.id].deny & ow.EVERYONE_DENY == ow.EVERYONE_DENY)
    assert not text.overwrites[hs.guild.id].allow & P.VIEW_CHANNEL
    case = (await until_cases(hs, "permission_drift"))[0]
    assert any(line.startswith("@everyone: now gets View Channel") for line in case.details["changes"])
    puts_before = len(hs.sb.requests_matching("PUT", "/channels/{channel_id}/permissions/{overwrite_id}"))
    await settle(hs)
    puts_after = len(hs.sb.requests_matching("PUT", "/channels/{channel_id}/permissions/{overwrite_id}"))
    assert puts_after == puts_before, "holdspace's own edit did not start a loop"


async def test_edit_made_while_offline_is_restored_at_start(hs: Holdspace) -> None:
    _, _, voice = await make_group(hs)
    await hs.stop()
    hs.guild.set_overwrite(voice, hs.guild.everyone, allow=P.VIEW_CHANNEL | P.CONNECT)
    await hs.start()
    await until(lambda: voice.overwrites[hs.guild.id].deny & ow.EVERYONE_DENY == ow.EVERYONE_DENY, what="restore")
    case = (await until_cases(hs, "permission_drift"))[0]
    assert case.details["when"] == "while holdspace was offline"


async def test_a_person_let_in_by_hand_is_taken_out_once(hs: Holdspace) -> None:
    """People's own overwrites are the groups feature's first (it removes them at once); the guard
    looks again after its grace period and finds nothing more to do: one request, not two."""
    _, text, _ = await make_group(hs)
    await settle(hs)
    bob = hs.member("bob")
    hs.guild.set_overwrite(text, bob, allow=P.VIEW_CHANNEL | P.SEND_MESSAGES)
    await until(lambda: bob.id not in text.overwrites, what="the stray allow removed")
    await settle(hs)
    removals = [
        r
        for r in hs.sb.requests_matching("DELETE", "/channels/{channel_id}/permissions/{overwrite_id}")
        if r.path.endswith(f"/{bob.id}")
    ]
    assert len(removals) == 1
    assert bob.id not in text.overwrites


@pytest.mark.parametrize("resumable", [True, False])
async def test_edit_made_while_disconnected_is_restored_on_reconnect(hs: Holdspace, resumable: bool) -> None:
    _, text, _ = await make_group(hs)
    await settle(hs)
    await hs.sb.drop_gateway(resumable=resumable)
    hs.guild.set_overwrite(text, hs.guild.everyone, allow=P.VIEW_CHANNEL)
    await until(lambda: not text.overwrites[hs.guild.id].allow & P.VIEW_CHANNEL, what="restored")
    await until_cases(hs, "permission_drift")


async def test_role_gaining_administrator_opens_a_case(hs: Holdspace) -> None:
    await make_group(hs)
    role = hs.guild.create_role("Helpers", 0)
    hs.guild.update_role(role, permissions=P.ADMINISTRATOR)
    case = (await until_cases(hs, "permission_drift"))[0]
    assert case.details["role_id"] == role.id


# -- the server audit ---------------------------------------------------------------------------------


def take_from_holdspace(hs: Holdspace, bits: int, rooms: list[Channel]) -> None:
    """Someone takes ``bits`` from holdspace's role and from its own overwrite in ``rooms``."""
    own = hs.guild.member(hs.world.app.bot.id)
    own_role = next(r for r in own.roles if r.managed)
    hs.guild.update_role(own_role, permissions=own_role.permissions & ~bits)
    for room in rooms:
        hs.guild.set_overwrite(room, own, allow=ow.BOT_ALLOW & ~bits)


async def test_audit_fails_an_administrator_bot_and_a_missing_permission(hs: Holdspace) -> None:
    _, _, voice = await make_group(hs)
    _, craig = new_bot(hs, "craig", P.ADMINISTRATOR)
    await until_cases(hs, "bot_added")
    take_from_holdspace(hs, P.MOVE_MEMBERS, [voice])
    drift = (await until_cases(hs, "permission_drift"))[0]
    assert not drift.details["restored"] and "lacks Move Members" in drift.details["problem"]
    handle = await hs.command(hs.member("owner"), None, "guard audit")
    text = await answer(hs, handle)
    assert handle.ephemeral and all(m.ephemeral for m in handle.followups)
    assert f"**fail** <@{craig.id}> is not allowed but holds Administrator" in text
    assert f"**fail** holdspace lacks Move Members in the voice room <#{voice.id}>" in text
    assert "**fail** <@&" in text  # the Administrator role held by a bot that is not allowed


# -- bad input and faults -----------------------------------------------------------------------------


async def test_allowing_a_person_or_a_bot_of_another_server_is_refused(hs: Holdspace) -> None:
    _, voice_room = (await make_group(hs))[1:]
    del voice_room
    person = await answer(hs, await hs.command(hs.member("owner"), None, "guard allow", bot=hs.member("alice")))
    assert "That is a person, not a bot" in person
    elsewhere_owner = hs.sb.create_user("other-owner")
    other = hs.sb.create_guild("Elsewhere", owner=elsewhere_owner)
    stranger_app = hs.sb.create_application("stranger")
    other.add_bot(stranger_app)
    foreign = await answer(hs, await hs.command(hs.member("owner"), None, "guard allow", bot=stranger_app.bot))
    assert "not a member of this server" in foreign
    itself = await answer(hs, await hs.command(hs.member("owner"), None, "guard allow", bot=hs.world.app.bot))
    assert "always allowed" in itself
    not_manager = await answer(hs, await hs.command(hs.member("alice"), None, "guard list"))
    assert "server managers" in not_manager.lower() or "not allowed" in not_manager.lower()
    assert hs.bot is not None
    assert await guard_store.allowed_bots(hs.bot.db, hs.bot.ring, hs.guild.id) == set()
    assert not hs.sb.requests_matching("PUT", "/channels/{channel_id}/permissions/{overwrite_id}")


async def test_without_manage_roles_the_case_says_so_and_nothing_loops(hs: Holdspace) -> None:
    _, text, voice = await make_group(hs)
    await settle(hs)
    take_from_holdspace(hs, P.MANAGE_ROLES, [text, voice])
    _, recorder = new_bot(hs, "recorder")
    case = (await until_cases(hs, "bot_added"))[0]
    assert any("lacks Manage Roles" in p for p in case.details["problems"])
    drift = (await until_cases(hs, "permission_drift"))[0]
    assert "lacks Manage Roles" in drift.details["problem"]
    await settle(hs)
    assert not hs.sb.requests_matching("PUT", "/channels/{channel_id}/permissions/{overwrite_id}")
    # Allowing a bot now is refused before anything changes.
    refused = await answer(hs, await hs.command(hs.member("owner"), None, "guard allow", bot=recorder))
    assert "lacks Manage Roles" in refused and "Nothing was changed" in refused
    assert hs.bot is not None
    assert await guard_store.allowed_bots(hs.bot.db, hs.bot.ring, hs.guild.id) == set()


async def test_without_move_members_a_bot_in_voice_is_reported_not_retried(hs: Holdspace) -> None:
    _, _, voice = await make_group(hs)
    _, craig = new_bot(hs, "craig", P.ADMINISTRATOR)
    await until_cases(hs, "bot_added")
    take_from_holdspace(hs, P.MOVE_MEMBERS, [voice])
    await until_cases(hs, "permission_drift")
    hs.guild.join_voice(craig, voice)
    case = (await until_cases(hs, "recording_bot_blocked"))[0]
    assert any("lacks Move Members" in p for p in case.details["problems"])
    craig_member = hs.guild.member(craig)
    craig_member.set_nick("craig [RECORDING]")
    await settle(hs)
    assert not hs.sb.requests_matching("PATCH", "/guilds/{guild_id}/members/{user_id}")
    assert len(await cases(hs, "recording_bot_blocked")) == 1


async def test_a_storm_of_joins_is_handled_once_each(hs: Holdspace) -> None:
    _, _, voice = await make_group(hs)
    bots = [new_bot(hs, f"recorder{i}", P.ADMINISTRATOR)[1] for i in range(5)]
    await until_cases(hs, "bot_added", count=5)
    for _ in range(3):
        for bot_member in bots:
            hs.guild.join_voice(bot_member, voice)
        await until(lambda: all(hs.guild.voice_channel_of(b) is None for b in bots), what="all disconnected")
    await settle(hs)
    disconnects = [
        r
        for r in hs.sb.requests_matching("PATCH", "/guilds/{guild_id}/members/{user_id}")
        if r.json == {"channel_id": None}
    ]
    assert len(disconnects) == 15  # one per join, no more
    assert len(await cases(hs, "recording_bot_blocked")) == 5  # one case per bot (deduplicated)


async def test_a_room_that_keeps_changing_is_restored_a_few_times_then_left_with_a_case(hs: Holdspace) -> None:
    _, text, _ = await make_group(hs)
    await settle(hs)
    guard = cog(hs)

    def restores() -> int:
        puts = hs.sb.requests_matching("PUT", "/channels/{channel_id}/permissions/{overwrite_id}")
        return sum(1 for r in puts if r.path.endswith(f"/{hs.guild.id}"))

    for _ in range(guard.limiter.limit):
        hs.guild.set_overwrite(text, hs.guild.everyone, allow=P.VIEW_CHANNEL)
        await until(lambda: not text.overwrites[hs.guild.id].allow, what="restored")
    hs.guild.set_overwrite(text, hs.guild.everyone, allow=P.VIEW_CHANNEL)  # once more: holdspace stops here
    await settle(hs)
    assert text.overwrites[hs.guild.id].allow == P.VIEW_CHANNEL
    assert restores() == guard.limiter.limit
    (case,) = await cases(hs, "permission_drift")  # one open case for the room, not one per change
    assert case.status == "open"
    hs.clock.advance(timedelta(minutes=2))  # the cap is per minute
    hs.guild.set_overwrite(text, hs.guild.everyone, allow=P.VIEW_CHANNEL | P.SEND_MESSAGES)
    await until(lambda: not text.overwrites[hs.guild.id].allow & P.VIEW_CHANNEL, what="restored after the cap")
    assert restores() == guard.limiter.limit + 1


# -- together with the groups, consent and sessions features ------------------------------------------


def can_see(hs: Holdspace, who: Member, room: Channel) -> bool:
    return bool(hs.guild.permissions_for(who, room) & P.VIEW_CHANNEL)


async def test_with_real_groups_consent_and_sessions_no_false_alarm(holdspace: Holdspace) -> None:
    from tests.e2e.test_setup import add_staff, agree, configure, create_group, enroll, final, rooms

    hs = holdspace
    staff = add_staff(hs)
    await hs.start()
    _, recorder = new_bot(hs, "recorder")  # in the server before the group exists
    await until_cases(hs, "bot_added")
    await final(await configure(hs, staff))
    group = await create_group(hs, staff, "Tuesday circle")
    text, voice = rooms(hs, group)
    await until(
        lambda: all(member_deny(r, recorder.id) & BOT_DENY == BOT_DENY for r in (text, voice)),
        what="denies on the new group's rooms",
    )
    fac = staff.facilitator
    await final(await hs.command(fac, None, "group settings", group="Tuesday circle", lock_between_sessions=True))
    alice = hs.member("alice")
    await enroll(hs, staff, "Tuesday circle", alice)
    await agree(hs, alice, "Tuesday circle")
    await final(await hs.command(fac, None, "session start", group="Tuesday circle"))
    await until(lambda: can_see(hs, alice, text), what="the session opens the rooms to alice")
    await final(await hs.command(fac, None, "session end", group="Tuesday circle"))
    await until(lambda: not can_see(hs, alice, text), what="the session end locks them again")
    await settle(hs)  # past the guard's grace period for members' overwrites
    assert not can_see(hs, alice, text)
    assert not await cases(hs, "permission_drift"), "opening and closing rooms is not drift"
    assert member_deny(voice, recorder.id) & BOT_DENY == BOT_DENY
