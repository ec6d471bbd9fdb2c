"""/group: creating and adopting rooms, enrolment, removal, settings, the agreement editor, roster;
every command's bad input answered ephemerally with nothing half-done."""

from __future__ import annotations

from typing import Any

import pytest

from bot.core.overwrites import BOT_ALLOW, EVERYONE_DENY, FACILITATOR_ALLOW, MEMBER_ALLOW
from bot.sandbox import SandboxRefused
from bot.sandbox import permissions as P
from bot.storage import cases as case_store
from tests.e2e.conftest import Holdspace
from tests.e2e.test_setup import (
    add_staff,
    agree,
    can_see,
    click,
    configure,
    enroll,
    final,
    find_custom_id,
    rooms,
    shown_agreement,
    started_with_group,
)

GROUP = "Tuesday circle"



async def test_create_makes_a_category_with_private_rooms(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, GROUP)
    text, voice = rooms(hs, group)
    bot_member = hs.guild.bot_member(hs.world.app)
    assert bot_member is not None
    assert text.parent is not None and text.parent.id == group.category_id
    assert text.name == "tuesday-circle" and voice.name == GROUP
    for room in (text, voice):
        ow = room.overwrites
        assert ow[hs.guild.id].deny & EVERYONE_DENY == EVERYONE_DENY
        assert ow[bot_member.id].allow & BOT_ALLOW == BOT_ALLOW
        assert ow[staff.fac_role.id].allow & FACILITATOR_ALLOW == FACILITATOR_ALLOW
        assert can_see(hs, staff.facilitator, room)
        assert not can_see(hs, hs.member("alice"), room)
    listing = await final(await hs.command(staff.facilitator, None, "group list"))
    assert GROUP in listing and "invite enrolment" in listing


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("", "needs a name"),
        ("   ", "needs a name"),
        ("a", "2 to 40"),
        ("x" * 41, "2 to 40"),
        ("y" * 300, "2 to 40"),
        ("bad/name", "letters, digits"),
        ("@everyone", "letters, digits"),
        ("tuesday CIRCLE", "already exists"),
    ],
)
async def test_create_refuses_bad_names(holdspace: Holdspace, name: str, expected: str) -> None:
    hs = holdspace
    staff, _ = await started_with_group(hs, GROUP)
    before = len(hs.guild.channels)
    handle = await hs.command(staff.facilitator, None, "group create", name=name)
    assert handle.ephemeral and expected in (handle.content or "")
    assert len(hs.guild.channels) == before
    assert hs.bot is not None and len(hs.bot.state.groups) == 1


async def test_create_names_the_missing_permission_and_creates_nothing(holdspace: Holdspace) -> None:
    hs = holdspace
    staff = add_staff(hs)
    bot_role = next(r for r in hs.guild.roles.values() if r.managed)
    hs.guild.update_role(bot_role, permissions=bot_role.permissions & ~P.MANAGE_CHANNELS)
    await hs.start()
    await final(await configure(hs, staff))
    before = len(hs.guild.channels)
    handle = await hs.command(staff.facilitator, None, "group create", name=GROUP)
    assert "Manage Channels" in (handle.content or "") and "Server Settings" in (handle.content or "")
    assert len(hs.guild.channels) == before
    assert hs.bot is not None and not hs.bot.state.groups


async def test_only_facilitators_and_only_after_setup(holdspace: Holdspace) -> None:
    hs = holdspace
    staff = add_staff(hs)
    await hs.start()
    handle = await hs.command(staff.facilitator, None, "group create", name=GROUP)
    assert "not set up" in (handle.content or "")
    await final(await configure(hs, staff))
    for command, options in (
        ("group create", {"name": GROUP}),
        ("group list", {}),
        ("group roster", {"group": GROUP}),
        ("group settings", {"group": GROUP}),
        ("group agreement show", {"group": GROUP}),
        ("group agreement edit", {"group": GROUP}),
        ("group enroll", {"group": GROUP, "member": hs.member("bob")}),
        ("group remove", {"group": GROUP, "member": hs.member("bob"), "reason": "x"}),
    ):
        handle = await hs.command(hs.member("alice"), None, command, **options)
        assert handle.ephemeral and "Only facilitators" in (handle.content or ""), command
    assert hs.bot is not None and not hs.bot.state.groups


async def test_adopt_closes_existing_rooms(holdspace: Holdspace) -> None:
    hs = holdspace
    g = hs.guild
    alice, bob = hs.member("alice"), hs.member("bob")
    text = g.create_text_channel("circle-chat")
    voice = g.create_voice_channel("Circle")
    g.set_overwrite(text, alice, allow=P.VIEW_CHANNEL)
    g.set_overwrite(voice, bob, deny=P.STREAM)  # a deny only: left alone
    other_owner = hs.sb.create_user("elsewhere")
    other = hs.sb.create_guild("Other", owner=other_owner)
    other.add_bot(hs.world.app, permissions=P.ADMINISTRATOR)
    foreign_text = other.create_text_channel("foreign")
    staff = add_staff(hs)
    await hs.start()
    await final(await configure(hs, staff))
    fran = staff.facilitator

    handle = await hs.command(fran, None, "group adopt", name=GROUP, text_channel=foreign_text, voice_channel=voice)
    # discord.py cannot use a channel of another server for this option; either way it is refused
    assert handle.ephemeral and (
        "another server" in (handle.content or "") or "could not be used" in (handle.content or "")
    )
    assert bob.id in voice.overwrites and hs.guild.id not in voice.overwrites

    reply = await final(await hs.command(fran, None, "group adopt", name=GROUP, text_channel=text, voice_channel=voice))
    assert "are now the group" in reply and "removed" in reply
    assert not can_see(hs, alice, text) and not can_see(hs, bob, voice)
    assert voice.overwrites[bob.id].deny == P.STREAM
    assert can_see(hs, fran, text)

    again = await hs.command(fran, None, "group adopt", name="Another", text_channel=text, voice_channel=voice)
    assert "already belongs to a group" in (again.content or "")
    clash = await hs.command(fran, None, "group adopt", name=GROUP.upper(), text_channel=text, voice_channel=voice)
    assert "already exists" in (clash.content or "")


async def test_enroll_bad_input(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, _ = await started_with_group(hs, GROUP)
    fran = staff.facilitator
    carol = hs.member("carol")
    assert "Enrolled" in await enroll(hs, staff, GROUP, hs.member("alice"))
    handle = await hs.command(fran, None, "group enroll", group=GROUP, member=hs.member("alice"))
    assert "already enrolled" in (handle.content or "")
    hs.guild.remove_member(carol)
    await hs.sb.wait_for_event("GUILD_MEMBER_REMOVE")
    handle = await hs.command(fran, None, "group enroll", group=GROUP, member=carol.user)
    assert "not a member of this server" in (handle.content or "")
    bot_member = hs.guild.bot_member(hs.world.app)
    assert bot_member is not None
    handle = await hs.command(fran, None, "group enroll", group=GROUP, member=bot_member)
    assert "Bots cannot" in (handle.content or "")
    for bad in ("", "nope", "z" * 500):
        handle = await hs.command(fran, None, "group enroll", group=bad, member=hs.member("bob"))
        assert handle.ephemeral and (handle.content or "").strip()
    assert hs.bot is not None and not hs.bot.state.is_enrolled(next(iter(hs.bot.state.groups)), hs.member("bob").id)

    # DMs closed: enrolment works, the facilitator is told
    bob = hs.member("bob")
    bob.user.close_dms()
    assert "direct messages are closed" in await enroll(hs, staff, GROUP, bob)


async def test_remove_withdraws_access_disconnects_and_opens_a_case(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, GROUP)
    fran, alice = staff.facilitator, hs.member("alice")
    text, voice = rooms(hs, group)
    await enroll(hs, staff, GROUP, alice)
    await agree(hs, alice, GROUP)
    hs.guild.join_voice(alice, voice)

    for reason, expected in (("", "Give a reason"), ("r" * 301, "keep it to 300")):
        handle = await hs.command(fran, None, "group remove", group=GROUP, member=alice, reason=reason)
        assert expected in (handle.content or "")
    assert hs.guild.voice_channel_of(alice) is voice
    handle = await hs.command(fran, None, "group remove", group=GROUP, member=hs.member("bob"), reason="x")
    assert "not enrolled" in (handle.content or "")

    reply = await final(
        await hs.command(fran, None, "group remove", group=GROUP, member=alice, reason="asked to leave")
    )
    assert "Removed" in reply
    assert hs.guild.voice_channel_of(alice) is None
    assert not can_see(hs, alice, text)
    with pytest.raises(SandboxRefused):
        hs.guild.join_voice(alice, voice)
    assert hs.bot is not None
    assert not hs.bot.state.is_enrolled(group.id, alice.id)
    assert hs.bot.state.consent_of(group.id, alice.id) is None
    await hs.settle()
    found = [c for c in await case_store.all_cases(hs.bot.db, hs.bot.ring, hs.guild.id) if c.kind == "member_removed"]
    assert found and found[0].subject_id == alice.id and found[0].details["reason"] == "asked to leave"
    # a removed member cannot consent to an invite-only group again
    refused = await hs.command(alice, None, "consent give", group=GROUP)
    assert "invitation" in (refused.content or "")


async def test_settings_show_change_and_refuse_bad_values(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, GROUP)
    fran = staff.facilitator
    shown = await final(await hs.command(fran, None, "group settings", group=GROUP))
    assert "Who can join: only members a facilitator enrols (`enrolment`: invite)" in shown
    assert "Messages are removed: 1 day after they are posted (`ttl`: 1d)" in shown
    assert "**ttl**" not in shown and "**access_mode**" not in shown
    for options, expected in (
        ({"ttl": "forever"}, "ttl"),
        ({"ttl": "-1h"}, "negative"),
        ({"ttl": "9999d"}, "longest"),
        ({"auto_reminder_gap": "30s"}, "shortest"),
        ({"ttl": "1" * 100}, "too long"),
    ):
        handle = await hs.command(fran, None, "group settings", group=GROUP, **options)
        assert expected in (handle.content or ""), options
    assert hs.bot is not None and hs.bot.state.groups[group.id].ttl is not None

    changed = await final(
        await hs.command(fran, None, "group settings", group=GROUP, enrolment="open", ttl="3h", keep_pinned=False)
    )
    assert "enrolment" in changed and "Messages are removed: 3 hours after they are posted" in changed
    await hs.restart()
    assert hs.bot is not None
    info = hs.bot.state.groups[group.id]
    assert info.enrolment == "open" and info.ttl is not None and info.ttl.total_seconds() == 3 * 3600
    assert info.keep_pinned is False

    # open enrolment: carol consents without being enrolled, and shows up in the roster
    carol = hs.member("carol")
    assert "Thank you" in await agree(hs, carol, GROUP)
    roster = await final(await hs.command(fran, None, "group roster", group=GROUP))
    assert f"<@{carol.id}>" in roster


async def test_role_access_mode_and_back(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, GROUP)
    fran, alice = staff.facilitator, hs.member("alice")
    text, voice = rooms(hs, group)
    await enroll(hs, staff, GROUP, alice)
    await agree(hs, alice, GROUP)
    await final(await hs.command(fran, None, "group settings", group=GROUP, access_mode="role"))
    assert hs.bot is not None
    role_id = hs.bot.state.groups[group.id].role_id
    assert role_id is not None and role_id in hs.guild.roles
    await hs.sb.wait_until(lambda: role_id in alice.role_ids and alice.id not in text.overwrites)
    assert text.overwrites[role_id].allow & MEMBER_ALLOW == MEMBER_ALLOW
    hs.guild.join_voice(alice, voice)
    hs.guild.leave_voice(alice)

    await final(await hs.command(fran, None, "group settings", group=GROUP, access_mode="member"))
    await hs.sb.wait_until(lambda: role_id not in hs.guild.roles and alice.id in text.overwrites)
    hs.guild.join_voice(alice, voice)


async def test_facilitators_consent_makes_facilitators_consent_too(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, GROUP)
    fran = staff.facilitator
    _, voice = rooms(hs, group)
    await final(await hs.command(fran, None, "group settings", group=GROUP, facilitators_consent=True))
    await hs.sb.wait_until(lambda: staff.fac_role.id not in voice.overwrites)
    with pytest.raises(SandboxRefused):
        hs.guild.join_voice(fran, voice)
    assert "Thank you" in await agree(hs, fran, GROUP)
    hs.guild.join_voice(fran, voice)


async def test_agreement_editor_limits(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, GROUP)
    fran = staff.facilitator
    assert hs.bot is not None

    async def submit(values: dict[str, str]) -> str:
        edit = await hs.command(fran, None, "group agreement edit", group=GROUP)
        assert edit.modal is not None
        return await final(hs.sb.submit_modal(edit, values))

    assert "empty" in await submit({"part1": "   ", "part2": "", "part3": ""})
    assert "unchanged" in await submit({})
    assert hs.bot.state.groups[group.id].agreement_version == 1

    # a long agreement: three parts, shown across several messages within Discord's limits
    long_parts = {f"part{i}": (f"Rule {i}. " + "Be kind and keep confidences. " * 130)[:3990] for i in (1, 2, 3)}
    assert "version 2" in await submit(long_parts)
    shown = await final(await hs.command(fran, None, "group agreement show", group=GROUP), 6)
    assert "Rule 3" in shown
    alice = hs.member("alice")
    await enroll(hs, staff, GROUP, alice)
    handle = await shown_agreement(hs, alice, GROUP)
    embeds = [e for m in handle.followups for e in m.embeds]
    assert len(embeds) >= 3
    for message in handle.followups:
        assert len(message.content or "") <= 2000
        total = sum(len(str(e.get("title", ""))) + len(str(e.get("description", ""))) for e in message.embeds)
        assert total <= 6000
        assert all(len(str(e.get("description", ""))) <= 4096 for e in message.embeds)
    message, cid = find_custom_id(handle.followups, "hs:agree:")
    assert "version 2" in await final(await click(hs, alice, message, cid))


async def test_agreement_part_over_discords_limit_is_refused(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, GROUP)
    edit = await hs.command(staff.facilitator, None, "group agreement edit", group=GROUP)
    try:
        handle = hs.sb.submit_modal(edit, {"part1": "x" * 4001})
    except (SandboxRefused, ValueError, LookupError):
        return  # the sandbox, like Discord, does not let it through
    text = await final(handle)
    assert "4000" in text
    assert hs.bot is not None and hs.bot.state.groups[group.id].agreement_version == 1


async def test_remove_a_member_who_left_the_server(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, GROUP)
    alice = hs.member("alice")
    text, _ = rooms(hs, group)
    await enroll(hs, staff, GROUP, alice)
    await agree(hs, alice, GROUP)
    hs.guild.remove_member(alice)
    await hs.sb.wait_for_event("GUILD_MEMBER_REMOVE")
    reply = await final(
        await hs.command(staff.facilitator, None, "group remove", group=GROUP, member=alice.user, reason="left")
    )
    assert "Removed" in reply
    assert alice.id not in text.overwrites
    assert hs.bot is not None and hs.bot.state.consent_of(group.id, alice.id) is None
    roster = await final(await hs.command(staff.facilitator, None, "group roster", group=GROUP))
    assert "Nobody is enrolled" in roster


async def test_an_overwrite_giving_access_without_consent_is_removed_at_once(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, GROUP)
    alice, bob = hs.member("alice"), hs.member("bob")
    text, voice = rooms(hs, group)
    await enroll(hs, staff, GROUP, alice)
    await agree(hs, alice, GROUP)
    hs.guild.set_overwrite(text, bob, allow=P.VIEW_CHANNEL | P.SEND_MESSAGES)
    await hs.sb.wait_until(lambda: bob.id not in text.overwrites)
    hs.guild.set_overwrite(voice, bob, allow=P.CONNECT | P.VIEW_CHANNEL, deny=P.STREAM)
    await hs.sb.wait_until(lambda: voice.overwrites[bob.id].allow == 0)
    assert voice.overwrites[bob.id].deny == P.STREAM
    assert can_see(hs, alice, text)  # the consenting member keeps hers


async def test_settings_refuse_out_of_range_numbers_and_unknown_choices(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, GROUP)
    fran = staff.facilitator
    for options in (
        {"reconsent_after_days": 0},
        {"reconsent_after_days": 99999},
        {"max_hold_days": 1000},
        {"enrolment": "everyone"},
        {"access_mode": "channel"},
        {"group": "", "enrolment": "open"},
        {"group": "Nope", "enrolment": "open"},
    ):
        args: dict[str, Any] = {"group": GROUP, **options}
        handle = await hs.command(fran, None, "group settings", **args)
        assert handle.ephemeral and (handle.content or "").strip(), options
        assert "Something went wrong" not in (handle.content or ""), options
    assert hs.bot is not None
    info = hs.bot.state.groups[group.id]
    assert (info.enrolment, info.access_mode, info.reconsent_after_days) == ("invite", "member", 180)


async def test_adopt_names_what_holdspace_lacks_in_a_room(holdspace: Holdspace) -> None:
    hs = holdspace
    g = hs.guild
    bot_member = g.bot_member(hs.world.app)
    assert bot_member is not None
    text = g.create_text_channel("secret-chat")
    voice = g.create_voice_channel("Secret")
    g.set_overwrite(text, bot_member, deny=P.MANAGE_ROLES)
    staff = add_staff(hs)
    await hs.start()
    await final(await configure(hs, staff))
    before = dict(text.overwrites), dict(voice.overwrites)
    handle = await hs.command(
        staff.facilitator, None, "group adopt", name=GROUP, text_channel=text, voice_channel=voice
    )
    assert "Manage Roles" in (handle.content or "") and "#secret-chat" in (handle.content or "")
    assert (dict(text.overwrites), dict(voice.overwrites)) == before
    assert hs.bot is not None and not hs.bot.state.groups


async def test_an_agreement_editor_opened_before_a_restart_still_saves(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, GROUP)
    edit = await hs.command(staff.facilitator, None, "group agreement edit", group=GROUP)
    assert edit.modal is not None
    await hs.restart()
    saved = await final(hs.sb.submit_modal(edit, {"part1": "Rules written before the restart."}))
    assert "version 2" in saved
    assert hs.bot is not None and hs.bot.state.groups[group.id].agreement_version == 2


async def test_a_group_with_named_facilitators_is_run_and_entered_by_them_only(holdspace: Holdspace) -> None:
    from bot.sandbox import SandboxRefused
    from tests.e2e.test_setup import rooms

    hs = holdspace
    staff, group = await started_with_group(hs, "Tuesday circle")
    fran = staff.facilitator
    dana = hs.guild.add_member(hs.sb.create_user("dana"), roles=[staff.fac_role, hs.world.member_role])
    text, voice = rooms(hs, group)

    def sees(who: object) -> bool:
        return bool(hs.guild.permissions_for(who, text) & P.VIEW_CHANNEL)  # type: ignore[arg-type]

    assert sees(fran) and sees(dana), "without named facilitators the role opens the rooms"

    added = await final(await hs.command(fran, None, "group facilitator add", group="Tuesday circle", member=fran))
    assert "now facilitates" in added and "only the facilitators named" in added
    await hs.sb.wait_until(lambda: sees(fran) and not sees(dana))
    with pytest.raises(SandboxRefused):
        hs.guild.join_voice(dana, voice)
    hs.guild.join_voice(fran, voice)
    assert hs.guild.voice_channel_of(fran) is voice

    refused = await hs.command(dana, None, "group enroll", group="Tuesday circle", member=hs.member("alice"))
    assert refused.ephemeral and "Only the facilitators of Tuesday circle" in (refused.content or "")
    refused = await hs.command(dana, None, "session start", group="Tuesday circle")
    assert refused.ephemeral and "Only the facilitators of Tuesday circle" in (refused.content or "")
    assert not hs.bot.state.is_enrolled(group.id, hs.member("alice").id)  # type: ignore[union-attr]

    refused = await hs.command(dana, None, "group facilitator list", group="Tuesday circle")
    assert refused.ephemeral and "Only the facilitators of Tuesday circle" in (refused.content or "")
    listed = await final(await hs.command(fran, None, "group facilitator list", group="Tuesday circle"))
    assert f"<@{fran.id}>" in listed

    removed = await final(await hs.command(fran, None, "group facilitator remove", group="Tuesday circle", member=fran))
    assert "everyone with the facilitator role" in removed
    await hs.sb.wait_until(lambda: sees(dana))
    assert hs.guild.voice_channel_of(fran) is voice, "a facilitator is never thrown out mid-call by this change"
    await hs.settle()
    assert hs.bot is not None
    cases = await case_store.all_cases(hs.bot.db, hs.bot.ring, hs.guild.id)
    kinds = [c.kind for c in cases]
    assert "permission_drift" not in kinds and "unconsented_join" not in kinds, [c.details for c in cases]


async def test_facilitator_add_bad_input(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, "Tuesday circle")
    fran, alice = staff.facilitator, hs.member("alice")

    async def add(who: object, member: object) -> str:
        handle = await hs.command(who, None, "group facilitator add", group="Tuesday circle", member=member)  # type: ignore[arg-type]
        assert handle.ephemeral
        return await final(handle)

    assert "does not hold the facilitator role" in await add(fran, alice)
    bot_member = hs.guild.bot_member(hs.world.app)
    assert "A bot cannot facilitate" in await add(fran, bot_member)
    refused = await add(alice, fran)
    assert "Only facilitators can use this command: people with the <@&" in refused
    assert "manages this server can give you that role" in refused
    assert "Ask a facilitator of the group" not in refused
    await add(fran, fran)
    assert "already facilitates" in await add(fran, fran)
    gone = await hs.command(fran, None, "group facilitator remove", group="Tuesday circle", member=alice)
    assert gone.ephemeral and "is not one of the named facilitators" in (gone.content or "")
    assert hs.bot is not None and hs.bot.state.facilitators_of(group.id) == {fran.id}
