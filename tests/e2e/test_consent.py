"""The consent gate end to end: the real holdspace bot against the sandbox, time moved not slept."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.records import RunningSession
from bot.sandbox import SandboxRefused
from bot.sandbox import permissions as P
from bot.storage import cases as case_store
from tests.e2e.conftest import Holdspace
from tests.e2e.test_setup import (
    agree,
    can_see,
    click,
    db_bytes,
    enroll,
    final,
    find_custom_id,
    rooms,
    shown_agreement,
    started_with_group,
)

GROUP = "Tuesday circle"



async def test_consent_opens_the_rooms_and_withdrawal_closes_them(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, GROUP)
    alice = hs.member("alice")
    text, voice = rooms(hs, group)

    # not consented: cannot see either room, the sandbox refuses the join
    assert not can_see(hs, alice, text) and not can_see(hs, alice, voice)
    with pytest.raises(SandboxRefused):
        hs.guild.join_voice(alice, voice)

    reply = await enroll(hs, staff, GROUP, alice)
    assert "Enrolled" in reply and "direct message" in reply
    with pytest.raises(SandboxRefused):
        hs.guild.join_voice(alice, voice)

    thanks = await agree(hs, alice, GROUP)
    assert "Thank you" in thanks and "version 1" in thanks
    assert can_see(hs, alice, text)
    hs.guild.join_voice(alice, voice)
    assert hs.guild.voice_channel_of(alice) is voice

    # withdraw: disconnected within a second, cannot join again
    handle = await hs.command(alice, None, "consent withdraw", group=GROUP)
    await hs.sb.wait_until(lambda: hs.guild.voice_channel_of(alice) is None)
    assert "withdrawn" in await final(handle)
    with pytest.raises(SandboxRefused):
        hs.guild.join_voice(alice, voice)
    assert not can_see(hs, alice, text)

    # nothing to withdraw twice
    again = await hs.command(alice, None, "consent withdraw", group=GROUP)
    assert again.ephemeral and "nothing to withdraw" in (again.content or "")


async def test_dm_prompt_and_lobby_button_lead_to_the_agreement(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, GROUP)
    alice, bob = hs.member("alice"), hs.member("bob")
    await enroll(hs, staff, GROUP, alice)
    await enroll(hs, staff, GROUP, bob)
    _, voice = rooms(hs, group)

    # alice follows the DM prompt
    dm, review_id = find_custom_id(alice.user.dms, "hs:review:")
    shown = await click(hs, alice.user, dm, review_id)
    await hs.sb.wait_until(lambda: any(m.components for m in shown.followups))
    message, agree_id = find_custom_id(shown.followups, "hs:agree:")
    assert any("Clips" in str(e.get("description")) for m in shown.followups for e in m.embeds)
    # the button is alice's: bob pressing it is refused and changes nothing
    stolen = await click(hs, bob.user, message, agree_id)
    assert "someone else" in (stolen.content or "")
    assert hs.bot is not None and hs.bot.state.consent_of(group.id, bob.id) is None
    done = await final(await click(hs, alice.user, message, agree_id))
    assert "Thank you" in done
    # pressed twice: nothing new
    twice = await click(hs, alice.user, message, agree_id)
    assert "already agreed" in (twice.content or "")
    hs.guild.join_voice(alice, voice)

    # bob uses the lobby button
    lobby_message, lobby_id = find_custom_id(staff.lobby.messages, "hs:lobby")
    shown = await click(hs, bob, lobby_message, lobby_id)
    await hs.sb.wait_until(lambda: any(m.components for m in shown.followups))
    message, decline_id = find_custom_id(shown.followups, "hs:decline:")
    answer = await final(await click(hs, bob, message, decline_id))
    assert "do not have access" in answer
    with pytest.raises(SandboxRefused):
        hs.guild.join_voice(bob, voice)

    # carol is not enrolled in this invite-only group
    carol = hs.member("carol")
    nothing = await click(hs, carol, lobby_message, lobby_id)
    assert "not enrolled" in (nothing.content or "")
    refused = await hs.command(carol, None, "consent give", group=GROUP)
    assert "invitation" in (refused.content or "")


async def test_administrator_without_consent_is_disconnected_prompted_and_a_case_opened(
    holdspace: Holdspace,
) -> None:
    hs = holdspace
    admin_role = hs.guild.create_role("Admin", P.ADMINISTRATOR)
    bob, carol = hs.member("bob"), hs.member("carol")
    hs.guild.set_member_roles(bob, [admin_role.id, hs.world.member_role.id])
    hs.guild.set_member_roles(carol, [admin_role.id, hs.world.member_role.id])
    carol.user.close_dms()
    staff, group = await started_with_group(hs, GROUP)
    _, voice = rooms(hs, group)
    assert hs.bot is not None

    hs.guild.join_voice(bob, voice)  # an administrator bypasses the overwrites
    await hs.sb.wait_until(lambda: hs.guild.voice_channel_of(bob) is None)
    await hs.sb.wait_until(lambda: any(m.components for m in bob.user.dms))
    find_custom_id(bob.user.dms, "hs:review:")

    hs.guild.join_voice(carol, voice)
    await hs.sb.wait_until(lambda: hs.guild.voice_channel_of(carol) is None)

    async def cases() -> list[case_store.CaseRecord]:
        assert hs.bot is not None
        return [
            c for c in await case_store.all_cases(hs.bot.db, hs.bot.ring, hs.guild.id) if c.kind == "unconsented_join"
        ]

    await hs.settle()  # the case is written just after the disconnect
    found = await cases()
    by_subject = {c.subject_id: c for c in found}
    assert set(by_subject) == {bob.id, carol.id}
    assert by_subject[bob.id].details["dm_sent"] is True
    assert by_subject[carol.id].details["dm_sent"] is False
    assert "direct messages are closed" in by_subject[carol.id].details["note"]

    # the facilitator (role) is exempt; holdspace itself never matters
    hs.guild.join_voice(staff.facilitator, voice)
    assert hs.guild.voice_channel_of(staff.facilitator) is voice


async def test_editing_the_agreement_waits_for_the_session_to_end(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, GROUP)
    alice = hs.member("alice")
    _, voice = rooms(hs, group)
    await enroll(hs, staff, GROUP, alice)
    old = await shown_agreement(hs, alice, GROUP)
    old_message, old_agree = find_custom_id(old.followups, "hs:agree:")
    await agree(hs, alice, GROUP)
    hs.guild.join_voice(alice, voice)
    assert hs.bot is not None
    hs.bot.state.running_sessions["s1"] = RunningSession("s1", group.id, hs.clock.now())

    edit = await hs.command(staff.facilitator, None, "group agreement edit", group=GROUP)
    assert edit.modal is not None
    saved = hs.sb.submit_modal(edit, {"part1": "New ground rules: be kind.", "part2": "", "part3": ""})
    text = await final(saved)
    assert "version 2" in text and "when the running session ends" in text
    assert hs.bot.state.groups[group.id].agreement_version == 2

    # mid-session: alice keeps access
    hs.clock.advance(timedelta(minutes=30))
    await hs.bot.scheduler.run_once()
    assert hs.guild.voice_channel_of(alice) is voice
    assert hs.bot.state.consent_of(group.id, alice.id) is not None

    # the session ends: access withdrawn, alice told why
    del hs.bot.state.running_sessions["s1"]
    hs.bot.dispatch("holdspace_session_end", group.id)
    await hs.sb.wait_until(lambda: hs.guild.voice_channel_of(alice) is None)
    await hs.sb.wait_until(lambda: any("has changed" in (m.content or "") for m in alice.user.dms))
    with pytest.raises(SandboxRefused):
        hs.guild.join_voice(alice, voice)

    # the old button is refused and the new text shown
    stale = await click(hs, alice, old_message, old_agree)
    assert "changed after it was shown" in (stale.content or "")
    await hs.sb.wait_until(lambda: any(m.components for m in stale.followups))
    assert any("be kind" in str(e.get("description")) for m in stale.followups for e in m.embeds)
    assert hs.bot.state.consent_of(group.id, alice.id) is None

    shown = await shown_agreement(hs, alice, GROUP)
    descriptions = [str(e.get("description")) for m in shown.followups for e in m.embeds]
    assert descriptions == ["New ground rules: be kind."]
    assert "Version 2" in str(shown.followups[-1].embeds[0].get("footer"))
    message, cid = find_custom_id(shown.followups, "hs:agree:")
    assert "version 2" in await final(await click(hs, alice, message, cid))
    hs.guild.join_voice(alice, voice)


async def test_consent_expires_after_reconsent_days_between_sessions(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, GROUP)
    alice = hs.member("alice")
    _, voice = rooms(hs, group)
    await final(await hs.command(staff.facilitator, None, "group settings", group=GROUP, reconsent_after_days=1))
    await enroll(hs, staff, GROUP, alice)
    await agree(hs, alice, GROUP)
    hs.guild.join_voice(alice, voice)
    assert hs.bot is not None
    hs.clock.advance(timedelta(hours=23))
    await hs.bot.scheduler.run_once()
    assert hs.guild.voice_channel_of(alice) is voice
    hs.clock.advance(timedelta(hours=1, seconds=1))
    await hs.sb.wait_until(lambda: hs.guild.voice_channel_of(alice) is None)
    await hs.sb.wait_until(lambda: any("renewed" in (m.content or "") for m in alice.user.dms))
    assert hs.bot.state.consent_of(group.id, alice.id) is None


async def test_overwrites_changed_offline_are_put_right_and_consent_survives_restart(
    holdspace: Holdspace,
) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, GROUP)
    alice, bob, carol = hs.member("alice"), hs.member("bob"), hs.member("carol")
    text, voice = rooms(hs, group)
    await enroll(hs, staff, GROUP, alice)
    await agree(hs, alice, GROUP)
    await hs.stop()

    # while holdspace is offline
    hs.guild.remove_overwrite(text, alice)
    hs.guild.set_overwrite(voice, bob, allow=P.VIEW_CHANNEL | P.CONNECT)
    hs.guild.set_overwrite(text, hs.guild.everyone, allow=P.VIEW_CHANNEL)
    hs.guild.set_overwrite(text, carol, deny=P.SEND_MESSAGES)  # a deny only: left alone
    hs.guild.set_voice(bob, voice)

    await hs.start()
    assert hs.bot is not None
    await hs.sb.wait_until(
        lambda: can_see(hs, alice, text) and not can_see(hs, bob, voice) and not can_see(hs, carol, text),
    )
    await hs.sb.wait_until(lambda: hs.guild.voice_channel_of(bob) is None)
    assert text.overwrites[carol.id].deny == P.SEND_MESSAGES
    assert hs.bot.state.consent_of(group.id, alice.id) is not None
    hs.guild.join_voice(alice, voice)

    roster = await final(await hs.command(staff.facilitator, None, "group roster", group=GROUP))
    assert f"<@{alice.id}>" in roster and "agreed to version 1" in roster


async def test_the_database_file_holds_no_member_id_name_or_answer(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, _ = await started_with_group(hs, GROUP)
    alice, bob = hs.member("alice"), hs.member("bob")
    await enroll(hs, staff, GROUP, alice)
    await enroll(hs, staff, GROUP, bob)
    await agree(hs, alice, GROUP)
    shown = await shown_agreement(hs, bob, GROUP)
    message, cid = find_custom_id(shown.followups, "hs:decline:")
    await final(await click(hs, bob, message, cid))
    await hs.stop()
    raw = db_bytes(hs)
    for secret in (
        str(alice.id),
        str(bob.id),
        str(staff.facilitator.id),
        "alice",
        "fran",
        '"answer"',
        "decline",
        "Clips",
    ):
        assert secret.encode() not in raw, secret


async def test_bad_input_to_consent_commands(holdspace: Holdspace) -> None:
    hs = holdspace
    await started_with_group(hs, GROUP)
    alice = hs.member("alice")
    for value in ("", "x" * 300, "No such group"):
        handle = await hs.command(alice, None, "consent give", group=value)
        assert handle.ephemeral and (handle.content or "").strip()
        handle = await hs.command(alice, None, "consent withdraw", group=value)
        assert handle.ephemeral and (handle.content or "").strip()
    status = await hs.command(alice, None, "consent status")
    assert "not in any group" in (status.content or "")


async def test_missing_permission_is_named_and_nothing_is_recorded(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, GROUP)
    alice = hs.member("alice")
    await enroll(hs, staff, GROUP, alice)
    shown = await shown_agreement(hs, alice, GROUP)
    message, cid = find_custom_id(shown.followups, "hs:agree:")
    text_room, voice = rooms(hs, group)
    bot_member = hs.guild.bot_member(hs.world.app)
    assert bot_member is not None
    # someone took Manage Permissions on the voice room away from holdspace
    hs.guild.set_overwrite(voice, bot_member, allow=P.VIEW_CHANNEL | P.CONNECT, deny=P.MANAGE_ROLES)
    answer = await final(await click(hs, alice, message, cid))
    assert "Manage Roles" in answer and f"#{voice.name}" in answer
    assert hs.bot is not None and hs.bot.state.consent_of(group.id, alice.id) is None
    assert alice.id not in text_room.overwrites  # nothing half-done
    with pytest.raises(SandboxRefused):
        hs.guild.join_voice(alice, voice)


async def test_lobby_offers_a_choice_of_groups(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, first = await started_with_group(hs, GROUP)
    from tests.e2e.test_setup import create_group

    second = await create_group(hs, staff, "Thursday circle")
    alice, bob = hs.member("alice"), hs.member("bob")
    await enroll(hs, staff, GROUP, alice)
    await enroll(hs, staff, "Thursday circle", alice)
    lobby_message, lobby_id = find_custom_id(staff.lobby.messages, "hs:lobby")
    choice = await click(hs, alice, lobby_message, lobby_id)
    assert choice.message is not None
    _, pick_id = find_custom_id([choice.message], "hs:pick:")
    # someone else's menu is refused
    stolen = hs.sb.click(bob, choice.message, pick_id, values=[second.id])
    await stolen.response()
    assert "someone else" in (stolen.content or "")
    shown = hs.sb.click(alice, choice.message, pick_id, values=[second.id])
    await shown.response()
    await hs.sb.wait_until(lambda: any(m.components for m in shown.followups))
    assert any("Thursday circle" in str(e.get("title")) for m in shown.followups for e in m.embeds)
    message, cid = find_custom_id(shown.followups, "hs:agree:")
    assert "Thursday circle" in await final(await click(hs, alice, message, cid))
    assert hs.bot is not None
    assert hs.bot.state.consent_of(second.id, alice.id) is not None
    assert hs.bot.state.consent_of(first.id, alice.id) is None


async def test_agreeing_tells_when_the_next_session_is(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, GROUP)
    alice = hs.member("alice")
    text, _ = rooms(hs, group)
    scheduled = await hs.command(
        staff.facilitator, text, "session schedule add", group=group.id, weekday=0, time="18:00", duration="1h"
    )
    await final(scheduled)
    await enroll(hs, staff, GROUP, alice)
    thanks = await agree(hs, alice, GROUP)
    assert "Next session:" in thanks and "18:00" in thanks


async def test_after_a_dropped_connection_the_rooms_are_checked_again(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, GROUP)
    alice, bob = hs.member("alice"), hs.member("bob")
    text, voice = rooms(hs, group)
    await enroll(hs, staff, GROUP, alice)
    await agree(hs, alice, GROUP)
    await hs.sb.drop_gateway(resumable=True)
    hs.guild.set_voice(bob, voice)  # no permission check: a stale overwrite, a race
    hs.guild.set_overwrite(text, bob, allow=P.VIEW_CHANNEL)
    await hs.sb.wait_until(lambda: hs.guild.voice_channel_of(bob) is None and bob.id not in text.overwrites)
    assert can_see(hs, alice, text)


async def test_export_holds_what_was_agreed_and_how(holdspace: Holdspace) -> None:
    import csv
    import io

    from bot.exports.consents import export_consents

    hs = holdspace
    staff, group = await started_with_group(hs, GROUP)
    alice = hs.member("alice")
    await enroll(hs, staff, GROUP, alice)
    await agree(hs, alice, GROUP)
    await final(await hs.command(alice, None, "consent withdraw", group=GROUP))
    assert hs.bot is not None
    text = await export_consents(hs.bot.db, hs.bot.ring, hs.guild.id, GROUP, "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["member_id"], r["answer"], r["method"]) for r in rows] == [
        (str(alice.id), "agree", "command"),
        (str(alice.id), "withdraw", "command"),
    ]
    assert rows[0]["sha256"] == group.agreement_sha256 and rows[0]["version"] == "1"


async def test_locked_rooms_stay_closed_between_sessions_after_agreeing(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, GROUP)
    alice = hs.member("alice")
    text, voice = rooms(hs, group)
    await final(await hs.command(staff.facilitator, None, "group settings", group=GROUP, lock_between_sessions=True))
    await enroll(hs, staff, GROUP, alice)
    thanks = await agree(hs, alice, GROUP)
    assert "whenever a session runs" in thanks
    assert hs.bot is not None and hs.bot.state.consent_of(group.id, alice.id) is not None
    assert not can_see(hs, alice, text)
    with pytest.raises(SandboxRefused):
        hs.guild.join_voice(alice, voice)


async def test_locking_between_sessions_closes_the_rooms_to_members_now(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, GROUP)
    alice = hs.member("alice")
    text, _ = rooms(hs, group)
    await enroll(hs, staff, GROUP, alice)
    await agree(hs, alice, GROUP)
    assert can_see(hs, alice, text)
    await final(await hs.command(staff.facilitator, None, "group settings", group=GROUP, lock_between_sessions=True))
    await hs.sb.wait_until(lambda: not can_see(hs, alice, text))
    await final(await hs.command(staff.facilitator, None, "group settings", group=GROUP, lock_between_sessions=False))
    await hs.sb.wait_until(lambda: can_see(hs, alice, text))


async def test_consenting_member_is_told_when_the_next_session_is(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, _ = await started_with_group(hs, GROUP)
    alice = hs.member("alice")
    scheduled = await final(
        await hs.command(
            staff.facilitator, None, "session schedule add",
            group=GROUP, weekday=3, time="18:00", timezone="Europe/Berlin", duration="90m",
        )
    )
    assert "Thursday" in scheduled, scheduled
    await enroll(hs, staff, GROUP, alice)
    thanks = await agree(hs, alice, GROUP)
    assert "Next session: Thursday" in thanks and "18:00 (Europe/Berlin)" in thanks
