"""The benchmark's CPU warm-up (benchmarks/cpus.py): every CPU spins until the shared instant, nothing of
it is left running in the block, and a spinner that cannot report fails loudly instead of letting a
burst run on a cold machine unnoticed."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from benchmarks import cpus


def _spinners() -> dict[int, str]:
    """pid -> state letter of this process's children started as spinners (from /proc)."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # ended meanwhile
        if int(stat[1]) == os.getpid() and b"-S" in argv:
            found[int(entry.name)] = stat[0]
    return found


async def test_every_cpu_spins_until_the_block_starts_and_none_runs_in_it() -> None:
    started = time.monotonic()
    async with cpus.cpus_at_work(0.05):
        assert time.monotonic() - started >= 0.05
        spinners = _spinners()
        assert len(spinners) == cpus.usable_cpus()
        assert "R" not in spinners.values()  # waiting to be told to end, not spinning
    assert _spinners() == {}


async def test_a_cold_machine_runs_no_spinner(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cpus.COLD_ENV, "1")
    async with cpus.cpus_at_work(5.0):
        assert _spinners() == {}


async def test_a_spinner_that_cannot_report_fails_the_warm_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpus, "_SPINNER", "import sys\nsys.exit(3)\n")
    with pytest.raises(EOFError):  # asyncio's IncompleteReadError
        async with cpus.cpus_at_work(0.01):
            pytest.fail("the block ran without warm CPUs")
    assert _spinners() == {}
