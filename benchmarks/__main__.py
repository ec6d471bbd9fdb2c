"""`python -m benchmarks` runs every benchmarks/bench_*.py and fails when a target is missed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main() -> int:
    failed = []
    for script in sorted(Path(__file__).parent.glob("bench_*.py")):
        print(f"== {script.stem}", flush=True)
        if subprocess.call([sys.executable, str(script)]) != 0:
            failed.append(script.stem)
    if failed:
        print("targets missed: " + ", ".join(failed))
        return 1
    print("all benchmark targets met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
