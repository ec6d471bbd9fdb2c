"""Small modules with one job: no module in cogs/ or bot/services/ grows past 500 lines."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 500


def test_no_module_in_cogs_or_services_is_over_500_lines() -> None:
    too_long = {}
    for folder in ("cogs", "bot/services"):
        for path in (ROOT / folder).rglob("*.py"):
            name = path.relative_to(ROOT).as_posix()
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > LIMIT:
                too_long[name] = lines
    assert too_long == {}
