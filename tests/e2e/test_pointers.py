"""Every reply that sends someone to a command points to something that exists and that they may use:
each command named in holdspace's texts (replies, guides, docstrings) is in the command tree; /help
offers each audience only commands of its role; what the moderators' case guide tells them to run
is theirs, or says whose it is."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from discord import app_commands

from bot.core.case_guide import CASE_GUIDE
from bot.core.help import SECTION_ROLES
from bot.ui.checks import FACILITATOR, MODERATOR, SERVER_MANAGER, role_needed
from tests.e2e.conftest import Holdspace

ROOT = Path(__file__).resolve().parents[2]
#: "/word word ...": a command as texts name it (not a path such as docs/x.md, not a URL).
MENTION = re.compile(r"(?<![\w/.:<}])(`?)/([a-z][a-z-]*(?: [a-z][a-z-]*)*)(?![\w/{-])")
#: Whose commands each audience may run (server managers pass every check).
MAY_RUN: dict[str | None, set[str | None]] = {
    None: {None},
    FACILITATOR: {None, FACILITATOR},
    MODERATOR: {None, MODERATOR},
    SERVER_MANAGER: {None, FACILITATOR, MODERATOR, SERVER_MANAGER},
}


def texts() -> Iterator[tuple[str, str]]:
    """(where, text) of every string in bot/ and cogs/ (f-strings with their values cut out) and of
    the guides."""
    for folder in ("bot", "cogs"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            where = path.relative_to(ROOT).as_posix()
            if where.startswith(("bot/sandbox/", "bot/i18n/")):
                continue  # the Discord stand-in for tests, and the translation machinery's examples
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    yield f"{where}:{node.lineno}", node.value
                elif isinstance(node, ast.JoinedStr):
                    pieces = [v.value if isinstance(v, ast.Constant) else "\x00" for v in node.values]
                    yield f"{where}:{node.lineno}", "".join(str(p) for p in pieces)
    for path in sorted((ROOT / "docs").glob("guide-*.md")):
        yield path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")


def resolve(tree: dict[str, Any], words: list[str]) -> tuple[Any, int]:
    """The deepest command or group the words name, and how many words that took (0: none)."""
    node: Any = tree.get(words[0])
    if node is None:
        return None, 0
    used = 1
    while isinstance(node, app_commands.Group) and used < len(words):
        child = node.get_command(words[used])
        if child is None:
            break
        node, used = child, used + 1
    return node, used


async def test_every_command_a_text_names_exists_and_help_offers_only_what_each_may_run(hs: Holdspace) -> None:
    assert hs.bot is not None
    tree = {c.name: c for c in hs.bot.tree.get_commands() if isinstance(c, app_commands.Command | app_commands.Group)}
    wrong = []
    for where, text in texts():
        for match in MENTION.finditer(text):
            quoted, words = match.group(1), match.group(2).split()
            node, used = resolve(tree, words)
            # a backticked group followed by more words names a subcommand it does not have
            if node is None or (quoted and isinstance(node, app_commands.Group) and used < len(words)):
                wrong.append(f"{where}: /{match.group(2)}")
    assert wrong == [], "texts name commands holdspace does not have:\n" + "\n".join(wrong)

    for section, role in SECTION_ROLES:
        for name, _ in section.lines:
            command, used = resolve(tree, name[1:].split())
            assert isinstance(command, app_commands.Command) and used == len(name[1:].split()), name
            assert role_needed(command) in MAY_RUN[role], f"/help offers {name} under {section.title!r}"
            if role is None:  # Discord shows it to everyone unless the server changed that
                assert command.root_parent is None or command.root_parent.default_permissions is None, name

    for kind, guide in CASE_GUIDE.items():
        for text in (guide.happened, guide.check, guide.do):
            for match in MENTION.finditer(text):
                command, _ = resolve(tree, match.group(2).split())
                needed = role_needed(command) if isinstance(command, app_commands.Command) else None
                if needed not in MAY_RUN[MODERATOR]:
                    assert needed is not None and needed in text, f"{kind}: /{match.group(2)} is for a {needed}"
