"""Logging set-up: readable lines or JSON lines, with secrets scrubbed from every record.

The code never logs a token, a key, message content, a name or a nickname. As a second line of
defence, every secret the process holds is registered here and replaced wherever it would appear,
including in tracebacks of errors raised by libraries.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

_SECRETS: set[str] = set()
_REDACTED = "[redacted]"


def register_secret(secret: str) -> None:
    """Never let ``secret`` (or any part of a comma-separated key ring) reach a log line."""
    for part in {secret, *secret.replace("\n", ",").split(",")}:
        part = part.strip()
        if len(part) >= 8:
            _SECRETS.add(part)
            # Discord tokens and key rings have parts that must not leak on their own either.
            for piece in part.replace(":", ".").split("."):
                if len(piece) >= 16:
                    _SECRETS.add(piece)


def scrub(text: str) -> str:
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, _REDACTED)
    return text


class _ScrubbingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return scrub(json.dumps(entry, ensure_ascii=False))


class _OneLineReconnects(logging.Filter):
    """discord.py logs a full traceback at every reconnect attempt while Discord is unreachable; one
    line with the cause says the same, and an outage does not flood the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and str(record.msg).startswith("Attempting a reconnect"):
            exc = record.exc_info[1]
            cause = (" ".join(str(exc).split()) or "no details").replace("%", "%%")
            record.msg = f"Discord is unreachable ({type(exc).__name__}: {cause}); reconnecting in %.2fs"
            record.exc_info = None
            record.exc_text = None
        return True


_RECONNECT_FILTER = _OneLineReconnects()


def one_line_reconnects() -> None:
    """Install the one-line reconnect filter on discord.py's client logger (idempotent): part of
    running holdspace, whoever set up the log handlers."""
    client_log = logging.getLogger("discord.client")
    if _RECONNECT_FILTER not in client_log.filters:
        client_log.addFilter(_RECONNECT_FILTER)


VALUE_LOGGING_LIBRARIES = ("discord", "aiosqlite")


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time of each line (not the one at set-up), so a
    replaced or closed stream (a test's capture, a redirected stderr) is never written to later."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def setup_logging(level: str = "info", fmt: str = "text", stream: TextIO | None = None) -> None:
    handler: logging.StreamHandler = logging.StreamHandler(stream) if stream is not None else _CurrentStderr()
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(_ScrubbingFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Libraries whose debug output holds values (discord.py's payloads, aiosqlite's statements with
    # their parameters): kept at info or above, whatever level holdspace itself logs at.
    for library in VALUE_LOGGING_LIBRARIES:
        logging.getLogger(library).setLevel(max(logging.INFO, root.level))
    one_line_reconnects()
