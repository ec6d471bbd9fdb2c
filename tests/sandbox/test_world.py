"""The world model: snowflakes on the sandbox clock, events of world changes, cheap posting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import discord

from bot.clock import FakeClock
from bot.sandbox import FAST_CLIENT_OPTIONS, Sandbox, running, snowflake_at, snowflake_time
from bot.sandbox import permissions as P
from tests.conftest import StandardWorld


def test_snowflakes_round_trip() -> None:
    when = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    sf = snowflake_at(when, 7)
    assert snowflake_time(sf) == when
    assert discord.utils.snowflake_time(sf) == when  # the same epoch and layout as discord.py


async def test_message_ids_follow_the_sandbox_clock(sandbox: Sandbox, world: StandardWorld,
                                                    clock: FakeClock) -> None:
    ch = world.guild.create_text_channel("general")
    old = sandbox.post(ch, world.alice, "old", at=clock.now() - timedelta(days=20))
    clock.advance(timedelta(hours=1))
    new = sandbox.post(ch, world.alice, "new")
    assert old.created_at == clock.now() - timedelta(days=20, hours=1)
    assert new.created_at == clock.now()
    assert ch.messages == [old, new]


async def test_world_changes_emit_events(sandbox: Sandbox, world: StandardWorld) -> None:
    g = world.guild
    start = len(sandbox.events)
    room = g.create_voice_channel("Room")
    g.join_voice(world.alice, room)
    world.members["alice"].set_nick("Al")
    g.set_overwrite(room, g.everyone, deny=P.CONNECT)
    msg = sandbox.post(room, world.alice, "hi")
    sandbox.pin(msg)
    g.leave_voice(world.alice)
    names = [e.name for e in sandbox.events[start:]]
    assert names == ["CHANNEL_CREATE", "VOICE_STATE_UPDATE", "GUILD_MEMBER_UPDATE", "CHANNEL_UPDATE",
                     "MESSAGE_CREATE", "MESSAGE_UPDATE", "CHANNEL_PINS_UPDATE", "VOICE_STATE_UPDATE"]


async def test_added_bot_reaches_a_connected_client(sandbox: Sandbox) -> None:
    from tests.conftest import build_standard_world

    w = build_standard_world(sandbox, intents_enabled=discord.Intents(members=True).value)
    intents = discord.Intents.default()
    intents.members = True
    client = discord.Client(intents=intents, **FAST_CLIENT_OPTIONS)
    joined: list[int] = []

    async def on_member_join(member: discord.Member) -> None:
        joined.append(member.id)

    client.on_member_join = on_member_join  # type: ignore[attr-defined]
    async with running(client, w.token, sandbox):
        craig = sandbox.create_application("Craig")
        w.guild.add_bot(craig, permissions=P.ADMINISTRATOR)
        await sandbox.wait_until(lambda: joined == [craig.bot.id])
        guild = client.get_guild(w.guild.id)
        assert guild is not None
        member = guild.get_member(craig.bot.id)
        assert member is not None and member.bot and member.guild_permissions.administrator
        assert any(r.is_bot_managed() for r in member.roles)


async def test_posting_while_a_client_is_connected(sandbox: Sandbox, world: StandardWorld) -> None:
    # How fast is a benchmark's question: no test depends on the machine's speed.
    ch = world.guild.create_text_channel("general")
    seen: list[int] = []
    client = discord.Client(intents=discord.Intents.default(), **FAST_CLIENT_OPTIONS)

    async def on_message(message: discord.Message) -> None:
        seen.append(message.id)

    client.on_message = on_message  # type: ignore[attr-defined]
    async with running(client, world.token, sandbox):
        posted = sandbox.post_many(ch, world.alice, 300)
        await sandbox.wait_until(lambda: len(seen) == 300)
        assert seen == [m.id for m in posted]


async def test_closing_a_voice_room_does_not_remove_people_inside(sandbox: Sandbox, world: StandardWorld) -> None:
    g = world.guild
    room = g.create_voice_channel("Room")
    g.join_voice(world.alice, room)
    g.set_overwrite(room, g.everyone, deny=P.CONNECT)
    assert g.voice_channel_of(world.alice) is room  # as on Discord: she has to be disconnected
    assert g.members_in(room) == [world.members["alice"]]
