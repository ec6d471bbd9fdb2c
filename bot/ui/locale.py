"""Which language each reader gets: set once per interaction, and the languages of rooms and servers.

- An interaction (command, button, modal): the person's Discord language when a catalogue has it,
  else the language of the group whose room it happened in, else the server's.
- A group's room posts: the group's language (its own setting, else the server's).
- Moderator notices: the server's language.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.core.records import GroupInfo
from bot.i18n import N_, SOURCE, available, choose, set_locale
from bot.i18n.formats import language_name

if TYPE_CHECKING:
    from bot.state import State

#: The value of the language option that makes a group follow its server's language.
FOLLOW_SERVER = "server"
FOLLOW_SERVER_LABEL = N_("The server's language")


def server_language(state: State, guild_id: int | None) -> str:
    if guild_id is None:
        return SOURCE
    cfg = state.guilds.get(guild_id)
    return choose(cfg.language if cfg is not None else None)


def group_language(state: State, group: GroupInfo) -> str:
    """A group's language: its own, else its server's."""
    return choose(group.language, server_language(state, group.guild_id))


def _group_here(state: State, channel: Any) -> GroupInfo | None:
    if channel is None:
        return None
    group = state.group_of_channel(channel.id)
    parent_id = getattr(channel, "parent_id", None)
    if group is None and parent_id is not None:  # a thread in a group's room
        group = state.group_of_channel(parent_id)
    return group


def interaction_language(state: State, interaction: discord.Interaction[Any]) -> str:
    """The person's Discord language if holdspace speaks it, else the group's here, else the server's."""
    group = _group_here(state, interaction.channel)
    return choose(
        interaction.locale.value if interaction.locale is not None else None,
        group_language(state, group) if group is not None else None,
        server_language(state, interaction.guild_id),
    )


def enter(interaction: discord.Interaction[Any]) -> str:
    """Translate everything this interaction's task says into its reader's language; the one place
    every command, button and modal passes through (bot/app.py's tree, bot/ui/base.py)."""
    state = getattr(interaction.client, "state", None)
    language = interaction_language(state, interaction) if state is not None else choose(interaction.locale.value)
    set_locale(language)
    return language


def language_choices(*, follow_server: bool) -> list[app_commands.Choice[str]]:
    """Every language holdspace speaks, each named in itself ("Deutsch"), for a command option."""
    choices = [app_commands.Choice(name=language_name(code), value=code) for code in available()]
    if follow_server:
        choices.append(app_commands.Choice(name=FOLLOW_SERVER_LABEL, value=FOLLOW_SERVER))
    return choices
