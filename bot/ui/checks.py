"""Runtime role checks for slash commands.

Every command group carries ``default_permissions`` so Discord hides it from people who should not
use it, but a server administrator can open any command to everyone in Server Settings →
Integrations. These checks run inside holdspace on every invocation, so they hold regardless.

- server manager: the Manage Server permission (or Administrator);
- facilitator: the facilitator role set with /setup (server managers count as facilitators too);
  a group that names its own facilitators (`/group facilitator add`) is run by them alone;
- moderator: the moderator role set with /setup (server managers count as moderators too).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import discord
from discord import app_commands

from bot.core.records import GroupInfo
from bot.i18n import N_, _
from bot.state import State
from bot.ui.replies import UserError

T = TypeVar("T")

NOT_SET_UP = N_(
    "holdspace is not set up on this server yet: a server manager runs `/setup configure` first "
    "(facilitator role, moderator role, log channel, lobby channel and time zone)."
)


def _member(interaction: discord.Interaction[Any]) -> discord.Member:
    if interaction.guild is None or not isinstance(interaction.user, discord.Member):
        raise app_commands.NoPrivateMessage()
    return interaction.user


def state_of(interaction: discord.Interaction[Any]) -> State:
    """holdspace's memory, from the bot that received the interaction."""
    state: State = interaction.client.state
    return state


def has_role(member: discord.Member, role_id: int | None) -> bool:
    return role_id is not None and any(role.id == role_id for role in member.roles)


def is_server_manager(interaction: discord.Interaction[Any]) -> bool:
    _member(interaction)
    perms = interaction.permissions
    return bool(perms.manage_guild or perms.administrator)


def is_facilitator(interaction: discord.Interaction[Any]) -> bool:
    member = _member(interaction)
    cfg = state_of(interaction).guilds.get(member.guild.id)
    return is_server_manager(interaction) or (cfg is not None and has_role(member, cfg.facilitator_role_id))


def is_moderator(interaction: discord.Interaction[Any]) -> bool:
    member = _member(interaction)
    cfg = state_of(interaction).guilds.get(member.guild.id)
    return is_server_manager(interaction) or (cfg is not None and has_role(member, cfg.moderator_role_id))


def require_server_manager(interaction: discord.Interaction[Any]) -> None:
    if not is_server_manager(interaction):
        raise UserError(
            _(
                "Only server managers can use this command (the Manage Server permission). "
                "Ask someone who manages the server."
            )
        )


def require_facilitator(interaction: discord.Interaction[Any]) -> None:
    member = _member(interaction)
    cfg = state_of(interaction).guilds.get(member.guild.id)
    if is_server_manager(interaction):
        return
    if cfg is None or cfg.facilitator_role_id is None:
        raise UserError(_(NOT_SET_UP))
    if not has_role(member, cfg.facilitator_role_id):
        raise UserError(
            _(
                "Only facilitators can use this command: people with the {role} role. "
                "Someone who manages this server can give you that role."
            ).format(role=f"<@&{cfg.facilitator_role_id}>")
        )


def is_group_facilitator(interaction: discord.Interaction[Any], group: GroupInfo) -> bool:
    """A server manager, or a facilitator of ``group`` (its own where it names some, else the role)."""
    member = _member(interaction)
    return is_server_manager(interaction) or state_of(interaction).facilitates(
        group, member.id, [role.id for role in member.roles]
    )


def require_group_facilitator(interaction: discord.Interaction[Any], group: GroupInfo) -> None:
    require_facilitator(interaction)
    if not is_group_facilitator(interaction, group):
        raise UserError(
            _(
                "Only the facilitators of {group} can do this. One of them, or a server manager, can add "
                "you with `/group facilitator add`."
            ).format(group=group.name)
        )


def require_moderator(interaction: discord.Interaction[Any]) -> None:
    member = _member(interaction)
    cfg = state_of(interaction).guilds.get(member.guild.id)
    if is_server_manager(interaction):
        return
    if cfg is None or cfg.moderator_role_id is None:
        raise UserError(_(NOT_SET_UP))
    if not has_role(member, cfg.moderator_role_id):
        raise UserError(_("Only moderators can use this command."))


#: The roles a command may ask for (server managers pass every check).
SERVER_MANAGER, FACILITATOR, MODERATOR = "server manager", "facilitator", "moderator"


def _as_check(require: Callable[[discord.Interaction[Any]], None], role: str) -> Callable[[T], T]:
    async def predicate(interaction: discord.Interaction[Any]) -> bool:
        require(interaction)
        return True

    predicate.holdspace_role = role  # type: ignore[attr-defined]  # read by role_needed
    return app_commands.check(predicate)


def role_needed(command: app_commands.Command[Any, ..., Any]) -> str | None:
    """The role a command's check decorator asks for (None: anyone may run it), so a text that sends
    someone to a command can be held against who may run it."""
    for check in command.checks:
        role = getattr(check, "holdspace_role", None)
        if role is not None:
            return str(role)
    return None


def server_manager_only() -> Callable[[T], T]:
    """Check decorator: server managers only."""
    return _as_check(require_server_manager, SERVER_MANAGER)


def facilitators_only() -> Callable[[T], T]:
    """Check decorator: facilitators (and server managers) only."""
    return _as_check(require_facilitator, FACILITATOR)


def moderators_only() -> Callable[[T], T]:
    """Check decorator: moderators (and server managers) only."""
    return _as_check(require_moderator, MODERATOR)


def in_guild() -> Callable[[T], T]:
    """Check decorator: the command works inside a server only."""

    async def predicate(interaction: discord.Interaction[Any]) -> bool:
        _member(interaction)
        return True

    return app_commands.check(predicate)
