"""`holdspace demo`: a rehearsal that needs no Discord account and no secrets."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

from bot.crypto import generate_key

REPO = Path(__file__).resolve().parents[1]


async def run_demo() -> int:
    """Check the example config with a throwaway key in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="holdspace-demo-") as folder:
        config = Path(folder) / "config.toml"
        config.write_text((REPO / "config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
        env = {**os.environ, "HOLDSPACE_KEY": generate_key()}
        print("holdspace demo: checking config.example.toml with a throwaway key\n", flush=True)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "--config", str(config), "check", env=env
        )
        return await process.wait()
