"""What facilitators type about groups, turned into groups and names, and the permission checks that
answer with the missing permission's name and where to grant it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.core.permissions import human_name
from bot.core.records import GroupInfo
from bot.ui.checks import is_group_facilitator, require_group_facilitator
from bot.ui.replies import MissingBotPermission, UserError, echo

if TYPE_CHECKING:
    from bot.app import HoldspaceBot

NAME_MIN, NAME_MAX = 2, 40
_NAME_RE = re.compile(r"^[\w][\w '&.\-]*$")


def validate_group_name(raw: str) -> str:
    name = " ".join((raw or "").split())
    if not name:
        raise UserError("The group needs a name, for example `Tuesday circle`.")
    if len(name) < NAME_MIN or len(name) > NAME_MAX:
        raise UserError(f"A group name has {NAME_MIN} to {NAME_MAX} characters; that one has {len(name)}.")
    if not _NAME_RE.match(name) or "_" in name:
        raise UserError(
            "A group name may use letters, digits, spaces and - ' & . only, and starts with a letter or digit."
        )
    return name


def channel_slug(name: str) -> str:
    slug = re.sub(r"[^\w\-]+", "-", name.casefold()).strip("-")
    slug = re.sub(r"-{2,}", "-", slug)
    return slug[:90] or "group"


def plural(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def missing_permission_error(names: Iterable[str], action: str, where: str | None = None) -> MissingBotPermission:
    human = [human_name(n) for n in names]
    noun = "permission" if len(human) == 1 else "permissions"
    if where:
        place = (
            f"Grant {'it' if len(human) == 1 else 'them'} to holdspace in {where}'s settings (Edit Channel → "
            "Permissions → holdspace) or to holdspace's role in Server Settings → Roles"
        )
    else:
        place = f"Grant {'it' if len(human) == 1 else 'them'} to holdspace's role in Server Settings → Roles"
    return MissingBotPermission(
        f"holdspace needs the {plural(human)} {noun} to {action}. {place}, then try again. Nothing was changed."
    )


def require_guild_permissions(guild: discord.Guild, names: Iterable[str], action: str) -> None:
    perms = guild.me.guild_permissions
    if perms.administrator:
        return
    missing = [n for n in names if not getattr(perms, n)]
    if missing:
        raise missing_permission_error(missing, action)


def require_channel_permissions(channel: discord.abc.GuildChannel, names: Iterable[str], action: str) -> None:
    perms = channel.permissions_for(channel.guild.me)
    if perms.administrator:
        return
    missing = [n for n in names if not getattr(perms, n)]
    if missing:
        raise missing_permission_error(missing, action, f"#{channel.name}")


async def group_autocomplete(
    interaction: discord.Interaction[HoldspaceBot], current: str
) -> list[app_commands.Choice[str]]:
    """The groups the person runs (all of them for a server manager); nothing for anyone else, so
    group names never reach people the command is not for."""
    if interaction.guild_id is None or not isinstance(interaction.user, discord.Member):
        return []
    needle = current.casefold().strip()
    return [
        app_commands.Choice(name=g.name[:100], value=g.name[:100])
        for g in interaction.client.state.groups_of_guild(interaction.guild_id)
        if needle in g.name.casefold() and is_group_facilitator(interaction, g)
    ][:25]


def resolve_group(interaction: discord.Interaction[HoldspaceBot], name: str) -> GroupInfo:
    assert interaction.guild_id is not None
    if not name or not name.strip():
        raise UserError("Name a group; `/group list` shows this server's groups.")
    if len(name) > 100:
        raise UserError("That group name is too long; pick a group from the list.")
    group = interaction.client.state.group_by_name(interaction.guild_id, name)
    if group is None:
        raise UserError(f"There is no group called “{echo(name, 40)}” on this server; `/group list` shows them.")
    return group


def resolve_facilitated_group(interaction: discord.Interaction[HoldspaceBot], name: str) -> GroupInfo:
    """The group named ``name``, when the person asking facilitates it (or manages the server)."""
    group = resolve_group(interaction, name)
    require_group_facilitator(interaction, group)
    return group
