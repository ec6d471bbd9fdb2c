"""In-memory mirror of what enforcement decisions need, kept in step with the database.

Enforcement paths (a voice join, a bot appearing, a nickname change) decide from this state only, so
no database or network read stands between a gateway event and the request that acts on it. Every
storage write that changes these facts updates the state in the same call (write-through), and
``load`` rebuilds it from the database at start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.clock import Clock
from bot.crypto import KeyRing
from bot.storage.db import Database


@dataclass
class GuildConfig:
    guild_id: int
    facilitator_role_id: int | None = None
    moderator_role_id: int | None = None
    log_channel_id: int | None = None
    lobby_channel_id: int | None = None
    timezone: str = "UTC"
    bot_action: str = "disconnect"
    allowed_bot_ids: set[int] = field(default_factory=set)


@dataclass
class GroupInfo:
    id: str
    guild_id: int
    name: str
    text_channel_id: int
    voice_channel_id: int
    category_id: int | None = None


@dataclass
class RunningSession:
    id: str
    group_id: str
    started_at: datetime
    ends_at: datetime | None = None


@dataclass
class State:
    guilds: dict[int, GuildConfig] = field(default_factory=dict)
    groups: dict[str, GroupInfo] = field(default_factory=dict)
    running_sessions: dict[str, RunningSession] = field(default_factory=dict)

    async def load(self, db: Database, ring: KeyRing, clock: Clock) -> None:
        """Rebuild everything from the database."""

    def guild(self, guild_id: int) -> GuildConfig:
        return self.guilds.setdefault(guild_id, GuildConfig(guild_id))

    def group_of_channel(self, channel_id: int) -> GroupInfo | None:
        for group in self.groups.values():
            if channel_id in (group.text_channel_id, group.voice_channel_id):
                return group
        return None
