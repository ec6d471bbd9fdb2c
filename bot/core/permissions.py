"""The Discord permissions holdspace needs, in one place: the invite link, the rooms' overwrites and
the server audit all read from here."""

from __future__ import annotations

import discord

from bot.i18n import N_, _

# Server-wide permissions holdspace asks for in its invite link, each with the reason it is needed.
SERVER_PERMISSIONS: dict[str, str] = {
    "view_channel": "see the group rooms it looks after",
    "manage_channels": "create group rooms and keep their permission overwrites right",
    "manage_roles": "grant and withdraw members' access to group rooms",
    "send_messages": "post ground-rule reminders and consent prompts",
    "embed_links": "show the agreement and reminders as embeds",
    "read_message_history": "find messages that must expire after an outage",
    "manage_messages": "delete expiring messages",
    "manage_threads": "delete expiring messages in threads",
    "connect": "let consented members connect (it can only grant what it holds; it never joins voice)",
    "speak": "let consented members speak (it can only grant what it holds)",
    "move_members": "disconnect people and bots that must not be in a group's voice room",
    "kick_members": "kick a recording bot when the server's guard action is kick",
    "ban_members": "ban a recording bot when the server's guard action is ban",
    "view_audit_log": "name who added a bot to the server",
}

# What holdspace must hold inside every group room (a subset of the above, checked per channel).
ROOM_PERMISSIONS: tuple[str, ...] = (
    "view_channel",
    "manage_channels",
    "manage_roles",
    "send_messages",
    "embed_links",
    "read_message_history",
    "manage_messages",
    "connect",
    "move_members",
)

# What a consented member is allowed in a group's rooms.
MEMBER_ROOM_PERMISSIONS: tuple[str, ...] = (
    "view_channel",
    "send_messages",
    "read_message_history",
    "connect",
    "speak",
)

# What nobody without access may have: denying these two closes text and voice rooms alike.
CLOSED_PERMISSIONS: tuple[str, ...] = ("view_channel", "connect")


def permissions_of(names: tuple[str, ...] | list[str]) -> discord.Permissions:
    return discord.Permissions(**dict.fromkeys(names, True))


def invite_permissions() -> discord.Permissions:
    return permissions_of(list(SERVER_PERMISSIONS))


# Discord's own names for the permissions, so a reader finds them in its settings in their language.
_HUMAN_NAMES: dict[str, str] = {
    "administrator": N_("Administrator"),
    "view_channel": N_("View Channels"),
    "manage_channels": N_("Manage Channels"),
    "manage_roles": N_("Manage Roles (Manage Permissions in a channel)"),
    "send_messages": N_("Send Messages"),
    "embed_links": N_("Embed Links"),
    "read_message_history": N_("Read Message History"),
    "manage_messages": N_("Manage Messages"),
    "manage_threads": N_("Manage Threads"),
    "connect": N_("Connect"),
    "speak": N_("Speak"),
    "move_members": N_("Move Members"),
    "kick_members": N_("Kick Members"),
    "ban_members": N_("Ban Members"),
    "view_audit_log": N_("View Audit Log"),
}


def human_name(permission: str) -> str:
    """'manage_roles' -> 'Manage Roles', the way Discord's settings show it in the reader's language."""
    known = _HUMAN_NAMES.get(permission)
    return _(known) if known is not None else permission.replace("_", " ").title()


def invite_url(application_id: int) -> str:
    return discord.utils.oauth_url(
        application_id,
        permissions=invite_permissions(),
        scopes=("bot", "applications.commands"),
    )
