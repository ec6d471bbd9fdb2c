"""Ingest through the gateway: a MESSAGE_CREATE leaving the sandbox -> its expiry row committed.

People post in four group rooms at a paced rate; holdspace (its own process) receives the events over
the gateway and records each message for expiry. A thread of this process watches the database
file through its own read-only connection (it sees committed rows only) and notes when each row
first appears (polled every 2 ms). Reported per offered rate: p50/p99 of that time; then the
highest rate tried at which p99 stays under 1 s (the ceiling).
"""

from __future__ import annotations

import asyncio
import time

from benchmarks.harness import (
    DISCORD_LIMITS,
    RESULTS,
    RowWatcher,
    Stage,
    holdspace,
    median,
    ms,
    pct,
    set_limits,
    stage,
    wait_for,
    warm_up,
)

TARGET_P99 = 1.0
TARGET_RATES = (1000, 2000)


def message_frames(st: Stage, since_seq: int) -> dict[int, float]:
    """message id -> when its MESSAGE_CREATE left the sandbox."""
    out: dict[int, float] = {}
    for s in st.sb.gateway.sessions.values():
        if s.app is not st.app:
            continue
        for frame in s.buffer[-200000:]:
            if frame["s"] > since_seq and frame["t"] == "MESSAGE_CREATE" and frame["s"] in st.frames.sent:
                out[int(frame["d"]["id"])] = st.frames.sent[frame["s"]]
    return out


async def offer(st: Stage, rate: float, seconds: float) -> tuple[list[float], float, int]:
    """Post at ``rate`` messages/s for ``seconds``; (latencies, achieved rate, not committed)."""
    rooms = [c for g in st.groups for c in (g.text, g.voice)]
    authors = [g.members[0] for g in st.groups for _ in (0, 1)]
    seq = max(s.seq for s in st.sb.gateway.sessions.values() if s.app is st.app)
    total = int(rate * seconds)
    ids: list[int] = []
    with RowWatcher(st.database) as watcher:
        start = time.monotonic()
        tick = 0.005
        sent = 0
        while sent < total:
            due = min(total, int((time.monotonic() - start) / 1 * rate) + int(rate * tick))
            while sent < due:
                i = sent % len(rooms)
                ids.append(st.sb.post(rooms[i], authors[i], "hello").id)
                sent += 1
            await asyncio.sleep(tick)
        elapsed = time.monotonic() - start
        await wait_for(lambda: all(i in watcher.seen for i in ids), 30, poll=0.05)
        seen = dict(watcher.seen)
    left = message_frames(st, seq)
    lat = [seen[i] - left[i] for i in ids if i in seen and i in left]
    return lat, total / elapsed, sum(1 for i in ids if i not in seen)


async def ingest(*, quick: bool = False, long: bool = False) -> None:
    seconds = 3.0 if quick else 5.0
    async with stage(groups=2, per_group=2) as st:
        await warm_up(st)
        set_limits(st, DISCORD_LIMITS)
        async with holdspace(st):
            ceiling = 0.0
            limited_by_sandbox = False
            searching = True
            for rate in (1000, 2000, 3000, 4000, 6000, 8000):
                if rate not in TARGET_RATES and not searching:
                    break
                lat, achieved, lost = await offer(st, rate, seconds)
                p99 = pct(lat, 0.99) if lat else float("nan")
                short = achieved < rate * 0.9
                text = (
                    f"p50 {ms(median(lat))}, p99 {ms(p99)} at {achieved:,.0f} msg/s offered for {seconds:.0f} s "
                    f"({len(lat):,} messages" + (f"; {lost:,} never committed" if lost else "") + ")"
                )
                if short:
                    text += f"; the sandbox could not offer {rate:,}/s on this machine"
                good = bool(lat) and p99 <= TARGET_P99 and not lost
                if rate in TARGET_RATES:
                    # Not reaching the offered rate is no pass: the figure was not measured.
                    target = f"p99 <= {TARGET_P99:.0f} s at {rate:,}/s"
                    RESULTS.add(f"ingest_{rate}_per_s_p99_s", round(p99, 4), "s", text, target, good and not short)
                else:
                    RESULTS.add(f"ingest_{rate}_per_s_p99_s", round(p99, 4), "s", text)
                if good and searching:
                    ceiling = max(ceiling, achieved)
                if not good or short:
                    searching = False
                    limited_by_sandbox = limited_by_sandbox or (good and short)
                await asyncio.sleep(1.0)
    note = " (the sandbox could not offer more on this machine)" if limited_by_sandbox and ceiling else ""
    RESULTS.add(
        "ingest_ceiling_per_s",
        round(ceiling),
        "msg/s",
        f"p99 under {TARGET_P99:.0f} s up to {ceiling:,.0f} msg/s{note}",
        f">= {max(TARGET_RATES):,} msg/s",
        ceiling >= max(TARGET_RATES) * 0.9,
    )


#: The parts ``--only`` can pick.
PARTS = {"gateway": ingest}
