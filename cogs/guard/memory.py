"""The guard's memory: each server's action and allowlist (mirrored into ``bot.state``), its background
tasks, and writing audit entries and cases."""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import Any

import discord

from bot.app import HoldspaceBot
from bot.background import Background
from bot.core.records import GroupInfo
from bot.storage import guard as guard_store

log = logging.getLogger(__name__)

#: Seconds to wait for holdspace's own overwrite edits to come back as CHANNEL_UPDATE, and within
#: which someone disconnected a moment ago is not acted on again (the cache has not caught up).
SETTLE_SECONDS = 2.0


class GuardMemory:
    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot
        self.allowed: dict[int, set[int]] = {}
        self.actions: dict[int, str] = {}
        self.background = Background(log, "a guard task failed")

    async def load(self) -> None:
        facts = await guard_store.load_all(self.bot.db, self.bot.ring)
        self.allowed = facts.allowed
        self.actions = facts.actions
        for guild_id in set(self.bot.state.guilds) | set(facts.allowed) | set(facts.actions):
            self.config(guild_id)

    def config(self, guild_id: int) -> tuple[str, set[int]]:
        """The server's action and allowlist, mirrored into ``bot.state`` (memory only)."""
        cfg = self.bot.state.guild(guild_id)
        action = self.actions.get(guild_id, self.bot.settings.guard.action)
        allowed = self.allowed.setdefault(guild_id, set())
        cfg.bot_action = action
        cfg.allowed_bot_ids = allowed
        return action, allowed

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.background.spawn(coro, "holdspace-guard")

    def group_rooms(self, guild: discord.Guild) -> list[tuple[GroupInfo, discord.abc.GuildChannel]]:
        rooms: list[tuple[GroupInfo, discord.abc.GuildChannel]] = []
        for group in self.bot.state.groups_of_guild(guild.id):
            for channel_id in group.channel_ids:
                channel = guild.get_channel(channel_id)
                if channel is not None:
                    rooms.append((group, channel))
        return rooms

    async def audit(self, guild_id: int, action: str, **kw: Any) -> None:
        """Written now, or kept and written when the database takes writes again (``bot.outbox``)."""
        try:
            await self.bot.outbox.audit(guild_id, action, **kw)
        except Exception:
            log.exception("could not append the audit entry %s", action)

    async def case(self, guild_id: int, kind: str, **kw: Any) -> int | None:
        """Opened now (its number), or kept and opened later (None)."""
        try:
            return await self.bot.outbox.case(guild_id, kind, **kw)
        except Exception:
            log.exception("a %s case could not be stored", kind)
            return None
