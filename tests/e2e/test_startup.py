"""The real holdspace bot logs in to the sandbox, syncs its commands only when they changed, and
stops cleanly; intents never include message content."""

from __future__ import annotations

from bot.sandbox.gateway import MESSAGE_CONTENT
from tests.e2e.conftest import Holdspace


async def test_logs_in_and_syncs_commands_once(holdspace: Holdspace) -> None:
    sb = holdspace.sb
    await holdspace.start()
    syncs = sb.requests_matching("PUT", "/applications/{application_id}/commands")
    assert len(syncs) == 1
    assert holdspace.world.app.global_commands, "holdspace's slash commands reached Discord"
    await holdspace.restart()
    assert len(sb.requests_matching("PUT", "/applications/{application_id}/commands")) == 1
    await holdspace.stop()
    await holdspace.start(sync=True)
    assert len(sb.requests_matching("PUT", "/applications/{application_id}/commands")) == 2


async def test_never_asks_for_message_content(hs: Holdspace) -> None:
    assert hs.bot is not None
    assert not hs.bot.intents.message_content
    identify = [s for s in hs.sb.gateway.sessions.values() if s.app is hs.world.app]
    assert identify and all(not (s.intents & MESSAGE_CONTENT) for s in identify)


async def test_answers_a_slash_command_ephemerally(hs: Holdspace) -> None:
    handle = await hs.command(hs.member("alice"), None, "privacy notice")
    assert handle.ephemeral
    assert "never reads what you write" in (handle.content or "")


async def test_holdspace_syncs_answers_a_command_and_disconnects_from_voice(holdspace: Holdspace) -> None:
    """The sandbox's acceptance point, with the real holdspace bot and nothing of discord.py mocked."""
    from tests.e2e.test_setup import rooms, started_with_group

    hs = holdspace
    _, group = await started_with_group(hs)
    names = {c["name"] for c in hs.world.app.global_commands}
    assert {"setup", "group", "consent", "guard", "expiry", "session", "cases", "report"} <= names
    _, voice = rooms(hs, group)
    owner = hs.member("owner")  # the owner bypasses every overwrite, but has not consented
    hs.guild.join_voice(owner, voice)
    request = await hs.sb.wait_for_request("PATCH", "/guilds/{guild_id}/members/{user_id}")
    assert request.json == {"channel_id": None}
    assert hs.guild.voice_channel_of(owner) is None
