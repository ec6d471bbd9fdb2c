"""docs/performance.md: the figures of the last full `make bench`, each with its target."""

from __future__ import annotations

from pathlib import Path
from typing import Any

START = "<!-- results: written by `make bench`; edit the text around it, not inside -->"
END = "<!-- end of results -->"


def results_table(payload: dict[str, Any]) -> str:
    m = payload["machine"]
    lines = [
        START,
        "",
        f"Last full run: {payload['finished']}, `{payload['command']}` ({payload['seconds']:.0f} s) on "
        f"{m['cpu']}, {m['cores']} cores, Python {m['python']}, {m['system']}, load average "
        f"{m['load_average_1m']} at the start.",
        "",
        "| | Figure | Result | Target |",
        "|---|---|---|---|",
    ]
    for key, f in payload["figures"].items():
        mark = "info" if f["ok"] is None else ("ok" if f["ok"] else "**MISS**")
        lines.append(f"| {mark} | `{key}` | {f['text'].replace('|', '/')} | {f['target']} |")
    lines += ["", END]
    return "\n".join(lines)


def write_performance_doc(payload: dict[str, Any], path: Path) -> None:
    """Replace the results block of ``path`` (or append one) with this run's figures."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Performance\n\n" + START + "\n" + END + "\n"
    table = results_table(payload)
    if START in text and END in text:
        head, rest = text.split(START, 1)
        _, tail = rest.split(END, 1)
        text = head + table + tail
    else:
        text = text.rstrip("\n") + "\n\n" + table + "\n"
    path.write_text(text, encoding="utf-8")
