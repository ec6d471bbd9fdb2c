"""bot/services/departure_pacing.py: disconnects in flight per server (first come, first
served; the limit read afresh when a slot opens; a cancelled waiter hands its slot on) and what
holdspace lacks in a room, computed once per state of the room and of its own roles."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import discord

from bot.services.departure_pacing import InFlightGate, OwnRights


async def test_the_gate_lets_through_the_limit_in_order_and_reads_a_grown_limit_when_a_slot_opens() -> None:
    gate = InFlightGate()
    limit = 2
    order: list[int] = []
    release = asyncio.Event()

    async def one(n: int) -> None:
        await gate.enter(lambda: limit)
        order.append(n)
        await release.wait()
        gate.leave(lambda: limit)

    tasks = [asyncio.create_task(one(n)) for n in range(6)]
    await asyncio.sleep(0)
    assert order == [0, 1]
    limit = 5  # discord.py learnt the bucket's real limit meanwhile
    release.set()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4, 5]


async def test_a_cancelled_waiter_neither_keeps_a_slot_nor_loses_one() -> None:
    gate = InFlightGate()
    await gate.enter(lambda: 1)
    waiting = asyncio.create_task(gate.enter(lambda: 1))
    after = asyncio.create_task(gate.enter(lambda: 1))
    await asyncio.sleep(0)
    gate.leave(lambda: 1)  # the slot goes to ``waiting``...
    waiting.cancel()  # ...which is cancelled before it ran: the slot must reach ``after``
    await asyncio.sleep(0)
    await asyncio.wait_for(after, 1)
    assert waiting.cancelled()


class _Room:
    def __init__(self, lacking_connect: bool) -> None:
        self.id = 1
        self.calls = 0
        self.lacking_connect = lacking_connect
        self._overwrites: list[Any] = []

    def permissions_for(self, _: Any) -> discord.Permissions:
        self.calls += 1
        return discord.Permissions(connect=not self.lacking_connect, move_members=True)


def _me(role_bits: int = 0, timed_out: Any = None) -> Any:
    role = SimpleNamespace(id=5, permissions=discord.Permissions(role_bits))
    return SimpleNamespace(guild=SimpleNamespace(owner_id=9), roles=[role], timed_out_until=timed_out)


def test_what_holdspace_lacks_is_computed_once_until_the_room_or_its_roles_change() -> None:
    rights = OwnRights()
    room = _Room(lacking_connect=False)
    me = _me()
    assert rights.lacking(room, me) is None  # type: ignore[arg-type]
    assert rights.lacking(room, me) is None  # type: ignore[arg-type]
    assert room.calls == 1
    room.lacking_connect = True
    room._overwrites = []  # discord.py replaces the list on every CHANNEL_UPDATE
    assert "Connect" in (rights.lacking(room, me) or "")  # type: ignore[arg-type]
    assert room.calls == 2
    room.lacking_connect = False
    assert rights.lacking(room, _me(role_bits=8)) is None  # type: ignore[arg-type]  # a role's bits changed
    assert room.calls == 3


def test_nothing_is_kept_while_holdspace_is_timed_out() -> None:
    rights = OwnRights()
    room = _Room(lacking_connect=False)
    me = _me(timed_out=object())
    rights.lacking(room, me)  # type: ignore[arg-type]
    rights.lacking(room, me)  # type: ignore[arg-type]
    assert room.calls == 2  # a timeout ends by itself, with no event that would tell the cache
