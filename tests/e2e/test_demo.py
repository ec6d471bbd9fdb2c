"""`holdspace demo`: the rehearsal runs the real bot against the sandbox, passes, and shows no secret."""

from __future__ import annotations

import re
from typing import Any

import pytest

import bot.app
import bot.crypto
import bot.demo
from bot.demo import run_demo
from bot.sandbox.world import Application, World

KEY_LINES = [
    "1. A practice server, with holdspace invited",
    "permissions `holdspace check` prints",
    "Server Members intent",
    "ran /setup configure",
    'ran /group create "Tuesday circle"',
    "ran /group enroll",
    "refuses: the voice room is closed to them by its permissions",
    'clicked "I agree"',
    "Now they can join the voice room",
    "ran /session start: the ground rules were posted in the text room and in the voice room's chat",
    "received none of their text",
    "holdspace disconnected it.",
    "holdspace opened a case: recording bot blocked.",
    "holdspace told the room in one line",
    "ran /session end: holdspace posted the closing reminder",
    "Everything posted during the session is gone: 7 removed",
    "#mod-log, which only moderators see, shows 2 open cases",
    "ran /cases list and privately saw 2 open cases",
    "The audit trail verifies",
    "no name, no message text and no member id in the clear",
    "Summary: all",
]


@pytest.fixture
def secrets_seen(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every key the rehearsal generates and every bot token the sandbox hands out."""
    seen: list[str] = []
    generate_key = bot.crypto.generate_key

    def spy_key() -> str:
        key = generate_key()
        seen.extend([key, key.split(":", 1)[1]])
        return key

    create_application = World.create_application

    def spy_app(self: World, name: str, **kw: Any) -> Application:
        app = create_application(self, name, **kw)
        seen.append(app.token)
        return app

    monkeypatch.setattr(bot.crypto, "generate_key", spy_key)
    monkeypatch.setattr(World, "create_application", spy_app)
    return seen


async def test_the_rehearsal_passes_and_narrates_each_step(
    capsys: pytest.CaptureFixture[str], secrets_seen: list[str]
) -> None:
    code = await run_demo()
    out = capsys.readouterr().out
    assert code == 0, out
    for line in KEY_LINES:
        assert line in out, line
    assert "✗" not in out and "failed" not in out
    assert out.count("✓") >= 20


async def test_the_rehearsal_shows_no_token_key_or_message(
    capsys: pytest.CaptureFixture[str], secrets_seen: list[str]
) -> None:
    assert await run_demo() == 0
    captured = capsys.readouterr()
    shown = captured.out + captured.err
    assert len(secrets_seen) >= 4, "the spies saw the throwaway key and both bot tokens"
    for secret in secrets_seen:
        assert secret not in shown
    assert not re.search(r"sandbox\.\d+\.[0-9a-f]{24}", shown)
    assert not re.search(r"[0-9a-f]{8}:[A-Za-z0-9_-]{43}", shown)
    for words in bot.demo._MEMBER_WORDS:
        assert words not in shown


async def test_a_failing_expectation_names_its_step_and_returns_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # holdspace without its guard: the recording bot is not kept out, and the rehearsal says where.
    discover = bot.app.discover_cogs
    monkeypatch.setattr(bot.app, "discover_cogs", lambda: [c for c in discover() if c != "cogs.guard"])
    code = await run_demo()
    out = capsys.readouterr().out
    assert code == 1, out
    assert "✗" in out
    assert "The rehearsal failed at step 7 (A recording bot tries to listen in)" in out
    assert "Summary" not in out
