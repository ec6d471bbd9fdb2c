"""bot/background.py: a task started from a handler is kept until it ends, its failure logged."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.background import Background


async def test_a_failed_task_is_logged_and_close_cancels_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    background = Background(logging.getLogger("test"), "the work failed")
    never = asyncio.Event()

    async def fails() -> None:
        raise RuntimeError("boom")

    background.spawn(fails(), "failing")
    background.spawn(never.wait(), "waiting")
    with caplog.at_level(logging.ERROR):
        for _ in range(5):  # the task's step, then its done-callback's
            await asyncio.sleep(0)
    assert "the work failed" in caplog.text and "boom" in caplog.text
    await asyncio.wait_for(background.close(), 1)
    assert background.cancel() == []  # nothing left running
