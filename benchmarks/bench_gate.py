"""The gate: how fast someone who may not be in a group's voice room is disconnected.

- **gate**: a VOICE_STATE_UPDATE (someone joining a group voice room without consent, or a bot
  holding Administrator that the guard does not allow) leaving the sandbox -> the disconnect request
  reaching it. Single joins, bursts of 100 and 1,000, people and bots; with rate limits off (the
  reaction floor) and with the sandbox's model of Discord's limits (5 per 5 s per route, 50/s).
- **withdraw**: ``/consent withdraw`` (INTERACTION_CREATE leaving the sandbox) by someone in the voice
  room -> the disconnect request answered, with a 100 ms round trip on every request.
- **role change**: a facilitator in the voice room loses the facilitator role (GUILD_MEMBER_UPDATE) ->
  the disconnect request answered, same round trip.
- **drift**: someone opens a group room by hand (@everyone allowed to view it; CHANNEL_UPDATE leaving
  the sandbox) -> the overwrite edit restoring it answered, Discord's limits; one change per room.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from benchmarks.cpus import cold_machine, cpus_at_work
from benchmarks.harness import (
    DISCORD_LIMITS,
    RESULTS,
    Stage,
    disconnect_finishes,
    disconnects,
    holdspace,
    least_time,
    median,
    ms,
    pct,
    requests_since,
    set_limits,
    stage,
    wait_for,
    warm_up,
    within_least,
)
from bot.sandbox import permissions as P
from bot.sandbox.world import Member

SINGLE_TRIALS = 100
ROUND_TRIP = 0.1
RESTORE_TARGET = 1.0


def voice_frames(st: Stage, since_seq: int) -> dict[int, float]:
    """user id -> when the VOICE_STATE_UPDATE putting them into a channel left the sandbox."""
    out: dict[int, float] = {}
    for s in st.sb.gateway.sessions.values():
        if s.app is not st.app:
            continue
        for frame in s.buffer:
            if frame["s"] <= since_seq or frame["t"] != "VOICE_STATE_UPDATE":
                continue
            if frame["d"].get("channel_id") is None:
                continue
            sent = st.frames.sent.get(frame["s"])
            if sent is not None:
                out[int(frame["d"]["user_id"])] = sent
    return out


def current_seq(st: Stage) -> int:
    return max((s.seq for s in st.sb.gateway.sessions.values() if s.app is st.app), default=0)


async def burst(st: Stage, who: list[Member], timeout: float) -> tuple[list[float], float, int]:
    """Put ``who`` into the voice room at once; (latencies, first join -> last disconnect, missing)."""
    voice = st.groups[0].voice
    seq = current_seq(st)
    mark = time.monotonic()
    ids = {m.id for m in who}
    for m in who:
        st.guild.set_voice(m, voice)
    await wait_for(lambda: len(disconnects(st, mark, ids)) == len(ids), timeout)
    # Out of the room before the next round (a disconnect that never came is reported missing).
    await wait_for(lambda: not any(st.guild.voice_states.get(i) == voice.id for i in ids), 5)
    for i in ids:
        if st.guild.voice_states.get(i) == voice.id:
            st.guild.set_voice(i, None)
    await asyncio.sleep(0)
    joined = voice_frames(st, seq)
    done = disconnects(st, mark, ids)
    lat = [done[i] - joined[i] for i in ids if i in done and i in joined]
    span = (max(done.values()) - min(joined.values())) if done and joined else float("nan")
    return lat, span, len(ids) - len(lat)


async def singles(st: Stage, who: list[Member], spacing: float) -> tuple[list[float], int]:
    lat: list[float] = []
    missing = 0
    in_a_row = 0
    for i, m in enumerate(who):
        got, _, miss = await burst(st, [m], 10)
        lat += got
        missing += miss
        in_a_row = in_a_row + 1 if miss else 0
        if in_a_row >= 3:  # holdspace has stopped reacting: the rest count as missed, no need to wait
            return lat, missing + len(who) - i - 1
        await asyncio.sleep(spacing)
    return lat, missing


def report_latencies(key: str, label: str, lat: list[float], missing: int, bound: float | None) -> None:
    p50, p99 = median(lat), pct(lat, 0.99)
    text = f"p50 {ms(p50)}, p99 {ms(p99)} over {len(lat)} joins"
    if missing:
        text += f"; {missing} never disconnected"
    if bound is None:
        RESULTS.add(key, round(p99, 4), "s", text + f" ({label})")
    else:
        RESULTS.add(key, round(p99, 4), "s", text + f" ({label})", f"p99 <= {ms(bound)}", p99 <= bound and not missing)


async def gate_floor(*, quick: bool) -> None:
    """Rate limits off: holdspace's own reaction time."""
    big = 100 if quick else 1000
    async with stage(groups=1, per_group=4, others=big + SINGLE_TRIALS, bots=big + SINGLE_TRIALS) as st:
        await warm_up(st)
        async with holdspace(st):
            people, bots = st.others, st.bots
            lat, miss = await singles(st, people[:SINGLE_TRIALS], 0.05)
            report_latencies("gate_floor_single_person_p99_s", "person, limits off", lat, miss, 0.020)
            lat, miss = await singles(st, bots[:SINGLE_TRIALS], 0.05)
            report_latencies("gate_floor_single_bot_p99_s", "bot, limits off", lat, miss, 0.020)
            for size, bound in ((100, 0.050), (1000, 1.0)):
                if size > big:
                    continue
                for kind, pool in (("people", people), ("bots", bots)):
                    async with cpus_at_work():
                        lat, _, miss = await burst(st, pool[SINGLE_TRIALS : SINGLE_TRIALS + size], 60)
                    label = f"burst of {size} {kind}, limits off" + (", machine cold" if cold_machine() else "")
                    report_latencies(f"gate_floor_burst{size}_{kind}_p99_s", label, lat, miss, bound)
                    await asyncio.sleep(1.0)


async def gate_limited(*, quick: bool, long: bool) -> None:
    """Discord's model of rate limits: the last disconnect of a burst vs the least time they allow."""
    sizes = [20] if quick else [100]
    if long:
        sizes.append(1000)
    need = max(sizes)
    async with stage(groups=1, per_group=4, others=need // 2 + 10, bots=need - need // 2 + 10) as st:
        await warm_up(st)
        set_limits(st, DISCORD_LIMITS)
        async with holdspace(st):
            lat, miss = await singles(st, st.others[:5] + st.bots[:5], 1.2)
            report_latencies("gate_limited_single_p99_s", "people and bots, Discord's limits", lat, miss, 0.1)
            await asyncio.sleep(5.5)
            for size in sizes:
                who = st.others[10 : 10 + size // 2] + st.bots[10 : 10 + size - size // 2]
                least = least_time(size, DISCORD_LIMITS)
                lat, span, miss = await burst(st, who, least * 1.5 + 30)
                ok, bound = within_least(span, least)
                RESULTS.add(
                    f"gate_limited_burst{size}_last_s",
                    round(span, 3),
                    "s",
                    f"last disconnect {span:.2f} s after the first join; least time the limits allow "
                    f"{least:.1f} s; p50 {median(lat):.2f} s, p99 {pct(lat, 0.99):.2f} s"
                    + (f"; {miss} never disconnected" if miss else ""),
                    f"<= {bound:.2f} s (least time + 10%)",
                    ok and not miss,
                )
                await asyncio.sleep(5.5)


async def _enrolled_in_voice(st: Stage, members: list[Member]) -> None:
    voice = st.groups[0].voice
    for m in members:
        st.guild.join_voice(m, voice)
    await wait_for(lambda: all(st.guild.voice_states.get(m.id) == voice.id for m in members), 5)


def interaction_frames(st: Stage, since_seq: int) -> dict[int, float]:
    """user id -> when their INTERACTION_CREATE left the sandbox."""
    out: dict[int, float] = {}
    for s in st.sb.gateway.sessions.values():
        for frame in s.buffer:
            if frame["s"] > since_seq and frame["t"] == "INTERACTION_CREATE" and frame["s"] in st.frames.sent:
                user = frame["d"].get("member", {}).get("user") or frame["d"].get("user") or {}
                out[int(user["id"])] = st.frames.sent[frame["s"]]
    return out


def member_update_frames(st: Stage, since_seq: int) -> dict[int, float]:
    out: dict[int, float] = {}
    for s in st.sb.gateway.sessions.values():
        for frame in s.buffer:
            if frame["s"] > since_seq and frame["t"] == "GUILD_MEMBER_UPDATE" and frame["s"] in st.frames.sent:
                out.setdefault(int(frame["d"]["user"]["id"]), st.frames.sent[frame["s"]])
    return out


async def withdraw_and_roles(*, quick: bool) -> None:
    trials = 6 if quick else 12
    async with stage(groups=1, per_group=trials, others=0) as st:
        facilitators = [
            st.guild.add_member(st.sb.create_user(f"f{i}"), roles=[st.facilitator_role]) for i in range(trials)
        ]
        await warm_up(st)
        set_limits(st, DISCORD_LIMITS)
        async with holdspace(st):
            st.sb.faults.add_latency(ROUND_TRIP)
            group = st.groups[0]
            await _enrolled_in_voice(st, group.members + facilitators)
            await asyncio.sleep(1.0)
            lat: list[float] = []
            missing = 0
            for m in group.members:
                seq, mark = current_seq(st), time.monotonic()
                handle = st.sb.run_command(m, group.text, "consent withdraw", group=group.info.name)
                got = await wait_for(lambda m=m, mark=mark: m.id in disconnect_finishes(st, mark), 3)  # type: ignore[misc]
                with_frame = interaction_frames(st, seq)
                if got and m.id in with_frame:
                    lat.append(disconnect_finishes(st, mark)[m.id] - with_frame[m.id])
                else:
                    missing += 1
                await _quietly(handle)
                await asyncio.sleep(1.2)
            _report_rtt("withdraw_to_disconnect_p99_s", "/consent withdraw -> disconnect answered", lat, missing)
            lat, missing = [], 0
            for f in facilitators:
                seq, mark = current_seq(st), time.monotonic()
                st.guild.set_member_roles(st.guild.members[f.id], [])
                got = await wait_for(lambda f=f, mark=mark: f.id in disconnect_finishes(st, mark), 3)  # type: ignore[misc]
                frames = member_update_frames(st, seq)
                if got and f.id in frames:
                    lat.append(disconnect_finishes(st, mark)[f.id] - frames[f.id])
                else:
                    missing += 1
                await asyncio.sleep(1.2)
            label = "facilitator role removed -> disconnect answered"
            _report_rtt("role_change_to_disconnect_p99_s", label, lat, missing)


async def _quietly(handle: Any) -> None:
    with contextlib.suppress(Exception):  # the answer is not what is measured here
        await asyncio.wait_for(handle.response(), 5)


def _report_rtt(key: str, label: str, lat: list[float], missing: int) -> None:
    bound = ROUND_TRIP + 0.020
    p99 = pct(lat, 0.99) if lat else float("nan")
    text = f"p50 {ms(median(lat))}, p99 {ms(p99)} over {len(lat)} ({label}; round trip {ms(ROUND_TRIP)}"
    text += ", Discord's limits)"
    if missing:
        text += f"; {missing} of {len(lat) + missing} not disconnected within 3 s"
    RESULTS.add(
        key,
        round(p99, 4) if lat else None,
        "s",
        text,
        f"p99 <= {ms(bound)} (one round trip + 20 ms)",
        bool(lat) and p99 <= bound and not missing,
    )


async def room_restored(*, quick: bool = False, long: bool = False) -> None:
    """A group room opened by hand is closed again: CHANNEL_UPDATE -> the restoring edit answered."""
    groups = 3 if quick else 6
    async with stage(groups=groups, per_group=2) as st:
        await warm_up(st)
        set_limits(st, DISCORD_LIMITS)
        everyone = st.guild.everyone
        async with holdspace(st):
            lat: list[float] = []
            missing = 0
            for room in [ch for g in st.groups for ch in (g.text, g.voice)]:
                mark = time.monotonic()
                st.guild.set_overwrite(room, everyone, allow=P.VIEW_CHANNEL | P.CONNECT)
                path = f"/channels/{room.id}/permissions/{everyone.id}"

                def restored(path: str = path, mark: float = mark) -> float | None:
                    for r in requests_since(st, mark):
                        if r.path == path and r.finished and r.status < 300:
                            return r.finished
                    return None

                await wait_for(lambda: restored() is not None, 5)
                changed, done = st.frames.first("CHANNEL_UPDATE", mark), restored()
                if changed is None or done is None:
                    missing += 1
                else:
                    lat.append(done - changed)
                await asyncio.sleep(1.2)
    text = f"p50 {ms(median(lat))}, p99 {ms(pct(lat, 0.99))} over {len(lat)} rooms opened by hand" if lat else "none"
    text += " (@everyone allowed to view -> the restoring edit answered, Discord's limits)"
    if missing:
        text += f"; {missing} not restored within 5 s"
    p99 = pct(lat, 0.99) if lat else float("nan")
    RESULTS.add(
        "gate_room_restored_p99_s",
        round(p99, 4) if lat else None,
        "s",
        text,
        f"p99 <= {RESTORE_TARGET:.0f} s",
        bool(lat) and p99 <= RESTORE_TARGET and not missing,
    )


async def _floor(*, quick: bool = False, long: bool = False) -> None:
    await gate_floor(quick=quick)


async def _withdraw(*, quick: bool = False, long: bool = False) -> None:
    await withdraw_and_roles(quick=quick)


#: The parts ``--only`` can pick (``gate`` runs them all, in this order).
PARTS = {"floor": _floor, "withdraw": _withdraw, "limited": gate_limited, "drift": room_restored}
