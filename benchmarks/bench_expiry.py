"""Expiring messages: recording throughput, lateness past due, and delete requests per channel.

Run: ``python benchmarks/bench_expiry.py`` (or ``python -m benchmarks`` for all). Prints each result
next to its target and exits 1 if a target is missed. What is measured:

1. **recording**: the recording path of the expiry service (``message_posted`` -> buffered group
   commit -> SQLite file in WAL mode), driven the way discord.py drives it (one task per
   MESSAGE_CREATE) at a paced offered load for several seconds. Target: at least 2,000 messages per
   second sustained, every ``message_posted`` returning only after its row was committed; the p99
   time from arrival to commit is reported (that is what "durable within N ms" means).
2. **lateness**: the real holdspace bot against the sandbox on the real clock; messages in several
   rooms with a short ttl, posted in bursts so Discord's limits do not bind. Lateness = the time the
   delete request that removed a message finished, minus its due time. Target: p99 at most 1 s.
3. **requests**: the real bot against the sandbox on a fake clock; N young messages per channel.
   Target: at most ceil(N/100) delete requests per channel (all bulk, none single).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.app import HoldspaceBot
from bot.bootstrap import open_database
from bot.clock import Clock, FakeClock, SystemClock
from bot.config import load_settings
from bot.core import overwrites as ow
from bot.core.expiry import snowflake_floor
from bot.core.records import GroupInfo
from bot.crypto import KeyRing
from bot.sandbox import FAST_CLIENT_OPTIONS, Sandbox, point_discord_at
from bot.sandbox import permissions as P
from bot.sandbox.gateway import GUILD_MEMBERS
from bot.sandbox.world import Channel, Guild, User
from bot.services.expiry import ExpiryService
from bot.state import State
from bot.storage import expiry as store
from bot.storage import groups as group_store
from bot.storage.db import Database
from bot.storage.expiry import Room
from bot.storage.migrations import migrate

RECORD_TARGET = 2000.0  # messages per second
LATENESS_TARGET = 1.0  # seconds, p99
BOT_PERMISSIONS = (
    P.VIEW_CHANNEL
    | P.SEND_MESSAGES
    | P.MANAGE_MESSAGES
    | P.READ_MESSAGE_HISTORY
    | P.MANAGE_CHANNELS
    | P.MANAGE_ROLES
    | P.MOVE_MEMBERS
    | P.CONNECT
    | P.EMBED_LINKS
    | P.VIEW_AUDIT_LOG
    | P.KICK_MEMBERS
)

results: list[tuple[str, str, str, bool]] = []


def report(name: str, value: str, target: str, ok: bool) -> None:
    results.append((name, value, target, ok))
    print(f"{'ok  ' if ok else 'MISS'} {name}: {value} (target: {target})", flush=True)


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]


# -- 1. recording ------------------------------------------------------------------------------------


class _Scheduler:
    def wake(self) -> None:
        pass


class _NoApi:
    async def bulk_delete(self, channel_id: int, message_ids: Any) -> None:
        raise AssertionError("nothing is deleted in the recording benchmark")

    async def delete(self, channel_id: int, message_id: int) -> None:
        raise AssertionError("nothing is deleted in the recording benchmark")


async def bench_recording(tmp: Path, *, rate: float = 3000.0, seconds: float = 6.0, channels: int = 4) -> None:
    db = await Database.open(tmp / "record.sqlite3")
    await migrate(db)
    state = State()
    group = GroupInfo(id="g", guild_id=1, name="bench", text_channel_id=10, voice_channel_id=11, ttl=timedelta(hours=1))
    state.put_group(group)
    clock = SystemClock()
    fake_bot = SimpleNamespace(db=db, clock=clock, state=state, scheduler=_Scheduler(), http=None)
    service = ExpiryService(fake_bot, api=_NoApi())  # type: ignore[arg-type]
    ids = [10, 11, *range(100, 100 + channels - 2)]
    for channel_id in ids:
        await store.add_room(db, Room(channel_id, "g", None if channel_id < 100 else 10, 0))
        service.synced.add(channel_id)
    await service.load()

    total = int(rate * seconds)
    latencies: list[float] = []
    base = snowflake_floor(datetime.now(UTC))

    async def one(i: int) -> None:
        arrived = time.perf_counter()
        await service.message_posted(ids[i % len(ids)], base + i)
        latencies.append(time.perf_counter() - arrived)

    tasks: list[asyncio.Task[None]] = []
    start = time.perf_counter()
    tick = 0.01
    per_tick = max(1, int(rate * tick))
    sent = 0
    while sent < total:
        for _ in range(min(per_tick, total - sent)):
            tasks.append(asyncio.create_task(one(sent)))
            sent += 1
        next_tick = start + (sent / rate)
        await asyncio.sleep(max(0.0, next_tick - time.perf_counter()))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    stored = await db.fetchval("SELECT COUNT(*) FROM expiry_messages")
    await db.close()
    achieved = total / elapsed
    report(
        "recording, sustained",
        f"{achieved:,.0f} messages/s over {elapsed:.1f} s ({total:,} messages, {service.recorder.batches} commits)",
        f">= {RECORD_TARGET:,.0f}/s",
        achieved >= RECORD_TARGET * 0.98 and stored == total and achieved >= rate * 0.9,
    )
    report(
        "recording, durable",
        f"{stored:,} of {total:,} rows committed when every call returned; arrival->commit p50 "
        f"{statistics.median(latencies) * 1000:.1f} ms, p99 {p99(latencies) * 1000:.1f} ms",
        "all rows committed before return",
        stored == total,
    )

    # Burst: as fast as possible, to show the head-room.
    db = await Database.open(tmp / "burst.sqlite3")
    await migrate(db)
    fake_bot.db = db
    service = ExpiryService(fake_bot, api=_NoApi())  # type: ignore[arg-type]
    await store.add_room(db, Room(10, "g", None, 0))
    await service.load()
    service.synced.add(10)
    burst = 20000
    start = time.perf_counter()
    await asyncio.gather(*(service.message_posted(10, base + i) for i in range(burst)))
    elapsed = time.perf_counter() - start
    await db.close()
    report("recording, burst (head-room)", f"{burst / elapsed:,.0f} messages/s", "information only", True)


# -- the real bot against the sandbox -------------------------------------------------------------------


@dataclasses.dataclass
class World:
    sb: Sandbox
    guild: Guild
    owner: User
    token: str
    app: Any


def build_world(sb: Sandbox) -> World:
    owner = sb.create_user("owner")
    guild = sb.create_guild("Practice", owner=owner)
    app = sb.create_application("holdspace", owner=owner, intents_enabled=GUILD_MEMBERS)
    guild.add_bot(app, permissions=BOT_PERMISSIONS)
    return World(sb, guild, owner, app.token, app)


@contextlib.asynccontextmanager
async def running_bot(sb: Sandbox, world: World, clock: Clock, tmp: Path) -> AsyncIterator[HoldspaceBot]:
    ring = KeyRing.generate()
    settings = dataclasses.replace(load_settings(None), database=tmp / f"hs-{uuid.uuid4().hex}.db")
    db = await open_database(settings, ring)
    bot = HoldspaceBot(settings=settings, db=db, ring=ring, clock=clock, **FAST_CLIENT_OPTIONS)
    point_discord_at(sb)
    task = asyncio.create_task(bot.start(world.token))
    await asyncio.wait_for(bot.wait_until_ready(), 10)
    try:
        yield bot
    finally:
        await bot.close()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
        await db.close()


async def make_group(bot: HoldspaceBot, world: World, name: str, ttl: timedelta) -> tuple[GroupInfo, Channel]:
    guild = world.guild
    text = guild.create_text_channel(name)
    voice = guild.create_voice_channel(f"{name}-voice")
    me = guild.bot_member(world.app)
    assert me is not None
    for channel in (text, voice):
        guild.set_overwrite(channel, guild.everyone, deny=ow.EVERYONE_DENY)
        guild.set_overwrite(channel, me, allow=ow.BOT_ALLOW)
    await world.sb.wait_until(
        lambda: all(len(getattr(bot.get_channel(c.id), "overwrites", {})) == 2 for c in (text, voice)), 5
    )
    group = GroupInfo.with_defaults(
        bot.settings.defaults,
        id=uuid.uuid4().hex,
        guild_id=guild.id,
        name=name,
        text_channel_id=text.id,
        voice_channel_id=voice.id,
        ttl=ttl,
    )
    group = await group_store.insert_group(bot.db, bot.ring, group, "Be kind.", bot.clock.now())
    bot.state.put_group(group)
    cog: Any = bot.get_cog("Expiry")
    await cog.track_group(group)
    return group, text


async def wait_for(predicate: Any, timeout: float) -> None:
    """Poll ``predicate`` (sync or async) every 10 ms until it holds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark condition not met")
        await asyncio.sleep(0.01)


async def bench_lateness(tmp: Path, *, rooms: int = 4, bursts: int = 8, per_burst: int = 25) -> None:
    clock = SystemClock()
    ttl = timedelta(seconds=2)
    async with Sandbox(clock=clock, check_spec=False) as sb:
        world = build_world(sb)
        async with running_bot(sb, world, clock, tmp) as bot:
            channels = [(await make_group(bot, world, f"room{i}", ttl))[1] for i in range(rooms)]
            due: dict[int, float] = {}
            for _ in range(bursts):
                for channel in channels:
                    for message in sb.post_many(channel, world.owner, per_burst):
                        due[message.id] = (message.created_at + ttl).timestamp()
                await asyncio.sleep(0.5)
            all_ids = set(due)
            await wait_for(lambda: all(not c.messages for c in channels), 30)
            mono_to_wall = time.time() - time.monotonic()
            deleted_at: dict[int, float] = {}
            for rec in sb.requests:
                if rec.status is None or rec.status >= 300 or rec.finished is None:
                    continue
                if rec.method == "POST" and rec.path.endswith("/bulk-delete"):
                    for raw in (rec.json or {}).get("messages", []):
                        deleted_at.setdefault(int(raw), rec.finished + mono_to_wall)
                elif rec.method == "DELETE" and "/messages/" in rec.path:
                    deleted_at.setdefault(int(rec.path.rsplit("/", 1)[1]), rec.finished + mono_to_wall)
            late = [deleted_at[i] - due[i] for i in all_ids if i in deleted_at]
            limited = len(sb.requests_matching(status=429))
    report(
        "lateness past due",
        f"p50 {statistics.median(late):.3f} s, p99 {p99(late):.3f} s, max {max(late):.3f} s "
        f"({len(late)} messages in {rooms} rooms; {limited} rate-limited requests)",
        f"p99 <= {LATENESS_TARGET:.0f} s",
        len(late) == len(all_ids) and p99(late) <= LATENESS_TARGET,
    )


async def bench_requests(tmp: Path, *, per_channel: tuple[int, ...] = (250, 1000, 101)) -> None:
    clock = FakeClock()
    ttl = timedelta(hours=1)
    async with Sandbox(clock=clock, check_spec=False) as sb:
        world = build_world(sb)
        async with running_bot(sb, world, clock, tmp) as bot:
            made = [await make_group(bot, world, f"req{i}", ttl) for i in range(len(per_channel))]
            for (_, channel), count in zip(made, per_channel, strict=True):
                sb.post_many(channel, world.owner, count)
            total = sum(per_channel)

            async def recorded() -> bool:
                return int(await bot.db.fetchval("SELECT COUNT(*) FROM expiry_messages") or 0) >= total

            await wait_for(recorded, 30)
            clock.advance(ttl + timedelta(seconds=1))
            await wait_for(lambda: all(not c.messages for _, c in made), 60)
            ok = True
            parts = []
            for (_, channel), count in zip(made, per_channel, strict=True):
                bulk = [
                    r
                    for r in sb.requests_matching("POST", "/channels/{channel_id}/messages/bulk-delete")
                    if r.path == f"/channels/{channel.id}/messages/bulk-delete" and r.status == 204
                ]
                single = [
                    r
                    for r in sb.requests_matching("DELETE", "/channels/{channel_id}/messages/{message_id}")
                    if r.path.startswith(f"/channels/{channel.id}/")
                ]
                calls = len(bulk) + len(single)
                ok = ok and calls <= math.ceil(count / 100) and not single
                parts.append(f"{count} -> {calls}")
    report(
        "delete requests per channel (young messages)",
        ", ".join(parts),
        "<= ceil(N/100), no single deletes",
        ok,
    )


async def main() -> int:
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as raw:
        tmp = Path(raw)
        await bench_recording(tmp)
        await bench_requests(tmp)
        await bench_lateness(tmp)
    missed = [name for name, _, _, ok in results if not ok]
    if missed:
        print("expiry: targets missed: " + ", ".join(missed))
        return 1
    print("expiry: all targets met")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
