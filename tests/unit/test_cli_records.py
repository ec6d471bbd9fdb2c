"""The record commands end to end on a real database: export, audit-verify and rotate-key."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import main
from bot.clock import FakeClock
from bot.core.records import GroupInfo
from bot.crypto import KeyRing
from bot.services.audit import AuditLog
from bot.storage import consents, groups
from bot.storage.db import Database
from tests.unit.conftest import rotate_key, workdir_ring

GUILD = 555000111222333444
MEMBER = 123456789012345678


async def _populate(path: Path, ring: KeyRing) -> None:
    db = await Database.open(path)
    clock = FakeClock(datetime(2026, 5, 1, 18, tzinfo=UTC))
    group = GroupInfo(id="g1", guild_id=GUILD, name="Tuesday circle", text_channel_id=1, voice_channel_id=2)
    await groups.insert_group(db, ring, group, "Our agreement", clock.now())
    await consents.record(
        db, ring, group_id="g1", member_id=MEMBER, answer="agree", at=clock.now(), method="command",
        version=1, sha256="ab" * 32,
    )
    audit = AuditLog(db, ring, clock)
    for action in ("group_created", "consent_given", "session_started"):
        await audit.record(GUILD, action, actor_id=MEMBER, group_id="g1")
    await db.close()


def populate(workdir: Path) -> None:
    asyncio.run(_populate(workdir / "hs.db", workdir_ring()))


def test_export_consents_as_csv_and_json(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    populate(workdir)
    capsys.readouterr()
    assert main(["export", "consents", "--guild", str(GUILD), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["member_id"], r["answer"], r["group_name"]) for r in rows] == [(str(MEMBER), "agree", "Tuesday circle")]
    assert main(["export", "consents", "--guild", str(GUILD), "--group", "Tuesday circle", "--format", "json"]) == 0
    assert str(MEMBER) in json.dumps(json.loads(capsys.readouterr().out))


def test_export_to_a_file_is_private_and_never_overwrites(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    populate(workdir)
    assert main(["export", "audit", "--guild", str(GUILD), "--format", "json", "--output", "audit.json"]) == 0
    assert (workdir / "audit.json").stat().st_mode & 0o077 == 0
    assert len(json.loads((workdir / "audit.json").read_text())["entries"]) == 3
    assert main(["export", "cases", "--guild", str(GUILD), "--format", "csv", "--output", "audit.json"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_export_of_an_unknown_group_exits_2(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    populate(workdir)
    assert main(["export", "consents", "--guild", str(GUILD), "--group", "Nope", "--format", "csv"]) == 2
    assert "no group called" in capsys.readouterr().err


def test_audit_verify_names_the_first_broken_link(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    populate(workdir)
    assert main(["audit-verify"]) == 0
    assert "intact" in capsys.readouterr().out.lower()

    async def tamper() -> None:
        db = await Database.open(workdir / "hs.db")
        await db.execute("UPDATE audit_log SET action = 'nothing_happened' WHERE seq = 2")
        await db.close()

    asyncio.run(tamper())
    assert main(["audit-verify"]) == 1
    assert "2" in capsys.readouterr().out


def test_rotate_key_then_the_old_key_alone_is_refused(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    populate(workdir)
    old, new = rotate_key(monkeypatch)
    assert main(["audit-verify"]) == 0
    capsys.readouterr()
    assert main(["export", "consents", "--guild", str(GUILD), "--format", "csv"]) == 0
    assert str(MEMBER) in capsys.readouterr().out
    monkeypatch.setenv("HOLDSPACE_KEY", old)
    assert main(["audit-verify"]) == 2
    assert new.split(":")[0] in capsys.readouterr().err


def test_integrity_accept_writes_the_anchor_anew(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A database moved without its anchor: every group with records would fail closed at the next
    start; `holdspace integrity accept` vouches for the file as it stands instead."""
    populate(workdir)
    anchor = workdir / "hs.db.anchor"
    anchor.unlink(missing_ok=True)

    async def tampered() -> dict[str, str]:
        ring = workdir_ring()
        db = await Database.open(workdir / "hs.db")
        try:
            return (await consents.load_checked(db, ring, {"g1"})).tampered
        finally:
            await db.close()

    assert "gone" in asyncio.run(tampered())["g1"]
    capsys.readouterr()
    assert main(["check"]) == 0
    assert "run `holdspace integrity accept` first" in capsys.readouterr().out
    assert main(["integrity", "accept"]) == 0
    assert "1 group(s)" in capsys.readouterr().out
    assert anchor.exists() and anchor.stat().st_mode & 0o077 == 0
    assert asyncio.run(tampered()) == {}
    assert main(["check"]) == 0
    assert "integrity accept" not in capsys.readouterr().out
