"""The command tree's texts for ``make messages``: every command's and group's name and description,
each option's description and each choice written as words, read from the cogs' classes."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator

from discord import app_commands
from discord.ext import commands

from bot.i18n import COMMAND_NAME
from bot.i18n.catalogues import available

Text = tuple[str, str | None, str]  # message, context, where


def _walk(item: app_commands.Command | app_commands.Group, where: str) -> Iterator[Text]:
    here = where
    yield item.name, COMMAND_NAME, here
    yield item.description, None, here
    if isinstance(item, app_commands.Group):
        for child in item.commands:
            yield from _walk(child, where)
        return
    for parameter in item.parameters:
        if parameter.description and parameter.description != "…":
            yield parameter.description, None, here
        for choice in parameter.choices:
            # a value people type (``invite``) stays as it is; a language is named in itself
            if choice.name != str(choice.value) and str(choice.value) not in available():
                yield choice.name, None, here


def _top_level() -> Iterator[tuple[str, app_commands.Command | app_commands.Group]]:
    """Every top-level command and group the cogs declare, with the file it is declared in."""
    import cogs

    modules = pkgutil.walk_packages(cogs.__path__, "cogs.")
    names = sorted(m.name for m in modules if not m.name.split(".")[-1].startswith("_"))
    for name in names:
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if not issubclass(cls, commands.Cog) or cls.__module__ != name:
                continue
            where = f"{module.__file__}".split("/cogs/", 1)[-1]
            for item in cls.__cog_app_commands__:
                if item.parent is None:
                    yield "cogs/" + where, item


def command_texts() -> list[Text]:
    """Every text of every command the cogs declare."""
    return [text for where, item in _top_level() for text in _walk(item, where)]


def command_paths() -> list[tuple[str, ...]]:
    """Every command's and group's path of names, such as ("group", "agreement", "show")."""
    paths: list[tuple[str, ...]] = []

    def walk(item: app_commands.Command | app_commands.Group, above: tuple[str, ...]) -> None:
        path = (*above, item.name)
        paths.append(path)
        for child in getattr(item, "commands", []):
            walk(child, path)

    for _, item in _top_level():
        walk(item, ())
    return paths

