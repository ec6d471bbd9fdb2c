"""Who may use an application command in a server, as Discord decides it.

A command's ``default_member_permissions`` (null: everyone; "0": administrators only; otherwise
every listed bit) applies until a server admin sets overrides in Server Settings > Integrations.
Overrides exist per command and for the whole application (command id = application id); a
command's own overrides come first, the application's after. In each, a channel override (or the
"all channels" one, id = guild id - 1) can shut the command out of a channel; for the person, a user
override decides, else any override on one of their roles (an allow on any role wins), else the
@everyone override (id = guild id). With no override for the person at either level the default
applies. The owner and Administrator may always use every command.

Types: 1 role, 2 user, 3 channel (Discord's ``APPLICATION_COMMAND_PERMISSION_TYPE``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import permissions as P

if TYPE_CHECKING:
    from .world import Application, Channel, Guild

ROLE, USER, CHANNEL = 1, 2, 3

__all__ = ["CHANNEL", "ROLE", "USER", "guild_permissions_json", "may_use"]


def _overrides(app: Application, guild: Guild, target_id: int) -> list[dict[str, Any]]:
    return list(app.command_permissions.get(guild.id, {}).get(target_id, []))


def _channel_verdict(entries: list[dict[str, Any]], guild: Guild, channel: Channel | None) -> bool | None:
    by_id = {int(e["id"]): bool(e["permission"]) for e in entries if int(e["type"]) == CHANNEL}
    if channel is not None and channel.id in by_id:
        return by_id[channel.id]
    return by_id.get(guild.id - 1)


def _person_verdict(entries: list[dict[str, Any]], guild: Guild, user_id: int, role_ids: list[int]) -> bool | None:
    users = {int(e["id"]): bool(e["permission"]) for e in entries if int(e["type"]) == USER}
    if user_id in users:
        return users[user_id]
    roles = {int(e["id"]): bool(e["permission"]) for e in entries if int(e["type"]) == ROLE}
    held = [roles[r] for r in role_ids if r in roles and r != guild.id]
    if held:
        return any(held)
    return roles.get(guild.id)


def may_use(app: Application, guild: Guild, user_id: int, channel: Channel | None, cmd: dict[str, Any]) -> bool:
    member = guild.members[user_id]
    base = guild.permissions_for(member)
    if guild.owner_id == user_id or base & P.ADMINISTRATOR:
        return True
    levels = (_overrides(app, guild, int(cmd["id"])), _overrides(app, guild, app.id))
    for entries in levels:
        verdict = _channel_verdict(entries, guild, channel)
        if verdict is not None:
            if not verdict:
                return False
            break
    for entries in levels:
        verdict = _person_verdict(entries, guild, user_id, list(member.role_ids))
        if verdict is not None:
            return verdict
    default = cmd.get("default_member_permissions")
    if default is None:
        return True
    needed = int(default)
    return needed != 0 and base & needed == needed


def guild_permissions_json(app: Application, guild: Guild, target_id: int) -> dict[str, Any]:
    """One ``GuildApplicationCommandPermissions`` object, as the permissions routes return it."""
    return {
        "id": str(target_id), "application_id": str(app.id), "guild_id": str(guild.id),
        "permissions": [
            {"id": str(e["id"]), "type": int(e["type"]), "permission": bool(e["permission"])}
            for e in _overrides(app, guild, target_id)
        ],
    }
