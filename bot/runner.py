"""Run the bot against Discord: open the checked database, connect, close everything on the way out.

Start-up failures the operator must fix (refused token, missing intent, Discord unreachable) end as
one-line :class:`HoldspaceError`s. Once connected, a lost connection is retried by discord.py with
exponential back-off for as long as it takes; the health heartbeat says so meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Callable
from typing import Any

import aiohttp
import discord

from bot.app import HoldspaceBot
from bot.bootstrap import load_key_ring, open_database
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.errors import HoldspaceError
from bot.health import HeartbeatWriter, heartbeat_path
from bot.logs import one_line_reconnects

log = logging.getLogger("holdspace")


def quiet_voice_warnings() -> None:
    """holdspace never joins a voice channel, so discord.py's missing-voice-library warnings are noise."""
    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False


def settle_heap() -> None:
    """Leave what holdspace holds once connected (the servers' members, channels and roles, the loaded
    records) out of the garbage collector's full passes. With a few thousand members cached, one full
    pass takes tens of milliseconds, and a pass that fell inside a burst of joins held back every
    disconnect after it. Run at every READY: the caches of an earlier connection are collected first."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def ready_line(bot: HoldspaceBot) -> str:
    groups = sum(len(bot.state.groups_of_guild(guild.id)) for guild in bot.guilds)
    return f"ready: {_plural(len(bot.guilds), 'server')}, {_plural(groups, 'group')}"


def _unreachable(exc: BaseException) -> HoldspaceError:
    reason = " ".join(str(exc).split()) or type(exc).__name__
    return HoldspaceError(
        f"cannot reach Discord ({reason}); check this machine's network, DNS and firewall, then start again"
    )


async def run_bot(
    settings: Settings,
    token: str,
    *,
    sync: bool = False,
    clock: Clock | None = None,
    on_created: Callable[[HoldspaceBot], None] | None = None,
    **client_options: Any,
) -> None:
    """Run until stopped (SIGTERM, Ctrl-C, cancellation). ``on_created`` gets the bot before it connects."""
    quiet_voice_warnings()  # before the client exists: discord.py warns in its constructor
    one_line_reconnects()
    ring = load_key_ring(settings)
    db = await open_database(settings, ring)
    bot = HoldspaceBot(settings=settings, db=db, ring=ring, clock=clock or SystemClock(), sync=sync, **client_options)
    heartbeat = HeartbeatWriter(bot, heartbeat_path(settings.database))
    heartbeat.attach()
    await heartbeat.write()  # "starting" replaces whatever an earlier run left behind

    async def announce_ready() -> None:
        settle_heap()
        log.info("%s", ready_line(bot))

    bot.add_listener(announce_ready, "on_ready")
    if on_created is not None:
        on_created(bot)
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(bot.close()))
            handled.append(sig)
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
    except discord.DiscordServerError as exc:
        raise HoldspaceError(
            f"Discord answered {exc.status} at start-up and may be down; start again later"
        ) from None
    except (TimeoutError, aiohttp.ClientError, OSError, discord.GatewayNotFound) as exc:
        raise _unreachable(exc) from None
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
        with contextlib.suppress(Exception):
            await heartbeat.stop()
        await db.close()
        log.info("holdspace stopped")
