"""Reads which staff commands Discord still hides from the staff roles (two requests, on demand).

Used by /setup configure's reply and /guard audit; the rule itself is in bot.core.command_access.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord

from bot.core.command_access import CommandFacts, Gap, Override, closed_staff_commands

if TYPE_CHECKING:
    from bot.app import HoldspaceBot

log = logging.getLogger(__name__)


async def staff_command_gaps(bot: HoldspaceBot, guild: discord.Guild) -> list[Gap] | None:
    """The staff commands their role cannot see yet, or None when Discord would not say."""
    cfg = bot.state.guilds.get(guild.id)
    if cfg is None or bot.application_id is None:
        return []
    try:
        synced = await bot.tree.fetch_commands()
        raw = await bot.http.get_guild_application_command_permissions(bot.application_id, guild.id)
    except discord.HTTPException:
        log.warning("could not read the command permissions of a server")
        return None
    commands = [
        CommandFacts(
            c.name,
            c.id,
            None if c.default_member_permissions is None else c.default_member_permissions.value,
        )
        for c in synced
    ]
    overrides = {
        int(entry["id"]): [Override(int(p["id"]), int(p["type"]), bool(p["permission"])) for p in entry["permissions"]]
        for entry in raw
    }
    return closed_staff_commands(
        commands,
        overrides,
        app_id=bot.application_id,
        guild_id=guild.id,
        staff_roles={"facilitator": cfg.facilitator_role_id, "moderator": cfg.moderator_role_id},
        role_permissions={role.id: role.permissions.value for role in guild.roles},
    )
