"""`holdspace run`'s start-up failures against the sandbox: a refused token and a missing intent end
with one clear line (exit code 2 through the command line), never a traceback."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.crypto import generate_key
from bot.errors import HoldspaceError
from bot.runner import run_bot
from bot.sandbox import Sandbox, point_discord_at
from tests.e2e.conftest import build_holdspace_world


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("HOLDSPACE_KEY", generate_key())
    return dataclasses.replace(load_settings(None), database=tmp_path / "hs.db")


async def test_a_refused_token_is_one_clear_line(sandbox: Sandbox, settings: Settings) -> None:
    build_holdspace_world(sandbox)
    point_discord_at(sandbox)
    with pytest.raises(HoldspaceError, match="refused the token") as caught:
        await run_bot(settings, "not-a-token-the-sandbox-knows")
    assert "not-a-token" not in str(caught.value)


async def test_members_intent_switched_off_in_the_portal_says_where_to_switch_it_on(
    sandbox: Sandbox, settings: Settings
) -> None:
    world = build_holdspace_world(sandbox)
    world.app.intents_enabled = 0  # the Server Members intent is off in the developer portal
    point_discord_at(sandbox)
    with pytest.raises(HoldspaceError, match="Server Members Intent"):
        await run_bot(settings, world.token)
