from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import ConfigError, KeyText, load_settings, read_key_text, read_token
from bot.errors import HoldspaceError

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_loads_with_documented_defaults() -> None:
    settings = load_settings(REPO / "config.example.toml")
    assert settings.defaults.ttl == timedelta(hours=24)
    assert settings.guard.action == "disconnect"
    assert settings.database == REPO / "holdspace.sqlite3"
    assert settings.log_format == "text"


def test_no_file_means_defaults() -> None:
    settings = load_settings(None)
    assert settings.defaults.reconsent_after_days == 180


def test_settings_are_immutable() -> None:
    settings = load_settings(None)
    with pytest.raises(AttributeError):
        settings.log_level = "debug"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("[bot]\ncolour = 1\n", ["bot.colour", "unknown key"]),
        ("[robots]\n", ["[robots]", "unknown section"]),
        ("[defaults]\nreconsent_after_days = 'soon'\n", ["defaults.reconsent_after_days", "whole number"]),
        ("[defaults]\nreconsent_after_days = 0\n", ["defaults.reconsent_after_days", "1 to 3650"]),
        ("[defaults]\nttl = '0m'\n", ["defaults.ttl", "duration"]),
        ("[defaults]\nttl = 5\n", ["defaults.ttl", "duration"]),
        ("[defaults]\nkeep_pinned = 'yes'\n", ["defaults.keep_pinned", "true or false"]),
        ("[guard]\naction = 'explode'\n", ["guard.action", "'kick'"]),
        ("[guard]\nrecording_markers = ['[unclosed']\n", ["guard.recording_markers", "regular expression"]),
        ("[bot]\nlog_format = 'xml'\n", ["bot.log_format", "'json'"]),
        ("[retention]\naudit_days = 1\n", ["retention.audit_days", "30 to 36500"]),
        ("bot = 3\n", ["bot must be a section"]),
        ("[bot\n", ["not valid TOML"]),
    ],
)
def test_every_error_names_file_and_key(tmp_path: Path, text: str, names: list[str]) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert str(path) in message
    assert "\n" not in message
    for name in names:
        assert name in message


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_settings(tmp_path / "absent.toml")


def test_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[bot]\ndatabase = "data/hs.db"\nkey_file = "hs.key"\n')
    settings = load_settings(path)
    assert settings.database == tmp_path / "data/hs.db"
    assert settings.key_file == tmp_path / "hs.key"


def test_token_comes_from_the_environment_only() -> None:
    assert read_token({"HOLDSPACE_TOKEN": " abc.def "}) == "abc.def"
    with pytest.raises(HoldspaceError, match="HOLDSPACE_TOKEN is not set"):
        read_token({})


def test_key_from_environment_wins(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, '[bot]\nkey_file = "k"\n'))
    assert read_key_text(settings, {"HOLDSPACE_KEY": "abc"}) == KeyText("abc", "HOLDSPACE_KEY")


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "k"
    key.write_text("0011aabb:secretsecretsecret")
    os.chmod(key, 0o644)
    settings = load_settings(write(tmp_path, '[bot]\nkey_file = "k"\n'))
    with pytest.raises(HoldspaceError) as caught:
        read_key_text(settings, {})
    assert "chmod 600" in str(caught.value)
    assert "secret" not in str(caught.value)
    os.chmod(key, 0o600)
    assert read_key_text(settings, {}).text == "0011aabb:secretsecretsecret"


def test_missing_key_everywhere_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(HoldspaceError, match="keygen"):
        read_key_text(load_settings(None), {})
    settings = load_settings(write(tmp_path, '[bot]\nkey_file = "nope"\n'))
    with pytest.raises(HoldspaceError, match="does not exist"):
        read_key_text(settings, {})
