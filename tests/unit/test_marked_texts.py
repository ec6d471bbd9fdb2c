"""No cog sends a person a text that skipped the catalogues.

The rule, narrow enough to hold exactly: in cogs/, a string literal or f-string with words in it may
not be handed straight to what shows it to a person (the text of send_ephemeral, send,
send_message, edit_message, edit_original_response, followup.send, UserError, an Embed's title or
description, a field's name or value, a button's or a modal's label, title or placeholder), and an
f-string such text is built from may not carry words outside its placeholders. Such a text must come
from ``_()``, ``ngettext()`` or ``pgettext()`` (or from a function that returns one). Texts that are
only data (ids, mentions, markdown around translated parts) have no letters of their own and pass.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOWN_CALLS = {
    "send_ephemeral", "send", "send_message", "edit_message", "edit_original_response", "edit",
    "UserError", "MissingBotPermission", "Embed", "add_field", "set_footer", "set_author", "Button",
    "TextInput", "Modal", "SelectOption", "Select",
}
SHOWN_KEYWORDS = {"content", "title", "description", "name", "value", "text", "label", "placeholder"}
#: Words: two letters in a row outside placeholders (so "<#{id}>", "`{x}`" and "\n" pass).
WORDS = re.compile(r"[A-Za-z]{2,}")
#: Strings that are names, not prose: custom ids, Discord's own button styles.
NOT_PROSE = re.compile(r"^(hs:|holdspace:|[a-z0-9_:\-{}]+$)")


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _literal_words(node: ast.expr) -> str | None:
    """The words a literal carries of its own, or None when it carries none (or is not a literal)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        text = node.value
    elif isinstance(node, ast.JoinedStr):
        text = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _literal_words(node.left) or _literal_words(node.right)
    else:
        return None
    if NOT_PROSE.match(text.strip()) or not WORDS.search(text):
        return None
    return text


def unmarked(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or _call_name(node) not in SHOWN_CALLS:
            continue
        shown: list[ast.expr] = list(node.args[:1]) if _call_name(node) in {
            "send_ephemeral", "send", "send_message", "UserError", "MissingBotPermission"
        } else []
        if _call_name(node) == "send_ephemeral":
            shown = list(node.args[1:2])
        shown += [k.value for k in node.keywords if k.arg in SHOWN_KEYWORDS]
        for value in shown:
            words = _literal_words(value)
            if words is not None:
                yield node.lineno, words[:60]


def test_the_rule_catches_a_plain_text_and_passes_a_marked_one() -> None:
    bad = 'await send_ephemeral(interaction, "Done.")\nraise UserError(f"No group {name} here")'
    good = (
        'await send_ephemeral(interaction, _("Done."))\nraise UserError(_("No group {name}").format(name=n))\n'
        'embed = discord.Embed(title=f"**{_(TITLE)}**", description="\\n".join(lines))'
    )
    assert sorted(line for line, _ in unmarked(ast.parse(bad))) == [1, 2]
    assert list(unmarked(ast.parse(good))) == []


def test_no_cog_shows_a_person_an_unmarked_text() -> None:
    found = []
    for path in sorted((ROOT / "cogs").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += [f"{path.relative_to(ROOT)}:{line}: {text!r}" for line, text in unmarked(tree)]
    assert found == [], "wrap these in _() (bot/i18n): \n" + "\n".join(found)
