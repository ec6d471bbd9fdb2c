"""In-memory mirror of what enforcement decisions need, kept in step with the database.

Enforcement paths (a voice join, a bot appearing, a nickname change) decide from this state only, so
no database or network read stands between a gateway event and the request that acts on it. Every
storage write that changes these facts updates the state in the same call (write-through: the
helpers below write to the database first and change memory only after the commit), and ``load``
rebuilds it from the database at start.

What lives here (groups/consent feature): per-server set-up (``GuildConfig``), groups with all their
settings (``GroupInfo``; other features read e.g. ``ttl`` or ``lock_between_sessions`` from here),
who is enrolled in which group and who currently consents (``ConsentFact``). The records themselves
are defined in ``bot.core.records``, below both this module and ``bot.storage``. Other features add
their own facts (``running_sessions`` is filled by the sessions feature, ``allowed_bot_ids`` by the
guard feature) from their cogs' ``cog_load``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from bot.clock import Clock
from bot.core import access
from bot.core.records import ConsentFact, GroupInfo, GuildConfig, RunningSession
from bot.crypto import KeyRing
from bot.storage import consent_anchor
from bot.storage import consents as consent_store
from bot.storage import groups as group_store
from bot.storage import guilds as guild_store
from bot.storage.db import Database


@dataclass
class State:
    guilds: dict[int, GuildConfig] = field(default_factory=dict)
    groups: dict[str, GroupInfo] = field(default_factory=dict)
    running_sessions: dict[str, RunningSession] = field(default_factory=dict)
    #: group id -> member id -> current consent (the latest event was "agree")
    consents: dict[str, dict[int, ConsentFact]] = field(default_factory=dict)
    #: group id -> member ids enrolled
    enrolled: dict[str, set[int]] = field(default_factory=dict)
    #: group id -> the group's own facilitators (empty: everyone with the facilitator role)
    facilitators: dict[str, set[int]] = field(default_factory=dict)
    #: True once ``load`` succeeded; enforcement fails closed before that
    loaded: bool = False
    #: group id -> what did not hold in its records at the last load (it counts no consent)
    tampered: dict[str, str] = field(default_factory=dict)
    #: (group id, member id) whose access is being granted right now (Discord first, then the record)
    pending_grants: set[tuple[str, int]] = field(default_factory=set)

    async def load(self, db: Database, ring: KeyRing, clock: Clock) -> None:
        """Rebuild everything from the database."""
        guilds: dict[int, GuildConfig] = {}
        for row in await guild_store.load_all(db):
            old = self.guilds.get(row.guild_id)
            cfg = GuildConfig(
                guild_id=row.guild_id,
                facilitator_role_id=row.facilitator_role_id,
                moderator_role_id=row.moderator_role_id,
                log_channel_id=row.log_channel_id,
                lobby_channel_id=row.lobby_channel_id,
                lobby_message_id=row.lobby_message_id,
                timezone=row.timezone,
                language=row.language,
                configured=True,
            )
            if old is not None:  # keep what other features put there
                cfg.bot_action = old.bot_action
                cfg.allowed_bot_ids = old.allowed_bot_ids
            guilds[row.guild_id] = cfg
        for guild_id, old in self.guilds.items():
            guilds.setdefault(guild_id, old)
        groups = {g.id: g for g in await group_store.load_all(db, ring)}
        # A group whose records do not hold (its consents, its roster, or its own row) counts no
        # consent: its members lose access while every other group runs on (bot.services.integrity).
        rosters = await group_store.load_rosters(db, ring)
        tampered = {gid: r.problem for gid, r in rosters.items() if r.problem is not None and gid in groups}
        for group_id in await group_store.unreadable_groups(db, ring):
            tampered.setdefault(group_id, "the group's own record was altered or moved to another server")
        enrolled = {gid: set(rosters[gid].enrolled) if gid in rosters else set() for gid in groups}
        facilitators = {gid: set(rosters[gid].facilitators) if gid in rosters else set() for gid in groups}
        consents: dict[str, dict[int, ConsentFact]] = {gid: {} for gid in groups}
        checked = await consent_store.load_checked(db, ring, set(groups))
        for group_id, problem in checked.tampered.items():
            tampered.setdefault(group_id, problem)
        for group_id, fact in checked.current:
            if group_id not in tampered:
                consents.setdefault(group_id, {})[fact.member_id] = fact
        anchor = consent_anchor.of(db, ring)
        kept = {gid: head for gid, head in anchor.heads.items() if gid in tampered}
        heads = {gid: head for gid, head in checked.heads.items() if gid not in tampered}
        kept_rosters = {gid: seal for gid, seal in anchor.rosters.items() if gid in tampered}
        seals = {gid: r.seal for gid, r in rosters.items() if gid not in tampered and gid in groups}
        consent_anchor.replace_heads(db, ring, {**kept, **heads}, {**kept_rosters, **seals})
        self.guilds = guilds
        self.groups = groups
        self.enrolled = enrolled
        self.facilitators = facilitators
        self.consents = consents
        self.tampered = tampered
        self.loaded = True

    # -- look-ups (no I/O) -----------------------------------------------------------------------

    def guild(self, guild_id: int) -> GuildConfig:
        return self.guilds.setdefault(guild_id, GuildConfig(guild_id))

    def group_of_channel(self, channel_id: int) -> GroupInfo | None:
        for group in self.groups.values():
            if channel_id in (group.text_channel_id, group.voice_channel_id):
                return group
        return None

    def groups_of_guild(self, guild_id: int) -> list[GroupInfo]:
        return sorted((g for g in self.groups.values() if g.guild_id == guild_id), key=lambda g: g.name.lower())

    def group_by_name(self, guild_id: int, name: str) -> GroupInfo | None:
        key = name.strip().casefold()
        for group in self.groups.values():
            if group.guild_id == guild_id and group.name.casefold() == key:
                return group
        return None

    def group_of_role(self, role_id: int) -> GroupInfo | None:
        for group in self.groups.values():
            if group.role_id == role_id:
                return group
        return None

    def consent_of(self, group_id: str, member_id: int) -> ConsentFact | None:
        return self.consents.get(group_id, {}).get(member_id)

    def consented_members(self, group_id: str) -> set[int]:
        return set(self.consents.get(group_id, {}))

    def is_enrolled(self, group_id: str, member_id: int) -> bool:
        return member_id in self.enrolled.get(group_id, set())

    def facilitators_of(self, group_id: str) -> frozenset[int]:
        """The group's own facilitators; empty when everyone with the facilitator role facilitates it."""
        return frozenset(self.facilitators.get(group_id, ()))

    def facilitates(self, group: GroupInfo, member_id: int, role_ids: Iterable[int]) -> bool:
        """Is this person a facilitator of ``group``? (bot.core.access.facilitates; server managers
        are checked by the caller)."""
        cfg = self.guilds.get(group.guild_id)
        return access.facilitates(
            member_id=member_id,
            role_ids=role_ids,
            facilitator_role_id=cfg.facilitator_role_id if cfg else None,
            group_facilitator_ids=self.facilitators_of(group.id),
        )

    def kept_until_session_end(self) -> set[tuple[int, int]]:
        """Messages that must outlive their time to live because their session still runs."""
        kept: set[tuple[int, int]] = set()
        for session in self.running_sessions.values():
            kept |= session.kept_messages
        return kept

    def session_running(self, group_id: str) -> bool:
        return any(s.group_id == group_id for s in self.running_sessions.values())

    def iter_consents(self) -> Iterator[tuple[GroupInfo, ConsentFact]]:
        for group_id, by_member in self.consents.items():
            group = self.groups.get(group_id)
            if group is None:
                continue
            for fact in by_member.values():
                yield group, fact

    # -- write-through (database first, memory after the commit) ---------------------------------

    def put_guild(self, cfg: GuildConfig) -> None:
        self.guilds[cfg.guild_id] = cfg

    def put_group(self, group: GroupInfo) -> None:
        self.groups[group.id] = group
        self.consents.setdefault(group.id, {})
        self.enrolled.setdefault(group.id, set())
        self.facilitators.setdefault(group.id, set())

    def set_facilitator(self, group_id: str, member_id: int, facilitates: bool) -> None:
        members = self.facilitators.setdefault(group_id, set())
        if facilitates:
            members.add(member_id)
        else:
            members.discard(member_id)

    def update_group(self, group_id: str, **changes: Any) -> GroupInfo:
        group = replace(self.groups[group_id], **changes)
        self.groups[group_id] = group
        return group

    def set_enrolled(self, group_id: str, member_id: int, enrolled: bool) -> None:
        members = self.enrolled.setdefault(group_id, set())
        if enrolled:
            members.add(member_id)
        else:
            members.discard(member_id)

    def set_consent(self, group_id: str, fact: ConsentFact | None, *, member_id: int | None = None) -> None:
        """Record ``fact`` as the current consent, or with None forget ``member_id``'s consent."""
        by_member = self.consents.setdefault(group_id, {})
        if fact is not None:
            by_member[fact.member_id] = fact
        elif member_id is not None:
            by_member.pop(member_id, None)
