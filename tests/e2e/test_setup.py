"""/setup: roles, channels and time zone, shown back; bad input refused with nothing changed.

Also the shared helpers of the groups and consent end-to-end tests (a facilitator, a configured
server, a group, consenting through the real buttons).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from bot.core.records import GroupInfo
from bot.sandbox import InteractionHandle
from bot.sandbox import permissions as P
from bot.sandbox.world import LOADING, Channel, Member, Message, Role, User
from tests.e2e.conftest import Holdspace


@dataclass
class Staff:
    facilitator: Member
    fac_role: Role
    mod_role: Role
    log: Channel
    lobby: Channel


def add_staff(hs: Holdspace) -> Staff:
    """A facilitator (fran) with the facilitator role, a moderator role, #mod-log and #lobby."""
    g = hs.guild
    fac_role = g.create_role("Facilitator", 0)
    mod_role = g.create_role("Moderator", 0)
    fran = hs.sb.create_user("fran")
    facilitator = g.add_member(fran, roles=[fac_role, hs.world.member_role])
    hs.world.members["fran"] = facilitator
    return Staff(facilitator, fac_role, mod_role, g.create_text_channel("mod-log"), g.create_text_channel("lobby"))


async def configure(hs: Holdspace, staff: Staff, **extra: Any) -> InteractionHandle:
    options: dict[str, Any] = dict(
        facilitator_role=staff.fac_role,
        moderator_role=staff.mod_role,
        log_channel=staff.log,
        lobby_channel=staff.lobby,
        timezone="Europe/Berlin",
    )
    options.update(extra)
    return await hs.command(hs.member("owner"), None, "setup configure", **options)


async def final(handle: InteractionHandle, count: int = 1) -> str:
    """The text of a (possibly deferred) answer: its content and embeds, follow-ups included."""
    await handle.response()
    if handle.deferred:
        await handle.sb.wait_until(lambda: handle.message is not None and not handle.message.flags & LOADING)
    if count > 1:
        await handle.wait_followups(count - 1)
    texts: list[str] = []
    messages: list[Message] = ([handle.message] if handle.message else []) + list(handle.followups)
    for message in messages:
        texts.append(message.content or "")
        for embed in message.embeds:
            texts.append(str(embed.get("title", "")))
            texts.append(str(embed.get("description", "")))
    return "\n".join(texts)


async def started_with_group(hs: Holdspace, name: str = "Tuesday circle") -> tuple[Staff, GroupInfo]:
    staff = add_staff(hs)
    await hs.start()
    handle = await configure(hs, staff)
    await final(handle)
    group = await create_group(hs, staff, name)
    return staff, group


async def create_group(hs: Holdspace, staff: Staff, name: str) -> GroupInfo:
    handle = await hs.command(staff.facilitator, None, "group create", name=name)
    text = await final(handle)
    assert "Created" in text, text
    assert hs.bot is not None
    group = hs.bot.state.group_by_name(hs.guild.id, name)
    assert group is not None
    return group


def can_see(hs: Holdspace, who: Any, channel: Any) -> bool:
    return bool(hs.guild.permissions_for(who, channel) & P.VIEW_CHANNEL)


def rooms(hs: Holdspace, group: GroupInfo) -> tuple[Channel, Channel]:
    channels = hs.sb.world.channels
    return channels[group.text_channel_id], channels[group.voice_channel_id]


def find_custom_id(messages: list[Message], prefix: str) -> tuple[Message, str]:
    for message in reversed(messages):
        for row in message.components:
            for comp in row.get("components", []):
                cid = comp.get("custom_id", "")
                if cid.startswith(prefix):
                    return message, cid
    raise AssertionError(f"no component starting with {prefix!r}")


async def shown_agreement(hs: Holdspace, who: Member, group_name: str) -> InteractionHandle:
    handle = await hs.command(who, None, "consent give", group=group_name)
    await handle.wait_followups(1)
    await hs.sb.wait_until(lambda: any(m.components for m in handle.followups))
    return handle


async def click(hs: Holdspace, who: Member | User, message: Message, custom_id: str) -> InteractionHandle:
    handle = hs.sb.click(who, message, custom_id)
    await handle.response()
    return handle


async def agree(hs: Holdspace, who: Member, group_name: str) -> str:
    shown = await shown_agreement(hs, who, group_name)
    message, cid = find_custom_id(shown.followups, "hs:agree:")
    return await final(await click(hs, who, message, cid))


async def enroll(hs: Holdspace, staff: Staff, group_name: str, who: Member | User) -> str:
    return await final(await hs.command(staff.facilitator, None, "group enroll", group=group_name, member=who))


def db_bytes(hs: Holdspace) -> bytes:
    path = hs.settings.database
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))


# -- the tests -----------------------------------------------------------------------------------------


async def test_setup_configure_posts_the_lobby_button_and_shows_back(holdspace: Holdspace) -> None:
    hs = holdspace
    staff = add_staff(hs)
    await hs.start()
    handle = await configure(hs, staff)
    text = await final(handle)
    assert handle.ephemeral
    assert "Europe/Berlin" in text and f"<@&{staff.fac_role.id}>" in text
    lobby_messages = [m for m in staff.lobby.messages if m.components]
    assert len(lobby_messages) == 1
    find_custom_id(lobby_messages, "hs:lobby")

    shown = await final(await hs.command(hs.member("owner"), None, "setup show"))
    assert "Europe/Berlin" in shown and f"<#{staff.lobby.id}>" in shown

    # changing only the time zone keeps the lobby message
    await final(await hs.command(hs.member("owner"), None, "setup configure", timezone="America/New_York"))
    assert len([m for m in staff.lobby.messages if m.components]) == 1
    await hs.restart()
    shown = await final(await hs.command(hs.member("owner"), None, "setup show"))
    assert "America/New_York" in shown


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "Unknown time zone"),
        ({"timezone": ""}, "time zone"),
        ({"timezone": "x" * 200}, "not a time zone"),
        ({"timezone": "../../etc/passwd"}, "not a time zone"),
    ],
)
async def test_setup_refuses_bad_time_zones(holdspace: Holdspace, options: dict[str, Any], expected: str) -> None:
    hs = holdspace
    staff = add_staff(hs)
    await hs.start()
    handle = await configure(hs, staff, **options)
    assert handle.ephemeral
    assert expected in (handle.content or "")
    assert not [m for m in staff.lobby.messages if m.components]
    assert hs.bot is not None
    assert not hs.bot.state.guild(hs.guild.id).configured


async def test_setup_bad_roles_and_channels(holdspace: Holdspace) -> None:
    hs = holdspace
    staff = add_staff(hs)
    other_owner = hs.sb.create_user("elsewhere")
    other = hs.sb.create_guild("Other", owner=other_owner)
    foreign = other.create_text_channel("foreign")
    await hs.start()
    owner = hs.member("owner")
    everyone = hs.guild.everyone
    handle = await hs.command(owner, None, "setup configure", facilitator_role=everyone)
    assert "@everyone" in (handle.content or "")
    handle = await hs.command(owner, None, "setup configure", facilitator_role=staff.fac_role)
    assert "also give" in (handle.content or "")
    bot_role = next(r for r in hs.guild.roles.values() if r.managed)
    handle = await hs.command(owner, None, "setup configure", moderator_role=bot_role)
    assert "bot" in (handle.content or "")
    handle = await hs.command(owner, None, "setup configure", lobby_channel=foreign)
    assert handle.ephemeral and "Traceback" not in (handle.content or "")
    assert not [m for m in staff.lobby.messages if m.components]


async def test_setup_names_a_missing_permission(holdspace: Holdspace) -> None:
    hs = holdspace
    staff = add_staff(hs)
    bot_member = hs.guild.bot_member(hs.world.app)
    assert bot_member is not None
    hs.guild.set_overwrite(staff.lobby, bot_member, deny=1 << 11)  # SEND_MESSAGES
    await hs.start()
    handle = await configure(hs, staff)
    text = handle.content or ""
    assert "Send Messages" in text and "#lobby" in text
    assert not staff.lobby.messages


async def test_only_server_managers_may_set_up(holdspace: Holdspace) -> None:
    hs = holdspace
    staff = add_staff(hs)
    await hs.start()
    for who in (hs.member("alice"), staff.facilitator):
        handle = await hs.command(who, None, "setup configure", timezone="UTC")
        assert handle.ephemeral and "server managers" in (handle.content or "")
        handle = await hs.command(who, None, "setup show")
        assert "server managers" in (handle.content or "")


async def test_a_deleted_lobby_message_is_put_back_at_the_next_start(holdspace: Holdspace) -> None:
    hs = holdspace
    staff = add_staff(hs)
    await hs.start()
    await final(await configure(hs, staff))
    await hs.stop()
    for message in list(staff.lobby.messages):
        hs.sb.delete(message)
    await hs.start()
    await hs.sb.wait_until(lambda: any(m.components for m in staff.lobby.messages))
    await hs.restart()
    assert len([m for m in staff.lobby.messages if m.components]) == 1
