"""A token and a key never reach the logs, even when an error carries them."""

from __future__ import annotations

import io
import json
import logging

import pytest

from bot.crypto import generate_key
from bot.logs import register_secret, setup_logging

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_are_scrubbed_from_messages_and_tracebacks(fmt: str) -> None:
    key = generate_key()
    register_secret(TOKEN)
    register_secret(key)
    stream = io.StringIO()
    setup_logging("debug", fmt, stream)
    log = logging.getLogger("holdspace.test")
    log.info("connecting with %s", TOKEN)
    log.warning("key ring %s", key)
    try:
        raise RuntimeError(f"the library failed with Authorization: Bot {TOKEN} and {key}")
    except RuntimeError:
        log.exception("startup failed")
    output = stream.getvalue()
    assert "[redacted]" in output
    for secret in (TOKEN, key, key.split(":")[1], TOKEN.split(".")[0], TOKEN.split(".")[2]):
        assert secret not in output
    if fmt == "json":
        for line in output.splitlines():
            json.loads(line)


def test_key_ring_with_several_keys_is_scrubbed_part_by_part() -> None:
    first, second = generate_key(), generate_key()
    register_secret(f"{first},{second}")
    stream = io.StringIO()
    setup_logging("info", "text", stream)
    logging.getLogger("holdspace.test").info("old key %s", second)
    assert second not in stream.getvalue()


def test_log_lines_go_to_the_stderr_of_the_moment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stderr replaced or closed after set-up (a redirect, a test's capture) is never written to."""
    import sys

    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    setup_logging("info", "text")
    first.close()
    second = io.StringIO()
    monkeypatch.setattr(sys, "stderr", second)
    logging.getLogger("holdspace").info("ready: 1 server, 0 groups")
    assert "ready: 1 server, 0 groups" in second.getvalue()
