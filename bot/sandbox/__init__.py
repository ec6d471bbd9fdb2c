"""A local stand-in for Discord's API (REST + gateway) that the real discord.py client connects to.

See docs/sandbox.md. Public surface: :class:`Sandbox`, :func:`point_discord_at`,
:class:`SandboxRefused`, :class:`InteractionHandle` and the world types.
"""

from __future__ import annotations

from . import permissions
from .client import FAST_CLIENT_OPTIONS, running
from .errors import ApiError, SandboxRefused
from .interactions import InteractionHandle
from .permissions import Overwrite, compute_permissions
from .ratelimit import RateLimitConfig
from .recorder import RecordedEvent, RecordedRequest
from .server import Sandbox, point_discord_at
from .snowflakes import snowflake_at, snowflake_time
from .world import Application, AuditLogEntry, Channel, Guild, Member, Message, Role, User, World

__all__ = [
    "FAST_CLIENT_OPTIONS",
    "ApiError",
    "Application",
    "AuditLogEntry",
    "Channel",
    "Guild",
    "InteractionHandle",
    "Member",
    "Message",
    "Overwrite",
    "RateLimitConfig",
    "RecordedEvent",
    "RecordedRequest",
    "Role",
    "Sandbox",
    "SandboxRefused",
    "User",
    "World",
    "compute_permissions",
    "permissions",
    "point_discord_at",
    "running",
    "snowflake_at",
    "snowflake_time",
]
