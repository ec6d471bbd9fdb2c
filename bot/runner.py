"""Run the bot against Discord: open the checked database, connect, close everything on the way out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import discord

from bot.app import HoldspaceBot
from bot.bootstrap import load_key_ring, open_database
from bot.clock import SystemClock
from bot.config import Settings
from bot.errors import HoldspaceError

log = logging.getLogger(__name__)


async def run_bot(settings: Settings, token: str, *, sync: bool = False) -> None:
    ring = load_key_ring(settings)
    db = await open_database(settings, ring)
    bot = HoldspaceBot(settings=settings, db=db, ring=ring, clock=SystemClock(), sync=sync)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(bot.close()))
    try:
        async with bot:
            await bot.start(token)
    except discord.LoginFailure:
        raise HoldspaceError(
            "Discord refused the token; set HOLDSPACE_TOKEN to the bot token from the developer portal"
        ) from None
    except discord.PrivilegedIntentsRequired:
        raise HoldspaceError(
            "Discord refused the Server Members intent; switch it on in the developer portal "
            "(Bot > Privileged Gateway Intents > Server Members Intent)"
        ) from None
    finally:
        await db.close()
        log.info("holdspace stopped")
