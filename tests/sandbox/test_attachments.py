"""Multipart uploads: files sent with a message are kept on it, as Discord matches them to the JSON part."""

from __future__ import annotations

import io
import json

import aiohttp
import discord

from bot.sandbox import Sandbox, running
from tests.conftest import StandardWorld


async def test_discord_py_sends_a_file_by_dm_and_the_person_can_read_it(
    sandbox: Sandbox, world: StandardWorld
) -> None:
    client = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.05, chunk_guilds_at_startup=False)
    async with running(client, world.token, sandbox):
        user = await client.fetch_user(world.alice.id)
        sent = await user.send("your copy", file=discord.File(io.BytesIO(b'{"a": 1}'), filename="copy.json"))
        assert [a.filename for a in sent.attachments] == ["copy.json"] and sent.attachments[0].size == 8
    message = world.alice.dms[-1]
    assert message.content == "your copy" and message.attachments[0].data == b'{"a": 1}'
    assert not sandbox.spec_violations


async def test_a_file_alone_is_a_message_and_an_unknown_attachment_id_is_refused(
    sandbox: Sandbox, world: StandardWorld
) -> None:
    channel = world.guild.create_text_channel("general")
    url = f"{sandbox.api_base}/channels/{channel.id}/messages"
    headers = {"Authorization": f"Bot {world.token}"}

    def form(attachment_id: int) -> aiohttp.FormData:
        data = aiohttp.FormData()
        data.add_field("payload_json", json.dumps({"attachments": [{"id": attachment_id, "filename": "a.txt"}]}),
                       content_type="application/json")
        data.add_field("files[0]", b"hello", filename="a.txt", content_type="text/plain")
        return data

    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=form(0), headers=headers) as resp:
            body = await resp.json()
            assert resp.status == 200 and body["attachments"][0]["filename"] == "a.txt"
        async with session.post(url, data=form(3), headers=headers) as resp:
            assert resp.status == 400 and (await resp.json())["code"] == 50035
    assert channel.messages[-1].attachments[0].content_type == "text/plain"
