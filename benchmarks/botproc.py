"""``holdspace run`` pointed at the sandbox: the bot process of the benchmarks.

Everything is production's (the ``holdspace`` command line, its configuration file, client options
and logging); the only difference is where discord.py connects: ``HOLDSPACE_BENCH_API`` (REST base
URL) and ``HOLDSPACE_BENCH_GATEWAY``. ``HOLDSPACE_BENCH_PROFILE=FILE`` runs it under cProfile and
writes the statistics to FILE when it stops. ``HOLDSPACE_BENCH_BREAK`` names deliberate breakages (see
``BREAKAGES``, comma-separated) that show a benchmark's target can be missed; they are patched in
here so that holdspace's code stays untouched.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sys
from collections.abc import Callable
from typing import Any


def _slow_disconnect() -> None:
    """Wait 1.1 s before every disconnect request (a disconnect queued behind other work)."""
    import discord.http

    original = discord.http.HTTPClient.edit_member

    @functools.wraps(original)
    async def edit_member(self: Any, guild_id: int, user_id: int, *, reason: str | None = None, **fields: Any) -> Any:
        if "channel_id" in fields and fields["channel_id"] is None:
            await asyncio.sleep(1.1)
        return await original(self, guild_id, user_id, reason=reason, **fields)

    setattr(discord.http.HTTPClient, "edit_member", edit_member)  # noqa: B010


def _serial_disconnect() -> None:
    """Disconnects one at a time, each followed by 1.1 s of other work before the next may start
    (a disconnect waiting for the previous person's prompt, audit entry and case)."""
    import discord.http

    original = discord.http.HTTPClient.edit_member
    lock: asyncio.Lock | None = None

    @functools.wraps(original)
    async def edit_member(self: Any, guild_id: int, user_id: int, *, reason: str | None = None, **fields: Any) -> Any:
        nonlocal lock
        if not ("channel_id" in fields and fields["channel_id"] is None):
            return await original(self, guild_id, user_id, reason=reason, **fields)
        lock = lock or asyncio.Lock()
        async with lock:
            try:
                return await original(self, guild_id, user_id, reason=reason, **fields)
            finally:
                await asyncio.sleep(1.1)

    setattr(discord.http.HTTPClient, "edit_member", edit_member)  # noqa: B010


def _slow_start() -> None:
    """A 2 s stall in start-up before holdspace connects."""
    from bot.app import HoldspaceBot

    original = HoldspaceBot.setup_hook

    async def setup_hook(self: Any) -> None:
        await asyncio.sleep(2.0)
        await original(self)

    setattr(HoldspaceBot, "setup_hook", setup_hook)  # noqa: B010


def _slow_restore() -> None:
    """A 1.1 s stall before the guard looks at a changed group room (a restore queued behind other work)."""
    from cogs.guard.rooms import RoomIntegrity

    original = RoomIntegrity._restore_room

    @functools.wraps(original)
    async def _restore_room(self: Any, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(1.1)
        return await original(self, *args, **kwargs)

    setattr(RoomIntegrity, "_restore_room", _restore_room)  # noqa: B010


_BALLAST: list[bytearray] = []


def _ballast() -> None:
    """150 MiB held for the life of the process (a cache that never shrinks)."""
    block = bytearray(150 * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1  # touch every page so it counts in RSS
    _BALLAST.append(block)


def _slow_commit() -> None:
    """Every database COMMIT takes 1.1 s longer (a slow disk, or one commit per message)."""
    import aiosqlite

    original = aiosqlite.Connection.execute

    @functools.wraps(original)
    async def execute(self: Any, sql: str, parameters: Any = None) -> Any:
        if sql.strip().upper() == "COMMIT":
            await asyncio.sleep(1.1)
        return await original(self, sql, parameters)

    setattr(aiosqlite.Connection, "execute", execute)  # noqa: B010


def _batches_of_50() -> None:
    """Bulk deletes sent in batches of at most 50 messages."""
    import discord.http

    original = discord.http.HTTPClient.delete_messages

    @functools.wraps(original)
    async def delete_messages(self: Any, channel_id: int, message_ids: Any, *, reason: str | None = None) -> Any:
        ids = list(message_ids)
        for start in range(0, len(ids), 50):
            part = ids[start : start + 50]
            if len(part) == 1:
                await self.delete_message(channel_id, part[0], reason=reason)
            else:
                await original(self, channel_id, part, reason=reason)

    setattr(discord.http.HTTPClient, "delete_messages", delete_messages)  # noqa: B010


def _single_deletes() -> None:
    """No batching: every expired message costs its own delete request."""
    import discord.http

    original_delete = discord.http.HTTPClient.delete_message

    async def delete_messages(self: Any, channel_id: int, message_ids: Any, *, reason: str | None = None) -> Any:
        for message_id in message_ids:
            await original_delete(self, channel_id, message_id, reason=reason)

    setattr(discord.http.HTTPClient, "delete_messages", delete_messages)  # noqa: B010


def _slow_delete() -> None:
    """A 2 s stall before every delete request (a pass stuck behind something slow). Lanes send 0.5 s
    before the batching window is over, so a stall longer than 1.5 s plus the request misses the
    "window + 1 s" bound."""
    import discord.http

    for name in ("delete_messages", "delete_message"):
        original = getattr(discord.http.HTTPClient, name)

        def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(original)
            async def stalled(self: Any, *args: Any, **kwargs: Any) -> Any:
                await asyncio.sleep(2.0)
                return await original(self, *args, **kwargs)

            return stalled

        setattr(discord.http.HTTPClient, name, wrap(original))


def _slow_overwrites() -> None:
    """A 0.5 s stall before every overwrite edit (a lock waiting on a slow pass)."""
    import discord.http

    for name in ("edit_channel_permissions", "delete_channel_permissions"):
        original = getattr(discord.http.HTTPClient, name)

        def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(original)
            async def stalled(self: Any, *args: Any, **kwargs: Any) -> Any:
                await asyncio.sleep(0.5)
                return await original(self, *args, **kwargs)

            return stalled

        setattr(discord.http.HTTPClient, name, wrap(original))


def _follow_ups_first() -> None:
    """Follow-ups (prompt, audit entry, case) start as soon as each disconnect is done, all at once,
    instead of after the burst's disconnects: the disconnects still waiting compete with them."""
    from bot.services import departures

    async def no_wait(self: Any) -> None:
        return None

    departures.FOLLOW_UPS = 1_000_000
    setattr(departures.Departures, "quiet", no_wait)  # noqa: B010


#: name -> (what it does, the figures it must make miss)
BREAKAGES: dict[str, tuple[Callable[[], None], str]] = {
    "slow-disconnect": (_slow_disconnect, "gate floor, withdrawal, role change, start-up first disconnect"),
    "follow-ups-first": (_follow_ups_first, "gate floor, burst of 100 people"),
    "serial-disconnect": (_serial_disconnect, "gate and start-up under Discord's limits (last disconnect)"),
    "slow-start": (_slow_start, "start-up to first enforcement"),
    "slow-restore": (_slow_restore, "a group room opened by hand restored"),
    "ballast": (_ballast, "RSS"),
    "slow-commit": (_slow_commit, "ingest through the gateway; recording, sustained"),
    # Applied to the recording benchmark, which runs the recorder in the benchmark's own process.
    "commit-after-return": (lambda: None, "recording, durable (each call answered before its commit)"),
    "batches-of-50": (_batches_of_50, "delete calls per 100 at 200 msg/s"),
    "single-deletes": (_single_deletes, "delete calls per 100 at chat rate"),
    "slow-delete": (_slow_delete, "expiry lateness"),
    "slow-overwrites": (_slow_overwrites, "session-lock lateness"),
}


def apply_breakages(names: str) -> None:
    for name in filter(None, (n.strip() for n in names.split(","))):
        if name in BREAKAGES:
            BREAKAGES[name][0]()


def main() -> int:
    import yarl
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

    Route.BASE = os.environ["HOLDSPACE_BENCH_API"]
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["HOLDSPACE_BENCH_GATEWAY"])
    apply_breakages(os.environ.get("HOLDSPACE_BENCH_BREAK", ""))

    from bot.cli import main as holdspace

    profile_to = os.environ.get("HOLDSPACE_BENCH_PROFILE", "")
    if not profile_to:
        return holdspace(sys.argv[1:] or ["run"])
    # Where holdspace spends its time under a benchmark's load (cProfile, written when it stops).
    import cProfile

    profiler = cProfile.Profile()
    try:
        return int(profiler.runcall(holdspace, sys.argv[1:] or ["run"]) or 0)
    finally:
        profiler.dump_stats(profile_to)


if __name__ == "__main__":
    raise SystemExit(main())
