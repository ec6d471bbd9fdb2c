"""`python -m benchmarks` (`make bench`): every benchmark, its figures next to their targets.

Options: ``--only gate,startup`` runs a selection; ``--quick`` runs smaller sizes (a smoke run, not
the reference figures); ``--long`` adds the burst of 1,000 under Discord's limits (about 17 minutes);
``--break NAME`` runs holdspace with a deliberate breakage (benchmarks/README.md) to show that a
target can be missed; ``--cold-machine`` starts the floor's timed bursts without first bringing the
CPUs to their working clock (benchmarks/cpus.py). Figures go to benchmarks/results/latest.json (a
full default run also writes the results table of docs/performance.md); a missed target prints MISS
and the exit code is 1.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shlex
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import bench_expiry, bench_gate, bench_ingest, bench_startup
from benchmarks.botproc import BREAKAGES
from benchmarks.cpus import COLD_ENV, cold_machine
from benchmarks.harness import RESULTS, ROOT, compile_holdspace, machine, write_json
from benchmarks.report import write_performance_doc

MODULES = {"gate": bench_gate, "startup": bench_startup, "ingest": bench_ingest, "expiry": bench_expiry}
#: "bench.part" -> the coroutine function that runs it, in the order of a full run.
BENCHES: dict[str, Callable[..., Awaitable[None]]] = {
    f"{name}.{part}": run for name, module in MODULES.items() for part, run in module.PARTS.items()
}


#: A part that takes longer than this (holdspace stuck, say) is stopped and reported as a miss.
PART_BUDGET = 900.0


def select(only: str) -> list[str]:
    """``gate`` picks every part of the gate benchmark, ``gate.floor`` one part; empty: everything."""
    wanted = [n.strip() for n in only.split(",") if n.strip()]
    if not wanted:
        return list(BENCHES)
    unknown = [w for w in wanted if w not in MODULES and w not in BENCHES]
    if unknown:
        raise ValueError(", ".join(unknown))
    return [name for name in BENCHES if name in wanted or name.split(".")[0] in wanted]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("--only", default="", help="comma-separated: " + ", ".join([*MODULES, *BENCHES]))
    p.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    p.add_argument("--long", action="store_true", help="also the burst of 1,000 under Discord's limits")
    p.add_argument("--break", dest="breakage", default="", help="inject a breakage: " + ", ".join(BREAKAGES))
    p.add_argument(
        "--cold-machine", action="store_true", help="timed bursts of the floor without bringing the CPUs to speed first"
    )
    p.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "latest.json")
    return p


async def _run(names: list[str], quick: bool, long: bool) -> None:
    for name in names:
        print(f"== {name}", flush=True)
        RESULTS.bench = name.split(".")[0]
        started = time.monotonic()
        try:
            await asyncio.wait_for(BENCHES[name](quick=quick, long=long), PART_BUDGET * (3 if long else 1))
        except Exception as exc:  # a benchmark that cannot finish is a miss, reported as such
            text = f"the benchmark failed: {type(exc).__name__}: {exc}"
            if isinstance(exc, TimeoutError):
                text = f"did not finish within {PART_BUDGET * (3 if long else 1):.0f} s"
            RESULTS.add(f"{name}_completed", None, "", text, "completes", False)
        print(f"   ({name}: {time.monotonic() - started:.0f} s)", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        names = select(args.only)
    except ValueError as exc:
        print(f"unknown benchmark(s): {exc}; choose from " + ", ".join([*MODULES, *BENCHES]))
        return 2
    if args.breakage:
        bad = [b for b in args.breakage.split(",") if b not in BREAKAGES]
        if bad:
            print("unknown breakage(s): " + ", ".join(bad) + "; choose from " + ", ".join(BREAKAGES))
            return 2
        os.environ["HOLDSPACE_BENCH_BREAK"] = args.breakage
    if args.cold_machine:
        os.environ[COLD_ENV] = "1"
    logging.basicConfig(level=logging.ERROR)
    compile_holdspace()
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, Python {info['python']}, load {info['load_average_1m']}")
    started = time.monotonic()
    asyncio.run(_run(names, args.quick, args.long))
    command = "python -m benchmarks " + shlex.join(argv if argv is not None else sys.argv[1:])
    payload = {
        "command": command.strip(),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - started, 1),
        "machine": info,
        "options": {
            "only": names,
            "quick": args.quick,
            "long": args.long,
            "break": args.breakage,
            "cold_machine": cold_machine(),
        },
        "figures": {
            r.key: {
                "value": r.value,
                "unit": r.unit,
                "text": r.text,
                "target": r.target,
                "ok": r.ok,
                "bench": r.bench,
            }
            for r in RESULTS.items
        },
    }
    write_json(args.output, payload)
    if names == list(BENCHES) and not args.quick and not args.breakage and not cold_machine():
        write_performance_doc(payload, ROOT / "docs" / "performance.md")
    missed = RESULTS.missed
    shown = args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output
    print(f"({payload['seconds']:.0f} s) figures written to {shown}")
    if missed:
        print(f"MISS: {len(missed)} target(s) missed: " + ", ".join(r.key for r in missed))
        return 1
    print("all benchmark targets met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
