"""Every command that takes a group resolves it the same way: through the group transformer."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator

from discord import app_commands
from discord.ext import commands

from bot.app import discover_cogs
from bot.ui.group_options import GroupTransformer


def _commands(item: app_commands.Command | app_commands.Group) -> Iterator[app_commands.Command]:
    if isinstance(item, app_commands.Group):
        for child in item.commands:
            yield from _commands(child)
    else:
        yield item


def test_every_group_option_goes_through_the_group_transformer() -> None:
    seen = 0
    for name in discover_cogs():
        module = importlib.import_module(name)
        for cog in (c for _, c in inspect.getmembers(module, inspect.isclass) if issubclass(c, commands.Cog)):
            for top in cog.__cog_app_commands__:
                for command in _commands(top):
                    param = command._params.get("group")
                    if param is not None:
                        seen += 1
                        assert isinstance(param._annotation, GroupTransformer), command.qualified_name
    assert seen >= 20
