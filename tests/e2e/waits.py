"""Waiting for a condition in end-to-end tests (never for a fixed time), and the cases holdspace
opened. The timeout only bounds a failure."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from bot.sandbox.settle import WAIT_TIMEOUT
from bot.storage import cases as case_store
from tests.e2e.conftest import Holdspace


async def until(predicate: Callable[[], Any], timeout: float = WAIT_TIMEOUT, what: str = "condition") -> Any:
    """Wait until ``predicate()`` is true and return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def cases(hs: Holdspace, kind: str | None = None) -> list[case_store.CaseRecord]:
    """The cases of the test's server (of one kind, if given), oldest first."""
    assert hs.bot is not None
    found = await case_store.all_cases(hs.bot.db, hs.bot.ring, hs.guild.id)
    return [c for c in found if kind is None or c.kind == kind]


async def until_cases(
    hs: Holdspace, kind: str, count: int = 1, timeout: float = WAIT_TIMEOUT
) -> list[case_store.CaseRecord]:
    """Wait until at least ``count`` cases of ``kind`` are open and return them."""
    deadline = time.monotonic() + timeout
    while True:
        found = await cases(hs, kind)
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {count} {kind} case(s), found {len(found)}")
        await asyncio.sleep(0.02)
