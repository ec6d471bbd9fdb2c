"""The benchmark's CPU warm-up (benchmarks/cpus.py): every CPU spins until the shared instant, nothing of
it is left running in the block, and a spinner that cannot report fails loudly instead of letting a
burst run on a cold machine unnoticed."""

from __future__ import annotations

import asyncio
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
        assert len(_spinners()) == cpus.usable_cpus()
        # Each has said it is done and goes on to wait to be told to end: none is left spinning. (A
        # spinner may still be on its way from the report to the wait; the bound only ends a failure.)
        deadline = time.monotonic() + 10
        while True:
            if "R" not in _spinners().values() or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.01)
        assert "R" not in _spinners().values()
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
