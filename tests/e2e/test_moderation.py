"""Moderation end to end: the real holdspace bot against the sandbox, nothing of discord.py mocked.

Set-up (roles, log channel, a group) is written through holdspace's own storage and state, the way
the setup and groups features store it, so these tests depend only on the moderation feature.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from bot.core import overwrites as ow
from bot.core.cases import KIND_LABELS, Status
from bot.core.records import GroupInfo, GuildConfig
from bot.exports.cases_audit import verify_audit
from bot.sandbox import InteractionHandle
from bot.sandbox.settle import WAIT_TIMEOUT
from bot.sandbox.world import Channel, Message, Role
from bot.storage import audit as audit_store
from bot.storage import cases as case_store
from bot.storage import groups as group_store
from bot.storage import guilds as guild_store
from bot.storage import holds as hold_store
from tests.e2e.conftest import Holdspace

AGREEMENT = "We keep what is said here private. We do not record. We are kind."
AUTOMATIC_KINDS = [k for k in KIND_LABELS if k != "breach_report"]


@dataclass
class Setup:
    moderator: Role
    facilitator: Role
    log: Channel
    general: Channel
    text: Channel
    voice: Channel
    group: GroupInfo


async def _wait_role_cached(hs: Holdspace, role: Role) -> None:
    bot = hs.bot
    assert bot is not None

    def cached() -> bool:
        guild = bot.get_guild(hs.guild.id)
        return guild is not None and guild.get_role(role.id) is not None

    await hs.sb.wait_until(cached)


async def set_up(hs: Holdspace, *, log_channel: bool = True, ttl: timedelta | None = None) -> Setup:
    """bob is a moderator, carol a facilitator, alice a plain member; alice and carol are in the group."""
    bot = hs.bot
    assert bot is not None
    guild = hs.guild
    moderator = guild.create_role("Moderator", 0)
    facilitator = guild.create_role("Facilitator", 0)
    member_role = hs.world.member_role
    guild.set_member_roles(hs.member("bob"), [member_role.id, moderator.id])
    guild.set_member_roles(hs.member("carol"), [member_role.id, facilitator.id])
    log = guild.create_text_channel("mod-log")
    text = guild.create_text_channel("circle")
    voice = guild.create_voice_channel("circle-voice")
    # The rooms carry what a group's rooms must carry before holdspace learns of the group, so that
    # its guard finds nothing to fix (were they left open, it would close them in the middle of a test).
    me = guild.bot_member(hs.world.app)
    assert me is not None
    for room in (text, voice):
        guild.set_overwrite(room, guild.everyone, deny=ow.EVERYONE_DENY)
        guild.set_overwrite(room, me, allow=ow.BOT_ALLOW)
        guild.set_overwrite(room, facilitator, allow=ow.FACILITATOR_ALLOW)
        for who in ("alice", "carol"):
            guild.set_overwrite(room, hs.member(who), allow=ow.MEMBER_ALLOW)
    for role in (moderator, facilitator):
        await _wait_role_cached(hs, role)
    await hs.settle()
    now = hs.clock.now()
    log_id = log.id if log_channel else None
    await guild_store.save(
        bot.db, guild_store.GuildRow(guild.id, facilitator.id, moderator.id, log_id, None, None, "UTC"), now
    )
    bot.state.put_guild(
        GuildConfig(
            guild.id,
            facilitator_role_id=facilitator.id,
            moderator_role_id=moderator.id,
            log_channel_id=log_id,
            configured=True,
        )
    )
    group = GroupInfo.with_defaults(
        bot.settings.defaults,
        id=uuid.uuid4().hex,
        guild_id=guild.id,
        name="Tuesday circle",
        text_channel_id=text.id,
        voice_channel_id=voice.id,
        max_hold_days=3,
        **({"ttl": ttl} if ttl is not None else {}),
    )
    group = await group_store.insert_group(bot.db, bot.ring, group, AGREEMENT, now)
    bot.state.put_group(group)
    for who in ("alice", "carol"):
        await hs.seed_consent(group, hs.member(who).id)
    await hs.settle()
    return Setup(moderator, facilitator, log, guild.channel("general"), text, voice, group)


def notices(s: Setup) -> list[Message]:
    return [m for m in s.log.messages if m.content.startswith("**Case #")]


def notice_of(s: Setup, number: int) -> Message:
    for message in notices(s):
        if message.content.startswith(f"**Case #{number}**"):
            return message
    raise AssertionError(f"no notice for case #{number}")


def custom_ids(message: Message) -> list[str]:
    found: list[str] = []

    def walk(components: list[dict[str, Any]]) -> None:
        for c in components:
            if "custom_id" in c:
                found.append(c["custom_id"])
            walk(c.get("components", []))

    walk(message.components)
    return found


async def answer(handle: InteractionHandle) -> tuple[str, bool]:
    await handle.response()
    if handle.deferred:
        (message,) = await handle.wait_followups(1)
        return message.content, bool(message.flags & 64)
    text = handle.content or ""
    if not text and handle.embeds:
        text = "\n".join(str(e) for e in handle.embeds)
    return text, handle.ephemeral


async def run(hs: Holdspace, who: str, command: str, where: Channel, **options: Any) -> tuple[str, bool]:
    return await answer(hs.sb.run_command(hs.member(who), where, command, **options))


async def click(hs: Holdspace, who: str, message: Message, custom_id: str) -> InteractionHandle:
    handle = hs.sb.click(hs.member(who), message, custom_id)
    await handle.response()
    return handle


def names_of(hs: Holdspace) -> list[str]:
    return [m.user.username for m in hs.guild.members.values() if not m.user.bot]


async def case(hs: Holdspace, number: int) -> case_store.CaseRecord:
    assert hs.bot is not None
    record = await hs.bot.cases.get(hs.guild.id, number)
    assert record is not None
    return record


# -- every kind: notice in the log channel and in /cases list ------------------------------------------


async def test_every_case_kind_reaches_the_log_channel_and_the_list(hs: Holdspace) -> None:
    s = await set_up(hs)
    bot = hs.bot
    assert bot is not None
    numbers = {}
    for kind in AUTOMATIC_KINDS:
        numbers[kind] = await bot.cases.open(
            hs.guild.id, kind, group_id=s.group.id, subject_id=hs.member("alice").id, details={"why": "test"}
        )
    report, ephemeral = await _report(hs, "alice", s.text, "Someone shared a screenshot of the chat.")
    report_number = len(AUTOMATIC_KINDS) + 1
    assert ephemeral and f"case #{report_number}" in report
    assert sorted(numbers.values()) == list(range(1, report_number))
    await hs.sb.wait_until(lambda: len(notices(s)) == report_number)
    for kind, number in [*numbers.items(), ("breach_report", report_number)]:
        notice = notice_of(s, number)
        assert KIND_LABELS[kind] in notice.content and "Tuesday circle" in notice.content
        assert custom_ids(notice) == [f"holdspace:case:claim:{number}", f"holdspace:case:resolve:{number}"]
        for name in names_of(hs):
            assert name not in notice.content
        assert str(hs.member("alice").id) not in notice.content
        assert "screenshot" not in notice.content
    listing, ephemeral = await run(hs, "bob", "cases list", s.general, status="all")
    assert ephemeral
    for number in range(1, report_number + 1):
        assert f"**#{number}**" in listing
    for kind in [*AUTOMATIC_KINDS, "breach_report"]:
        assert KIND_LABELS[kind] in listing
    # A facilitator sees the cases of the groups they work in, nothing else.
    no_group = await bot.cases.open(hs.guild.id, "bot_added", subject_id=12345)
    facilitator_list, _ = await run(hs, "carol", "cases list", s.general, status="all")
    assert "**#1**" in facilitator_list and f"**#{no_group}**" not in facilitator_list
    refused, _ = await run(hs, "carol", "cases show", s.general, number=no_group)
    assert f"no case #{no_group}" in refused
    assert (await verify_audit(bot.db, bot.ring)).ok


async def test_dedupe_key_opens_one_case_per_key(hs: Holdspace) -> None:
    s = await set_up(hs)
    bot = hs.bot
    assert bot is not None
    first = await bot.cases.open(hs.guild.id, "expiry_blocked", group_id=s.group.id, dedupe_key=f"ch:{s.text.id}")
    again = await bot.cases.open(hs.guild.id, "expiry_blocked", group_id=s.group.id, dedupe_key=f"ch:{s.text.id}")
    assert first == again == 1
    await hs.sb.wait_until(lambda: len(notices(s)) == 1)
    await hs.settle()
    assert len(notices(s)) == 1


async def test_list_pages_ten_at_a_time(hs: Holdspace) -> None:
    s = await set_up(hs)
    bot = hs.bot
    assert bot is not None
    for _ in range(23):
        await bot.cases.open(hs.guild.id, "permission_drift", group_id=s.group.id)
    handle = hs.sb.run_command(hs.member("bob"), s.general, "cases list")
    first, _ = await answer(handle)
    assert "page 1 of 3" in first and "**#23**" in first and "**#13**" not in first
    assert handle.message is not None
    nxt = [c for c in custom_ids(handle.message)]
    assert len(nxt) == 2
    page2 = hs.sb.click(hs.member("bob"), handle.message, nxt[1])
    await page2.response()
    await hs.sb.wait_until(lambda: "page 2 of 3" in (handle.message.content if handle.message else ""))
    third, _ = await run(hs, "bob", "cases list", s.general, page=3)
    assert "page 3 of 3" in third and "**#3**" in third and "**#1**" in third
    beyond, ephemeral = await run(hs, "bob", "cases list", s.general, page=9)
    assert ephemeral and "only 3 page" in beyond


# -- who may see cases ---------------------------------------------------------------------------------


async def test_members_are_refused_even_when_the_command_is_open_to_everyone(hs: Holdspace) -> None:
    s = await set_up(hs)
    bot = hs.bot
    assert bot is not None
    await bot.cases.open(hs.guild.id, "bot_added", subject_id=4242)
    # The sandbox lets anyone run the command (as if an admin opened it in Integrations settings).
    for command, options in (
        ("cases list", {}),
        ("cases show", {"number": 1}),
        ("cases claim", {"number": 1}),
        ("cases note", {"number": 1, "note": "hi"}),
        ("cases resolve", {"number": 1, "outcome": "dismissed", "note": "x"}),
    ):
        text, ephemeral = await run(hs, "alice", command, s.text, **options)
        assert ephemeral, command
        assert "Only moderators" in text, (command, text)
        assert "Traceback" not in text
    record = await case(hs, 1)
    assert record.status is Status.OPEN and record.assignee_id is None
    await hs.sb.wait_until(lambda: len(notices(s)) == 1)
    refused = await click(hs, "alice", notice_of(s, 1), "holdspace:case:claim:1")
    assert refused.ephemeral and "Only moderators" in (refused.content or "")
    refused = await click(hs, "carol", notice_of(s, 1), "holdspace:case:resolve:1")
    assert refused.ephemeral and refused.modal is None
    # The server owner manages the server and counts as a moderator.
    owner_list, _ = await run(hs, "owner", "cases list", s.general)
    assert "**#1**" in owner_list


# -- claim, note, resolve ----------------------------------------------------------------------------


async def test_claim_note_resolve_with_buttons_that_survive_a_restart(hs: Holdspace) -> None:
    s = await set_up(hs)
    bot = hs.bot
    assert bot is not None
    hs.guild.set_member_roles(hs.member("owner"), [s.moderator.id])
    number = await bot.cases.open(
        hs.guild.id, "unconsented_join", group_id=s.group.id, subject_id=hs.member("alice").id
    )
    assert number == 1
    await hs.sb.wait_until(lambda: len(notices(s)) == 1)
    claimed = await click(hs, "bob", notice_of(s, 1), "holdspace:case:claim:1")
    assert claimed.ephemeral and "You claimed case #1" in (claimed.content or "")
    await hs.sb.wait_until(lambda: "claimed by a moderator" in notice_of(s, 1).content)
    second = await click(hs, "owner", notice_of(s, 1), "holdspace:case:claim:1")
    assert second.ephemeral and (second.content or "") == "Case #1 is already claimed by another moderator."
    assert "bob" not in (second.content or "")
    text, _ = await run(hs, "bob", "cases note", s.general, number=1, note="Talked to the facilitator.")
    assert "note was added" in text

    await hs.restart()
    bot = hs.bot
    assert bot is not None
    resolve = await click(hs, "bob", notice_of(s, 1), "holdspace:case:resolve:1")
    assert resolve.modal is not None and resolve.modal["title"] == "Resolve case #1"
    # No note: refused, nothing changed.
    empty = hs.sb.submit_modal(resolve, {"outcome": ["dismissed"], "note": "   "})
    text, ephemeral = await answer(empty)
    assert ephemeral and "note" in text.lower() and "required" in text
    assert (await case(hs, 1)).status is Status.INVESTIGATING
    resolve = await click(hs, "bob", notice_of(s, 1), "holdspace:case:resolve:1")
    done = hs.sb.submit_modal(resolve, {"outcome": ["actioned"], "note": "Reminded them of the rules."})
    text, ephemeral = await answer(done)
    assert ephemeral and "closed as actioned" in text
    record = await case(hs, 1)
    assert record.status is Status.ACTIONED and record.closed_at is not None
    await hs.sb.wait_until(lambda: "closed (actioned)" in notice_of(s, 1).content)
    assert custom_ids(notice_of(s, 1)) == []
    twice, ephemeral = await run(hs, "bob", "cases resolve", s.general, number=1, outcome="dismissed", note="again")
    assert ephemeral and "cannot be resolved twice" in twice
    shown, ephemeral = await run(hs, "bob", "cases show", s.general, number=1)
    assert ephemeral and "Talked to the facilitator." in shown and "Reminded them of the rules." in shown
    assert "claimed by you" in shown or "by you" in shown
    # Other features append too (a restart reconciles the rooms); ours are in order, about case #1.
    ours = [
        e.action
        for e in await audit_store.entries(bot.db, bot.ring, hs.guild.id)
        if e.action.startswith("case_") and e.payload["details"].get("case") == 1
    ]
    assert ours == ["case_opened", "case_claimed", "case_noted", "case_resolved"]
    assert (await verify_audit(bot.db, bot.ring)).ok


async def test_resolve_command_without_note_asks_in_a_modal(hs: Holdspace) -> None:
    s = await set_up(hs)
    bot = hs.bot
    assert bot is not None
    await bot.cases.open(hs.guild.id, "permission_drift", group_id=s.group.id)
    handle = hs.sb.run_command(hs.member("bob"), s.general, "cases resolve", number=1, outcome="dismissed")
    await handle.response()
    assert handle.modal is not None
    text, _ = await answer(hs.sb.submit_modal(handle, {"note": "Permissions were changed on purpose."}))
    assert "closed as dismissed" in text


async def test_bad_case_numbers_and_limits(hs: Holdspace) -> None:
    s = await set_up(hs)
    bot = hs.bot
    assert bot is not None
    other_guild = hs.guild.id + 1
    await bot.cases.open(other_guild, "bot_added")
    await bot.cases.open(other_guild, "bot_added")
    await bot.cases.open(hs.guild.id, "bot_added")
    for command, options in (
        ("cases show", {"number": 2}),
        ("cases claim", {"number": 2}),
        ("cases note", {"number": 2, "note": "x"}),
        ("cases resolve", {"number": 2, "outcome": "dismissed", "note": "x"}),
        ("cases show", {"number": 999}),
    ):
        text, ephemeral = await run(hs, "bob", command, s.general, **options)
        assert ephemeral and f"no case #{options['number']} in this server" in text, (command, text)
    foreign = await bot.cases.get(other_guild, 2)
    assert foreign is not None and foreign.status is Status.OPEN and foreign.assignee_id is None
    # A note at Discord's limit is fine; one beyond it is refused by Discord's own option limit or by us.
    ok, _ = await run(hs, "bob", "cases note", s.general, number=1, note="n" * 4000)
    assert "note was added" in ok


async def test_log_channel_missing_or_failing_still_stores_the_case(
    hs: Holdspace, caplog: pytest.LogCaptureFixture
) -> None:
    s = await set_up(hs, log_channel=False)
    bot = hs.bot
    assert bot is not None
    with caplog.at_level(logging.WARNING, logger="bot.services.cases"):
        number = await bot.cases.open(hs.guild.id, "bot_added", subject_id=99)
    assert number == 1 and await bot.cases.get(hs.guild.id, 1) is not None
    assert any("no moderators' log channel" in r.getMessage() for r in caplog.records)
    # A log channel holdspace may not post in: still stored, a warning logged.
    from bot.core import overwrites as ow
    from bot.sandbox import permissions as P

    bot.state.guild(hs.guild.id).log_channel_id = s.log.id
    me = hs.guild.bot_member(hs.world.app)
    assert me is not None
    hs.guild.set_overwrite(s.log, me, deny=P.SEND_MESSAGES)
    del ow
    await hs.sb.wait_until(lambda: len(getattr(bot.get_channel(s.log.id), "overwrites", {})) == 1)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bot.services.cases"):
        number = await bot.cases.open(hs.guild.id, "bot_added", subject_id=98)
    assert number == 2 and await bot.cases.get(hs.guild.id, 2) is not None
    assert any("could not post the notice" in r.getMessage() for r in caplog.records)
    assert notices(s) == []


# -- reports from members ------------------------------------------------------------------------------


async def _report(hs: Holdspace, who: str, where: Channel, summary: str, detail: str = "") -> tuple[str, bool]:
    handle = hs.sb.run_command(hs.member(who), where, "report new")
    await handle.response()
    assert handle.modal is not None and len(handle.modal["title"]) <= 45
    return await answer(hs.sb.submit_modal(handle, {"summary": summary, "detail": detail}))


async def test_report_reaches_moderators_and_only_the_reporter_sees_its_status(hs: Holdspace) -> None:
    s = await set_up(hs)
    bot = hs.bot
    assert bot is not None
    text, ephemeral = await _report(hs, "alice", s.text, "Someone said they record the calls.", "Last Tuesday.")
    assert ephemeral and "case #1" in text and "nobody else learns who reported" in text
    await hs.sb.wait_until(lambda: len(notices(s)) == 1)
    notice = notice_of(s, 1)
    assert "report from a member" in notice.content and "record the calls" not in notice.content
    alice_id = str(hs.member("alice").id)
    assert alice_id not in notice.content
    status, ephemeral = await run(hs, "alice", "report status", s.general)
    assert ephemeral and "#1" in status and "waiting for a moderator" in status
    other, _ = await run(hs, "bob", "report status", s.general)
    assert "not reported anything" in other
    shown, _ = await run(hs, "bob", "cases show", s.general, number=1)
    assert "record the calls" in shown and "Last Tuesday." in shown
    assert alice_id not in shown and "alice" not in shown
    exported = (await case(hs, 1)).details
    assert exported["summary"] == "Someone said they record the calls."
    # The reporter's id is stored only encrypted and as a blind index.
    raw = await bot.db.fetchall("SELECT reporter, reporter_index FROM cases")
    assert all(alice_id.encode() not in bytes(v) for row in raw for v in row if v is not None)
    await run(hs, "bob", "cases claim", s.general, number=1)
    status, _ = await run(hs, "alice", "report status", s.general)
    assert "a moderator is looking at it" in status
    await run(hs, "bob", "cases resolve", s.general, number=1, outcome="actioned", note="Spoke with them.")
    status, _ = await run(hs, "alice", "report status", s.general)
    assert "closed; action was taken" in status
    entries = await audit_store.entries(bot.db, bot.ring, hs.guild.id)
    assert entries[0].action == "case_opened" and entries[0].payload["actor"] is None


@pytest.mark.parametrize(
    ("summary", "detail", "accepted"),
    [
        ("s" * 1000, "d" * 4000, True),
        ("s" * 1001, "", False),
        ("fine", "d" * 4001, False),
        ("   ", "", False),
    ],
)
async def test_report_modal_fields_at_and_beyond_the_limits(
    hs: Holdspace, summary: str, detail: str, accepted: bool
) -> None:
    s = await set_up(hs)
    bot = hs.bot
    assert bot is not None
    text, ephemeral = await _report(hs, "alice", s.text, summary, detail)
    assert ephemeral
    assert "Traceback" not in text
    stored = await bot.db.fetchval("SELECT COUNT(*) FROM cases")
    if accepted:
        assert "case #1" in text and stored == 1
    else:
        assert ("limit is" in text or "required" in text) and stored == 0
        assert await bot.db.fetchval("SELECT COUNT(*) FROM audit_log") == 0


async def test_report_a_message_holds_it_until_the_case_closes(hs: Holdspace) -> None:
    s = await set_up(hs)
    bot = hs.bot
    assert bot is not None
    message = hs.sb.post(s.text, hs.member("carol"), "something hurtful")
    await hs.settle()
    handle = hs.sb.message_command(hs.member("alice"), message, "Report to moderators")
    await handle.response()
    assert handle.modal is not None
    text, ephemeral = await answer(hs.sb.submit_modal(handle, {"reason": "It named someone outside the group."}))
    assert ephemeral and "case #1" in text
    record = await case(hs, 1)
    assert record.details["message"] == {
        "guild_id": str(hs.guild.id),
        "channel_id": str(s.text.id),
        "message_id": str(message.id),
    }
    assert "something hurtful" not in repr(record.details)
    assert record.subject_id == hs.member("carol").id and record.group_id == s.group.id
    now = hs.clock.now()
    assert await hold_store.held_message_ids(bot.db, s.text.id, [message.id], now) == {message.id}
    holds = await hold_store.holds_of_case(bot.db, record.id)
    assert [h.until for h in holds] == [now + timedelta(days=3)]  # the group's max_hold_days
    # Reporting the same message again does not open a second case.
    again = hs.sb.message_command(hs.member("alice"), message, "Report to moderators")
    await again.response()
    text, _ = await answer(hs.sb.submit_modal(again, {"reason": ""}))
    assert "already reported this message; it is case #1" in text
    shown, _ = await run(hs, "bob", "cases show", s.general, number=1)
    assert f"https://discord.com/channels/{hs.guild.id}/{s.text.id}/{message.id}" in shown
    assert "something hurtful" not in shown

    released: list[tuple[int, int]] = []

    async def listen() -> None:
        channel_id, message_id = await bot.wait_for("holdspace_hold_released", timeout=WAIT_TIMEOUT)
        released.append((channel_id, message_id))

    waiter = asyncio.create_task(listen())
    await asyncio.sleep(0)
    await run(hs, "bob", "cases resolve", s.general, number=1, outcome="dismissed", note="Looked fine in context.")
    await waiter
    assert released == [(s.text.id, message.id)]
    assert await hold_store.held_message_ids(bot.db, s.text.id, [message.id], hs.clock.now()) == set()


async def test_hold_ends_by_itself_after_max_hold_days(hs: Holdspace) -> None:
    s = await set_up(hs)
    bot = hs.bot
    assert bot is not None
    message = hs.sb.post(s.text, hs.member("carol"), "x")
    handle = hs.sb.message_command(hs.member("alice"), message, "Report to moderators")
    await handle.response()
    await answer(hs.sb.submit_modal(handle, {"reason": ""}))
    released: list[tuple[int, int]] = []
    waiter = asyncio.create_task(bot.wait_for("holdspace_hold_released", timeout=WAIT_TIMEOUT))
    await asyncio.sleep(0)
    hs.clock.advance(timedelta(days=3))
    released.append(await waiter)
    assert released == [(s.text.id, message.id)]
    assert (await case(hs, 1)).status is Status.OPEN
    assert await hold_store.held_message_ids(bot.db, s.text.id, [message.id], hs.clock.now()) == set()


async def test_reporting_a_message_outside_group_rooms_is_refused(hs: Holdspace) -> None:
    await set_up(hs)
    bot = hs.bot
    assert bot is not None
    general = hs.guild.channel("general")
    message = hs.sb.post(general, hs.member("carol"), "hello")
    handle = hs.sb.message_command(hs.member("alice"), message, "Report to moderators")
    text, ephemeral = await answer(handle)
    assert ephemeral and handle.modal is None
    assert "Only messages in a group's rooms" in text and "/report new" in text
    assert await bot.db.fetchval("SELECT COUNT(*) FROM cases") == 0
    assert await bot.db.fetchval("SELECT COUNT(*) FROM message_holds") == 0


async def test_member_removed_case_via_the_service(hs: Holdspace) -> None:
    s = await set_up(hs)
    bot = hs.bot
    assert bot is not None
    alice = hs.member("alice")
    number = await bot.cases.open(
        hs.guild.id, "member_removed", group_id=s.group.id, subject_id=alice.id, details={"reason": "left"}
    )
    assert number == 1
    record = await case(hs, 1)
    assert record.subject_id == alice.id and record.kind == "member_removed"


async def test_closed_cases_are_deleted_after_the_retention_period(hs: Holdspace) -> None:
    s = await set_up(hs)
    bot = hs.bot
    assert bot is not None
    await bot.cases.open(hs.guild.id, "bot_added", subject_id=77)
    await bot.cases.open(hs.guild.id, "bot_added", subject_id=78)
    await run(hs, "bob", "cases resolve", s.general, number=1, outcome="dismissed", note="A tool the host added.")
    hs.clock.advance(timedelta(days=bot.settings.retention.closed_cases_days + 1))

    async def gone() -> bool:
        return await bot.cases.get(hs.guild.id, 1) is None

    await hs.settle()
    assert await gone()
    assert await bot.cases.get(hs.guild.id, 2) is not None  # still open: kept
    assert (await verify_audit(bot.db, bot.ring)).ok


async def test_two_moderators_claiming_at_once(hs: Holdspace) -> None:
    s = await set_up(hs)
    bot = hs.bot
    assert bot is not None
    await bot.cases.open(hs.guild.id, "recording_bot_blocked", group_id=s.group.id, subject_id=555)
    await hs.sb.wait_until(lambda: len(notices(s)) == 1)
    notice = notice_of(s, 1)
    first = hs.sb.click(hs.member("bob"), notice, "holdspace:case:claim:1")
    second = hs.sb.click(hs.member("owner"), notice, "holdspace:case:claim:1")
    await asyncio.gather(first.response(), second.response())
    answers = sorted([first.content or "", second.content or ""])
    assert answers[0] == "Case #1 is already claimed by another moderator."
    assert answers[1].startswith("You claimed case #1.")
    assert first.ephemeral and second.ephemeral
    record = await case(hs, 1)
    assert record.assignee_id in (hs.member("bob").id, hs.member("owner").id)


# -- with the expiry feature: a reported message outlives its time to live while its case is open ------


async def _eventually(predicate: Any, what: str, timeout: float = WAIT_TIMEOUT) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def test_reported_message_outlives_its_ttl_until_the_case_closes(hs: Holdspace) -> None:
    s = await set_up(hs, ttl=timedelta(hours=1))
    bot = hs.bot
    assert bot is not None
    expiry = bot.get_cog("Expiry")
    if expiry is None or not hasattr(expiry, "track_group"):
        pytest.skip("the expiry feature is not loaded")
    await expiry.track_group(s.group)
    reported = hs.sb.post(s.text, hs.member("carol"), "reported")
    kept_by_time = hs.sb.post(s.text, hs.member("carol"), "reported, but the case stays open")
    control = hs.sb.post(s.text, hs.member("carol"), "not reported")
    for message in (reported, kept_by_time):
        handle = hs.sb.message_command(hs.member("alice"), message, "Report to moderators")
        await handle.response()
        text, _ = await answer(hs.sb.submit_modal(handle, {"reason": ""}))
        assert "case #" in text
    hs.clock.advance(timedelta(hours=2))
    await _eventually(lambda: s.text.get_message(control.id) is None, "the unreported message to expire")
    await hs.settle()
    assert s.text.get_message(reported.id) is not None, "a reported message waits while its case is open"
    assert s.text.get_message(kept_by_time.id) is not None
    text, _ = await run(hs, "bob", "cases resolve", s.general, number=1, outcome="dismissed", note="Fine in context.")
    assert "closed as dismissed" in text
    await _eventually(lambda: s.text.get_message(reported.id) is None, "the released message to expire")
    assert s.text.get_message(kept_by_time.id) is not None
    # The other hold ends by itself after the group's max_hold_days, even with its case still open.
    hs.clock.advance(timedelta(days=3))
    await _eventually(lambda: s.text.get_message(kept_by_time.id) is None, "the hold to run out")
    assert (await case(hs, 2)).status is Status.OPEN


async def test_report_forms_are_rate_limited_per_member(hs: Holdspace) -> None:
    s = await set_up(hs)
    for _ in range(5):
        handle = hs.sb.run_command(hs.member("alice"), s.text, "report new")
        await handle.response()
        assert handle.modal is not None
    refused = hs.sb.run_command(hs.member("alice"), s.text, "report new")
    text, ephemeral = await answer(refused)
    assert refused.modal is None and ephemeral and "Please wait" in text
    other = hs.sb.run_command(hs.member("carol"), s.text, "report new")
    await other.response()
    assert other.modal is not None
