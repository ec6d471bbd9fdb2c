"""Run the end-to-end suite several times beside a CPU hog, to show it does not depend on machine speed.

    python -m tests.stress [--runs 5] [--hogs N] [pytest args...]     (``make stress-test RUNS=5``)

One busy-looping process per CPU core competes with the tests for the whole time; each hog also stops
by itself after ``--hog-limit`` seconds, so none outlives a run that was killed. Every run's failures
are listed, and each run's whole output is kept in a folder named at the start; the exit status is
1 if any run failed.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAILED = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.MULTILINE)
SUMMARY = re.compile(r"^=*\s*(.*(?:passed|failed|error).*?)\s*=*$", re.MULTILINE)


def _hog(stop_at: float) -> None:
    """Keep one core busy until ``stop_at`` (monotonic time)."""
    while time.monotonic() < stop_at:
        pass


def start_hogs(count: int, limit: float) -> list[multiprocessing.Process]:
    stop_at = time.monotonic() + limit
    hogs = [multiprocessing.Process(target=_hog, args=(stop_at,), daemon=True, name=f"cpu-hog-{i}")
            for i in range(count)]
    for hog in hogs:
        hog.start()
    return hogs


def stop_hogs(hogs: list[multiprocessing.Process]) -> None:
    for hog in hogs:
        hog.terminate()
    for hog in hogs:
        hog.join(5)


def run_once(pytest_args: list[str], run_timeout: float) -> tuple[int, str]:
    cmd = [sys.executable, "-m", "pytest", "-rfE", *pytest_args]
    try:
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=run_timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return 124, out + f"\nthe run did not finish within {run_timeout:.0f}s\n"
    return done.returncode, done.stdout + done.stderr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="how many times to run the suite (default 5)")
    parser.add_argument("--hogs", type=int, default=os.cpu_count() or 1,
                        help="busy-looping processes beside the tests (default: one per core)")
    parser.add_argument("--run-timeout", type=float, default=1800.0, help="seconds one run may take at most")
    parser.add_argument("pytest_args", nargs="*", default=["tests/e2e"],
                        help="what to run (default: tests/e2e)")
    args = parser.parse_args(argv)
    hog_limit = args.runs * args.run_timeout + 60
    logs = Path(tempfile.mkdtemp(prefix="holdspace-stress-"))
    print(f"stress test: {args.runs} run(s) of {' '.join(args.pytest_args)} beside {args.hogs} CPU hog(s); "
          f"output of each run in {logs}", flush=True)
    failures: dict[int, list[str]] = {}
    hogs = start_hogs(args.hogs, hog_limit)
    try:
        for run in range(1, args.runs + 1):
            started = time.monotonic()
            code, output = run_once(args.pytest_args, args.run_timeout)
            (logs / f"run-{run}.log").write_text(output)
            failed = FAILED.findall(output)
            summary = SUMMARY.findall(output)
            line = summary[-1] if summary else f"exit status {code}"
            print(f"run {run}/{args.runs}: {line} ({time.monotonic() - started:.0f}s)", flush=True)
            if code != 0:
                failures[run] = failed or [f"pytest exited with status {code}"]
                for test in failures[run]:
                    print(f"    FAILED {test}", flush=True)
                if not failed:
                    print(output[-3000:], flush=True)
                print(f"    details: {logs / f'run-{run}.log'}", flush=True)
    finally:
        stop_hogs(hogs)
    total = sum(len(f) for f in failures.values())
    print(f"stress test: {total} failure(s) in {len(failures)} of {args.runs} run(s)", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
