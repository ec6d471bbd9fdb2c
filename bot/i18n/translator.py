"""Command names and descriptions in each person's language: discord.py's ``Translator``.

Discord shows each person the localisation of their own client's language, so one sync carries
every language holdspace speaks. What is translated, from the catalogues:

- command and command-group names, under the context ``command name`` (Discord's rules: lowercase,
  1-32 characters, no spaces; tests/unit/test_catalogues.py checks every one);
- descriptions of commands, groups and options, and the names of chosen values written as words
  (a choice whose name is its value, such as ``invite``, is what people type and stays as it is);
- the context menu's name (marked with ``N_`` where it is made; it may hold spaces and capitals).

Option names stay as written: holdspace's answers refer to them (`ttl`, `enrolment`) in every
language.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.app_commands import TranslationContextLocation as Where

from bot.i18n import COMMAND_NAME
from bot.i18n.catalogues import SOURCE, supported, translations

_NAMES = (Where.command_name, Where.group_name)


def translate(message: str, where: Where, locale: str, data: object = None) -> str | None:
    """``message`` at ``where`` in ``locale``, or None to keep the English."""
    catalogue = translations(locale)
    if where in _NAMES and not isinstance(data, app_commands.ContextMenu):
        text = catalogue.pgettext(COMMAND_NAME, message)
    elif where is Where.parameter_name or (
        where is Where.choice_name and isinstance(data, app_commands.Choice) and data.name == str(data.value)
    ):
        return None
    else:
        text = catalogue.gettext(message)
    return None if text == message else text


class HoldspaceTranslator(app_commands.Translator):
    async def translate(
        self, string: app_commands.locale_str, locale: discord.Locale, context: app_commands.TranslationContextTypes
    ) -> str | None:
        language = supported(locale.value)
        if language is None or language == SOURCE:
            return None
        return translate(string.message, context.location, language, context.data)
