"""How departures are paced: the disconnects of one server in flight at once (at most
``MAX_IN_FLIGHT``, see departures.py), and what holdspace lacks to disconnect anyone from a room (asked
before every try, so kept cheap)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

import discord

from bot.i18n import N_


class InFlightGate:
    """At most ``limit()`` disconnects of one server in flight; the limit is read afresh whenever a
    slot may open, so a burst that started before discord.py learnt the bucket's real limit is not
    held to the first guess for its whole length. Waiters get their slot in the order they came."""

    def __init__(self) -> None:
        self._busy = 0
        self._waiting: deque[asyncio.Future[None]] = deque()

    async def enter(self, limit: Callable[[], int]) -> None:
        if not self._waiting and self._busy < limit():
            self._busy += 1
            return
        ticket: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(ticket)
        try:
            await ticket
        except asyncio.CancelledError:
            if ticket.done() and not ticket.cancelled():
                self.leave(limit)  # the slot came with the cancellation: hand it on
            else:
                self._waiting.remove(ticket)
            raise

    def leave(self, limit: Callable[[], int]) -> None:
        self._busy -= 1
        free = limit() - self._busy
        while free > 0 and self._waiting:
            ticket = self._waiting.popleft()
            if ticket.done():
                continue
            self._busy += 1
            ticket.set_result(None)
            free -= 1


class OwnRights:
    """What holdspace lacks to disconnect people from a voice room, computed once per state of the room
    and of holdspace's roles: discord.py's ``permissions_for`` walks every overwrite of the room, and a
    group room carries one for every bot the guard keeps out, so a burst would pay that walk per person."""

    def __init__(self) -> None:
        # room id -> (the room's overwrite list, holdspace's roles and their bits, what it lacks there)
        self._known: dict[int, tuple[object, tuple[Any, ...], str | None]] = {}

    def lacking(self, room: discord.abc.GuildChannel, me: discord.Member) -> str | None:
        # discord.py replaces a room's overwrite list on every update, so holding the list itself (not
        # its id, which a new list could reuse) tells whether the room changed since.
        overwrites = getattr(room, "_overwrites", None)
        mine = (me.guild.owner_id, tuple((r.id, r.permissions.value) for r in me.roles))
        known = self._known.get(room.id)
        fixed = overwrites is not None and me.timed_out_until is None  # a timeout ends by itself: not kept
        if fixed and known is not None and known[0] is overwrites and known[1] == mine:
            return known[2]
        held = room.permissions_for(me)
        lacking: str | None = None
        if not held.connect and not held.administrator:
            lacking = N_("holdspace lacks Connect in the voice room (Discord asks for it to disconnect anyone there)")
        elif not held.move_members:
            lacking = N_("holdspace lacks Move Members in the voice room, so it could not disconnect")
        if fixed:
            self._known[room.id] = (overwrites, mine, lacking)
        return lacking
