"""The acceptance point: a plain discord.py bot, nothing mocked, against the sandbox."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.sandbox import FAST_CLIENT_OPTIONS, Sandbox, running
from tests.conftest import StandardWorld


def make_bot(guild_id: int) -> commands.Bot:
    intents = discord.Intents.default()
    intents.voice_states = True
    bot = commands.Bot(command_prefix="!", intents=intents, **FAST_CLIENT_OPTIONS)
    guild = discord.Object(guild_id)

    @bot.tree.command(name="kickvoice", description="Disconnect someone from voice", guild=guild)
    @app_commands.describe(who="the member to disconnect")
    async def kickvoice(interaction: discord.Interaction, who: discord.Member) -> None:
        await who.move_to(None, reason="sandbox acceptance")
        await interaction.response.send_message(f"disconnected {who.id}", ephemeral=True)

    async def setup_hook() -> None:
        await bot.tree.sync(guild=guild)

    bot.setup_hook = setup_hook  # type: ignore[method-assign]
    return bot


async def test_plain_bot_connects_syncs_answers_ephemerally_and_disconnects(
        sandbox: Sandbox, world: StandardWorld) -> None:
    g = world.guild
    room = g.create_voice_channel("Room")
    g.join_voice(world.members["alice"], room)
    bot = make_bot(g.id)
    async with running(bot, world.token, sandbox):
        assert bot.get_guild(g.id) is not None
        assert [c["name"] for c in world.app.guild_commands[g.id]] == ["kickvoice"]
        handle = sandbox.run_command(world.members["bob"], g.channels[0], "kickvoice", who=world.alice)
        await handle.response()
        assert handle.ephemeral
        assert handle.content == f"disconnected {world.alice.id}"
        assert g.voice_channel_of(world.alice) is None
        req = await sandbox.wait_for_request("PATCH", r"/guilds/\d+/members/\d+")
        assert req.json == {"channel_id": None}
        await sandbox.wait_for_event("VOICE_STATE_UPDATE", lambda d: d["channel_id"] is None)
    assert bot.is_closed()
