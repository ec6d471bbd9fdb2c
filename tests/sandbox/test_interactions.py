"""Interactions built as Discord builds them, and the bot's replies as a test sees them."""

from __future__ import annotations

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from bot.sandbox import FAST_CLIENT_OPTIONS, Sandbox, running
from tests.conftest import StandardWorld


class ConsentView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="I agree", custom_id="consent:yes", style=discord.ButtonStyle.success)
    async def agree(self, interaction: discord.Interaction, button: discord.ui.Button[ConsentView]) -> None:
        await interaction.response.edit_message(content="thank you", view=None)


class ReasonModal(discord.ui.Modal, title="Why?"):
    reason: discord.ui.TextInput[ReasonModal] = discord.ui.TextInput(label="Reason", custom_id="reason")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"noted: {self.reason.value}", ephemeral=True)


def make_bot(guild_id: int, errors: list[Exception]) -> commands.Bot:
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.default(), **FAST_CLIENT_OPTIONS)
    guild = discord.Object(guild_id)
    session = app_commands.Group(name="session", description="Sessions", guild_ids=[guild_id])
    admin = app_commands.Group(name="admin", description="Admin", parent=session)

    @session.command(name="start", description="Start a session")
    async def start(interaction: discord.Interaction, room: discord.VoiceChannel, minutes: int,
                    who: discord.Member | None = None, role: discord.Role | None = None,
                    note: str | None = None, quiet: bool = False) -> None:
        await interaction.response.send_message(
            f"{room.id} {minutes} {who.id if who else '-'} {role.id if role else '-'} {note} {quiet}")

    @admin.command(name="lock", description="Lock")
    async def lock(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("locked", ephemeral=True)

    bot.tree.add_command(session)

    @bot.tree.command(name="slow", description="Deferred", guild=guild)
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send("done", ephemeral=True)
        await interaction.followup.send("more", ephemeral=True)
        await interaction.edit_original_response(content="done (edited)")

    @bot.tree.command(name="consent", description="Ask for consent", guild=guild)
    async def consent(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("Do you agree?", view=ConsentView())

    @bot.tree.command(name="ask", description="Modal", guild=guild)
    async def ask(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(ReasonModal())

    @bot.tree.command(name="late", description="Too late", guild=guild)
    async def late(interaction: discord.Interaction) -> None:
        try:
            await interaction.response.send_message("late")
        except discord.HTTPException as exc:
            errors.append(exc)

    @bot.tree.command(name="join", description="Join a group", guild=guild)
    async def join(interaction: discord.Interaction, group: str) -> None:
        await interaction.response.send_message(f"joined {group}", ephemeral=True)

    @join.autocomplete("group")
    async def group_names(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        names = ["thursday circle", "tuesday group", "thematic"]
        return [app_commands.Choice(name=n, value=n) for n in names if n.startswith(current)]

    @bot.tree.context_menu(name="Flag message", guild=guild)
    async def flag(interaction: discord.Interaction, message: discord.Message) -> None:
        await interaction.response.send_message(f"flagged {message.id}", ephemeral=True)

    async def setup_hook() -> None:
        bot.add_view(ConsentView())
        await bot.tree.sync(guild=guild)

    bot.setup_hook = setup_hook  # type: ignore[method-assign]
    return bot


async def test_subcommands_options_and_resolved(sandbox: Sandbox, world: StandardWorld) -> None:
    g = world.guild
    text, room = g.create_text_channel("general"), g.create_voice_channel("Room")
    async with running(make_bot(g.id, []), world.token, sandbox):
        h = sandbox.run_command(world.members["owner"], text, "session start", room=room, minutes=50,
                                who=world.members["alice"], role=world.member_role, note="hi", quiet=True)
        data = h.payload["data"]
        assert data["options"][0]["name"] == "start" and data["guild_id"] == str(g.id)
        assert str(world.alice.id) in data["resolved"]["members"]
        await h.response()
        assert not h.ephemeral and h.response_type == 4
        assert h.content == f"{room.id} 50 {world.alice.id} {world.member_role.id} hi True"
        assert h.message in text.messages  # a public reply is a message in the channel
        h2 = sandbox.run_command(world.members["owner"], text, "session admin lock")
        await h2.response()
        assert h2.ephemeral and h2.content == "locked" and h2.message not in text.messages


async def test_defer_followups_and_edit(sandbox: Sandbox, world: StandardWorld) -> None:
    text = world.guild.create_text_channel("general")
    async with running(make_bot(world.guild.id, []), world.token, sandbox):
        h = sandbox.run_command(world.members["bob"], text, "slow")
        await h.response()
        assert h.deferred and h.ephemeral
        await sandbox.wait_for_request("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/@original")
        assert h.content == "done (edited)"
        assert [m.content for m in h.followups] == ["more"]
        assert all(m.ephemeral for m in h.followups)


async def test_button_click_updates_message(sandbox: Sandbox, world: StandardWorld) -> None:
    text = world.guild.create_text_channel("general")
    async with running(make_bot(world.guild.id, []), world.token, sandbox):
        h = await sandbox.run_command(world.members["owner"], text, "consent").response()
        assert h.message is not None
        assert h.components[0]["components"][0]["custom_id"] == "consent:yes"
        click = await sandbox.click(world.members["alice"], h.message, "consent:yes").response()
        assert click.response_type == 7
        assert h.message.content == "thank you" and h.message.components == []


async def test_modal_submit(sandbox: Sandbox, world: StandardWorld) -> None:
    text = world.guild.create_text_channel("general")
    async with running(make_bot(world.guild.id, []), world.token, sandbox):
        h = await sandbox.run_command(world.members["alice"], text, "ask").response()
        assert h.response_type == 9 and h.modal is not None and h.modal["title"] == "Why?"
        sub = await sandbox.submit_modal(h, {"reason": "because"}).response()
        assert sub.ephemeral and sub.content == "noted: because"


async def test_message_context_menu(sandbox: Sandbox, world: StandardWorld) -> None:
    text = world.guild.create_text_channel("general")
    msg = sandbox.post(text, world.bob, "something")
    async with running(make_bot(world.guild.id, []), world.token, sandbox):
        h = await sandbox.message_command(world.members["alice"], msg, "Flag message").response()
        assert h.ephemeral and h.content == f"flagged {msg.id}"


async def test_late_first_reply_is_unknown_interaction(sandbox: Sandbox, world: StandardWorld) -> None:
    text = world.guild.create_text_channel("general")
    errors: list[Exception] = []
    sandbox.interaction_deadline = -1.0  # every reply is late (the deadline runs on the sandbox clock)
    async with running(make_bot(world.guild.id, errors), world.token, sandbox):
        h = sandbox.run_command(world.members["alice"], text, "late")
        await sandbox.wait_until(lambda: errors)
        assert isinstance(errors[0], discord.NotFound) and errors[0].code == 10062
        assert not h.responded and h.error is not None and h.error.code == 10062
        with pytest.raises(RuntimeError, match="10062"):
            await h.response()


async def test_second_first_reply_is_40060(sandbox: Sandbox, world: StandardWorld) -> None:
    text = world.guild.create_text_channel("general")
    async with running(make_bot(world.guild.id, []), world.token, sandbox):
        h = await sandbox.run_command(world.members["alice"], text, "session admin lock").response()
        status, body, _ = await sandbox.api(
            "POST", f"/interactions/{h.id}/{h.token}/callback", params={"with_response": "true"},
            json_body={"type": 4, "data": {"content": "again"}})
        assert status == 400 and body["code"] == 40060


async def test_autocomplete(sandbox: Sandbox, world: StandardWorld) -> None:
    text = world.guild.create_text_channel("general")
    async with running(make_bot(world.guild.id, []), world.token, sandbox):
        h = await sandbox.autocomplete(world.members["alice"], text, "join", "group", "th").response()
        assert h.choices is not None
        assert [c["value"] for c in h.choices] == ["thursday circle", "thematic"]
        done = await sandbox.run_command(world.members["alice"], text, "join", group="thematic").response()
        assert done.content == "joined thematic"
