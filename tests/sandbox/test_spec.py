"""The OpenAPI check: always on from the vendored description; wrong bodies are caught; a missing one fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.sandbox import Sandbox
from bot.sandbox import spec as spec_module
from bot.sandbox.spec import VENDORED, SpecChecker, SpecMissing, default_spec_path
from tests.conftest import StandardWorld


async def test_wrong_request_body_is_recorded(sandbox: Sandbox, world: StandardWorld) -> None:
    ch = world.guild.create_text_channel("general")
    status, _, _ = await sandbox.api("POST", f"/channels/{ch.id}/messages", token=world.token,
                                     json_body={"content": "ok", "tts": "not a boolean"})
    assert status == 200  # the sandbox still answers; the check records the mismatch
    assert len(sandbox.spec_violations) == 1
    assert "POST /channels/{channel_id}/messages" in sandbox.spec_violations[0]
    assert "tts" in sandbox.spec_violations[0]
    sandbox.spec_violations.clear()


def test_wrong_response_is_recorded() -> None:
    checker = SpecChecker()
    user = {"id": "1", "username": "a", "avatar": None, "discriminator": "0", "public_flags": 0, "flags": 0,
            "global_name": None, "primary_guild": None}
    checker.check_response("GET", "/users/{user_id}", 200, user)
    assert checker.violations == []
    checker.check_response("GET", "/users/{user_id}", 200, user | {"username": 5})
    assert len(checker.violations) == 1 and "username" in checker.violations[0]


def test_permission_strings_are_accepted() -> None:
    checker = SpecChecker()
    checker.check_request("PUT", "/channels/{channel_id}/permissions/{overwrite_id}",
                          {"allow": "1024", "deny": "0", "type": 1})
    assert checker.violations == []


def test_the_vendored_description_is_used_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(spec_module.ENV_VAR, raising=False)
    assert default_spec_path() == VENDORED
    assert VENDORED.is_file() and (VENDORED.parent / "LICENSE").is_file()
    assert SpecChecker().path == str(VENDORED)


def test_a_missing_description_fails_instead_of_skipping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(spec_module.ENV_VAR, str(tmp_path / "absent.json"))
    with pytest.raises(SpecMissing, match=r"absent\.json"):
        SpecChecker()
    with pytest.raises(SpecMissing):
        Sandbox()
    Sandbox(check_spec=False)  # turning the check off is explicit, never a consequence of a missing file
