"""What an admin installs and runs: the README's steps typed as written, make install, the systemd
unit, the container files, the license. Tools that are missing here are reported, never skipped over
silently: the pure-Python checks always run."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

from bot.cli import _parser

REPO = Path(__file__).resolve().parents[2]


def readme_block(heading: str) -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split(f"## {heading}", 1)[1]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    return [line for line in block.strip().splitlines() if line.strip()]


def subcommands() -> set[str]:
    parser = _parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return set(action.choices)  # type: ignore[arg-type]


def test_every_holdspace_command_in_the_docs_exists() -> None:
    known = subcommands() | {"--version"}
    for doc in ("README.md", "docs/setup.md", "docs/operations.md", "compose.yaml"):
        text = (REPO / doc).read_text(encoding="utf-8")
        # `holdspace X` in code spans, and command lines in code blocks (also through docker compose).
        used = set(re.findall(r"`(?:\S*/)?holdspace ((?:--)?[a-z][a-z-]*)", text))
        blocks = "\n".join(re.findall(r"```(?:sh)?\n(.*?)```", text, re.S)) if doc.endswith(".md") else text
        used |= set(re.findall(r"^\s*(?:sudo )?(?:\S*/)?holdspace ((?:--)?[a-z][a-z-]*)", blocks, re.M))
        used |= set(re.findall(r"docker compose run --rm holdspace ((?:--)?[a-z][a-z-]*)", text))
        assert used, f"{doc} names no holdspace command"
        assert used <= known, f"{doc} names unknown commands: {used - known}"


def test_the_readme_set_up_works_as_typed(tmp_path: Path) -> None:
    """The README's block, line by line, in a fresh copy of holdspace, with a fresh HOME."""
    lines = readme_block("Run it for your server")
    assert lines[-1].split("#")[0].strip() == "holdspace run --sync", "the last step starts the bot"
    copy = tmp_path / "holdspace"
    shutil.copytree(
        REPO, copy, symlinks=True,
        ignore=shutil.ignore_patterns(".venv", ".git", "config.toml", "*.key", "*.sqlite3*", ".*_cache"),
    )
    # The installed environment, which make must see as up to date: it must never be re-pointed at the
    # copy, so the copy's pyproject.toml is made older than the environment's stamp.
    assert (REPO / ".venv/.runtime-stamp").exists(), "run `make install` (or `make test`) first"
    (copy / ".venv").symlink_to(REPO / ".venv")
    os.utime(copy / "pyproject.toml", (0, 0))
    home = tmp_path / "home"
    home.mkdir()
    script = "set -euo pipefail\n" + "\n".join(lines[:-1]) + "\n"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOLDSPACE_")}
    env["HOME"] = str(home)
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    done = subprocess.run(["bash", "-c", script], cwd=copy, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (home / ".local/bin/holdspace").exists()
    assert (copy / "holdspace.key").stat().st_mode & 0o777 == 0o600
    assert "is valid" in done.stdout and "Invite link" in done.stdout


def test_make_install_puts_holdspace_on_the_path(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    done = subprocess.run(
        ["make", "--no-print-directory", "install", f"BINDIR={bindir}"], cwd=REPO, capture_output=True,
        text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "is not on PATH yet" in done.stdout
    env = dict(os.environ, PATH=f"{bindir}:/usr/bin:/bin")
    version = subprocess.run(["holdspace", "--version"], env=env, capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("holdspace ")


def test_gitignore_keeps_secrets_and_records_out_of_git(tmp_path: Path) -> None:
    names = [
        "config.toml", "holdspace.key", "holdspace.sqlite3", "holdspace.sqlite3-wal", "holdspace.sqlite3-shm",
        "holdspace.sqlite3.health", "backups/2026-03-02.sqlite3", "exports/consents.json", "consents.csv",
    ]
    done = subprocess.run(["git", "check-ignore", "--no-index", *names], cwd=REPO, capture_output=True, text=True)
    assert sorted(done.stdout.split()) == sorted(names), done.stdout + done.stderr


# --- systemd ------------------------------------------------------------------------------------

UNIT = REPO / "packaging/systemd/holdspace.service"


def unit_settings() -> dict[str, dict[str, list[str]]]:
    """The unit file as section -> key -> values (a key may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in UNIT.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        assert current is not None and "=" in line, f"not a setting: {raw!r}"
        key, value = line.split("=", 1)
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_the_systemd_unit_is_hardened_and_restarts_on_failure() -> None:
    unit = unit_settings()
    service = {k: v[-1] for k, v in unit["Service"].items()}
    assert service.get("DynamicUser") == "yes" or service.get("User") not in (None, "root")
    assert service["ProtectSystem"] == "strict" and service["StateDirectory"] == "holdspace"
    assert service["Restart"] == "on-failure" and service["UMask"] == "0077"
    assert service["NoNewPrivileges"] == "yes" and service["CapabilityBoundingSet"] == ""
    assert service["ExecStart"] == "/opt/holdspace/.venv/bin/holdspace run"
    assert service["Type"] == "notify" and "WatchdogSec" in service
    assert "HOLDSPACE_TOKEN" not in UNIT.read_text(encoding="utf-8").split("EnvironmentFile", 1)[1].split("\n")[0]
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]
    # configparser agrees that it is a well-formed INI file (strict=False: keys may repeat).
    configparser.ConfigParser(strict=False, interpolation=None).read_string(UNIT.read_text(encoding="utf-8"))


def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        warnings.warn("systemd-analyze is not installed: the unit was checked in Python only", stacklevel=1)
        return
    # verify checks that ExecStart exists: point it at this checkout's holdspace, nothing else changes.
    unit = tmp_path / "holdspace.service"
    unit.write_text(
        UNIT.read_text(encoding="utf-8").replace("/opt/holdspace/.venv/bin/holdspace", f"{REPO}/.venv/bin/holdspace"),
        encoding="utf-8",
    )
    verify = subprocess.run([tool, "verify", str(unit)], capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0 and not verify.stderr.strip(), verify.stderr
    security = subprocess.run(
        [tool, "security", "--offline=yes", "--threshold=20", str(unit)], capture_output=True, text=True, timeout=120
    )
    assert security.returncode == 0, security.stdout[-2000:]


# --- container ----------------------------------------------------------------------------------

DOCKERFILE = REPO / "Dockerfile"


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def test_the_dockerfile_is_small_non_root_and_keeps_data_in_a_volume() -> None:
    steps = dockerfile_instructions()
    froms = [rest for word, rest in steps if word == "FROM"]
    assert len(froms) == 2 and all(":" in f and "latest" not in f for f in froms), "pinned, multi-stage"
    final = steps[max(i for i, (w, _) in enumerate(steps) if w == "FROM"):]
    users = [rest for word, rest in final if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert ("VOLUME", '["/data"]') in final
    assert ("HEALTHCHECK", next(r for w, r in final if w == "HEALTHCHECK")) and any(
        w == "HEALTHCHECK" and r.endswith('CMD ["holdspace", "health"]') for w, r in final
    )
    assert not any(word == "ADD" for word, _ in steps), "COPY, never ADD"
    assert any(word == "ENTRYPOINT" and rest == '["holdspace"]' for word, rest in final)
    ignored = (REPO / ".dockerignore").read_text(encoding="utf-8").split()
    assert ignored[ignored.index("*") if "*" in ignored else 0] == "*", "only what is listed goes into the image"
    assert not any(p.startswith("!") and ("config" in p or "key" in p or "sqlite" in p) for p in ignored)


def test_the_image_carries_bytecode_so_a_start_compiles_nothing() -> None:
    """The running image writes no bytecode (read-only, PYTHONDONTWRITEBYTECODE): it must be built in."""
    steps = dockerfile_instructions()
    build = steps[: max(i for i, (w, _) in enumerate(steps) if w == "FROM")]
    runs = " ".join(rest for word, rest in build if word == "RUN")
    assert "--no-compile" not in runs
    assert "compileall" in runs and "/opt/holdspace/bot" in runs and "/opt/holdspace/cogs" in runs


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    tool = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if tool is None:
        warnings.warn("hadolint is not installed: the Dockerfile was checked in Python only", stacklevel=1)
        return
    lint = subprocess.run([tool, str(DOCKERFILE)], capture_output=True, text=True, timeout=120)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_the_compose_file_runs_read_only_as_a_user_with_secrets_from_a_file() -> None:
    text = (REPO / "compose.yaml").read_text(encoding="utf-8")
    for needed in ("read_only: true", 'user: "10001:10001"', "env_file: holdspace.env", "- ./data:/data",
                   "cap_drop: [ALL]", "no-new-privileges:true", "restart: unless-stopped"):
        assert needed in text, needed
    assert "HOLDSPACE_TOKEN=" not in text.split("services:", 1)[1], "no secret in the compose file itself"


# --- license and project files ------------------------------------------------------------------


def test_license_security_and_changelog() -> None:
    license_text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    assert "END OF TERMS AND CONDITIONS" in license_text and len(license_text) > 10_000, "the full text"
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert 'license = "Apache-2.0"' in pyproject
    security = (REPO / "SECURITY.md").read_text(encoding="utf-8")
    assert "Reporting a vulnerability" in security and "In scope" in security
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(r"^## \[?0\.1\.0", changelog, re.M)
