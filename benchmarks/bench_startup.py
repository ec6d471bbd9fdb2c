"""Start-up: how soon holdspace enforces after its process starts, and how it grows with the server.

- **startup**: people without consent already in the voice rooms when ``holdspace run`` starts (2 in
  each group's room; 1 group and 50 groups), Discord's limits on. Process start -> first disconnect
  request; that guild's GUILD_CREATE leaving the sandbox -> first disconnect; -> last disconnect,
  against the least time the limits allow for that many disconnects in one server.
- **rss**: the bot process's resident memory once it is connected and settled, at 5,000 members /
  50 groups, 20,000 / 200 and 50,000 / 500 (10 consenting members per group), and its growth.
- **catchup**: messages posted in the group rooms while holdspace was offline (1,000, 5,000 and
  20,000 over 50 rooms), Discord's limits on: GUILD_CREATE -> every one of them recorded for expiry,
  and the history requests it took.
"""

from __future__ import annotations

import asyncio
import math
import os
import sqlite3
import time

from benchmarks.harness import (
    DISCORD_LIMITS,
    NO_LIMITS,
    RESULTS,
    BotProcess,
    disconnects,
    holdspace,
    least_time,
    ms,
    requests_since,
    set_limits,
    stage,
    wait_for,
    warm_up,
    within_least,
)

START_TARGET = 2.0
FIRST_TARGET = 0.100
RSS_TARGET = 120.0
CATCHUP_TIMEOUT = 60.0


async def startup(groups: int) -> None:
    per_room = 2
    async with stage(groups=groups, per_group=4, others=groups * per_room) as st:
        await warm_up(st)
        people = {}
        for i, g in enumerate(st.groups):
            for m in st.others[i * per_room : (i + 1) * per_room]:
                st.guild.set_voice(m, g.voice)
                people[m.id] = g
        set_limits(st, DISCORD_LIMITS)
        least = least_time(len(people), DISCORD_LIMITS)
        bot = BotProcess(st)
        bot.start()
        try:
            ids = set(people)
            await wait_for(lambda: len(disconnects(st, bot.spawned_at, ids)) == len(ids), least * 1.5 + 30, poll=0.05)
            seen = disconnects(st, bot.spawned_at, ids)
            guild_create = st.frames.first("GUILD_CREATE", bot.spawned_at)
        finally:
            await bot.stop()
    label = f"{groups} group{'s' if groups > 1 else ''}, {len(people)} people in voice"
    got = [seen[p] for p in people if p in seen]
    missing = len(people) - len(got)
    if not got or guild_create is None:
        RESULTS.add(
            f"startup_{groups}g_first_enforcement_s",
            None,
            "s",
            f"no disconnect at all ({label})",
            f"<= {START_TARGET:.0f} s",
            False,
        )
        return
    first, last = min(got), max(got)
    RESULTS.add(
        f"startup_{groups}g_first_enforcement_s",
        round(first - bot.spawned_at, 3),
        "s",
        f"process start -> first disconnect {first - bot.spawned_at:.2f} s ({label}; GUILD_CREATE "
        f"{guild_create - bot.spawned_at:.2f} s after start)",
        f"<= {START_TARGET:.0f} s",
        first - bot.spawned_at <= START_TARGET,
    )
    RESULTS.add(
        f"startup_{groups}g_first_disconnect_after_guild_create_s",
        round(first - guild_create, 4),
        "s",
        f"GUILD_CREATE -> first disconnect {ms(first - guild_create)} ({label})",
        f"<= {ms(FIRST_TARGET)}",
        first - guild_create <= FIRST_TARGET,
    )
    ok, bound = within_least(last - guild_create, least)
    RESULTS.add(
        f"startup_{groups}g_last_disconnect_s",
        round(last - guild_create, 3),
        "s",
        f"GUILD_CREATE -> last disconnect {last - guild_create:.2f} s; least time the limits allow "
        f"{least:.1f} s ({label})" + (f"; {missing} never disconnected" if missing else ""),
        f"<= {bound:.2f} s (least time + 10%)",
        ok and not missing,
    )


async def rss(sizes: list[tuple[int, int]]) -> None:
    points: list[tuple[int, float]] = []
    for members, groups in sizes:
        per_group = 10
        async with stage(groups=groups, per_group=per_group, others=members - groups * per_group) as st:
            await warm_up(st)
            set_limits(st, NO_LIMITS)
            async with holdspace(st, quiet=2.0) as bot:
                await asyncio.sleep(1.0)
                current, peak = bot.rss_mib()
        points.append((members, current))
        key = f"rss_{members}_members_mib"
        if members == 5000:
            RESULTS.add(
                key,
                round(current, 1),
                "MiB",
                f"{current:.1f} MiB (peak {peak:.1f}) at {members:,} members, {groups} groups",
                f"<= {RSS_TARGET:.0f} MiB",
                current <= RSS_TARGET,
            )
        else:
            RESULTS.add(
                key,
                round(current, 1),
                "MiB",
                f"{current:.1f} MiB (peak {peak:.1f}) at {members:,} members, {groups} groups",
            )
    if len(points) >= 2:
        (m0, r0), (m1, r1) = points[0], points[-1]
        slope = (r1 - r0) / ((m1 - m0) / 1000)
        RESULTS.add(
            "rss_growth_mib_per_1000_members",
            round(slope, 2),
            "MiB",
            f"{slope:.2f} MiB per 1,000 members (with groups in step) between {m0:,} and {m1:,}; "
            + ", ".join(f"{m:,}: {r:.0f} MiB" for m, r in points),
        )


async def catchup(sizes: list[int], rooms: int = 50) -> None:
    points: list[tuple[int, float, int]] = []
    for total in sizes:
        async with stage(groups=rooms, per_group=2) as st:
            await warm_up(st)
            per_room = total // rooms
            author = st.groups[0].members[0]
            for g in st.groups:
                st.sb.post_many(g.text, g.members[0] if g.members else author, per_room)
            set_limits(st, DISCORD_LIMITS)
            async with holdspace(st, quiet=None) as bot:
                conn = sqlite3.connect(f"file:{st.database}?mode=ro", uri=True)

                def recorded(conn: sqlite3.Connection = conn, want: int = per_room * rooms) -> bool:
                    return int(conn.execute("SELECT COUNT(*) FROM expiry_messages").fetchone()[0]) >= want

                mark = bot.spawned_at
                done = await wait_for(recorded, CATCHUP_TIMEOUT, poll=0.02)
                finished = time.monotonic()
                got = int(conn.execute("SELECT COUNT(*) FROM expiry_messages").fetchone()[0])
                conn.close()
                guild_create = st.frames.first("GUILD_CREATE", mark) or mark
                calls = [
                    r
                    for r in requests_since(st, mark)
                    if r.method == "GET" and r.route == "/channels/{channel_id}/messages"
                ]
                limited = sum(1 for r in requests_since(st, mark) if r.status == 429)
        took = finished - guild_create
        points.append((per_room * rooms, took, len(calls)))
        # At least one page of 100 per 100 messages in each text room, and one read of each voice room.
        pages = max(1, -(-per_room // 100))
        least_calls = rooms * (pages + 1)
        limits = DISCORD_LIMITS
        by_room = (math.ceil(pages / limits.route_limit) - 1) * limits.route_window
        by_global = (math.ceil(least_calls / (limits.global_limit or least_calls)) - 1) * limits.global_window
        least = max(by_room, by_global)
        RESULTS.add(
            f"catchup_{per_room * rooms}_messages_s",
            round(took, 2) if done else None,
            "s",
            (
                f"{per_room * rooms:,} missed messages in {rooms} rooms recorded {took:.2f} s after GUILD_CREATE "
                if done
                else f"{got:,} of {per_room * rooms:,} missed messages recorded {CATCHUP_TIMEOUT:.0f} s after start; "
            )
            + f"with {len(calls)} history requests (at least {least_calls}, which the limits allow in "
            f"{least:.1f} s); {limited} answered 429; load {os.getloadavg()[0]:.2f}",
        )
        RESULTS.add(
            f"catchup_{per_room * rooms}_messages_calls",
            len(calls),
            "requests",
            f"{len(calls)} history requests for {per_room * rooms:,} messages in {rooms} rooms",
        )
    if len(points) >= 2:
        (n0, t0, _), (n1, t1, _) = points[0], points[-1]
        RESULTS.add(
            "catchup_growth_s_per_1000_messages",
            round((t1 - t0) / ((n1 - n0) / 1000), 3),
            "s",
            f"{(t1 - t0) / ((n1 - n0) / 1000):.3f} s per 1,000 messages; "
            + ", ".join(f"{n:,}: {t:.2f} s / {c} calls" for n, t, c in points),
        )


async def _startup(*, quick: bool = False, long: bool = False) -> None:
    await startup(1)
    await startup(10 if quick else 50)


async def _rss(*, quick: bool = False, long: bool = False) -> None:
    await rss([(5000, 50)] if quick else [(5000, 50), (20000, 200), (50000, 500)])


async def _catchup(*, quick: bool = False, long: bool = False) -> None:
    await catchup([1000] if quick else [1000, 5000, 20000])


#: The parts ``--only`` can pick (``startup`` runs them all, in this order).
PARTS = {"startup": _startup, "rss": _rss, "catchup": _catchup}
