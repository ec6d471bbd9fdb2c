"""The migration runner: ``migrations/NNNN_name.sql`` applied in order, each one atomically.

Rules:

- A file name is ``NNNN_name.sql`` (four digits, then lowercase letters, digits and ``_``). Any other
  ``*.sql`` file in the directory is refused; other files (README, ...) are ignored.
- Each migration runs inside one ``BEGIN IMMEDIATE`` ... ``COMMIT`` together with its record in
  ``schema_migrations``; a failing migration leaves schema and data exactly as before. Migration files
  therefore must not contain BEGIN/COMMIT/ROLLBACK themselves. Foreign key enforcement is off while a
  migration runs (so tables can be rebuilt) and ``PRAGMA foreign_key_check`` must pass before COMMIT.
- Released migrations are never edited: an applied migration whose file changed or vanished, and a
  database newer than the code, are refused with a one-line ``MigrationError``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from bot.clock import Clock, SystemClock
from bot.errors import HoldspaceError
from bot.storage.db import DEFAULT_MIGRATIONS_DIR, Database

__all__ = [
    "Migration",
    "MigrationError",
    "MigrationState",
    "discover",
    "migrate",
    "pending",
    "status",
]

_NAME_RE = re.compile(r"^(\d{4})_([a-z0-9][a-z0-9_]*)\.sql$")
_TX_CONTROL_RE = re.compile(
    r"(?im)^\s*(?:COMMIT\b|END\s+TRANSACTION\b|ROLLBACK\b|BEGIN\s*;|BEGIN\s+(?:DEFERRED|IMMEDIATE|EXCLUSIVE|TRANSACTION)\b)"
)

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at TEXT NOT NULL
)
"""


class MigrationError(HoldspaceError):
    """The migrations directory and the database do not fit together."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str  # the file name, e.g. "0001_foundation.sql"
    path: Path
    sql: str
    checksum: str


@dataclass(frozen=True)
class _Applied:
    """One row of ``schema_migrations``."""

    name: str
    checksum: str
    applied_at: str


@dataclass(frozen=True)
class MigrationState:
    version: int
    name: str
    applied: bool
    applied_at: str | None


def _checksum(sql: str) -> str:
    return hashlib.sha256(sql.replace("\r\n", "\n").encode("utf-8")).hexdigest()


def discover(migrations_dir: Path | str) -> list[Migration]:
    """The migration files of ``migrations_dir``, ordered by version; refuses bad names."""
    directory = Path(migrations_dir)
    if not directory.is_dir():
        raise MigrationError(f"the migrations directory {directory} does not exist; reinstall holdspace")
    found: dict[int, Migration] = {}
    for path in sorted(directory.iterdir()):
        if not path.is_file() or not path.name.endswith(".sql"):
            continue
        match = _NAME_RE.match(path.name)
        if match is None:
            raise MigrationError(
                f"migration file {path.name} is misnamed: rename it to NNNN_name.sql "
                "(four digits, lowercase letters, digits and underscores)"
            )
        version = int(match.group(1))
        if version == 0:
            raise MigrationError(f"migration file {path.name} has version 0000: numbering starts at 0001")
        if version in found:
            raise MigrationError(
                f"migrations {found[version].name} and {path.name} share version {version:04d}; renumber one"
            )
        try:
            sql = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise MigrationError(
                f"cannot read migration file {path.name}: {exc.__class__.__name__}"
            ) from None
        if _TX_CONTROL_RE.search(sql):
            raise MigrationError(
                f"migration file {path.name} contains BEGIN/COMMIT/ROLLBACK: remove them, "
                "the runner wraps every migration in its own transaction"
            )
        found[version] = Migration(version, path.name, path, sql, _checksum(sql))
    return [found[v] for v in sorted(found)]


async def _applied(db: Database) -> dict[int, _Applied]:
    if not await db.table_exists("schema_migrations"):
        return {}
    rows = await db.fetchall("SELECT version, name, checksum, applied_at FROM schema_migrations")
    return {int(r["version"]): _Applied(str(r["name"]), str(r["checksum"]), str(r["applied_at"])) for r in rows}


def _plan(files: list[Migration], applied: dict[int, _Applied]) -> list[Migration]:
    """Check the applied history against the files and return the pending ones (in order)."""
    by_version = {m.version: m for m in files}
    newest_file = max(by_version, default=0)
    newest_applied = max(applied, default=0)
    if newest_applied > newest_file:
        raise MigrationError(
            f"the database is at schema version {newest_applied:04d}, newer than this holdspace "
            f"(which knows up to {newest_file:04d}); run a newer holdspace or restore a backup"
        )
    for version in sorted(applied):
        name, checksum = applied[version].name, applied[version].checksum
        migration = by_version.get(version)
        if migration is None:
            raise MigrationError(
                f"migration {name} was applied to the database but its file is missing; restore it"
            )
        if migration.name != name or migration.checksum != checksum:
            raise MigrationError(
                f"migration file {migration.name} changed after it was applied (applied as {name}); "
                "restore the released file and put the change in a new migration"
            )
    todo = [m for m in files if m.version not in applied]
    for migration in todo:
        if migration.version < newest_applied:
            raise MigrationError(
                f"migration {migration.name} is older than the database's newest applied migration "
                f"{newest_applied:04d}; renumber it after {newest_applied:04d}"
            )
    return todo


async def pending(db: Database, migrations_dir: Path | str | None = None) -> list[str]:
    """Names of the migrations that ``migrate`` would apply (raises if the history does not fit)."""
    files = discover(migrations_dir or db.migrations_dir or DEFAULT_MIGRATIONS_DIR)
    return [m.name for m in _plan(files, await _applied(db))]


async def status(db: Database, migrations_dir: Path | str | None = None) -> list[MigrationState]:
    """Every migration file with whether (and when) it was applied; raises if the history does not fit."""
    files = discover(migrations_dir or db.migrations_dir or DEFAULT_MIGRATIONS_DIR)
    applied = await _applied(db)
    _plan(files, applied)
    return [
        MigrationState(
            m.version, m.name, m.version in applied, applied[m.version].applied_at if m.version in applied else None
        )
        for m in files
    ]


async def migrate(
    db: Database, migrations_dir: Path | str | None = None, *, clock: Clock | None = None
) -> list[str]:
    """Apply the pending migrations in order, each atomically; returns the names applied."""
    files = discover(migrations_dir or db.migrations_dir or DEFAULT_MIGRATIONS_DIR)
    todo = _plan(files, await _applied(db))
    if not todo:
        return []
    clock = clock or SystemClock()
    done: list[str] = []
    for migration in todo:
        applied_at = clock.now().isoformat()
        record = (
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES "
            f"({migration.version}, {_quote(migration.name)}, {_quote(migration.checksum)}, "
            f"{_quote(applied_at)});"
        )
        try:
            # The bookkeeping table is created inside the first migration's transaction, so a failed
            # first migration leaves a database without any trace of the attempt.
            await db.run_script_atomically(
                f"{_CREATE_TABLE};\n{migration.sql}\n;\n{record}", foreign_keys_off=True
            )
        except HoldspaceError as exc:
            raise MigrationError(f"migration {migration.name} failed and was rolled back: {exc}") from None
        except Exception as exc:
            raise MigrationError(
                f"migration {migration.name} failed and was rolled back: {exc}; fix the migration file"
            ) from None
        done.append(migration.name)
    return done


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
