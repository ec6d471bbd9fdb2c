"""Rules every storage module keeps, checked over the source so a new module cannot drift from them."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.storage.times import from_ms, from_seconds, to_ms, to_seconds

STORAGE = Path(__file__).resolve().parents[2] / "bot" / "storage"
# Names that are lists, not rows: the first blind index, a split string, a path's parents.
NOT_ROWS = {"indexes", "parts", "parents"}


def _modules() -> list[Path]:
    return sorted(STORAGE.glob("*.py"))


def test_rows_are_read_by_column_name_not_position() -> None:
    offenders = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant)):
                continue
            if isinstance(node.slice.value, int) and not (
                isinstance(node.value, ast.Name | ast.Attribute)
                and (node.value.id if isinstance(node.value, ast.Name) else node.value.attr) in NOT_ROWS
            ):
                offenders.append(f"{path.name}:{node.lineno} {ast.unparse(node)}")
    assert offenders == []


def test_times_are_encoded_only_in_times_py() -> None:
    offenders = []
    for path in _modules():
        if path.name == "times.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("timestamp", "fromtimestamp"):
                offenders.append(f"{path.name}:{node.lineno} {ast.unparse(node)}")
    assert offenders == []


def test_times_round_trip() -> None:
    when = datetime(2026, 3, 29, 1, 30, 15, 123000, tzinfo=UTC)
    assert from_ms(to_ms(when)) == when
    assert from_ms(None) is None
    assert from_seconds(to_seconds(timedelta(hours=2))) == timedelta(hours=2)
    assert to_seconds(None) is None and from_seconds(None) is None
