"""Each message an admin meets on the way in says the right cause and what to do, in one line, exit 2."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import ConfigError, load_settings
from bot.crypto import generate_key


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("HOLDSPACE_KEY", "HOLDSPACE_TOKEN", "HOLDSPACE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def config(workdir: Path, text: str) -> Path:
    path = workdir / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def key_file(path: Path, text: str | None = None) -> Path:
    path.write_text((text if text is not None else generate_key()) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def test_backup_to_an_existing_file_names_the_real_flag(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config(workdir, '[bot]\ndatabase = "hs.db"\nkey_file = "k"\n')
    key_file(workdir / "k")
    assert main(["migrate"]) == 0
    (workdir / "copy.db").write_bytes(b"old")
    assert main(["backup", "copy.db"]) == 2
    err = one_line_error(capsys)
    assert "--overwrite" in err and "--force" not in err
    assert main(["backup", "copy.db", "--overwrite"]) == 0


def test_a_bad_key_file_is_named_not_holdspace_key(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config(workdir, '[bot]\ndatabase = "hs.db"\nkey_file = "k"\n')
    key_file(workdir / "k", "not-a-key-but-a-secret")
    assert main(["check"]) == 2
    err = one_line_error(capsys)
    assert "key file" in err and str(workdir / "k") in err
    assert "HOLDSPACE_KEY" not in err and "a-secret" not in err


def test_a_wrong_key_in_the_key_file_is_named_not_holdspace_key(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config(workdir, '[bot]\ndatabase = "hs.db"\nkey_file = "k"\n')
    key_file(workdir / "k")
    assert main(["migrate"]) == 0
    (workdir / "k").unlink()
    key_file(workdir / "k")  # a different key
    capsys.readouterr()
    assert main(["check"]) == 2
    err = one_line_error(capsys)
    assert "the key file" in err and "HOLDSPACE_KEY" not in err


def test_a_wrong_key_from_the_environment_still_names_holdspace_key(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config(workdir, '[bot]\ndatabase = "hs.db"\n')
    monkeypatch.setenv("HOLDSPACE_KEY", generate_key())
    assert main(["migrate"]) == 0
    monkeypatch.setenv("HOLDSPACE_KEY", generate_key())
    capsys.readouterr()
    assert main(["check"]) == 2
    assert "HOLDSPACE_KEY does not contain" in one_line_error(capsys)


def test_a_key_file_under_home_is_expanded(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = workdir / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    key_file(home / "holdspace.key")
    config(workdir, '[bot]\ndatabase = "~/hs.db"\nkey_file = "~/holdspace.key"\n')
    settings = load_settings(workdir / "config.toml")
    assert settings.key_file == home / "holdspace.key" and settings.database == home / "hs.db"
    assert main(["check"]) == 0
    assert "from the key file " + str(home / "holdspace.key") in capsys.readouterr().out


def test_check_refuses_a_database_folder_that_does_not_exist(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOLDSPACE_KEY", generate_key())
    config(workdir, '[bot]\ndatabase = "nowhere/hs.db"\n')
    assert main(["check"]) == 2
    err = one_line_error(capsys)
    assert "nowhere" in err and "does not exist" in err and "will be created" not in err


def test_check_refuses_a_read_only_database_folder(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """As root os.access says yes to any folder, so the check is shown with access refused."""
    monkeypatch.setenv("HOLDSPACE_KEY", generate_key())
    (workdir / "ro").mkdir(mode=0o500)
    config(workdir, '[bot]\ndatabase = "ro/hs.db"\n')
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda path, mode, **kw: False if Path(path) == workdir / "ro" else real_access(path, mode)
    )
    assert main(["check"]) == 2
    err = one_line_error(capsys)
    assert "not writable" in err and "ro" in err


def test_check_of_a_database_that_needs_migrations_says_they_will_run(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOLDSPACE_KEY", generate_key())
    config(workdir, '[bot]\ndatabase = "hs.db"\n')
    assert main(["check"]) == 0
    assert "will be created at the first `holdspace run` (its folder is writable)" in capsys.readouterr().out
    assert main(["migrate"]) == 0
    assert main(["check"]) == 0
    assert "schema up to date" in capsys.readouterr().out


def test_a_token_in_the_config_file_points_to_holdspace_token(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config(workdir, '[bot]\ntoken = "MTIz.secret-token-value"\n')
    assert main(["check"]) == 2
    err = one_line_error(capsys)
    assert "HOLDSPACE_TOKEN" in err and "unknown key" not in err and "secret-token-value" not in err
    with pytest.raises(ConfigError, match="HOLDSPACE_TOKEN"):
        load_settings(workdir / "config.toml")


def test_export_for_a_server_holdspace_does_not_know_writes_nothing(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOLDSPACE_KEY", generate_key())
    config(workdir, '[bot]\ndatabase = "hs.db"\n')
    assert main(["migrate"]) == 0
    capsys.readouterr()
    assert main(["export", "consents", "--guild", "123", "--output", "out.csv"]) == 2
    err = one_line_error(capsys)
    assert "no records of server 123" in err
    assert not (workdir / "out.csv").exists()


def test_commands_that_read_records_never_create_an_empty_database(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOLDSPACE_KEY", generate_key())
    config(workdir, '[bot]\ndatabase = "hs.db"\n')
    for argv in (["export", "audit", "--guild", "1"], ["audit-verify"], ["backup", "b.db"]):
        assert main(argv) == 2
        assert "there is no database" in one_line_error(capsys)
    assert not (workdir / "hs.db").exists()


def test_keygen_output_writes_an_owner_only_key_and_never_overwrites(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keygen", "--output", "holdspace.key"]) == 0
    path = workdir / "holdspace.key"
    first = path.read_text(encoding="utf-8")
    assert (path.stat().st_mode & 0o777) == 0o600 and first.count(":") == 1
    assert first.strip().split(":")[0] in capsys.readouterr().out
    assert main(["keygen", "--output", "holdspace.key"]) == 2
    assert "already exists" in one_line_error(capsys)
    assert path.read_text(encoding="utf-8") == first


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("holdspace 0.")


@pytest.mark.parametrize("zone", ["CET", "EST", "pst", "GMT", "Etc/GMT+5", "UTC+1"])
def test_abbreviations_in_the_config_are_refused_with_a_suggestion(workdir: Path, zone: str) -> None:
    config(workdir, f'[defaults]\ntimezone = "{zone}"\n')
    with pytest.raises(ConfigError, match="Region/City") as caught:
        load_settings(workdir / "config.toml")
    assert "/" in str(caught.value).split("Region/City", 1)[1]  # it names a place to use instead


def test_region_city_names_and_utc_are_accepted_in_the_config(workdir: Path) -> None:
    config(workdir, '[defaults]\ntimezone = "america/new_york"\n')
    assert load_settings(workdir / "config.toml").defaults.timezone == "America/New_York"
    config(workdir, '[defaults]\ntimezone = "UTC"\n')
    assert load_settings(workdir / "config.toml").defaults.timezone == "UTC"
