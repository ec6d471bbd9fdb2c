"""`holdspace check` and `holdspace health` report how far the host clock is from Discord's."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.crypto import generate_key
from bot.health import Heartbeat, judge
from bot.services.discord_clock import META_KEY
from bot.storage import meta
from bot.storage.db import Database

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


def beat(offset_ms: int | None) -> Heartbeat:
    return Heartbeat(
        written_at=NOW,
        pid=1,
        connected=True,
        ever_connected=True,
        since=NOW - timedelta(hours=1),
        stopped=False,
        servers=1,
        scheduler_running=True,
        pass_started_at=None,
        overdue_since=None,
        clock_offset_ms=offset_ms,
    )


def test_health_reports_the_offset_and_warns_when_it_is_far(tmp_path: Path) -> None:
    assert "not measured yet" in judge(beat(None), NOW, tmp_path).line
    near = judge(beat(120), NOW, tmp_path)
    assert near.ok and "agrees with Discord's" in near.line
    far = judge(beat(-600_000), NOW, tmp_path)
    assert far.ok, "a clock far off is reported, not judged unhealthy: deadlines follow Discord's time"
    assert "WARNING" in far.line and "600.0 s ahead of Discord's" in far.line and "NTP" in far.line


def test_a_heartbeat_keeps_its_offset_through_the_file() -> None:
    assert Heartbeat.from_json(beat(-1500).to_json()).clock_offset_ms == -1500
    assert Heartbeat.from_json(beat(None).to_json()).clock_offset_ms is None


def test_check_shows_the_offset_a_running_holdspace_measured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOLDSPACE_KEY", generate_key())
    monkeypatch.delenv("HOLDSPACE_TOKEN", raising=False)
    (tmp_path / "config.toml").write_text('[bot]\ndatabase = "hs.db"\n', encoding="utf-8")
    assert main(["migrate"]) == 0
    assert main(["check"]) == 0
    assert "clock: not measured yet" in capsys.readouterr().out

    async def store() -> None:
        db = await Database.open(tmp_path / "hs.db")
        try:
            await meta.put(db, META_KEY, '{"offset_ms": -600000, "measured_at": "2026-03-02T12:00:00+00:00"}')
        finally:
            await db.close()

    asyncio.run(store())
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "clock: WARNING: the host clock is 600.0 s ahead of Discord's; synchronise it (NTP)" in out
