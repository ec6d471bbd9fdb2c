"""The OpenAPI check: wrong bodies are caught, and a missing description is skipped with a notice."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from bot.sandbox import Sandbox
from bot.sandbox import spec as spec_module
from bot.sandbox.spec import SpecChecker, default_spec_path
from tests.conftest import StandardWorld

HAVE_SPEC = default_spec_path().exists()


@pytest.mark.skipif(not HAVE_SPEC, reason="Discord's OpenAPI description is not present")
async def test_wrong_request_body_is_recorded(sandbox: Sandbox, world: StandardWorld) -> None:
    ch = world.guild.create_text_channel("general")
    status, _, _ = await sandbox.api("POST", f"/channels/{ch.id}/messages", token=world.token,
                                     json_body={"content": "ok", "tts": "not a boolean"})
    assert status == 200  # the sandbox still answers; the check records the mismatch
    assert len(sandbox.spec_violations) == 1
    assert "POST /channels/{channel_id}/messages" in sandbox.spec_violations[0]
    assert "tts" in sandbox.spec_violations[0]
    sandbox.spec_violations.clear()


@pytest.mark.skipif(not HAVE_SPEC, reason="Discord's OpenAPI description is not present")
def test_wrong_response_is_recorded() -> None:
    checker = SpecChecker()
    user = {"id": "1", "username": "a", "avatar": None, "discriminator": "0", "public_flags": 0, "flags": 0,
            "global_name": None, "primary_guild": None}
    checker.check_response("GET", "/users/{user_id}", 200, user)
    assert checker.violations == []
    checker.check_response("GET", "/users/{user_id}", 200, user | {"username": 5})
    assert len(checker.violations) == 1 and "username" in checker.violations[0]


@pytest.mark.skipif(not HAVE_SPEC, reason="Discord's OpenAPI description is not present")
def test_permission_strings_are_accepted() -> None:
    checker = SpecChecker()
    checker.check_request("PUT", "/channels/{channel_id}/permissions/{overwrite_id}",
                          {"allow": "1024", "deny": "0", "type": 1})
    assert checker.violations == []


def test_missing_description_is_skipped_with_one_notice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spec_module, "_warned", False)
    monkeypatch.setenv(spec_module.ENV_VAR, str(tmp_path / "absent.json"))
    checker = SpecChecker()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        checker.check_request("POST", "/channels/{channel_id}/messages", {"content": 5})
        checker.check_request("POST", "/channels/{channel_id}/messages", {"content": 5})
    assert checker.violations == []
    assert len([w for w in caught if "OpenAPI" in str(w.message)]) == 1
