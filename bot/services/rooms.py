"""A channel's permission overwrites as pure data, and writing one overwrite: the one place that reads
overwrites from discord.py's cache and the one place that changes an overwrite on Discord. Access,
reconcile, the groups, sessions and guard features all go through it."""

from __future__ import annotations

from typing import Any, Protocol

import discord
from discord.http import HTTPClient

from bot.core import overwrites as ow


def target_of(target: discord.Role | discord.Member | discord.Object | Any) -> ow.Target:
    """An overwrite's target as data: roles (also a ``discord.Object`` standing for a role) or members."""
    if isinstance(target, discord.Role):
        kind = ow.ROLE
    elif isinstance(target, discord.Object):
        kind = ow.ROLE if target.type is discord.Role else ow.MEMBER
    else:
        kind = ow.MEMBER
    return ow.Target(kind, target.id)


def current_overwrites(channel: discord.abc.GuildChannel) -> ow.Overwrites:
    """A channel's overwrites as pure data (from discord.py's cache)."""
    raw = getattr(channel, "_overwrites", None)
    if isinstance(raw, list):
        # discord.py keeps each overwrite as id, type and the two integers Discord sent; its public
        # ``overwrites`` builds two flag objects per target, which with a server's thousands of bots
        # (each carrying the guard's deny) blocked the event loop for tens of milliseconds per room.
        return {
            ow.Target(ow.ROLE if o.type == 0 else ow.MEMBER, o.id): ow.Want(o.allow, o.deny) for o in raw
        }
    out: ow.Overwrites = {}
    for target, pair in channel.overwrites.items():
        allow, deny = pair.pair()
        out[target_of(target)] = ow.Want(allow.value, deny.value)
    return out


def to_discord(want: ow.Overwrites, guild: discord.Guild) -> dict[Any, discord.PermissionOverwrite]:
    """Overwrites as discord.py wants them when creating a channel (targets not cached are left out)."""
    out: dict[Any, discord.PermissionOverwrite] = {}
    for target, bits in want.items():
        obj: Any = guild.get_role(target.id) if target.kind == ow.ROLE else guild.get_member(target.id)
        if obj is None:
            continue
        out[obj] = discord.PermissionOverwrite.from_pair(
            discord.Permissions(bits.allow), discord.Permissions(bits.deny)
        )
    return out


class HasHttp(Protocol):
    """Anything that talks to Discord: the bot."""

    @property
    def http(self) -> HTTPClient: ...


async def put_overwrite(client: HasHttp, channel_id: int, target: ow.Target, want: ow.Want | None, reason: str) -> None:
    """Set (or with None delete) one overwrite by id; works for people not in the cache."""
    if want is None:
        await client.http.delete_channel_permissions(channel_id, target.id, reason=reason)
    else:
        await client.http.edit_channel_permissions(
            channel_id,
            target.id,
            str(want.allow),
            str(want.deny),
            0 if target.kind == ow.ROLE else 1,
            reason=reason,
        )
