"""Stored integrity reports on a real database file: written once with their audit entry, and
`holdspace audit-verify` fails when a stored report is edited in the file, even with the right key."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.clock import FakeClock
from bot.core.records import GroupInfo
from bot.core.session_report import Intervention, Presence, SessionReport, as_record
from bot.crypto import KeyRing
from bot.services.audit import AuditLog, build_payload
from bot.storage import groups, session_reports, sessions
from bot.storage.db import Database
from tests.unit.conftest import rotate_key, workdir_ring

GUILD = 555000111222333444
START = datetime(2026, 5, 1, 18, tzinfo=UTC)


def report(session_id: str) -> SessionReport:
    return SessionReport(
        session_id=session_id,
        group="Tuesday circle",
        started_at=START,
        ended_at=START + timedelta(hours=1),
        time_zone="Europe/Berlin",
        end_reason="scheduled end",
        presence=Presence(3, 1, 1),
        interventions=(Intervention("unconsented_join", 1, START + timedelta(minutes=5)),),
        removed_messages=12,
        pending={"rate limited": 2},
        reminders=1,
    )


async def _open(path: Path) -> tuple[Database, KeyRing]:
    return await Database.open(path), workdir_ring()


async def save(db: Database, ring: KeyRing, r: SessionReport) -> bool:
    payload = build_payload(actor_id=None, group_id="g1", subject_id=None, details=session_reports.audit_details(r))
    return await session_reports.save(db, ring, guild_id=GUILD, report=r, audit_payload=payload, now=r.ended_at)


async def _populate(path: Path) -> list[str]:
    db, ring = await _open(path)
    clock = FakeClock(START)
    group = GroupInfo(id="g1", guild_id=GUILD, name="Tuesday circle", text_channel_id=1, voice_channel_id=2)
    await groups.insert_group(db, ring, group, "Our agreement", clock.now())
    await AuditLog(db, ring, clock).record(GUILD, "group_created", group_id="g1")
    ids = []
    for n in range(2):
        row = await sessions.start_session(
            db, guild_id=GUILD, group_id="g1", started_at=START + timedelta(days=n), planned_end=None
        )
        await sessions.end_session(db, row.id, ended_at=START + timedelta(days=n, hours=1), reason="scheduled end")
        assert await save(db, ring, report(row.id))
        assert not await save(db, ring, replace(report(row.id), removed_messages=0))  # written once
        ids.append(row.id)
    assert await session_reports.load(db, ring, ids[0]) == report(ids[0])
    assert [r.session_id for r in await session_reports.of_group(db, ring, "g1")] == ids[::-1]
    await db.close()
    return ids


def populate(workdir: Path) -> list[str]:
    return asyncio.run(_populate(workdir / "hs.db"))


def verify(capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["audit-verify"])
    return code, capsys.readouterr().out


def test_intact_reports_verify(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    populate(workdir)
    assert verify(capsys)[0] == 0


def test_a_report_edited_with_the_right_key_fails_audit_verify(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, _ = populate(workdir)

    async def edit() -> None:
        db, ring = await _open(workdir / "hs.db")
        edited = as_record(replace(report(first), interventions=(), presence=Presence(5, 0, 0)))
        blob = ring.encrypt_json(edited, table="sessions", column="report", row=first)
        await db.execute("UPDATE sessions SET report = ? WHERE id = ?", (blob, first))
        await db.close()

    asyncio.run(edit())
    code, out = verify(capsys)
    assert code == 1 and first in out and "edited" in out


def test_a_report_copied_over_another_or_corrupted_fails(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = populate(workdir)

    async def copy() -> None:
        db, _ = await _open(workdir / "hs.db")
        await db.execute(
            "UPDATE sessions SET report = (SELECT report FROM sessions WHERE id = ?) WHERE id = ?", (first, second)
        )
        await db.close()

    asyncio.run(copy())
    code, out = verify(capsys)
    assert code == 1 and second in out and "altered" in out


def test_a_report_without_its_audit_entry_fails(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, _ = populate(workdir)

    async def replay() -> None:
        db, ring = await _open(workdir / "hs.db")
        row = await sessions.start_session(
            db, guild_id=GUILD, group_id="g1", started_at=START + timedelta(days=5), planned_end=None
        )
        blob = ring.encrypt_json(
            as_record(replace(report(first), session_id=row.id)), table="sessions", column="report", row=row.id
        )
        await db.execute("UPDATE sessions SET report = ? WHERE id = ?", (blob, row.id))
        await db.close()

    asyncio.run(replay())
    code, out = verify(capsys)
    assert code == 1 and "no audit entry" in out


def test_reports_survive_key_rotation(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    populate(workdir)
    rotate_key(monkeypatch)
    assert verify(capsys)[0] == 0


def test_export_sessions_gives_every_report_with_the_digest_the_audit_trail_holds(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import csv
    import io
    import json

    from bot.core.session_report import digest, report_id

    first, second = populate(workdir)
    capsys.readouterr()
    assert main(["export", "sessions", "--guild", str(GUILD), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert sorted(r["session_id"] for r in rows) == sorted([first, second])
    rows.sort(key=lambda r: r["session_id"] != first)  # both made at the same time here: first's row first
    assert rows[0]["sha256"] == digest(report(first)) and rows[0]["report_id"] == report_id(report(first))
    assert rows[0]["interventions"] == "unconsented_join #1"
    assert (rows[0]["present"], rows[0]["consented"], rows[0]["exempt"], rows[0]["removed"]) == ("5", "3", "1", "1")
    assert rows[0]["messages_pending"] == "2" and rows[0]["pending_reasons"] == "rate limited: 2"
    assert main(["export", "sessions", "--guild", str(GUILD), "--group", "tuesday circle", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    by_id = {s["session_id"]: s for s in document["sessions"]}
    assert set(by_id) == {first, second} and by_id[second]["sha256"] == digest(report(second))
    assert main(["export", "sessions", "--guild", str(GUILD), "--group", "nope"]) == 2
    assert "no group called 'nope'" in capsys.readouterr().err
