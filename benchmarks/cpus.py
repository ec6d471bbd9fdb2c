"""The machine's CPUs at their working clock before a timed burst of the reaction floor.

A virtual machine that has sat idle runs its next tens of milliseconds of work markedly slower (the
host's frequency scaling and idle states). On the reference machine, holdspace's first burst of 100
joins after the single joins gave p99 46-56 ms (median 50); with two processes that only spin for
0.3 s just before it (nothing of holdspace or the sandbox runs in them), 26-45 ms (median 29.5), the
same as a burst that follows earlier work (docs/performance.md). That difference is the machine, not
holdspace, so each timed burst of the floor starts with the CPUs busy, as a server in use has them.
holdspace's own state is untouched: the connections it must open and everything it has not yet done
still count. ``--cold-machine`` (``HOLDSPACE_BENCH_COLD_MACHINE=1``) skips this, to see the difference.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator

#: Seconds every CPU spins before the burst starts.
SPIN_SECONDS = 0.3
#: Seconds given to the spinner processes to start, so that they all spin until one shared instant.
START_ALLOWANCE = 0.2
COLD_ENV = "HOLDSPACE_BENCH_COLD_MACHINE"

# Spins until the shared deadline (time.monotonic() is one clock for every process), says so, then
# waits without using a CPU until it is told to end: nothing of it runs during the burst.
_SPINNER = (
    "import sys, time\n"
    "end = float(sys.argv[1])\n"
    "while time.monotonic() < end:\n"
    "    pass\n"
    "sys.stdout.write('.')\n"
    "sys.stdout.flush()\n"
    "sys.stdin.read()\n"
)


def cold_machine() -> bool:
    return os.environ.get(COLD_ENV) == "1"


def usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@contextlib.asynccontextmanager
async def cpus_at_work(seconds: float = SPIN_SECONDS) -> AsyncIterator[None]:
    """Every usable CPU busy for ``seconds``, ending as the block starts (nothing when the machine is to
    stay cold). A spinner that does not report back fails the benchmark rather than leaving the
    burst to run on a cold machine unnoticed."""
    if cold_machine():
        yield
        return
    end = time.monotonic() + START_ALLOWANCE + seconds
    spinners: list[asyncio.subprocess.Process] = []
    try:
        for _ in range(usable_cpus()):
            spinners.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-S",
                    "-c",
                    _SPINNER,
                    repr(end),
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                )
            )
        for spinner in spinners:
            assert spinner.stdout is not None
            await asyncio.wait_for(spinner.stdout.readexactly(1), START_ALLOWANCE + seconds + 10)
        yield
    finally:
        for spinner in spinners:
            if spinner.stdin is not None:
                spinner.stdin.close()
        for spinner in spinners:
            try:
                await asyncio.wait_for(spinner.wait(), 5)
            except TimeoutError:
                spinner.kill()
                await spinner.wait()
