"""Gateway: handshake, intents, content stripping, RESUME replay, invalid session, fatal close codes."""

from __future__ import annotations

import json

import aiohttp
import discord
import pytest

from bot.sandbox import FAST_CLIENT_OPTIONS, Sandbox, running
from tests.conftest import StandardWorld


class Recording(discord.Client):
    def __init__(self, **kw: object) -> None:
        intents = kw.pop("intents", None) or discord.Intents.default()
        super().__init__(intents=intents, **FAST_CLIENT_OPTIONS | kw)  # type: ignore[arg-type]
        self.seen: list[discord.Message] = []

    async def on_message(self, message: discord.Message) -> None:
        self.seen.append(message)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        # discord.py waits 5 s before re-identifying; a documented hook, overridden to keep tests fast
        return None


async def test_ready_guild_create_and_world_events(sandbox: Sandbox, world: StandardWorld) -> None:
    g = world.guild
    ch = g.create_text_channel("general")
    client = Recording()
    async with running(client, world.token, sandbox):
        guild = client.get_guild(g.id)
        assert guild is not None and guild.default_role.id == g.id
        assert guild.get_channel(ch.id) is not None
        assert guild.me.id == world.app.bot.id
        # a channel created while connected arrives as CHANNEL_CREATE
        new = g.create_voice_channel("Room")
        await sandbox.wait_until(lambda: guild.get_channel(new.id) is not None)
        sandbox.post(new, world.alice, "voice chat message")
        await sandbox.wait_until(lambda: client.seen)
        assert client.seen[0].channel.id == new.id


async def test_content_is_empty_without_message_content_intent(sandbox: Sandbox, world: StandardWorld) -> None:
    ch = world.guild.create_text_channel("general")
    client = Recording()
    async with running(client, world.token, sandbox):
        sandbox.post(ch, world.alice, "private words")
        sandbox.post(ch, world.alice, f"hey <@{world.app.bot.id}>", mentions=[world.app.bot])
        await sandbox.wait_until(lambda: len(client.seen) == 2)
        assert client.seen[0].content == ""
        assert client.seen[1].content.startswith("hey")


async def test_message_content_intent_when_enabled(sandbox: Sandbox) -> None:
    from tests.conftest import build_standard_world

    w = build_standard_world(sandbox, intents_enabled=discord.Intents(message_content=True).value)
    ch = w.guild.create_text_channel("general")
    intents = discord.Intents.default()
    intents.message_content = True
    client = Recording(intents=intents)
    async with running(client, w.token, sandbox):
        sandbox.post(ch, w.alice, "visible")
        await sandbox.wait_until(lambda: client.seen)
        assert client.seen[0].content == "visible"


async def test_disallowed_privileged_intent_closes_4014(sandbox: Sandbox, world: StandardWorld) -> None:
    intents = discord.Intents.default()
    intents.members = True
    with pytest.raises(discord.PrivilegedIntentsRequired):
        async with running(Recording(intents=intents), world.token, sandbox):
            pass


async def _raw_identify(sb: Sandbox, token: str, intents: int) -> int | None:
    async with aiohttp.ClientSession() as session, session.ws_connect(sb.gateway_url + "?v=10") as ws:
        hello = json.loads((await ws.receive()).data)
        assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] > 0
        await ws.send_str(json.dumps({"op": 1, "d": None}))
        ack = json.loads((await ws.receive()).data)
        assert ack["op"] == 11
        await ws.send_str(json.dumps({"op": 2, "d": {"token": token, "intents": intents, "properties": {}}}))
        msg = await ws.receive()
        if msg.type == aiohttp.WSMsgType.TEXT:
            assert json.loads(msg.data)["t"] == "READY"
            return None
        return ws.close_code


async def test_close_codes_4004_and_4014(sandbox: Sandbox, world: StandardWorld) -> None:
    assert await _raw_identify(sandbox, "bad-token", 513) == 4004
    assert await _raw_identify(sandbox, world.token, 1 << 15) == 4014
    assert await _raw_identify(sandbox, world.token, 513) is None


async def test_resume_replays_missed_events(sandbox: Sandbox, world: StandardWorld) -> None:
    ch = world.guild.create_text_channel("general")
    client = Recording()
    resumed: list[bool] = []
    client.on_resumed = lambda: resumed.append(True)  # type: ignore[attr-defined]
    async with running(client, world.token, sandbox):
        await sandbox.drop_gateway(resumable=True)
        missed = sandbox.post_many(ch, world.alice, 3)  # dispatched while the client is away
        await sandbox.wait_until(lambda: len(client.seen) == 3)
        assert [m.id for m in client.seen] == [m.id for m in missed]
        assert sandbox.gateway.resume_count == 1 and sandbox.gateway.identify_count == 1
        await sandbox.wait_until(lambda: resumed)


async def test_invalid_session_makes_client_identify_again(sandbox: Sandbox, world: StandardWorld) -> None:
    ch = world.guild.create_text_channel("general")
    client = Recording()
    async with running(client, world.token, sandbox):
        await sandbox.drop_gateway(resumable=False)
        await sandbox.wait_until(lambda: sandbox.gateway.identify_count == 2)
        await sandbox.wait_connected(world.app)
        await sandbox.wait_until(lambda: client.is_ready())
        sandbox.post(ch, world.alice, "after")
        await sandbox.wait_until(lambda: client.seen)


async def test_request_guild_members_answers_with_chunk(sandbox: Sandbox) -> None:
    from tests.conftest import build_standard_world

    w = build_standard_world(sandbox, intents_enabled=discord.Intents(members=True).value)
    intents = discord.Intents.default()
    intents.members = True
    client = Recording(intents=intents)
    async with running(client, w.token, sandbox):
        guild = client.get_guild(w.guild.id)
        assert guild is not None
        members = await guild.chunk()
        assert {m.id for m in members} == set(w.guild.members)


async def test_world_persists_across_reconnect(sandbox: Sandbox, world: StandardWorld) -> None:
    ch = world.guild.create_text_channel("general")
    async with running(Recording(), world.token, sandbox):
        pass
    sandbox.post_many(ch, world.alice, 5)  # while the bot is offline
    client = Recording()
    async with running(client, world.token, sandbox):
        channel = client.get_channel(ch.id)
        assert isinstance(channel, discord.TextChannel)
        history = [m async for m in channel.history(limit=10)]
        assert len(history) == 5


async def test_resume_of_an_unknown_session_is_invalid_session(sandbox: Sandbox, world: StandardWorld) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(sandbox.gateway_url) as ws:
        assert json.loads((await ws.receive()).data)["op"] == 10
        await ws.send_str(json.dumps({"op": 6, "d": {"token": world.token, "session_id": "nope", "seq": 3}}))
        answer = json.loads((await ws.receive()).data)
        assert answer["op"] == 9 and answer["d"] is False
