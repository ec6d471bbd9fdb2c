"""Running a real discord.py client against a sandbox inside a test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from .settle import WAIT_TIMEOUT

if TYPE_CHECKING:
    import discord

    from .server import Sandbox

#: Client options that keep start-up fast against the sandbox.
FAST_CLIENT_OPTIONS: dict[str, Any] = {"guild_ready_timeout": 0.05, "chunk_guilds_at_startup": False}


@contextlib.asynccontextmanager
async def running(client: discord.Client, token: str, sb: Sandbox, *,
                  timeout: float = WAIT_TIMEOUT) -> AsyncIterator[discord.Client]:
    """Start ``client`` against ``sb`` (points discord.py there), wait for on_ready, close on exit.

    If the client fails to start (bad token, disallowed intents), its exception is raised here.
    """
    from .server import point_discord_at

    point_discord_at(sb)
    task = asyncio.create_task(client.start(token))
    ready = asyncio.create_task(client.wait_until_ready())
    try:
        done, _ = await asyncio.wait({task, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()  # raises the start-up error
            raise RuntimeError("the client stopped before it was ready")
        if ready not in done:
            raise TimeoutError(f"the client was not ready within {timeout}s")
        yield client
    finally:
        ready.cancel()
        if not client.is_closed():
            await client.close()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(task, timeout)
