"""No import cycles among holdspace's own modules (bot/ and cogs/).

Every import counts, also one deferred into a function; only imports under ``if TYPE_CHECKING:`` do
not (they never run). A cycle means two modules each need the other: the layers are core -> storage
-> services -> ui -> cogs, with bot/app.py wiring them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "cogs")


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool, known: frozenset[str]) -> Iterator[str]:
    """Every module an import statement needs, skipping ``if TYPE_CHECKING:`` blocks.

    ``from package import module`` needs that module (its package is an ancestor, as for any import);
    ``from module import name`` needs the module.
    """
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                yield from _imports(child, module, is_package, known)
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            submodules = [f"{base}.{alias.name}" for alias in node.names]
            yield from (name for name in submodules if name in known)
            if not all(name in known for name in submodules):
                yield base
        yield from _imports(node, module, is_package, known)


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    known = frozenset(modules)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        targets = set(_imports(tree, name, path.name == "__init__.py", known))
        graph[name] = {t for t in targets if t in known and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_check_sees_deferred_imports_and_skips_type_checking_ones() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from bot.app import HoldspaceBot\n"
        "def later():\n    from bot.state import State\n"
    )
    names = set(_imports(ast.parse(source), "bot.example", False, frozenset({"bot.state", "bot.app"})))
    assert "bot.state" in names
    assert not any(name.startswith("bot.app") for name in names)
    assert cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]


def test_no_import_cycles_in_bot_and_cogs() -> None:
    assert cycles(import_graph()) == []


LAYERS = {
    # a module of the left may not import any module of the right
    "bot.i18n": ("bot.core", "bot.storage", "bot.state", "bot.scheduler", "bot.services", "bot.ui", "bot.app"),
    "bot.core": ("bot.storage", "bot.state", "bot.scheduler", "bot.services", "bot.ui", "bot.app", "cogs"),
    "bot.storage": ("bot.state", "bot.scheduler", "bot.services", "bot.ui", "bot.app", "cogs"),
    "bot.services": ("bot.app", "cogs"),
    "bot.ui": ("bot.services", "bot.app", "cogs"),
}
FEATURES = ("cogs.consent", "cogs.expiry", "cogs.groups", "cogs.guard", "cogs.moderation", "cogs.privacy")
FEATURES += ("cogs.sessions", "cogs.setup")


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_layers_import_only_downwards_and_features_never_each_other() -> None:
    graph = import_graph()
    wrong = []
    for module, targets in graph.items():
        for layer, forbidden in LAYERS.items():
            if _within(module, layer):
                wrong += [(module, t) for t in targets if any(_within(t, f) for f in forbidden)]
        for feature in FEATURES:
            if _within(module, feature):
                wrong += [(module, t) for t in targets if any(_within(t, o) for o in FEATURES if o != feature)]
    assert wrong == []
