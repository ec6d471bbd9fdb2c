"""A room where holdspace may not read or delete: said once as an ``expiry_blocked`` case."""

from __future__ import annotations

import logging

from bot.storage.expiry import Room

from .context import ExpiryContext

log = logging.getLogger(__name__)


class BlockedRooms:
    def __init__(self, ctx: ExpiryContext) -> None:
        self.ctx = ctx

    async def report_channel(self, channel_id: int, what: str) -> None:
        await self.report(self.ctx.rooms.get(channel_id) or Room(channel_id, "", None, 0), what)

    async def report(self, room: Room, what: str) -> None:
        """``what``: "read" (history) or "delete"; the case service keeps one case per room."""
        group = self.ctx.group(room.group_id)
        guild_id = group.guild_id if group is not None else 0
        problem = (
            "holdspace cannot read this room's history (View Channel / Read Message History missing)"
            if what == "read"
            else "holdspace may not delete messages here (Manage Messages missing)"
        )
        log.warning("expiry blocked in a watched room: %s", problem)
        try:
            await self.ctx.bot.cases.open(
                guild_id,
                "expiry_blocked",
                group_id=room.group_id,
                details={"channel_id": room.channel_id, "problem": problem},
                dedupe_key=str(room.channel_id),
            )
        except Exception:
            log.exception("could not open the expiry_blocked case")
