"""Answers to people: always polite, ephemeral for errors, never a traceback."""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

log = logging.getLogger(__name__)

GENERIC_FAILURE = (
    "Something went wrong on holdspace's side and nothing was changed. Please try again in a moment; "
    "if it keeps happening, tell a moderator."
)


class UserError(app_commands.AppCommandError):
    """A problem with what someone asked for; the message says what to do and is shown ephemerally."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MissingBotPermission(UserError):
    """holdspace lacks a Discord permission it needs; the message names it and where to grant it."""


async def send_ephemeral(
    interaction: discord.Interaction[Any],
    content: str | None = None,
    *,
    embed: discord.Embed | None = None,
    view: discord.ui.View | None = None,
) -> None:
    """Answer ephemerally, as the first reply or as a follow-up when one was already sent."""
    kwargs: dict[str, Any] = {"content": content, "ephemeral": True}
    if embed is not None:
        kwargs["embed"] = embed
    if view is not None:
        kwargs["view"] = view
    if interaction.response.is_done():
        await interaction.followup.send(**kwargs)
    else:
        await interaction.response.send_message(**kwargs)


def explain(error: BaseException) -> str:
    """What to tell a person about ``error``."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, UserError):
        return error.message
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command works inside a server, not in direct messages."
    if isinstance(error, app_commands.MissingPermissions):
        return "You need the permission to manage this server to use this command."
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Please wait {error.retry_after:.0f} seconds before trying again."
    if isinstance(error, app_commands.CheckFailure):
        return "You are not allowed to use this command."
    if isinstance(error, app_commands.TransformerError):
        kind = error.transformer.type.name.lower().replace("_", " ")
        if kind in ("channel", "role", "user", "mentionable"):
            return f"That {kind} could not be used here: please pick one of this server's from the list."
        return f"That value could not be used as a {kind}; please pick one from the list."
    if isinstance(error, discord.Forbidden):
        return (
            "holdspace lacks a Discord permission for this. Run /guard audit to see which one, "
            "then grant it to holdspace's role in Server Settings."
        )
    return GENERIC_FAILURE


async def reply_error(interaction: discord.Interaction[Any], error: BaseException) -> None:
    """The one error answer of every command, button and modal."""
    original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
    if isinstance(original, app_commands.TransformerError):
        # A value Discord let someone type but that is not usable here (say, another server's channel).
        log.debug("interaction %s got an unusable option value", getattr(interaction.command, "qualified_name", "?"))
    elif not isinstance(original, (UserError, app_commands.CheckFailure)):
        log.error(
            "interaction %s failed", getattr(interaction.command, "qualified_name", "?"), exc_info=original
        )
    try:
        await send_ephemeral(interaction, explain(error))
    except discord.HTTPException:
        log.warning("could not tell the person about a failed interaction")
