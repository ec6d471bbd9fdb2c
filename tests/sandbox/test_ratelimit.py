"""Rate-limit headers and injected faults: discord.py waits and retries rather than failing."""

from __future__ import annotations

import discord
import pytest

from bot.sandbox import FAST_CLIENT_OPTIONS, RateLimitConfig, Sandbox, running
from bot.sandbox.ratelimit import RateLimiter
from tests.conftest import StandardWorld

SEND = "/channels/{channel_id}/messages"


def client() -> discord.Client:
    return discord.Client(intents=discord.Intents.default(), **FAST_CLIENT_OPTIONS)


async def test_injected_429_makes_client_wait_and_retry(sandbox: Sandbox, world: StandardWorld) -> None:
    ch = world.guild.create_text_channel("general")
    async with running(client(), world.token, sandbox) as c:
        channel = c.get_channel(ch.id)
        assert isinstance(channel, discord.TextChannel)
        sandbox.faults.rate_limit("POST", SEND, times=1, retry_after=0.05)
        msg = await channel.send("hello")
        assert ch.get_message(msg.id) is not None
        statuses = [r.status for r in sandbox.requests_matching("POST", SEND)]
        assert statuses == [429, 200]
        limited = sandbox.requests_matching("POST", SEND, status=429)[0]
        assert limited.response["retry_after"] == 0.05 and limited.response["global"] is False


async def test_injected_global_429_is_retried(sandbox: Sandbox, world: StandardWorld) -> None:
    ch = world.guild.create_text_channel("general")
    async with running(client(), world.token, sandbox) as c:
        channel = c.get_channel(ch.id)
        assert isinstance(channel, discord.TextChannel)
        sandbox.faults.rate_limit(None, ".*", times=1, retry_after=0.05, is_global=True)
        await channel.send("hello")
        assert [r.status for r in sandbox.requests_matching("POST", SEND)] == [429, 200]


async def test_429_headers(sandbox: Sandbox, world: StandardWorld) -> None:
    sandbox.faults.rate_limit("GET", "/users/@me", retry_after=0.25, is_global=True)
    status, body, headers = await sandbox.api("GET", "/users/@me", token=world.token)
    assert status == 429 and body["retry_after"] == 0.25 and body["global"] is True
    for h in ("Via", "Retry-After", "X-RateLimit-Global", "X-RateLimit-Scope", "X-RateLimit-Limit",
              "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Reset-After", "X-RateLimit-Bucket"):
        assert h in headers
    assert headers["X-RateLimit-Scope"] == "global"


async def test_bucket_exhaustion_makes_client_wait_without_429(clock: object) -> None:
    from tests.conftest import build_standard_world

    config = RateLimitConfig(route_limit=2, route_window=0.1)
    async with Sandbox(rate_limits=config) as sb:
        w = build_standard_world(sb)
        ch = w.guild.create_text_channel("general")
        async with running(client(), w.token, sb) as c:
            channel = c.get_channel(ch.id)
            assert isinstance(channel, discord.TextChannel)
            for i in range(5):
                await channel.send(f"m{i}")
        sends = sb.requests_matching("POST", SEND)
        assert len(sends) == 5 and len(ch.messages) == 5
        assert not sb.requests_matching("POST", SEND, status=429)  # the headers made it wait
        assert not sb.spec_violations


async def test_global_limit_per_bot() -> None:
    limiter = RateLimiter(RateLimitConfig(global_limit=3))
    verdicts = [limiter.check("GET", "/users/@me", "", 1) for _ in range(4)]
    assert [v.limited for v in verdicts] == [False, False, False, True]
    assert verdicts[-1].scope == "global"
    # interaction endpoints are exempt
    assert not limiter.check("POST", "/interactions/{interaction_id}/{interaction_token}/callback", "", 1,
                             exempt_global=True).limited


async def test_5xx_and_latency_faults(sandbox: Sandbox, world: StandardWorld) -> None:
    sandbox.faults.fail("GET", "/users/@me", 503, times=1)
    assert (await sandbox.api("GET", "/users/@me", token=world.token))[0] == 503
    assert (await sandbox.api("GET", "/users/@me", token=world.token))[0] == 200
    sandbox.faults.add_latency(0.05, "GET", "/users/@me")
    await sandbox.api("GET", "/users/@me", token=world.token)
    assert sandbox.requests[-1].duration >= 0.05


async def test_503_surfaces_as_server_error(sandbox: Sandbox, world: StandardWorld) -> None:
    ch = world.guild.create_text_channel("general")
    async with running(client(), world.token, sandbox) as c:
        channel = c.get_channel(ch.id)
        assert isinstance(channel, discord.TextChannel)
        sandbox.faults.fail("POST", SEND, 503)
        with pytest.raises(discord.DiscordServerError):
            await channel.send("x")
