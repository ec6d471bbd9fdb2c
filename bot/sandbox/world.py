"""The sandbox's world: users, applications, guilds, roles, channels, members, messages.

World objects are plain Python objects that tests read directly. Every change made through their
methods emits the gateway event Discord would send (through ``World.emit``), whether it comes from a
simulated person, from the test or from a REST call of the bot.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.clock import Clock

from . import permissions as P
from .errors import SandboxRefused
from .permissions import Overwrite, compute_permissions, role_rank
from .snowflakes import SnowflakeMaker, snowflake_time

GUILD_TEXT = 0
DM = 1
GUILD_VOICE = 2
GUILD_CATEGORY = 4
PUBLIC_THREAD = 11
PRIVATE_THREAD = 12
THREAD_TYPES = (PUBLIC_THREAD, PRIVATE_THREAD)

EPHEMERAL = 1 << 6
LOADING = 1 << 7

Emit = Callable[[str, dict[str, Any], "int | None"], None]


def iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.isoformat()


@dataclass(eq=False)
class User:
    id: int
    username: str
    bot: bool = False
    global_name: str | None = None
    dms_open: bool = True
    world: World | None = field(default=None, repr=False)
    #: the language of this person's Discord client, sent with each of their interactions
    locale: str = "en-US"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": str(self.id), "username": self.username, "discriminator": "0" if not self.bot else "0000",
            "global_name": self.global_name, "avatar": None, "public_flags": 0, "flags": 0,
            "primary_guild": None, "avatar_decoration_data": None, "collectibles": None,
        }
        if self.bot:
            out["bot"] = True
        return out

    @property
    def dms(self) -> list[Message]:
        """Messages others sent this user in DMs, oldest first."""
        assert self.world is not None
        ch = self.world.dm_channels.get(self.id)
        if ch is None:
            return []
        return [m for m in ch.messages if m.author.id != self.id]

    def open_dms(self) -> None:
        self.dms_open = True

    def close_dms(self) -> None:
        """Like turning off "direct messages from server members": bots get 50007."""
        self.dms_open = False


@dataclass(eq=False)
class Application:
    id: int
    name: str
    owner: User
    bot: User
    token: str
    intents_enabled: int = 0
    guild_commands: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    global_commands: list[dict[str, Any]] = field(default_factory=list)
    # guild id -> command id (or this application's id, for all its commands) -> permission overrides
    command_permissions: dict[int, dict[int, list[dict[str, Any]]]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id), "name": self.name, "icon": None, "description": "", "type": None,
            "bot": self.bot.to_json(), "rpc_origins": [], "bot_public": False, "bot_require_code_grant": False,
            "integration_types_config": {}, "verify_key": "00" * 32, "flags": self.flags,
            "flags_new": str(self.flags), "tags": [], "redirect_uris": [], "interactions_endpoint_url": None,
            "role_connections_verification_url": None, "owner": self.owner.to_json(),
            "approximate_guild_count": 0, "approximate_user_install_count": 0,
            "approximate_user_authorization_count": 0, "explicit_content_filter": 0, "team": None,
            "eligible_oauth2_scopes": [],
        }

    @property
    def flags(self) -> int:
        # GATEWAY_PRESENCE_LIMITED 1<<13, GATEWAY_GUILD_MEMBERS_LIMITED 1<<15,
        # GATEWAY_MESSAGE_CONTENT_LIMITED 1<<19
        flags = 0
        if self.intents_enabled & (1 << 8):
            flags |= 1 << 13
        if self.intents_enabled & (1 << 1):
            flags |= 1 << 15
        if self.intents_enabled & (1 << 15):
            flags |= 1 << 19
        return flags

    def commands_for(self, guild_id: int | None) -> list[dict[str, Any]]:
        out = list(self.guild_commands.get(guild_id, [])) if guild_id is not None else []
        return out + list(self.global_commands)


@dataclass(eq=False)
class Role:
    id: int
    guild: Guild = field(repr=False)
    name: str
    permissions: int = 0
    position: int = 0
    managed: bool = False
    bot_id: int | None = None
    color: int = 0
    hoist: bool = False
    mentionable: bool = False

    @property
    def rank(self) -> tuple[int, int]:
        """Where the role stands, lowest first (ties at one position go to the older role)."""
        return role_rank(self.id, self.position, self.guild.id)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": str(self.id), "name": self.name, "description": None, "permissions": str(self.permissions),
            "position": self.position, "color": self.color,
            "colors": {"primary_color": self.color, "secondary_color": None, "tertiary_color": None},
            "hoist": self.hoist, "managed": self.managed, "mentionable": self.mentionable, "icon": None,
            "unicode_emoji": None, "flags": 0,
        }
        if self.bot_id is not None:
            out["tags"] = {"bot_id": str(self.bot_id)}
        return out


@dataclass(eq=False)
class Member:
    user: User
    guild: Guild = field(repr=False)
    role_ids: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: datetime | None = None

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def roles(self) -> list[Role]:
        return [self.guild.roles[r] for r in self.role_ids if r in self.guild.roles]

    def to_json(self, *, with_user: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "avatar": None, "banner": None, "communication_disabled_until": None, "flags": 0,
            "joined_at": iso(self.joined_at), "nick": self.nick, "pending": False, "premium_since": None,
            "roles": [str(r) for r in self.role_ids], "mute": False, "deaf": False,
        }
        if with_user:
            out["user"] = self.user.to_json()
        return out

    def top_position(self) -> int:
        return max((r.position for r in self.roles), default=0)

    def top_rank(self) -> tuple[int, int]:
        """The rank of the member's highest role (@everyone's when they have none)."""
        return max((r.rank for r in self.roles), default=role_rank(self.guild.id, 0, self.guild.id))

    def permissions(self, channel: Channel | None = None) -> int:
        return self.guild.permissions_for(self, channel)

    def set_nick(self, nick: str | None) -> None:
        """The person changes their own nickname (emits GUILD_MEMBER_UPDATE)."""
        self.nick = nick
        self.guild.world.emit("GUILD_MEMBER_UPDATE", self.guild.member_update_json(self), self.guild.id)


@dataclass(frozen=True)
class Attachment:
    """A file uploaded with a message (multipart ``files[n]``); its bytes are kept for tests to read."""

    id: int
    filename: str
    data: bytes = field(repr=False)
    content_type: str | None = None

    def to_json(self) -> dict[str, Any]:
        url = f"https://cdn.sandbox.invalid/attachments/{self.id}/{self.filename}"
        out: dict[str, Any] = {"id": str(self.id), "filename": self.filename, "size": len(self.data),
                               "url": url, "proxy_url": url}
        if self.content_type:
            out["content_type"] = self.content_type
        return out


@dataclass(eq=False)
class Message:
    id: int
    channel: Channel = field(repr=False)
    author: User
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    flags: int = 0
    pinned: bool = False
    pinned_at: datetime | None = None  # when it was pinned (not when it was posted)
    type: int = 0
    edited_at: datetime | None = None
    mentions: list[User] = field(default_factory=list)
    webhook_id: int | None = None
    application_id: int | None = None
    interaction_metadata: dict[str, Any] | None = None
    message_reference: dict[str, Any] | None = None
    attachments: list[Attachment] = field(default_factory=list)

    @property
    def created_at(self) -> datetime:
        return snowflake_time(self.id)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    def to_json(self, *, with_member: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": str(self.id), "channel_id": str(self.channel.id), "author": self.author.to_json(),
            "content": self.content, "timestamp": iso(self.created_at), "edited_timestamp": iso(self.edited_at),
            "tts": False, "mention_everyone": False, "mentions": [u.to_json() for u in self.mentions],
            "mention_roles": [], "attachments": [a.to_json() for a in self.attachments],
            "embeds": list(self.embeds), "pinned": self.pinned,
            "type": self.type, "flags": self.flags, "components": list(self.components),
        }
        if self.webhook_id is not None:
            out["webhook_id"] = str(self.webhook_id)
        if self.application_id is not None:
            out["application_id"] = str(self.application_id)
        if self.interaction_metadata is not None:
            out["interaction_metadata"] = self.interaction_metadata
        if self.message_reference is not None:
            out["message_reference"] = self.message_reference
        if with_member and self.channel.guild is not None:
            member = self.channel.guild.members.get(self.author.id)
            out["guild_id"] = str(self.channel.guild.id)
            if member is not None:
                out["member"] = member.to_json(with_user=False)
        return out


@dataclass(eq=False)
class Channel:
    id: int
    type: int
    name: str | None
    guild: Guild | None = field(default=None, repr=False)
    parent_id: int | None = None
    position: int = 0
    overwrites: dict[int, Overwrite] = field(default_factory=dict)
    topic: str | None = None
    recipients: list[User] = field(default_factory=list)
    owner_id: int | None = None
    archived: bool = False  # threads: archived threads are left out of GUILD_CREATE and the active list
    archived_at: datetime | None = None
    _messages: dict[int, Message] = field(default_factory=dict, repr=False)
    world: World | None = field(default=None, repr=False)

    @property
    def is_voice(self) -> bool:
        return self.type == GUILD_VOICE

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES

    @property
    def messages(self) -> list[Message]:
        """The channel's messages, oldest first (deleted ones are gone)."""
        return sorted(self._messages.values(), key=lambda m: m.id)

    @property
    def pins(self) -> list[Message]:
        """Pinned messages, most recently pinned first (as Discord lists them)."""
        pinned = [m for m in self._messages.values() if m.pinned]
        return sorted(pinned, key=lambda m: (m.pinned_at or m.created_at, m.id), reverse=True)

    def get_message(self, message_id: int) -> Message | None:
        return self._messages.get(message_id)

    @property
    def parent(self) -> Channel | None:
        if self.parent_id is None or self.world is None:
            return None
        return self.world.channels.get(self.parent_id)

    def permission_source(self) -> Channel:
        """Threads take their permissions from their parent channel."""
        if self.is_thread and self.parent is not None:
            return self.parent
        return self

    def to_json(self) -> dict[str, Any]:
        last = max(self._messages, default=None)
        out: dict[str, Any] = {"id": str(self.id), "type": self.type, "flags": 0,
                               "last_message_id": str(last) if last else None}
        if self.type == DM:
            out["recipients"] = [u.to_json() for u in self.recipients]
            return out
        assert self.guild is not None
        out.update({
            "guild_id": str(self.guild.id), "name": self.name, "position": self.position,
            "parent_id": str(self.parent_id) if self.parent_id else None,
        })
        if self.is_thread:
            out.update({
                "owner_id": str(self.owner_id or 0), "message_count": len(self._messages),
                "member_count": 1, "total_message_sent": len(self._messages), "rate_limit_per_user": 0,
                "thread_metadata": {"archived": self.archived, "auto_archive_duration": 1440,
                                    "archive_timestamp": iso(self.archived_at or snowflake_time(self.id)),
                                    "locked": False,
                                    "create_timestamp": iso(snowflake_time(self.id))},
            })
            return out
        out["permission_overwrites"] = [
            {"id": str(o.id), "type": o.type, "allow": str(o.allow), "deny": str(o.deny)}
            for o in self.overwrites.values()
        ]
        if self.type == GUILD_TEXT:
            out.update({"topic": self.topic, "nsfw": False, "rate_limit_per_user": 0})
        elif self.type == GUILD_VOICE:
            out.update({"bitrate": 64000, "user_limit": 0, "rtc_region": None, "nsfw": False,
                        "rate_limit_per_user": 0})
        return out


@dataclass
class AuditLogEntry:
    id: int
    action_type: int
    user_id: int | None
    target_id: int | None
    reason: str | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": str(self.id), "action_type": self.action_type,
            "user_id": str(self.user_id) if self.user_id else None,
            "target_id": str(self.target_id) if self.target_id else None, "changes": self.changes,
        }
        if self.reason:
            out["reason"] = self.reason
        return out


AUDIT_OVERWRITE_CREATE = 13
AUDIT_OVERWRITE_UPDATE = 14
AUDIT_OVERWRITE_DELETE = 15
AUDIT_MEMBER_KICK = 20
AUDIT_MEMBER_BAN_ADD = 22
AUDIT_MEMBER_UPDATE = 24
AUDIT_MEMBER_ROLE_UPDATE = 25
AUDIT_MEMBER_DISCONNECT = 27
AUDIT_BOT_ADD = 28
AUDIT_ROLE_CREATE = 30


class Guild:
    """A server. Its methods change the world the way Discord would and emit the matching events."""

    def __init__(self, world: World, gid: int, name: str, owner: User) -> None:
        self.world = world
        self.id = gid
        self.name = name
        self.owner_id = owner.id
        self.roles: dict[int, Role] = {}
        self.members: dict[int, Member] = {}
        self.channel_ids: list[int] = []
        self.voice_states: dict[int, int] = {}
        self.bans: set[int] = set()
        self.audit_log: list[AuditLogEntry] = []
        self.roles[gid] = Role(gid, self, "@everyone", P.DEFAULT_EVERYONE, 0)

    def __repr__(self) -> str:
        return f"<Guild id={self.id} name={self.name!r}>"

    # ----- reading
    @property
    def everyone(self) -> Role:
        return self.roles[self.id]

    @property
    def channels(self) -> list[Channel]:
        return [self.world.channels[c] for c in self.channel_ids if c in self.world.channels]

    def channel(self, name: str) -> Channel:
        for ch in self.channels:
            if ch.name == name:
                return ch
        raise KeyError(name)

    def member(self, user: User | Member | int) -> Member:
        uid = _uid(user)
        return self.members[uid]

    def role(self, name: str) -> Role:
        for r in self.roles.values():
            if r.name == name:
                return r
        raise KeyError(name)

    def voice_channel_of(self, who: User | Member | int) -> Channel | None:
        cid = self.voice_states.get(_uid(who))
        return None if cid is None else self.world.channels.get(cid)

    def members_in(self, channel: Channel) -> list[Member]:
        return [self.members[u] for u, c in self.voice_states.items() if c == channel.id and u in self.members]

    def permissions_for(self, member: Member | User | int, channel: Channel | None = None) -> int:
        m = self.members[_uid(member)]
        roles = self.roles
        # only the roles the member holds (and @everyone) count; not every role of the server
        role_perms = {rid: roles[rid].permissions for rid in (self.id, *m.role_ids) if rid in roles}
        overwrites = None
        is_voice = is_thread = False
        if channel is not None:
            src = channel.permission_source()
            overwrites = src.overwrites
            is_voice = src.is_voice
            is_thread = channel.is_thread
        return compute_permissions(
            guild_id=self.id, owner_id=self.owner_id, member_id=m.id, member_role_ids=m.role_ids,
            role_permissions=role_perms, overwrites=overwrites, is_voice=is_voice, is_thread=is_thread,
        )

    # ----- json
    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id), "name": self.name, "icon": None, "splash": None, "discovery_splash": None,
            "owner_id": str(self.owner_id), "afk_channel_id": None, "afk_timeout": 300,
            "verification_level": 0, "default_message_notifications": 0, "explicit_content_filter": 0,
            "roles": [r.to_json() for r in self.roles.values()], "emojis": [], "stickers": [],
            "features": [], "mfa_level": 0, "application_id": None, "system_channel_id": None,
            "system_channel_flags": 0, "rules_channel_id": None, "vanity_url_code": None,
            "description": None, "banner": None, "premium_tier": 0, "premium_subscription_count": 0,
            "preferred_locale": "en-US", "public_updates_channel_id": None, "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50, "nsfw_level": 0, "nsfw": False,
            "premium_progress_bar_enabled": False, "safety_alerts_channel_id": None, "widget_enabled": False,
            "widget_channel_id": None, "max_members": 500000, "max_presences": None,
            "region": "deprecated", "home_header": None, "incidents_data": None,
        }

    def voice_state_json(self, user_id: int, channel_id: int | None) -> dict[str, Any]:
        member = self.members.get(user_id)
        return {
            "guild_id": str(self.id), "channel_id": str(channel_id) if channel_id else None,
            "user_id": str(user_id), "member": member.to_json() if member else None,
            "session_id": f"voice-{user_id}", "deaf": False, "mute": False, "self_deaf": False,
            "self_mute": False, "self_video": False, "self_stream": False, "suppress": False,
            "request_to_speak_timestamp": None,
        }

    def create_json(self, *, all_members: bool, bot_id: int | None = None) -> dict[str, Any]:
        """The full GUILD_CREATE payload."""
        data = self.to_json()
        normal = [c for c in self.channels if not c.is_thread]
        threads = [c for c in self.channels if c.is_thread and not c.archived]
        if all_members:
            members = list(self.members.values())
        else:
            keep = set(self.voice_states) | ({bot_id} if bot_id else set())
            members = [m for m in self.members.values() if m.id in keep]
        data.update({
            "joined_at": iso(self.world.clock.now()), "large": False, "unavailable": False,
            "member_count": len(self.members), "voice_states": [
                {k: v for k, v in self.voice_state_json(u, c).items() if k not in ("guild_id", "member")}
                for u, c in self.voice_states.items()
            ],
            "members": [m.to_json() for m in members], "channels": [c.to_json() for c in normal],
            "threads": [c.to_json() for c in threads], "presences": [], "stage_instances": [],
            "guild_scheduled_events": [], "soundboard_sounds": [],
        })
        return data

    def member_update_json(self, m: Member) -> dict[str, Any]:
        out = m.to_json()
        out["guild_id"] = str(self.id)
        return out

    # ----- changes
    def _emit(self, event: str, data: dict[str, Any]) -> None:
        self.world.emit(event, data, self.id)

    def _audit(self, action: int, user_id: int | None, target_id: int | None, reason: str | None = None,
               changes: list[dict[str, Any]] | None = None) -> None:
        self.audit_log.append(AuditLogEntry(self.world.new_id(), action, user_id, target_id, reason,
                                            changes or []))

    def add_member(self, user: User, roles: Iterable[Role | int] = (), nick: str | None = None,
                   joined_at: datetime | None = None) -> Member:
        """``user`` joins the guild (GUILD_MEMBER_ADD)."""
        if user.id in self.bans:
            raise SandboxRefused(f"user {user.id} is banned from guild {self.id}")
        m = Member(user, self, [_rid(r) for r in roles], nick, joined_at or self.world.clock.now())
        self.members[user.id] = m
        self._emit("GUILD_MEMBER_ADD", self.member_update_json(m))
        return m

    def create_role(self, name: str, permissions: int = 0, *, position: int | None = None,
                    managed: bool = False, bot_id: int | None = None, color: int = 0,
                    hoist: bool = False, mentionable: bool = False) -> Role:
        """A new role, placed above all others unless ``position`` is given (GUILD_ROLE_CREATE)."""
        if position is None:
            position = max((r.position for r in self.roles.values()), default=0) + 1
        role = Role(self.world.new_id(), self, name, permissions, position, managed, bot_id, color, hoist,
                    mentionable)
        self.roles[role.id] = role
        self._emit("GUILD_ROLE_CREATE", {"guild_id": str(self.id), "role": role.to_json()})
        return role

    def update_role(self, role: Role, **changes: Any) -> Role:
        for k, v in changes.items():
            setattr(role, k, v)
        self._emit("GUILD_ROLE_UPDATE", {"guild_id": str(self.id), "role": role.to_json()})
        return role

    def delete_role(self, role: Role) -> None:
        del self.roles[role.id]
        for m in self.members.values():
            if role.id in m.role_ids:
                m.role_ids.remove(role.id)
        for ch in self.channels:
            ch.overwrites.pop(role.id, None)
        self._emit("GUILD_ROLE_DELETE", {"guild_id": str(self.id), "role_id": str(role.id)})

    def set_member_roles(self, member: Member, role_ids: Iterable[int]) -> None:
        member.role_ids = [r for r in dict.fromkeys(role_ids) if r != self.id]
        self._emit("GUILD_MEMBER_UPDATE", self.member_update_json(member))

    def _create_channel(self, ctype: int, name: str, parent: Channel | None,
                        overwrites: Iterable[Overwrite] = (), topic: str | None = None,
                        owner_id: int | None = None) -> Channel:
        ch = Channel(self.world.new_id(), ctype, name, self, parent.id if parent else None,
                     len(self.channel_ids), {o.id: o for o in overwrites}, topic, owner_id=owner_id,
                     world=self.world)
        self.world.channels[ch.id] = ch
        self.channel_ids.append(ch.id)
        self._emit("THREAD_CREATE" if ch.is_thread else "CHANNEL_CREATE",
                   ch.to_json() | ({"newly_created": True} if ch.is_thread else {}))
        return ch

    def create_category(self, name: str, overwrites: Iterable[Overwrite] = ()) -> Channel:
        return self._create_channel(GUILD_CATEGORY, name, None, overwrites)

    def create_text_channel(self, name: str, category: Channel | None = None,
                            overwrites: Iterable[Overwrite] = (), topic: str | None = None) -> Channel:
        return self._create_channel(GUILD_TEXT, name, category, overwrites, topic)

    def create_voice_channel(self, name: str, category: Channel | None = None,
                             overwrites: Iterable[Overwrite] = ()) -> Channel:
        return self._create_channel(GUILD_VOICE, name, category, overwrites)

    def create_thread(self, parent: Channel, name: str, *, private: bool = False,
                      owner: User | Member | None = None) -> Channel:
        return self._create_channel(PRIVATE_THREAD if private else PUBLIC_THREAD, name, parent,
                                    owner_id=_uid(owner) if owner else self.owner_id)

    def archive_thread(self, thread: Channel, archived: bool = True) -> None:
        """Archive (or unarchive) a thread, as Discord does after its inactivity period: THREAD_UPDATE."""
        thread.archived = archived
        thread.archived_at = self.world.clock.now() if archived else None
        self._emit("THREAD_UPDATE", thread.to_json())

    def update_channel(self, channel: Channel, **changes: Any) -> None:
        for k, v in changes.items():
            setattr(channel, k, v)
        self._emit("THREAD_UPDATE" if channel.is_thread else "CHANNEL_UPDATE", channel.to_json())

    def delete_channel(self, channel: Channel) -> None:
        self.world.channels.pop(channel.id, None)
        if channel.id in self.channel_ids:
            self.channel_ids.remove(channel.id)
        for uid, cid in list(self.voice_states.items()):
            if cid == channel.id:
                self.set_voice(uid, None)
        if channel.is_thread:
            self._emit("THREAD_DELETE", {"id": str(channel.id), "guild_id": str(self.id),
                                         "parent_id": str(channel.parent_id), "type": channel.type})
        else:
            self._emit("CHANNEL_DELETE", channel.to_json())

    def set_overwrite(self, channel: Channel, target: Role | Member | User, *, allow: int = 0,
                      deny: int = 0, by: User | Member | None = None) -> None:
        """An admin (``by``, default the owner) edits a channel's overwrite (CHANNEL_UPDATE + audit entry)."""
        otype = P.ROLE_OVERWRITE if isinstance(target, Role) else P.MEMBER_OVERWRITE
        self.write_overwrite(channel, Overwrite(target.id, otype, allow, deny),
                             by=_uid(by) if by is not None else self.owner_id)

    def write_overwrite(self, channel: Channel, overwrite: Overwrite, *, by: int | None,
                        reason: str | None = None) -> None:
        existed = overwrite.id in channel.overwrites
        channel.overwrites[overwrite.id] = overwrite
        self._audit(AUDIT_OVERWRITE_UPDATE if existed else AUDIT_OVERWRITE_CREATE, by, channel.id, reason,
                    [{"key": "allow", "new_value": str(overwrite.allow)},
                     {"key": "deny", "new_value": str(overwrite.deny)}])
        self.update_channel(channel)

    def remove_overwrite(self, channel: Channel, target: Role | Member | User | int, *,
                         by: User | Member | int | None = None, reason: str | None = None) -> None:
        if channel.overwrites.pop(target if isinstance(target, int) else target.id, None) is None:
            return
        self._audit(AUDIT_OVERWRITE_DELETE, _uid(by) if by is not None else self.owner_id, channel.id, reason)
        self.update_channel(channel)

    def set_voice(self, who: User | Member | int, channel: Channel | None) -> None:
        """Move a voice state without any permission check (VOICE_STATE_UPDATE)."""
        uid = _uid(who)
        if channel is None:
            if self.voice_states.pop(uid, None) is None:
                return
        else:
            self.voice_states[uid] = channel.id
        self._emit("VOICE_STATE_UPDATE", self.voice_state_json(uid, channel.id if channel else None))

    def join_voice(self, member: Member | User, channel: Channel) -> None:
        """A person joins a voice channel; raises SandboxRefused without VIEW_CHANNEL and CONNECT."""
        if channel.type != GUILD_VOICE:
            raise SandboxRefused(f"channel {channel.id} is not a voice channel")
        perms = self.permissions_for(member, channel)
        if not perms & P.VIEW_CHANNEL or not perms & P.CONNECT:
            raise SandboxRefused(f"member {_uid(member)} may not connect to channel {channel.id}")
        self.set_voice(member, channel)

    def leave_voice(self, member: Member | User) -> None:
        self.set_voice(member, None)

    def remove_member(self, member: Member | User | int, *, by: User | None = None,
                      reason: str | None = None, ban: bool = False) -> None:
        uid = _uid(member)
        m = self.members.pop(uid, None)
        if uid in self.voice_states:
            del self.voice_states[uid]
            self._emit("VOICE_STATE_UPDATE", self.voice_state_json(uid, None))
        if ban:
            self.bans.add(uid)
            self._audit(AUDIT_MEMBER_BAN_ADD, by.id if by else None, uid, reason)
            user = self.world.users[uid]
            self._emit("GUILD_BAN_ADD", {"guild_id": str(self.id), "user": user.to_json()})
        elif m is not None:
            self._audit(AUDIT_MEMBER_KICK, by.id if by else None, uid, reason)
        if m is not None:
            self._emit("GUILD_MEMBER_REMOVE", {"guild_id": str(self.id), "user": m.user.to_json()})

    def add_bot(self, app: Application, permissions: int = 0, *, by: User | None = None) -> Member:
        """The owner (or ``by``) adds ``app``'s bot with a managed role holding ``permissions``.

        Emits GUILD_ROLE_CREATE and GUILD_MEMBER_ADD (and GUILD_CREATE to the bot itself when it is
        connected) and writes a BOT_ADD audit log entry naming who added it.
        """
        adder = by.id if by else self.owner_id
        role = self.create_role(app.bot.username, permissions, managed=True, bot_id=app.bot.id)
        m = Member(app.bot, self, [role.id], None, self.world.clock.now())
        self.members[app.bot.id] = m
        self._audit(AUDIT_BOT_ADD, adder, app.bot.id)
        self._audit(AUDIT_ROLE_CREATE, adder, role.id)
        self._emit("GUILD_MEMBER_ADD", self.member_update_json(m))
        self.world.on_bot_added(self, app)
        return m

    def bot_member(self, app: Application) -> Member | None:
        return self.members.get(app.bot.id)

    def post(self, channel: Channel, author: Member | User, content: str = "", **kw: Any) -> Message:
        return self.world.post(channel, author, content, **kw)


def _uid(who: User | Member | int) -> int:
    return who if isinstance(who, int) else who.id


def _rid(role: Role | int) -> int:
    return role if isinstance(role, int) else role.id


class World:
    """All state of one sandbox."""

    def __init__(self, clock: Clock, emit: Emit | None = None) -> None:
        self.clock = clock
        self._snowflakes = SnowflakeMaker()
        self.users: dict[int, User] = {}
        self.applications: dict[int, Application] = {}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.dm_channels: dict[int, Channel] = {}
        self._emit = emit
        self.bot_added_hook: Callable[[Guild, Application], None] | None = None
        self._last_pin: datetime | None = None

    def new_id(self, at: datetime | None = None) -> int:
        return self._snowflakes.make(at or self.clock.now())

    def emit(self, event: str, data: dict[str, Any], guild_id: int | None = None) -> None:
        if self._emit is not None:
            self._emit(event, data, guild_id)

    def on_bot_added(self, guild: Guild, app: Application) -> None:
        if self.bot_added_hook is not None:
            self.bot_added_hook(guild, app)

    # ----- creation
    def create_user(self, username: str, *, bot: bool = False, global_name: str | None = None,
                    dms_open: bool = True) -> User:
        user = User(self.new_id(), username, bot, global_name, dms_open, self)
        self.users[user.id] = user
        return user

    def create_application(self, name: str, *, owner: User | None = None, intents_enabled: int = 0,
                           token: str | None = None) -> Application:
        """An application with a bot user. ``intents_enabled``: privileged intents switched on."""
        owner = owner or self.create_user(f"{name}-owner")
        bot = self.create_user(name, bot=True)
        app = Application(bot.id, name, owner, bot, token or f"sandbox.{bot.id}.{secrets.token_hex(12)}",
                          intents_enabled)
        self.applications[app.id] = app
        return app

    def create_guild(self, name: str, owner: User) -> Guild:
        g = Guild(self, self.new_id(), name, owner)
        self.guilds[g.id] = g
        g.members[owner.id] = Member(owner, g, [], None, self.clock.now())
        return g

    def app_by_token(self, token: str) -> Application | None:
        for app in self.applications.values():
            if app.token == token:
                return app
        return None

    def dm_channel(self, user: User, other: User) -> Channel:
        """The DM channel between a person and a bot (one per person in this model)."""
        ch = self.dm_channels.get(user.id)
        if ch is None:
            ch = Channel(self.new_id(), DM, None, None, recipients=[user], world=self)
            self.dm_channels[user.id] = ch
            self.channels[ch.id] = ch
        return ch

    # ----- messages
    def post(self, channel: Channel, author: Member | User, content: str = "", *,
             at: datetime | None = None, embeds: list[dict[str, Any]] | None = None,
             components: list[dict[str, Any]] | None = None, mentions: Iterable[User] = (),
             check: bool = True, flags: int = 0, emit: bool = True, **extra: Any) -> Message:
        """``author`` posts a message (MESSAGE_CREATE). ``at`` backdates its snowflake."""
        user = author.user if isinstance(author, Member) else author
        if check and channel.guild is not None and not user.bot:
            perms = channel.guild.permissions_for(user, channel)
            need = P.SEND_MESSAGES_IN_THREADS if channel.is_thread else P.SEND_MESSAGES
            if not perms & P.VIEW_CHANNEL or not perms & need:
                raise SandboxRefused(f"user {user.id} may not post in channel {channel.id}")
        mentioned = list(mentions)
        if not mentioned and "<@" in content:
            mentioned = [self.users[int(u)] for u in _MENTION.findall(content) if int(u) in self.users]
        msg = Message(self.new_id(at), channel, user, content, list(embeds or []), list(components or []),
                      flags, mentions=mentioned, **extra)
        if msg.pinned and msg.pinned_at is None:
            msg.pinned_at = self._pin_time()
        if not msg.ephemeral:
            channel._messages[msg.id] = msg
            if emit:
                self.emit("MESSAGE_CREATE", msg.to_json(with_member=True),
                          channel.guild.id if channel.guild else None)
        return msg

    def edit_message(self, msg: Message, **changes: Any) -> Message:
        for k, v in changes.items():
            setattr(msg, k, v)
        msg.edited_at = self.clock.now()
        if not msg.ephemeral and msg.channel.get_message(msg.id) is msg:
            self.emit("MESSAGE_UPDATE", msg.to_json(with_member=True), _gid(msg.channel))
        return msg

    def delete_message(self, msg: Message) -> None:
        if msg.channel._messages.pop(msg.id, None) is None:
            return
        data: dict[str, Any] = {"id": str(msg.id), "channel_id": str(msg.channel.id)}
        if msg.channel.guild is not None:
            data["guild_id"] = str(msg.channel.guild.id)
        self.emit("MESSAGE_DELETE", data, _gid(msg.channel))

    def set_pinned(self, msg: Message, pinned: bool) -> None:
        if pinned and not msg.pinned:
            msg.pinned_at = self._pin_time()
        elif not pinned:
            msg.pinned_at = None
        msg.pinned = pinned
        data: dict[str, Any] = {"channel_id": str(msg.channel.id),
                                "last_pin_timestamp": iso(self.clock.now()) if pinned else None}
        if msg.channel.guild is not None:
            data["guild_id"] = str(msg.channel.guild.id)
        self.emit("MESSAGE_UPDATE", msg.to_json(with_member=True), _gid(msg.channel))
        self.emit("CHANNEL_PINS_UPDATE", data, _gid(msg.channel))

    def _pin_time(self) -> datetime:
        """The clock's time, one millisecond past the latest pin if the clock has not moved since:
        pins page by their pinned-at time, which Discord never gives two pins of one channel."""
        now = self.clock.now()
        if self._last_pin is not None and now <= self._last_pin:
            now = self._last_pin + timedelta(milliseconds=1)
        self._last_pin = now
        return now

    def older_than(self, days: float) -> datetime:
        return self.clock.now() - timedelta(days=days)


_MENTION = re.compile(r"<@!?(\d+)>")


def _gid(channel: Channel) -> int | None:
    return channel.guild.id if channel.guild else None
