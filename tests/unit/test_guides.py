"""The guides in docs/ are what bot/guides.py renders from holdspace's own texts: a guide that
drifted from the replies fails here (run `make guides` to bring it up to date)."""

from __future__ import annotations

import pytest

from bot.core.case_guide import CASE_GUIDE
from bot.core.cases import KIND_LABELS
from bot.guides import DOCS, GUIDES


@pytest.mark.parametrize("name", sorted(GUIDES))
def test_guide_is_up_to_date(name: str) -> None:
    assert (DOCS / name).read_text(encoding="utf-8") == GUIDES[name](), f"docs/{name} is stale: run make guides"


def test_every_case_kind_has_its_guide() -> None:
    assert set(CASE_GUIDE) == set(KIND_LABELS)
