"""Members control their data: erasure (command and `holdspace forget`), leaving the server, and a copy
to keep. The real holdspace bot against the sandbox; time moves with the fake clock."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import cli
from bot.core.records import GroupInfo
from bot.crypto import KeyRing, generate_key
from bot.exports.cases_audit import verify_audit
from bot.sandbox import InteractionHandle, SandboxRefused
from bot.sandbox.world import Member, Message
from bot.services.member_data import REQUEST_POLL
from bot.storage import audit as audit_store
from bot.storage import cases as case_store
from bot.storage import consents as consent_store
from bot.storage import fields
from tests.e2e.conftest import Holdspace
from tests.e2e.test_setup import (
    Staff,
    agree,
    can_see,
    click,
    enroll,
    final,
    find_custom_id,
    rooms,
    started_with_group,
)

GROUP = "Tuesday circle"


async def found_by_blind_index(hs: Holdspace, member_id: int) -> dict[str, int]:
    """Rows of every registered blind-index column that the member's index finds, per column."""
    bot = hs.bot
    assert bot is not None
    found: dict[str, int] = {}
    for column in fields.blind_index_columns():
        indexes = bot.ring.blind_indexes(member_id, purpose=column.purpose)
        marks = ",".join("?" * len(indexes))
        count = await bot.db.fetchval(
            f"SELECT COUNT(*) AS n FROM {column.table} WHERE {column.column} IN ({marks})", indexes
        )
        if count:
            found[f"{column.table}.{column.column}"] = int(count)
    return found


async def consented_in_voice(hs: Holdspace, who: str) -> tuple[Staff, GroupInfo, Member]:
    staff, group = await started_with_group(hs, GROUP)
    member = hs.member(who)
    await enroll(hs, staff, GROUP, member)
    assert "Thank you" in await agree(hs, member, GROUP)
    return staff, group, member


async def forget_prompt(hs: Holdspace, who: Any, channel: Any = None) -> tuple[str, list[Message]]:
    handle = await hs.command(who, channel, "privacy forget")
    if find_buttons(handle):
        await hs.sb.wait_until(lambda: find_buttons(handle))
    return await final(handle), [m for m in [handle.message, *handle.followups] if m is not None]


def find_buttons(handle: InteractionHandle) -> bool:
    messages = [m for m in [handle.message, *handle.followups] if m is not None]
    return any(
        c.get("custom_id", "").startswith("hs:forget:")
        for m in messages
        for r in m.components
        for c in r.get("components", [])
    )


async def confirm(hs: Holdspace, who: Any, messages: list[Message]) -> str:
    message, cid = find_custom_id(messages, "hs:forget:")
    return await final(await click(hs, who, message, cid))


async def report(hs: Holdspace, who: Member, summary: str) -> None:
    handle = hs.sb.run_command(who, hs.guild.channel("general"), "report new")
    await handle.response()
    await final(hs.sb.submit_modal(handle, {"summary": summary, "detail": ""}))


async def test_forget_in_a_running_session_with_an_open_case_and_asked_twice(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, group, alice = await consented_in_voice(hs, "alice")
    bot = hs.bot
    assert bot is not None
    text_room, voice = rooms(hs, group)
    await final(await hs.command(staff.facilitator, None, "session start", group=GROUP))
    hs.guild.join_voice(alice, voice)
    await report(hs, alice, "Someone records the calls.")  # case #1, reported by alice (open)
    await report(hs, alice, "Another worry.")  # case #2, reported by alice, closed below
    about = await bot.cases.open(hs.guild.id, "unconsented_join", group_id=group.id, subject_id=alice.id)
    assert about == 3  # a case about alice, still open
    hs.guild.set_member_roles(hs.member("bob"), [hs.world.member_role.id, staff.mod_role.id])
    await hs.sb.wait_until(lambda: staff.mod_role.id in [r.id for r in _cached_roles(hs, "bob")])
    await final(
        await hs.command(hs.member("bob"), None, "cases resolve", number=2, outcome="dismissed", note="Looked into it.")
    )

    prompt, messages = await forget_prompt(hs, alice)
    assert "Erase your records?" in prompt
    assert "case #3 about you" in prompt and "until it is closed" in prompt
    assert "your link to report #1 (still open)" in prompt
    assert "consent record for Tuesday circle" in prompt and "withdrawn_consent_days" in prompt

    last_seq = max(e.seq for e in await audit_store.entries(bot.db, bot.ring, hs.guild.id))
    answer = await confirm(hs, alice, messages)
    await hs.sb.wait_until(lambda: hs.guild.voice_channel_of(alice) is None)
    assert "erased" in answer and "disconnected from the group's voice room" in answer
    assert "case #3 about you" in answer and "the case's rules decide" in answer
    assert "1 link from closed cases" in answer and "open cases to you, cut when each case is closed" in answer
    with pytest.raises(SandboxRefused):
        hs.guild.join_voice(alice, voice)
    assert not can_see(hs, alice, text_room)
    assert not bot.state.is_enrolled(group.id, alice.id) and bot.state.consent_of(group.id, alice.id) is None

    # Only what the retention rules keep is still found by alice's blind index.
    found = await found_by_blind_index(hs, alice.id)
    assert set(found) == {"consents.member_index", "cases.subject_index", "cases.reporter_index"}, found
    assert found["cases.subject_index"] == 1 and found["cases.reporter_index"] == 1  # #3 about her, #1 open
    assert (await case_store.get_case(bot.db, bot.ring, hs.guild.id, 2)) is not None  # report #2 stays, unlinked
    events = await consent_store.history(bot.db, bot.ring, member_id=alice.id)
    assert events[-1].answer == "withdraw" and events[-1].reason == "erasure requested"

    # /privacy mydata says the same.
    mydata = await final(await hs.command(alice, None, "privacy mydata"))
    assert "enrolled in: none" in mydata
    assert "Tuesday circle: withdraw" in mydata and "erasure requested" in mydata
    assert "Reports you made: #1 (open)" in mydata and "#2" not in mydata.split("Reports you made:")[1][:40]
    assert "Cases about you (only their status is shown to you): #3 (open)" in mydata

    # The audit trail records the erasure without saying whose, and still verifies.
    entries = await audit_store.entries(bot.db, bot.ring, hs.guild.id)
    erased = [e for e in entries if e.action == "member_erased"]
    assert len(erased) == 1 and erased[0].payload["actor"] is None and erased[0].payload["subject"] is None
    assert str(alice.id) not in json.dumps(erased[0].payload)
    # Nothing written by the erasure names her (the withdrawal it made is recorded without a name).
    assert not [e for e in entries if e.seq > last_seq and str(alice.id) in json.dumps(e.payload)]
    assert (await verify_audit(bot.db, bot.ring)).ok

    # Asked twice (and the first prompt's button pressed again after a restart): a clear answer.
    await hs.restart()
    again = await confirm(hs, alice, messages)
    assert "nothing more to erase" in again and "case #3 about you" in again
    prompt, messages = await forget_prompt(hs, alice)
    assert "Erase your records?" in prompt
    assert "nothing more to erase" in await confirm(hs, alice, messages)
    bot = hs.bot
    assert bot is not None
    assert (
        len([e for e in await audit_store.entries(bot.db, bot.ring, hs.guild.id) if e.action == "member_erased"]) == 1
    )

    # When case #1 closes, its link to alice goes; the case stays with the moderators.
    await final(
        await hs.command(hs.member("bob"), None, "cases resolve", number=1, outcome="actioned", note="Spoke with them.")
    )
    found = await found_by_blind_index(hs, alice.id)
    assert set(found) == {"consents.member_index", "cases.subject_index"}, found
    assert (await case_store.get_case(bot.db, bot.ring, hs.guild.id, 1)) is not None
    assert (await verify_audit(bot.db, bot.ring)).ok


def _cached_roles(hs: Holdspace, who: str) -> list[Any]:
    bot = hs.bot
    assert bot is not None
    guild = bot.get_guild(hs.guild.id)
    member = guild.get_member(hs.member(who).id) if guild else None
    return list(member.roles) if member else []


async def test_forget_buttons_belong_to_one_member_and_keep_them_changes_nothing(holdspace: Holdspace) -> None:
    hs = holdspace
    _, group, alice = await consented_in_voice(hs, "alice")
    bot = hs.bot
    assert bot is not None
    _, messages = await forget_prompt(hs, alice)
    message, cid = find_custom_id(messages, "hs:forget:")
    # Ephemeral messages are only alice's, but a copied custom_id is refused all the same.
    handle = hs.sb.click(hs.member("bob"), message, cid)
    assert "made for someone else" in await final(await handle.response())
    keep_message, keep = find_custom_id(messages, "hs:forget-keep:")
    assert "Nothing was erased" in await final(await click(hs, alice, keep_message, keep))
    assert bot.state.consent_of(group.id, alice.id) is not None and bot.state.is_enrolled(group.id, alice.id)


async def test_nothing_held_means_nothing_to_erase(hs: Holdspace) -> None:
    text, _ = await forget_prompt(hs, hs.member("carol"))
    assert "holds nothing about you" in text


async def test_someone_no_longer_in_the_server_forgets_by_direct_message(holdspace: Holdspace) -> None:
    hs = holdspace
    _, group, alice = await consented_in_voice(hs, "alice")
    bot = hs.bot
    assert bot is not None
    await report(hs, alice, "Something worried me.")
    user = alice.user
    hs.guild.remove_member(alice)
    await hs.sb.wait_until(lambda: bot.state.consent_of(group.id, user.id) is None)
    await hs.settle()
    dm = hs.sb.dm_channel(user)
    prompt, messages = await forget_prompt(hs, user, dm)
    assert "every server holdspace looks after" in prompt
    answer = await confirm(hs, user, messages)
    assert "Practice" in answer and "erased" in answer and "open cases to you" in answer
    found = await found_by_blind_index(hs, user.id)
    assert set(found) == {"consents.member_index", "cases.reporter_index"}, found
    assert (await verify_audit(bot.db, bot.ring)).ok
    copy = await final(await hs.command(user, dm, "privacy mydata"))
    assert "Tuesday circle: revoked" in copy and "left the server" in copy


async def requests_done(hs: Holdspace) -> None:
    """Wait (a condition, bounded) until holdspace has carried out every written-down erasure request."""
    bot = hs.bot
    assert bot is not None
    for _ in range(500):
        if await bot.db.fetchval("SELECT COUNT(*) AS n FROM erasure_requests") == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the erasure requests were not carried out")


@pytest.fixture
def keep_logging() -> Iterator[None]:
    """The command line sets up its own logging; give the test run's back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def _write_config(tmp_path: Path, database: Path) -> Path:
    config = tmp_path / "holdspace.toml"
    config.write_text(f'[bot]\ndatabase = "{database}"\n', encoding="utf-8")
    return config


@pytest.mark.usefixtures("keep_logging")
async def test_holdspace_forget_for_a_member_in_voice_and_for_one_who_left(
    holdspace: Holdspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    hs = holdspace
    key = generate_key()
    hs.ring = KeyRing.parse(key)
    monkeypatch.setenv("HOLDSPACE_KEY", key)
    staff, group, alice = await consented_in_voice(hs, "alice")
    bob = hs.member("bob")
    await enroll(hs, staff, GROUP, bob)
    assert "Thank you" in await agree(hs, bob, GROUP)
    bot = hs.bot
    assert bot is not None
    _, voice = rooms(hs, group)
    hs.guild.join_voice(alice, voice)
    config = _write_config(tmp_path, hs.settings.database)

    code = await asyncio.to_thread(
        cli.main, ["--config", str(config), "forget", "--guild", str(hs.guild.id), "--member", str(alice.id)]
    )
    out = capsys.readouterr().out
    assert code == 0 and "written down" in out and "consent record for Tuesday circle" in out
    assert str(alice.id) not in out
    hs.clock.advance(REQUEST_POLL)
    await hs.sb.wait_until(lambda: hs.guild.voice_channel_of(alice) is None)
    await requests_done(hs)
    assert bot.state.consent_of(group.id, alice.id) is None and not bot.state.is_enrolled(group.id, alice.id)

    # bob leaves; the request is written while holdspace is offline and carried out at the start.
    await hs.stop()
    user = bob.user
    hs.guild.remove_member(bob)
    code = await asyncio.to_thread(
        cli.main, ["--config", str(config), "forget", "--guild", str(hs.guild.id), "--member", str(user.id)]
    )
    assert code == 0
    bot = await hs.start()
    await requests_done(hs)
    await hs.settle()
    found = await found_by_blind_index(hs, user.id)
    assert set(found) == {"consents.member_index"}, found
    # Leaving had already ended all that an erasure may end: the second request changed nothing.
    entries = await audit_store.entries(bot.db, bot.ring, hs.guild.id)
    assert [e.payload["details"]["requested_by"] for e in entries if e.action == "member_erased"] == ["an admin"]
    assert (await verify_audit(bot.db, bot.ring)).ok
    # Nothing held any more: the command says so and writes nothing.
    code = await asyncio.to_thread(
        cli.main,
        ["--config", str(config), "forget", "--guild", str(hs.guild.id), "--member", str(hs.member("carol").id)],
    )
    assert code == 0 and "holds nothing" in capsys.readouterr().out
    await hs.stop()
    assert await asyncio.to_thread(cli.main, ["--config", str(config), "audit-verify"]) == 0
    assert "the chain is intact" in capsys.readouterr().out


@pytest.mark.parametrize("how", ["leave", "kick", "ban"])
async def test_leaving_ends_access_and_rejoining_restores_nothing(holdspace: Holdspace, how: str) -> None:
    hs = holdspace
    _, group, alice = await consented_in_voice(hs, "alice")
    bot = hs.bot
    assert bot is not None
    text_room, voice = rooms(hs, group)
    assert alice.id in text_room.overwrites
    hs.guild.join_voice(alice, voice)
    user = alice.user
    hs.guild.remove_member(alice, by=hs.member("owner").user if how != "leave" else None, ban=how == "ban")

    def gone() -> bool:
        return all(user.id not in room.overwrites for room in (text_room, voice))

    await hs.sb.wait_until(gone)
    await hs.settle()
    assert bot.state.consent_of(group.id, user.id) is None and not bot.state.is_enrolled(group.id, user.id)
    events = await consent_store.history(bot.db, bot.ring, member_id=user.id)
    assert (events[-1].answer, events[-1].reason) == ("revoked", "left the server")

    if how != "ban":
        back = hs.guild.add_member(user, roles=[hs.world.member_role])
        hs.world.members["alice"] = back
        await hs.settle()
        assert not can_see(hs, back, text_room)
        with pytest.raises(SandboxRefused):
            hs.guild.join_voice(back, voice)
        assert not bot.state.is_enrolled(group.id, user.id)
        status = await final(await hs.command(back, None, "consent status"))
        assert "not in any group" in status

    # Retention then runs as for a withdrawal.
    hs.clock.advance(timedelta(days=bot.settings.retention.withdrawn_consent_days + 2))
    await bot.cases.run_retention(hs.clock.now())
    assert await found_by_blind_index(hs, user.id) == {}
    assert (await verify_audit(bot.db, bot.ring)).ok


async def test_people_who_left_while_holdspace_was_offline_are_found_at_start(holdspace: Holdspace) -> None:
    hs = holdspace
    _, group, alice = await consented_in_voice(hs, "alice")
    text_room, voice = rooms(hs, group)
    await hs.stop()
    user = alice.user
    hs.guild.remove_member(alice)
    bot = await hs.start()
    await hs.sb.wait_until(lambda: all(user.id not in room.overwrites for room in (text_room, voice)))
    await hs.settle()
    assert bot.state.consent_of(group.id, user.id) is None and not bot.state.is_enrolled(group.id, user.id)
    events = await consent_store.history(bot.db, bot.ring, member_id=user.id)
    assert events[-1].reason == "left the server"
    assert bot.state.consent_of(group.id, hs.member("owner").id) is None  # nobody else touched


async def test_mydata_copy_by_direct_message_or_attached_when_they_are_closed(holdspace: Holdspace) -> None:
    hs = holdspace
    _, _, alice = await consented_in_voice(hs, "alice")
    handle = await hs.command(alice, None, "privacy mydata")
    text = await final(handle)
    assert "in your direct messages" in text and "enrolled in: Tuesday circle" in text
    await hs.sb.wait_until(lambda: any(m.attachments for m in alice.user.dms))
    sent = [m for m in alice.user.dms if m.attachments][-1]
    copy = json.loads(sent.attachments[0].data)
    assert sent.attachments[0].filename == "holdspace-my-data.json"
    assert copy["format"] == "holdspace-member-copy/1" and copy["enrolled_in"] == ["Tuesday circle"]
    assert copy["consenting_to"] == ["Tuesday circle"]
    assert copy["consent_record"][0]["answer"] == "agree" and copy["consent_record"][0]["agreement_version"] == 1
    assert str(alice.id) not in json.dumps(copy)
    assert any("consent record for Tuesday circle" in k["what"] for k in copy["kept_after_erasure"])

    alice.user.close_dms()
    handle = await hs.command(alice, None, "privacy mydata")
    text = await final(handle)
    assert "attached to this message" in text
    attached = [m for m in [handle.message, *handle.followups] if m is not None and m.attachments]
    assert attached and all(m.ephemeral for m in attached)
    assert json.loads(attached[0].attachments[0].data)["enrolled_in"] == ["Tuesday circle"]


async def test_forget_while_discord_fails_still_disconnects_and_closes_the_rooms(holdspace: Holdspace) -> None:
    hs = holdspace
    _, group, alice = await consented_in_voice(hs, "alice")
    bot = hs.bot
    assert bot is not None
    text_room, voice = rooms(hs, group)
    hs.guild.join_voice(alice, voice)
    await hs.settle()
    _, messages = await forget_prompt(hs, alice)
    hs.sb.faults.fail("PATCH", r"/guilds/\d+/members/\d+", 503)  # the first disconnect
    hs.sb.faults.fail("PUT", r"/channels/\d+/permissions/\d+", 503, times=2)
    hs.sb.faults.fail("DELETE", r"/channels/\d+/permissions/\d+", 503, times=2)
    message, cid = find_custom_id(messages, "hs:forget:")
    handle = await click(hs, alice, message, cid)
    for _ in range(200):  # back-off runs on the injected clock
        await hs.settle()
        if hs.guild.voice_channel_of(alice) is None and alice.id not in text_room.overwrites:
            break
        hs.clock.advance(timedelta(seconds=1))
    assert hs.guild.voice_channel_of(alice) is None
    assert not can_see(hs, alice, text_room)
    assert "erased" in await final(handle)
    assert not bot.state.is_enrolled(group.id, alice.id)
    events = await consent_store.history(bot.db, bot.ring, member_id=alice.id)
    assert events[-1].reason == "erasure requested"
