"""discord.py's own API calls against the sandbox: its parsers accept what the sandbox answers."""

from __future__ import annotations

from datetime import timedelta

import discord
import pytest

from bot.clock import FakeClock
from bot.sandbox import FAST_CLIENT_OPTIONS, Sandbox, running
from bot.sandbox import permissions as P
from tests.conftest import build_standard_world


def intents() -> discord.Intents:
    i = discord.Intents.default()
    i.members = True
    return i


async def test_moderation_calls(sandbox: Sandbox, clock: FakeClock) -> None:
    w = build_standard_world(sandbox, intents_enabled=discord.Intents(members=True).value)
    g = w.guild
    text = g.create_text_channel("general")
    old = sandbox.post(text, w.alice, "old", at=clock.now() - timedelta(days=20))
    fresh = sandbox.post_many(text, w.bob, 4)
    client = discord.Client(intents=intents(), **FAST_CLIENT_OPTIONS)
    async with running(client, w.token, sandbox):
        guild = client.get_guild(g.id)
        assert guild is not None and len(guild.members) == len(g.members)
        # channels with overwrites
        category = await guild.create_category("Group")
        me = guild.me
        room = await guild.create_voice_channel("room", category=category, overwrites={
            guild.default_role: discord.PermissionOverwrite(view_channel=False),
            me: discord.PermissionOverwrite(view_channel=True, connect=True)})
        world_room = sandbox.world.channels[room.id]
        assert world_room.overwrites[g.id].deny == P.VIEW_CHANNEL
        alice = guild.get_member(w.alice.id)
        assert alice is not None
        await room.set_permissions(alice, view_channel=True, connect=True)
        assert world_room.overwrites[w.alice.id].allow == P.VIEW_CHANNEL | P.CONNECT
        cached = guild.get_channel(room.id)
        assert isinstance(cached, discord.VoiceChannel)
        await sandbox.wait_until(lambda: cached.overwrites_for(alice).connect is True)
        g.join_voice(w.alice, world_room)
        await sandbox.wait_until(lambda: alice.voice is not None and alice.voice.channel == cached)
        await alice.move_to(None)
        assert g.voice_channel_of(w.alice) is None
        # roles
        role = await guild.create_role(name="Consented")
        await alice.add_roles(role)
        assert role.id in g.members[w.alice.id].role_ids
        await alice.remove_roles(role)
        assert role.id not in g.members[w.alice.id].role_ids
        # messages: bulk delete refuses old ones, single delete works
        channel = guild.get_channel(text.id)
        assert isinstance(channel, discord.TextChannel)
        with pytest.raises(discord.HTTPException) as info:
            await channel.delete_messages([discord.Object(old.id), discord.Object(fresh[0].id)])
        assert info.value.code == 50034
        await channel.delete_messages([discord.Object(m.id) for m in fresh])
        assert [m.id for m in text.messages] == [old.id]
        msg = await channel.fetch_message(old.id)
        await msg.pin()
        assert old.pinned
        pins = [p async for p in channel.pins()]
        assert [p.id for p in pins] == [old.id]
        await msg.delete()
        assert text.messages == []
        # DMs
        await alice.send("hello")
        assert [m.content for m in w.alice.dms] == ["hello"]
        w.alice.close_dms()
        with pytest.raises(discord.Forbidden) as forbidden:
            await alice.send("again")
        assert forbidden.value.code == 50007
        # audit log: who added a bot
        other = sandbox.create_application("Craig")
        g.add_bot(other, permissions=P.CONNECT, by=w.owner)
        entries = [e async for e in guild.audit_logs(action=discord.AuditLogAction.bot_add)]
        assert entries[0].user is not None and entries[0].user.id == w.owner.id
        assert entries[0].target is not None and entries[0].target.id == other.bot.id
        await sandbox.wait_until(lambda: guild.get_member(other.bot.id) is not None)
        # kick below the bot works; the owner is above it
        bob = guild.get_member(w.bob.id)
        assert bob is not None
        await bob.kick()
        assert w.bob.id not in g.members
        owner = guild.get_member(w.owner.id)
        assert owner is not None
        with pytest.raises(discord.Forbidden):
            await owner.kick()


async def test_dm_button_click(sandbox: Sandbox) -> None:
    w = build_standard_world(sandbox)
    clicked: list[int] = []

    class Consent(discord.ui.View):
        def __init__(self) -> None:
            super().__init__(timeout=None)

        @discord.ui.button(label="Agree", custom_id="consent:agree")
        async def agree(self, interaction: discord.Interaction, button: discord.ui.Button[Consent]) -> None:
            clicked.append(interaction.user.id)
            await interaction.response.send_message("recorded", ephemeral=True)

    client = discord.Client(intents=discord.Intents.default(), **FAST_CLIENT_OPTIONS)

    async def setup_hook() -> None:
        client.add_view(Consent())

    client.setup_hook = setup_hook  # type: ignore[method-assign]
    async with running(client, w.token, sandbox):
        user = await client.fetch_user(w.alice.id)
        await user.send("Please read the ground rules", view=Consent())
        prompt = w.alice.dms[-1]
        h = await sandbox.click(w.alice, prompt, "consent:agree").response()
        assert clicked == [w.alice.id] and h.ephemeral and h.content == "recorded"


async def test_more_than_50_pins_page_by_pinned_at(sandbox: Sandbox, clock: FakeClock) -> None:
    """Pins list most recently pinned first, 50 to a page, each page starting below the last item's
    pinned_at: discord.py 2.7 pages through all of them, and pinned_at is when the pin happened."""
    w = build_standard_world(sandbox)
    text = w.guild.create_text_channel("general")
    messages = sandbox.post_many(text, w.alice, 130, at=clock.now() - timedelta(days=3))
    order = messages[::2] + messages[1::2]  # pinned out of posting order
    for i, message in enumerate(order):
        if i % 40 == 0:
            clock.advance(timedelta(minutes=5))  # some pins share the clock's instant, some do not
        sandbox.pin(message)
    unpinned = order.pop(17)
    sandbox.pin(unpinned, False)
    client = discord.Client(intents=discord.Intents.default(), **FAST_CLIENT_OPTIONS)
    async with running(client, w.token, sandbox):
        channel = client.get_channel(text.id)
        assert isinstance(channel, discord.TextChannel)
        pins = [p async for p in channel.pins(limit=None)]
        assert [p.id for p in pins] == [m.id for m in reversed(order)]
        assert len(sandbox.requests_matching("GET", "/channels/{channel_id}/messages/pins")) == 3
        for pinned, message in zip(pins, reversed(order), strict=True):
            assert pinned.pinned_at == message.pinned_at and pinned.pinned_at != pinned.created_at
        oldest = [p async for p in channel.pins(limit=None, oldest_first=True)]  # discord.py turns each page
        assert [p.id for p in oldest][:50] == [m.id for m in reversed(order)][:50][::-1]
        assert sorted(p.id for p in oldest) == sorted(m.id for m in order)
        cut = order[80].pinned_at
        assert cut is not None
        before = [p async for p in channel.pins(limit=None, before=cut)]
        assert [p.id for p in before] == [m.id for m in reversed(order) if m.pinned_at and m.pinned_at < cut]
        assert [p.id async for p in channel.pins(limit=7)] == [m.id for m in reversed(order)][:7]
