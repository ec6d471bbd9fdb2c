"""Files holdspace writes are readable by their owner only: the database with its -wal and -shm, backups,
exports and the health heartbeat all hold records of people in therapy (or say when holdspace ran).

One home for that rule. SQLite gives a database's -wal, -shm and -journal files the mode of the
database file itself, so creating the database 0600 before SQLite opens it covers them too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

from bot.errors import HoldspaceError

__all__ = ["PRIVATE_MODE", "create_private", "ensure_private", "sqlite_companions", "write_private_atomically"]

log = logging.getLogger(__name__)

PRIVATE_MODE = 0o600


def sqlite_companions(database: Path) -> tuple[Path, ...]:
    """The files SQLite keeps next to a database."""
    return tuple(Path(f"{database}{suffix}") for suffix in ("-wal", "-shm", "-journal"))


def create_private(path: Path, what: str = "file") -> None:
    """Create ``path`` empty and 0600 if it does not exist; explain a missing or read-only folder."""
    folder = path.parent
    if not folder.is_dir():
        raise HoldspaceError(f"the folder {folder} for the {what} does not exist; create it or change the path")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    except FileExistsError:
        return
    except PermissionError:
        raise HoldspaceError(
            f"cannot create the {what} in {folder}: the folder is not writable by this user; "
            "fix its owner or permissions"
        ) from None
    os.close(fd)
    # The umask may only take bits away, but be explicit about the result.
    os.chmod(path, PRIVATE_MODE)


def ensure_private(path: Path, what: str = "file") -> None:
    """Tighten an existing file that group or others may read to 0600, or refuse with what to do."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode) or not mode & (stat.S_IRWXG | stat.S_IRWXO):
        return
    try:
        os.chmod(path, PRIVATE_MODE)
    except PermissionError:
        raise HoldspaceError(
            f"the {what} {path} can be read by others and holdspace cannot change that; "
            f"run `chmod 600 {path}` as its owner"
        ) from None
    log.warning("the %s %s could be read by others; it is now readable by its owner only", what, path)


def write_private_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step (readers never see half a file), mode 0600."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    try:
        os.fchmod(fd, PRIVATE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
