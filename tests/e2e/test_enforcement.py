"""Enforcement at the edges, end to end: races, refused and unanswered requests, role changes,
hand-made overwrites, things that happened while holdspace was offline, and a database that cannot
be written. The real holdspace bot against the sandbox; time is moved on the injected clock."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from bot.core.records import GroupInfo
from bot.sandbox import permissions as P
from bot.sandbox.world import Application, Channel, Member
from bot.storage import audit as audit_store
from bot.storage import groups as group_store
from tests.e2e.conftest import Holdspace
from tests.e2e.test_setup import (
    Staff,
    agree,
    click,
    enroll,
    final,
    find_custom_id,
    rooms,
    shown_agreement,
    started_with_group,
)
from tests.e2e.waits import cases, until, until_cases

GROUP = "Tuesday circle"
DISCONNECT = "/guilds/{guild_id}/members/{user_id}"
OVERWRITE = "/channels/{channel_id}/permissions/{overwrite_id}"
ROLE_OF_MEMBER = "/guilds/{guild_id}/members/{user_id}/roles/{role_id}"


async def audit_actions(hs: Holdspace) -> list[str]:
    assert hs.bot is not None
    return [e.action for e in await audit_store.entries(hs.bot.db, hs.bot.ring, hs.guild.id)]


async def advance_until(hs: Holdspace, done: Callable[[], bool], *, limit: float, step: float = 0.25) -> float:
    """Move the injected clock in steps (letting holdspace finish what each step woke) until ``done``;
    returns the injected seconds that took."""
    start = hs.clock.now()
    while True:
        await hs.settle()
        if done():
            return (hs.clock.now() - start).total_seconds()
        if (hs.clock.now() - start).total_seconds() >= limit:
            raise AssertionError(f"not done after {limit} s on the injected clock")
        hs.clock.advance(step)


def disconnects(hs: Holdspace, member: Member) -> list[Any]:
    return [
        r
        for r in hs.sb.requests_matching("PATCH", DISCONNECT)
        if r.json == {"channel_id": None} and r.path.endswith(f"/{member.id}")
    ]


def allows(channel: Channel, member: Member) -> int:
    overwrite = channel.overwrites.get(member.id)
    return 0 if overwrite is None else overwrite.allow


def new_bot(hs: Holdspace, name: str, perms: int = 0) -> tuple[Application, Member]:
    app = hs.sb.create_application(name)
    return app, hs.guild.add_bot(app, permissions=perms)


async def consented_in_voice(hs: Holdspace, who: str = "alice") -> tuple[Staff, GroupInfo, Member, Channel, Channel]:
    staff, group = await started_with_group(hs, GROUP)
    member = hs.member(who)
    text, voice = rooms(hs, group)
    await enroll(hs, staff, GROUP, member)
    await agree(hs, member, GROUP)
    hs.guild.join_voice(member, voice)
    await hs.settle()
    return staff, group, member, text, voice


# -- one order of events per person and group ------------------------------------------------------


async def test_removal_during_an_agreement_in_flight_is_final(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, GROUP)
    alice = hs.member("alice")
    text, voice = rooms(hs, group)
    await enroll(hs, staff, GROUP, alice)
    shown = await shown_agreement(hs, alice, GROUP)
    message, agree_id = find_custom_id(shown.followups, "hs:agree:")
    hs.sb.faults.add_latency(0.3, "PUT", OVERWRITE)

    agreeing = await click(hs, alice, message, agree_id)  # deferred; the overwrite edits are slow
    await hs.sb.wait_for_request("PUT", OVERWRITE)
    removal = await hs.command(staff.facilitator, None, "group remove", group=GROUP, member=alice, reason="asked")
    hs.guild.set_voice(alice, voice)  # she gets in while her "I agree" is still opening the rooms
    assert "Removed" in await final(removal)
    await final(agreeing)
    await hs.settle()

    assert hs.bot is not None
    assert hs.guild.voice_channel_of(alice) is None
    assert not hs.bot.state.is_enrolled(group.id, alice.id)
    assert hs.bot.state.consent_of(group.id, alice.id) is None
    assert (group.id, alice.id) not in set(await group_store.load_enrolments(hs.bot.db, hs.bot.ring))
    assert not allows(text, alice) and not allows(voice, alice)
    await until_cases(hs, "member_removed")


# -- re-deciding on every change that matters ----------------------------------------------------


async def test_a_facilitator_losing_her_role_in_voice_is_disconnected(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, GROUP)
    fran = staff.facilitator
    _, voice = rooms(hs, group)
    hs.guild.join_voice(fran, voice)
    await hs.settle()
    assert hs.guild.voice_channel_of(fran) is voice, "a facilitator may stay"

    hs.guild.set_member_roles(fran, [hs.world.member_role.id])
    await until(lambda: hs.guild.voice_channel_of(fran) is None, what="the disconnect")
    assert len(disconnects(hs, fran)) == 1


# -- start, resume and re-identify ------------------------------------------------------------------


@pytest.mark.parametrize("resumable", [True, False])
async def test_someone_who_joined_while_the_connection_was_down_is_handled_once(
    holdspace: Holdspace, resumable: bool
) -> None:
    hs = holdspace
    _, group = await started_with_group(hs, GROUP)
    _, voice = rooms(hs, group)
    bob = hs.member("bob")
    await hs.settle()
    dms_before = len(bob.user.dms)

    await hs.sb.drop_gateway(resumable=resumable)
    hs.guild.set_voice(bob, voice)  # a replayed join and the reconcile both see him
    await until(lambda: hs.guild.voice_channel_of(bob) is None, what="the disconnect")
    await until_cases(hs, "unconsented_join")
    await hs.settle()
    assert len(disconnects(hs, bob)) == 1
    assert len(bob.user.dms) - dms_before == 1, "one consent prompt"
    assert (await audit_actions(hs)).count("unconsented_join") == 1


async def test_a_server_back_from_an_outage_is_decided_again_as_at_start(holdspace: Holdspace) -> None:
    """GUILD_DELETE (unavailable), then GUILD_CREATE: what happened meanwhile arrives only in that
    GUILD_CREATE, and it is decided as at start (people, bots, access given by hand)."""
    hs = holdspace
    _, group = await started_with_group(hs, GROUP)
    text, voice = rooms(hs, group)
    bob, carol = hs.member("bob"), hs.member("carol")
    _, recorder = new_bot(hs, "craig", P.ADMINISTRATOR)
    await until_cases(hs, "bot_added")
    await hs.settle()
    assert hs.bot is not None
    seen = hs.bot.get_guild(hs.guild.id)
    assert seen is not None

    hs.sb.guild_outage(hs.guild)
    await until(lambda: seen.unavailable, what="the server unavailable")
    hs.guild.set_voice(bob, voice)
    hs.guild.set_voice(recorder, voice)
    hs.guild.set_overwrite(text, carol, allow=P.VIEW_CHANNEL | P.SEND_MESSAGES)
    await hs.settle()
    assert hs.guild.voice_channel_of(bob) is voice, "nothing of the server reached holdspace meanwhile"

    hs.sb.guild_returns(hs.guild)
    await until(lambda: hs.guild.voice_channel_of(bob) is None, what="the person disconnected")
    await until(lambda: hs.guild.voice_channel_of(recorder) is None, what="the bot disconnected")
    await until(lambda: not allows(text, carol), what="the hand-made allow reverted")
    await until_cases(hs, "unconsented_join")
    drift = [c for c in await until_cases(hs, "permission_drift") if c.details.get("channel_id") == text.id]
    assert len(drift) == 1 and drift[0].details["when"] == "while the server was unavailable"
    await hs.settle()
    assert len(disconnects(hs, bob)) == 1 and len(disconnects(hs, recorder)) == 1


# -- disconnect first, then close, then record ------------------------------------------------------


async def test_withdrawal_with_a_503_on_an_overwrite_edit_disconnects_first_and_closes_later(
    holdspace: Holdspace,
) -> None:
    hs = holdspace
    _, group, alice, text, voice = await consented_in_voice(hs)
    before = len(hs.sb.requests)
    hs.sb.faults.fail(None, OVERWRITE, 503, times=1)

    reply = await final(await hs.command(alice, None, "consent withdraw", group=GROUP))
    assert "withdrawn" in reply
    assert hs.guild.voice_channel_of(alice) is None
    assert hs.bot is not None and hs.bot.state.consent_of(group.id, alice.id) is None
    sent = [r for r in hs.sb.requests[before:] if not r.path.startswith(("/interactions/", "/webhooks/"))]
    assert sent[0].method == "PATCH" and sent[0].json == {"channel_id": None}, "the disconnect is the first request"
    assert any(r.status == 503 for r in sent)

    await advance_until(hs, lambda: not allows(text, alice) and not allows(voice, alice), limit=10)
    assert hs.guild.voice_channel_of(alice) is None


async def test_withdrawal_with_a_503_on_taking_the_group_role_disconnects_first_and_takes_it_later(
    holdspace: Holdspace,
) -> None:
    hs = holdspace
    staff, group, alice, _, voice = await consented_in_voice(hs)
    await final(await hs.command(staff.facilitator, None, "group settings", group=GROUP, access_mode="role"))
    assert hs.bot is not None
    role_id = hs.bot.state.groups[group.id].role_id
    assert role_id is not None
    await hs.sb.wait_until(lambda: role_id in alice.role_ids and alice.id not in voice.overwrites, timeout=2)
    await hs.settle()
    assert hs.guild.voice_channel_of(alice) == voice
    before = len(hs.sb.requests)
    hs.sb.faults.fail("DELETE", ROLE_OF_MEMBER, 503, times=1)

    reply = await final(await hs.command(alice, None, "consent withdraw", group=GROUP))
    assert "withdrawn" in reply and "keeps trying" in reply
    assert hs.guild.voice_channel_of(alice) is None
    assert hs.bot.state.consent_of(group.id, alice.id) is None
    sent = [r for r in hs.sb.requests[before:] if not r.path.startswith(("/interactions/", "/webhooks/"))]
    assert sent[0].method == "PATCH" and sent[0].json == {"channel_id": None}, "the disconnect is the first request"
    assert any(r.method == "DELETE" and r.status == 503 for r in sent)
    assert role_id in alice.role_ids

    await advance_until(hs, lambda: role_id not in alice.role_ids, limit=10)
    assert hs.guild.voice_channel_of(alice) is None


async def test_withdrawal_without_holdspaces_connect_in_the_voice_room_stands_and_says_what_failed(
    holdspace: Holdspace,
) -> None:
    hs = holdspace
    _, group, alice, text, voice = await consented_in_voice(hs)
    own = hs.guild.member(hs.world.app.bot.id)
    granted = voice.overwrites[own.id].allow
    hs.guild.set_overwrite(voice, own, allow=granted & ~P.CONNECT, deny=P.CONNECT)  # holdspace's Connect taken
    await hs.settle()

    reply = await final(await hs.command(alice, None, "consent withdraw", group=GROUP))
    assert "withdrawn" in reply and "Connect" in reply and "keeps trying" in reply
    assert hs.bot is not None and hs.bot.state.consent_of(group.id, alice.id) is None
    assert not allows(text, alice), "what could be closed is closed"
    assert not disconnects(hs, alice), "no request Discord would refuse"

    hs.guild.set_overwrite(voice, own, allow=granted)  # Connect is given back
    await advance_until(hs, lambda: hs.guild.voice_channel_of(alice) is None and not allows(voice, alice), limit=40)


# -- drift ----------------------------------------------------------------------------------------------


async def test_a_hand_made_allow_opens_permission_drift_live_and_at_start(holdspace: Holdspace) -> None:
    hs = holdspace
    await started_with_group(hs, GROUP)
    assert hs.bot is not None
    group = hs.bot.state.group_by_name(hs.guild.id, GROUP)
    assert group is not None
    text, voice = rooms(hs, group)
    bob, carol = hs.member("bob"), hs.member("carol")
    await hs.settle()

    hs.guild.set_overwrite(text, bob, allow=P.VIEW_CHANNEL | P.SEND_MESSAGES)
    await until(lambda: not allows(text, bob), what="the hand-made allow reverted")
    live = await until_cases(hs, "permission_drift")
    assert len(live) == 1 and live[0].details["channel_id"] == text.id

    await hs.stop()
    hs.guild.set_overwrite(voice, carol, allow=P.VIEW_CHANNEL | P.CONNECT)
    await hs.start()
    await until(lambda: not allows(voice, carol), what="the allow made while offline reverted")
    found = await until_cases(hs, "permission_drift", 2)
    at_start = [c for c in found if c.details["channel_id"] == voice.id]
    assert len(at_start) == 1 and at_start[0].details["when"] == "while holdspace was offline"


async def test_a_bot_added_while_offline_opens_bot_added_at_start(holdspace: Holdspace) -> None:
    hs = holdspace
    _, group = await started_with_group(hs, GROUP)
    text, voice = rooms(hs, group)
    await hs.stop()
    _, recorder = new_bot(hs, "recorder")
    await hs.start()
    case = (await until_cases(hs, "bot_added"))[0]
    assert case.subject_id == recorder.id
    await until(lambda: all(ch.overwrites.get(recorder.id) is not None for ch in (text, voice)), what="denies")


# -- someone who must leave is an obligation until they are gone --------------------------------------


async def _unconsented_in_voice(hs: Holdspace) -> tuple[GroupInfo, Member]:
    _, group = await started_with_group(hs, GROUP)
    return group, hs.member("bob")


async def _admin_bot_in_voice(hs: Holdspace) -> tuple[GroupInfo, Member]:
    _, group = await started_with_group(hs, GROUP)
    _, recorder = new_bot(hs, "craig", P.ADMINISTRATOR)
    await until_cases(hs, "bot_added")
    return group, recorder


@pytest.mark.parametrize("who", ["member", "administrator bot"])
async def test_a_disconnect_refused_with_a_503_is_retried_until_it_holds(
    holdspace: Holdspace, caplog: pytest.LogCaptureFixture, who: str
) -> None:
    hs = holdspace
    group, person = await (_unconsented_in_voice(hs) if who == "member" else _admin_bot_in_voice(hs))
    _, voice = rooms(hs, group)
    await hs.settle()
    hs.sb.faults.fail("PATCH", DISCONNECT, 503, times=1)
    caplog.set_level(logging.WARNING)

    hs.guild.set_voice(person, voice)
    await hs.sb.wait_for_request("PATCH", DISCONNECT)
    took = await advance_until(hs, lambda: hs.guild.voice_channel_of(person) is None, limit=10)
    assert took <= 2.0, "out within seconds of Discord answering again"
    assert [r.status for r in disconnects(hs, person)][:2] == [503, 200]
    assert any("503" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    kind = "unconsented_join" if who == "member" else "recording_bot_blocked"
    case = (await until_cases(hs, kind))[0]
    assert case.details["disconnected"] is True


@pytest.mark.parametrize("who", ["member", "administrator bot"])
async def test_a_30_second_429_storm_on_the_disconnect_ends_with_the_person_out(
    holdspace: Holdspace, who: str
) -> None:
    hs = holdspace
    group, person = await (_unconsented_in_voice(hs) if who == "member" else _admin_bot_in_voice(hs))
    _, voice = rooms(hs, group)
    await hs.settle()
    storm = hs.sb.faults.rate_limit("PATCH", DISCONNECT, times=10**6, retry_after=0.01, is_global=True)

    hs.guild.set_voice(person, voice)
    await hs.sb.wait_for_request("PATCH", DISCONNECT)
    started = hs.clock.now()
    while (hs.clock.now() - started).total_seconds() < 30:
        await hs.settle()
        hs.clock.advance(0.5)
    assert hs.guild.voice_channel_of(person) is voice, "Discord refused every try during the storm"
    storm.remaining = 0  # Discord answers again
    took = await advance_until(hs, lambda: hs.guild.voice_channel_of(person) is None, limit=10)
    assert took <= 5.0, "out within seconds of Discord answering again"


# -- records survive a database that cannot be written for a while --------------------------------------


async def test_a_minute_without_a_writable_database_loses_no_record_and_logs_one_error(
    holdspace: Holdspace, caplog: pytest.LogCaptureFixture
) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, GROUP)
    fran = staff.facilitator
    text, voice = rooms(hs, group)
    hs.guild.join_voice(fran, voice)
    await hs.settle()
    bot = hs.bot
    assert bot is not None
    before = await audit_actions(hs)
    caplog.set_level(logging.INFO)

    await bot.db.execute("PRAGMA query_only = 1")  # every write refused, as on a read-only file system
    hs.sb.post_many(text, fran, 30)  # the expiry queue cannot record them either
    await hs.settle()
    hs.guild.set_member_roles(fran, [hs.world.member_role.id])
    await until(lambda: hs.guild.voice_channel_of(fran) is None, what="the disconnect, from memory")
    await until(lambda: bot.outbox.kept >= 2, what="the audit entry and the case kept")
    for _ in range(12):  # a minute passes
        hs.clock.advance(5)
        await hs.settle()
    assert await cases(hs, "unconsented_join") == []

    await bot.db.execute("PRAGMA query_only = 0")
    await advance_until(hs, lambda: bot.outbox.kept == 0, limit=10)
    case = (await until_cases(hs, "unconsented_join"))[0]
    assert case.subject_id == fran.id and case.details["disconnected"] is True and "happened_at" in case.details
    after = await audit_actions(hs)
    assert after[len(before) :].count("unconsented_join") == 1
    assert any(r.name.startswith("bot.services.expiry") for r in caplog.records), "the expiry queue met the outage too"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert "read-only" in errors[0].getMessage() and "keeps" in errors[0].getMessage()
    assert not any(r.exc_info for r in caplog.records if r.levelno >= logging.WARNING)
