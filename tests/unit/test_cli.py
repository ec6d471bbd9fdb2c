"""The command line's exit codes and messages, run in-process."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from bot.cli import main
from bot.crypto import generate_key


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HOLDSPACE_KEY", raising=False)
    monkeypatch.delenv("HOLDSPACE_TOKEN", raising=False)
    monkeypatch.delenv("HOLDSPACE_CONFIG", raising=False)
    (tmp_path / "config.toml").write_text('[bot]\ndatabase = "hs.db"\n', encoding="utf-8")
    return tmp_path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_keygen_prints_a_usable_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keygen"]) == 0
    key = capsys.readouterr().out.strip()
    kid, _, material = key.partition(":")
    assert len(kid) == 8 and material


def test_check_prints_invite_permissions(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HOLDSPACE_KEY", generate_key())
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "permissions=" in out and "Server Members Intent" in out
    assert not (workdir / "hs.db").exists(), "check must not create the database"


def test_missing_key_exits_2_with_one_line(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "HOLDSPACE_KEY" in err and "Traceback" not in err


def test_malformed_key_is_not_echoed(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HOLDSPACE_KEY", "not-a-key-but-maybe-a-secret-value")
    assert main(["migrate"]) == 2
    err = capsys.readouterr().err
    assert "maybe-a-secret" not in err and err.count("\n") == 1


def test_bad_config_exits_2_naming_the_key(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "bad.toml").write_text("[guard]\naction = 'zap'\n", encoding="utf-8")
    assert main(["--config", "bad.toml", "check"]) == 2
    err = capsys.readouterr().err
    assert "guard.action" in err and "bad.toml" in err and err.count("\n") == 1


def test_wrong_key_exits_2_names_expected_key_and_changes_nothing(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    right = generate_key()
    monkeypatch.setenv("HOLDSPACE_KEY", right)
    assert main(["migrate"]) == 0
    database = workdir / "hs.db"
    before = digest(database)
    capsys.readouterr()
    monkeypatch.setenv("HOLDSPACE_KEY", generate_key())
    for command in (["migrate"], ["check"], ["backup", "copy.db"], ["audit-verify"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert right.split(":")[0] in err, err
        assert "Traceback" not in err
        assert digest(database) == before
    assert not (workdir / "copy.db").exists()


def test_migrate_twice_applies_nothing_the_second_time(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOLDSPACE_KEY", generate_key())
    assert main(["migrate"]) == 0
    assert "applied 0" not in capsys.readouterr().out
    assert main(["migrate"]) == 0
    assert "applied 0 migration(s)" in capsys.readouterr().out


def test_backup_writes_a_copy_and_refuses_to_overwrite(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOLDSPACE_KEY", generate_key())
    assert main(["migrate"]) == 0
    assert main(["backup", "copy.db"]) == 0
    assert (workdir / "copy.db").stat().st_size > 0
    assert main(["backup", "copy.db"]) == 2
    assert "exists" in capsys.readouterr().err


def test_backup_without_a_database_exits_2(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HOLDSPACE_KEY", generate_key())
    assert main(["backup", "copy.db"]) == 2
    assert "no database" in capsys.readouterr().err


def test_run_without_token_exits_2(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HOLDSPACE_KEY", generate_key())
    assert main(["run"]) == 2
    assert "HOLDSPACE_TOKEN" in capsys.readouterr().err


def test_key_file_with_open_permissions_exits_2(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key_file = workdir / "hs.key"
    key_file.write_text(generate_key())
    os.chmod(key_file, 0o640)
    (workdir / "config.toml").write_text('[bot]\ndatabase = "hs.db"\nkey_file = "hs.key"\n')
    assert main(["migrate"]) == 2
    assert "chmod 600" in capsys.readouterr().err


def test_check_fills_in_the_application_id_from_the_token(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import base64

    app_id = 1234567890123456789
    first = base64.urlsafe_b64encode(str(app_id).encode()).decode().rstrip("=")
    token = f"{first}.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB"
    monkeypatch.setenv("HOLDSPACE_KEY", generate_key())
    monkeypatch.setenv("HOLDSPACE_TOKEN", token)
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert f"client_id={app_id}" in out
    assert token not in out and "abcdefghijklmnop" not in out


def test_cogs_are_discovered_and_underscore_modules_skipped(tmp_path: Path) -> None:
    from bot.app import discover_cogs

    assert {"cogs.consent", "cogs.guard", "cogs.expiry", "cogs.sessions", "cogs.moderation"} <= set(discover_cogs())
    for name in ("alpha.py", "_draft.py", "__init__.py", "beta.py", "notes.txt"):
        (tmp_path / name).write_text("")
    assert discover_cogs(tmp_path, "extra") == ["extra.alpha", "extra.beta"]


def test_database_newer_than_the_code_exits_2_and_is_left_alone(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    monkeypatch.setenv("HOLDSPACE_KEY", generate_key())
    assert main(["migrate"]) == 0
    database = workdir / "hs.db"
    with sqlite3.connect(database) as conn:
        conn.execute(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
            "VALUES (9999, '9999_from_the_future.sql', 'x', '2030-01-01')"
        )
    before = digest(database)
    capsys.readouterr()
    for command in (["migrate"], ["check"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
    assert digest(database) == before
