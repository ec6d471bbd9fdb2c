"""Overwrites as data: one reading of discord.py's overwrite targets for every feature."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import discord

from bot.core import overwrites as ow
from bot.services.rooms import current_overwrites, target_of


def test_a_role_given_as_a_bare_object_is_a_role() -> None:
    assert target_of(discord.Object(id=5, type=discord.Role)) == ow.Target(ow.ROLE, 5)
    assert target_of(discord.Object(id=6, type=discord.Member)) == ow.Target(ow.MEMBER, 6)
    assert target_of(discord.Object(id=7)) == ow.Target(ow.MEMBER, 7)


def test_current_overwrites_reads_allow_and_deny_per_target() -> None:
    role = discord.Object(id=1, type=discord.Role)
    member = discord.Object(id=2, type=discord.Member)
    overwrites: dict[Any, discord.PermissionOverwrite] = {
        role: discord.PermissionOverwrite(view_channel=True),
        member: discord.PermissionOverwrite(connect=False),
    }
    channel = cast(discord.abc.GuildChannel, SimpleNamespace(overwrites=overwrites))
    assert current_overwrites(channel) == {
        ow.Target(ow.ROLE, 1): ow.Want(discord.Permissions(view_channel=True).value, 0),
        ow.Target(ow.MEMBER, 2): ow.Want(0, discord.Permissions(connect=True).value),
    }
