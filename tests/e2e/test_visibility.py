"""Who may see what (docs/privacy.md), end to end through the sandbox with the real bot.

bob is a moderator, carol a facilitator of "Tuesday circle" (alice and carol consent there), alice a
plain member. dave, added here, also holds the facilitator role and is the one named facilitator of
"Thursday circle", where carol attends as a member.
"""

from __future__ import annotations

import uuid

from bot.core.records import GroupInfo
from bot.sandbox.world import Member
from bot.storage import groups as group_store
from tests.e2e.conftest import Holdspace
from tests.e2e.test_moderation import AGREEMENT, Setup, click, notice_of, run, set_up
from tests.e2e.test_setup import final


async def _add_dave(hs: Holdspace, s: Setup) -> Member:
    user = hs.sb.create_user("dave")
    dave = hs.guild.add_member(user, roles=[hs.world.member_role.id, s.facilitator.id])
    hs.world.members["dave"] = dave
    bot = hs.bot
    assert bot is not None
    await hs.sb.wait_until(lambda: (g := bot.get_guild(hs.guild.id)) is not None and g.get_member(user.id) is not None)
    return dave


async def _thursday(hs: Holdspace, s: Setup, dave: Member) -> GroupInfo:
    """A second group, named-facilitated by dave, where carol is an ordinary consenting member."""
    bot = hs.bot
    assert bot is not None
    text = hs.guild.create_text_channel("thursday")
    voice = hs.guild.create_voice_channel("thursday-voice")
    await hs.sb.wait_until(lambda: bot.get_channel(voice.id) is not None)
    group = GroupInfo.with_defaults(
        bot.settings.defaults,
        id=uuid.uuid4().hex,
        guild_id=hs.guild.id,
        name="Thursday circle",
        text_channel_id=text.id,
        voice_channel_id=voice.id,
    )
    group = await group_store.insert_group(bot.db, bot.ring, group, AGREEMENT, hs.clock.now())
    bot.state.put_group(group)
    await group_store.add_facilitator(bot.db, bot.ring, group.id, dave.id, hs.clock.now())
    bot.state.set_facilitator(group.id, dave.id, True)
    await hs.seed_consent(group, hs.member("carol").id)
    return group


async def test_a_report_about_a_facilitator_is_for_moderators_only(hs: Holdspace) -> None:
    s = await set_up(hs)
    bot = hs.bot
    assert bot is not None
    message = hs.sb.post(s.text, hs.member("carol"), "something hurtful")
    await hs.sb.wait_until(lambda: bot.get_channel(s.text.id) is not None)
    handle = hs.sb.message_command(hs.member("alice"), message, "Report to moderators")
    await handle.response()
    submitted = hs.sb.submit_modal(handle, {"reason": "The facilitator mocked what I shared."})
    await submitted.response()
    # An automatic case about a plain member of the same group stays visible to the facilitator.
    other = await bot.cases.open(hs.guild.id, "unconsented_join", group_id=s.group.id, subject_id=hs.member("bob").id)
    listing, _ = await run(hs, "carol", "cases list", s.general, status="all")
    assert f"**#{other}**" in listing and "#1 " not in listing
    assert "mocked" not in listing and "report from a member" not in listing
    shown, _ = await run(hs, "carol", "cases show", s.general, number=1)
    assert "mocked" not in shown and "no case #1" in shown  # not even that it exists
    mine = await final(await hs.command(hs.member("carol"), s.general, "privacy mydata"))
    assert "#1" not in mine
    moderator, _ = await run(hs, "bob", "cases show", s.general, number=1)
    assert "mocked" in moderator


async def test_a_member_report_is_never_shown_to_facilitators(hs: Holdspace) -> None:
    s = await set_up(hs)
    submitted = hs.sb.run_command(hs.member("alice"), s.text, "report new")
    await submitted.response()
    answer = hs.sb.submit_modal(submitted, {"summary": "Someone took screenshots."})
    await answer.response()
    listing, _ = await run(hs, "carol", "cases list", s.general, status="all")
    assert "#1" not in listing
    shown, _ = await run(hs, "carol", "cases show", s.general, number=1)
    assert "no case #1" in shown and "screenshots" not in shown
    moderator, _ = await run(hs, "bob", "cases show", s.general, number=1)
    assert "screenshots" in moderator


async def test_a_case_about_a_facilitator_is_hidden_from_the_other_facilitators(hs: Holdspace) -> None:
    s = await set_up(hs)
    bot = hs.bot
    assert bot is not None
    dave = await _add_dave(hs, s)
    number = await bot.cases.open(
        hs.guild.id, "recording_marker", group_id=s.group.id, subject_id=hs.member("carol").id, details={"why": "x"}
    )
    listing, _ = await run(hs, "dave", "cases list", s.general, status="all")
    assert f"#{number}" not in listing
    shown, _ = await run(hs, "dave", "cases show", s.general, number=number)
    assert f"no case #{number}" in shown
    assert dave.id != hs.member("carol").id


async def test_nobody_sees_more_than_the_status_of_a_case_about_themselves(hs: Holdspace) -> None:
    s = await set_up(hs)
    bot = hs.bot
    assert bot is not None
    number = await bot.cases.open(
        hs.guild.id, "unconsented_join", group_id=s.group.id, subject_id=hs.member("bob").id, details={"why": "x"}
    )
    assert number is not None
    shown, ephemeral = await run(hs, "bob", "cases show", s.general, number=number)
    assert ephemeral and "about you" in shown and "why" not in shown
    for command, options in (("cases claim", {}), ("cases note", {"note": "it was me"})):
        refused, _ = await run(hs, "bob", command, s.general, number=number, **options)
        assert "about you" in refused
    refused, _ = await run(hs, "bob", "cases resolve", s.general, number=number, outcome="dismissed", note="fine")
    assert "about you" in refused
    await hs.sb.wait_until(lambda: any(m.content.startswith(f"**Case #{number}**") for m in s.log.messages))
    button = await click(hs, "bob", notice_of(s, number), f"holdspace:case:claim:{number}")
    assert "about you" in (button.content or "")
    record = await bot.cases.get(hs.guild.id, number)
    assert record is not None and record.assignee_id is None and not record.closed
    # The server owner (a server manager) works it.
    claimed, _ = await run(hs, "owner", "cases claim", s.general, number=number)
    assert f"claimed case #{number}" in claimed


async def test_a_facilitator_sees_only_the_groups_they_facilitate(hs: Holdspace) -> None:
    s = await set_up(hs)
    bot = hs.bot
    assert bot is not None
    dave = await _add_dave(hs, s)
    thursday = await _thursday(hs, s, dave)
    number = await bot.cases.open(
        hs.guild.id, "unconsented_join", group_id=thursday.id, subject_id=hs.member("alice").id
    )
    carol_sees, _ = await run(hs, "carol", "cases list", s.general, status="all")
    assert f"#{number}" not in carol_sees
    refused, _ = await run(hs, "carol", "cases list", s.general, group="Thursday circle")
    assert "no group of yours" in refused
    dave_sees, _ = await run(hs, "dave", "cases list", s.general, status="all")
    assert f"**#{number}**" in dave_sees
    # Autocomplete offers carol her own groups only.
    offered = await hs.sb.autocomplete(hs.member("carol"), s.general, "cases list", "group", "").response()
    assert [c["name"] for c in offered.choices or []] == ["Tuesday circle"]
    nothing = await hs.sb.autocomplete(hs.member("alice"), s.general, "cases list", "group", "").response()
    assert not nothing.choices


async def test_a_report_about_a_moderator_is_hidden_from_them_and_a_case_about_a_manager_shows_its_status(
    hs: Holdspace,
) -> None:
    s = await set_up(hs)
    bot = hs.bot
    assert bot is not None
    await hs.seed_consent(s.group, hs.member("bob").id)  # bob attends the group too
    await bot.access.reconcile_group(s.group)
    await hs.sb.wait_until(lambda: hs.member("bob").id in s.text.overwrites)
    message = hs.sb.post(s.text, hs.member("bob"), "something hurtful")
    handle = hs.sb.message_command(hs.member("alice"), message, "Report to moderators")
    await handle.response()
    submitted = hs.sb.submit_modal(handle, {"reason": "The moderator mocked what I shared."})
    await submitted.response()
    await hs.settle()
    number = 1  # the report is the server's first case
    listing, _ = await run(hs, "bob", "cases list", s.general, status="all")
    assert f"#{number} " not in listing and f"**#{number}**" not in listing and "mocked" not in listing
    shown, _ = await run(hs, "bob", "cases show", s.general, number=number)
    assert f"no case #{number}" in shown and "mocked" not in shown
    owner, _ = await run(hs, "owner", "cases show", s.general, number=number)
    assert "mocked" in owner
    # A case about the server manager: its number and status, for them too.
    about_owner = await bot.cases.open(
        hs.guild.id, "unconsented_join", group_id=s.group.id, subject_id=hs.member("owner").id, details={"why": "x"}
    )
    shown, _ = await run(hs, "owner", "cases show", s.general, number=about_owner)
    assert "about you" in shown and "why" not in shown
    refused, _ = await run(hs, "owner", "cases claim", s.general, number=about_owner)
    assert "about you" in refused
    worked, _ = await run(hs, "bob", "cases claim", s.general, number=about_owner)
    assert f"claimed case #{about_owner}" in worked
