"""Answers to people: always polite, ephemeral for errors, never a traceback."""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

from bot.i18n import N_, _, ngettext

log = logging.getLogger(__name__)

GENERIC_FAILURE = N_(
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


#: Who finds out which permission holdspace lacks, and how: `/guard audit` is a server manager's command.
FIND_PERMISSION = N_("a server manager can see which one with `/guard audit`")


#: Discord's limits: a message's text, an embed's description, field and footer, and their total.
CONTENT_LIMIT = 2000
EMBED_DESCRIPTION_LIMIT = 4096
EMBED_TOTAL_LIMIT = 6000
ECHO_LIMIT = 80


def clip(text: str, limit: int = CONTENT_LIMIT) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis, so Discord never refuses a reply."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def echo(value: object, limit: int = ECHO_LIMIT) -> str:
    """A value someone typed, shortened before it is repeated back to them."""
    return clip(str(value).strip(), limit)


def clip_embed(embed: discord.Embed) -> discord.Embed:
    """An embed within Discord's limits: each part clipped, fields dropped once the total is reached."""
    if embed.title:
        embed.title = clip(embed.title, 256)
    if embed.description:
        embed.description = clip(embed.description, EMBED_DESCRIPTION_LIMIT)
    fields = list(embed.fields)
    embed.clear_fields()
    used = len(embed.title or "") + len(embed.description or "")
    for item in fields[:25]:
        name, value = clip(item.name or "-", 256), clip(item.value or "-", 1024)
        if used + len(name) + len(value) > EMBED_TOTAL_LIMIT - 100:
            break
        used += len(name) + len(value)
        embed.add_field(name=name, value=value, inline=item.inline)
    return embed


async def send_ephemeral(
    interaction: discord.Interaction[Any],
    content: str | None = None,
    *,
    embed: discord.Embed | None = None,
    view: discord.ui.View | None = None,
) -> None:
    """Answer ephemerally, as the first reply or as a follow-up when one was already sent. Text and
    embeds are clipped to Discord's limits here, so no reply is ever refused for its length."""
    kwargs: dict[str, Any] = {"content": None if content is None else clip(content), "ephemeral": True}
    if embed is not None:
        kwargs["embed"] = clip_embed(embed)
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
        return _("This command works inside a server, not in direct messages.")
    if isinstance(error, app_commands.MissingPermissions):
        return _("You need the permission to manage this server to use this command.")
    if isinstance(error, app_commands.CommandOnCooldown):
        seconds = round(error.retry_after)
        return ngettext(
            "Please wait {seconds} second before trying again.", "Please wait {seconds} seconds before trying again.",
            seconds,
        ).format(seconds=seconds)
    if isinstance(error, app_commands.CheckFailure):
        return _("You are not allowed to use this command.")
    if isinstance(error, app_commands.TransformerError):
        kind = error.transformer.type.name.lower().replace("_", " ")
        unusable = {
            "channel": N_("That channel could not be used here: please pick one of this server's from the list."),
            "role": N_("That role could not be used here: please pick one of this server's from the list."),
            "user": N_("That user could not be used here: please pick one of this server's from the list."),
            "mentionable": N_("That member or role could not be used here: please pick one from the list."),
        }
        if kind in unusable:
            return _(unusable[kind])
        return _("That value could not be used here; please pick one from the list.")
    if isinstance(error, discord.Forbidden):
        return _(
            "holdspace lacks a Discord permission for this; {find} and grant it to holdspace's role in "
            "Server Settings."
        ).format(find=_(FIND_PERMISSION))
    return _(GENERIC_FAILURE)


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
