"""The one SQLite connection of holdspace.

``Database.open`` connects and sets the pragmas (WAL, foreign keys, busy timeout, synchronous=NORMAL)
but does not migrate: the caller decides (see ``bot.storage.migrations`` and
``bot.storage.keycheck.open_checked_database``, which checks the key before anything is written).

Concurrency: all statements go through one aiosqlite connection. An ``asyncio.Lock`` serialises
write transactions; statements issued from other tasks while a transaction is open wait for it, so
nobody reads or joins another task's uncommitted work. Inside a transaction, the owning task may
call the helpers (``execute``/``fetchone``/...) or nest ``transaction()`` (which uses a savepoint).
Do not fan a transaction out to other tasks (``gather`` inside it would deadlock).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from bot.errors import HoldspaceError
from bot.files import create_private, ensure_private, sqlite_companions

__all__ = ["DEFAULT_MIGRATIONS_DIR", "Database", "ExecResult"]

log = logging.getLogger(__name__)

DEFAULT_MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"

Params = Sequence[Any] | dict[str, Any]


@dataclass(frozen=True)
class ExecResult:
    rowcount: int
    lastrowid: int | None


def storage_problem(path: Path, exc: BaseException | None = None) -> str | None:
    """A read-only file system or a full disk under ``path``, said as such (None: neither)."""
    folder = path.parent if not path.is_dir() else path
    try:
        stats = os.statvfs(folder)
    except OSError:
        stats = None
    text = str(exc or "").lower()
    if (stats is not None and stats.f_flag & os.ST_RDONLY) or "read-only file system" in text:
        return "the file system holding it is mounted read-only; holdspace needs to write there"
    if (stats is not None and stats.f_bavail == 0) or "disk is full" in text:
        return "the disk holding it is full; free some space"
    if "readonly" in text:
        return "the file is read-only for holdspace; give it write permission (and its folder too)"
    return None


class Database:
    """One aiosqlite connection with serialised write transactions."""

    def __init__(self, conn: aiosqlite.Connection, path: Path, migrations_dir: Path) -> None:
        self._conn = conn
        self.path = path
        self.migrations_dir = migrations_dir
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None
        self._depth = 0
        self._savepoints = itertools.count(1)
        self._closed = False

    @classmethod
    async def open(cls, path: Path | str, *, migrations_dir: Path | None = None) -> Database:
        """Connect to ``path`` (created if missing) and set the pragmas; does not migrate."""
        db_path = Path(path)
        # Owner-only from the first byte; SQLite gives -wal and -shm the database's own mode.
        for existing in (db_path, *sqlite_companions(db_path)):
            ensure_private(existing, "database")
        create_private(db_path, "database")
        try:
            conn = await aiosqlite.connect(db_path, isolation_level=None)
        except sqlite3.Error as exc:
            raise HoldspaceError(
                f"cannot open the database {db_path}: {storage_problem(db_path, exc) or exc}"
                "; check the path and its permissions"
            ) from None
        try:
            conn.row_factory = sqlite3.Row
            await conn.execute("PRAGMA busy_timeout=5000")
            mode_row = await (await conn.execute("PRAGMA journal_mode")).fetchone()
            if mode_row is None or str(mode_row["journal_mode"]).lower() != "wal":
                await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA foreign_keys=ON")
            await conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:
            await conn.close()
            problem = storage_problem(db_path, exc)
            if problem is not None:
                raise HoldspaceError(f"cannot use the database {db_path}: {problem}") from None
            raise HoldspaceError(
                f"cannot use the database {db_path}: {exc}; is it a holdspace database?"
            ) from None
        return cls(conn, db_path, migrations_dir or DEFAULT_MIGRATIONS_DIR)

    async def check_writable(self) -> None:
        """Take the write lock once and let go (raises sqlite3.Error on a read-only or full disk), so
        holdspace refuses to start rather than failing at its first record."""
        async with self._access() as conn:
            await conn.execute("BEGIN IMMEDIATE")
            try:
                await conn.execute("CREATE TABLE hs_write_probe (x)")
            finally:
                await conn.execute("ROLLBACK")

    @property
    def busy(self) -> bool:
        """A statement or transaction is under way (tests use it to know holdspace has settled)."""
        return self._lock.locked()

    @property
    def connection(self) -> aiosqlite.Connection:
        """The raw connection (bot.storage modules only)."""
        return self._conn

    def _owns_transaction(self) -> bool:
        task = asyncio.current_task()
        return task is not None and self._owner is task

    @asynccontextmanager
    async def _access(self) -> AsyncIterator[aiosqlite.Connection]:
        """Exclusive use of the connection unless this task already holds the transaction."""
        if self._owns_transaction():
            yield self._conn
            return
        async with self._lock:
            yield self._conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; rolls back on any exception; nests with savepoints."""
        conn = self._conn
        if self._owns_transaction():
            name = f"hs_sp_{next(self._savepoints)}"
            await conn.execute(f"SAVEPOINT {name}")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    await conn.execute(f"ROLLBACK TO {name}")
                    await conn.execute(f"RELEASE {name}")
                raise
            else:
                await conn.execute(f"RELEASE {name}")
            return
        async with self._lock:
            self._owner = asyncio.current_task()
            try:
                await self._shielded(conn, "BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    if conn.in_transaction:
                        with suppress(sqlite3.Error):
                            await self._shielded(conn, "ROLLBACK")
                    raise
                else:
                    await self._shielded(conn, "COMMIT")
            finally:
                self._owner = None

    @staticmethod
    async def _shielded(conn: aiosqlite.Connection, statement: str) -> None:
        """Run a transaction-control statement to its end even if the caller is cancelled.

        aiosqlite runs statements on its own thread: a cancelled BEGIN would still run later and leave
        the connection inside a transaction nobody owns. So finish the statement, and undo a BEGIN
        whose caller went away, before letting the cancellation through.
        """
        pending = asyncio.ensure_future(conn.execute(statement))
        try:
            await asyncio.shield(pending)
        except asyncio.CancelledError:
            with suppress(Exception):
                await pending
            if statement.startswith("BEGIN") and conn.in_transaction:
                with suppress(Exception):
                    await conn.execute("ROLLBACK")
            raise

    async def execute(self, sql: str, params: Params = ()) -> ExecResult:
        """Run one statement (autocommit outside a transaction)."""
        async with self._access() as conn:
            cursor = await conn.execute(sql, params)
            try:
                return ExecResult(cursor.rowcount, cursor.lastrowid)
            finally:
                await cursor.close()

    async def executemany(self, sql: str, params: Iterable[Params]) -> int:
        """Run one statement for many parameter sets, atomically; returns the total row count."""
        async with self.transaction() as conn:
            cursor = await conn.executemany(sql, params)
            try:
                return cursor.rowcount
            finally:
                await cursor.close()

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        async with self._access() as conn:
            cursor = await conn.execute(sql, params)
            try:
                row: sqlite3.Row | None = await cursor.fetchone()
                return row
            finally:
                await cursor.close()

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        async with self._access() as conn:
            cursor = await conn.execute(sql, params)
            try:
                return list(await cursor.fetchall())
            finally:
                await cursor.close()

    async def fetchval(self, sql: str, params: Params = ()) -> Any:
        """The value of a one-column query's first row, or None (a query with more columns is a bug)."""
        row = await self.fetchone(sql, params)
        if row is None:
            return None
        (column,) = row.keys()
        return row[column]

    async def table_exists(self, name: str) -> bool:
        row = await self.fetchone("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
        return row is not None

    async def run_script_atomically(self, script: str, *, foreign_keys_off: bool = False) -> None:
        """Run a multi-statement script inside one ``BEGIN IMMEDIATE`` transaction.

        ``sqlite3.executescript`` commits any open transaction first, so the BEGIN goes into the
        script itself. Before COMMIT, ``PRAGMA foreign_key_check`` must come back empty; any error
        rolls everything back. With ``foreign_keys_off`` foreign key enforcement is switched off
        for the script (needed to rebuild tables) and switched on again afterwards.
        """
        async with self._lock:
            conn = self._conn
            if conn.in_transaction:
                raise HoldspaceError("internal error: a script was run while a transaction was open")
            if foreign_keys_off:
                await conn.execute("PRAGMA foreign_keys=OFF")
            self._owner = asyncio.current_task()
            try:
                await conn.executescript("BEGIN IMMEDIATE;\n" + script + "\n;\n")
                if not conn.in_transaction:
                    raise HoldspaceError("a migration script ended its own transaction; remove BEGIN/COMMIT")
                violations = await conn.execute_fetchall("PRAGMA foreign_key_check")
                if list(violations):
                    raise HoldspaceError(
                        "a migration script left rows that break foreign keys; fix the migration"
                    )
                await conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    with suppress(sqlite3.Error):
                        await conn.execute("ROLLBACK")
                raise
            finally:
                self._owner = None
                if foreign_keys_off:
                    await conn.execute("PRAGMA foreign_keys=ON")

    # -- meta key/value --------------------------------------------------------------------------

    async def get_meta(self, key: str) -> str | None:
        """A value from the ``meta`` table (None if absent or the table does not exist yet)."""
        if not await self.table_exists("meta"):
            return None
        value = await self.fetchval("SELECT value FROM meta WHERE key = ?", (key,))
        return None if value is None else str(value)

    async def set_meta(self, key: str, value: str) -> None:
        await self.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # -- backup and close -----------------------------------------------------------------------

    async def backup(self, dest_path: Path | str, *, overwrite: bool = False) -> Path:
        """Write a consistent copy of the database with SQLite's online backup API.

        Works while the bot uses the database. Refuses to replace an existing file unless
        ``overwrite``; the copy is written to a temporary file and moved into place.
        """
        dest, tmp = _prepare_backup(self.path, Path(dest_path), overwrite)
        try:
            target = await aiosqlite.connect(tmp)
            try:
                async with self._access() as conn:
                    await conn.backup(target)
                # A self-contained copy: no -wal/-shm needed next to it.
                await target.execute("PRAGMA journal_mode=DELETE")
            finally:
                await target.close()
            os.replace(tmp, dest)
        except BaseException:
            _remove_partial(tmp)
            raise
        return dest

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        async with self._lock:
            await self._conn.close()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _prepare_backup(source: Path, dest: Path, overwrite: bool) -> tuple[Path, Path]:
    if dest.resolve() == source.resolve():
        raise HoldspaceError("the backup destination is the database itself; choose another path")
    if dest.exists() and not overwrite:
        raise HoldspaceError(f"{dest} already exists; choose a new file name or pass --overwrite")
    if not dest.parent.is_dir():
        raise HoldspaceError(f"the directory {dest.parent} does not exist; create it first")
    tmp = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    _remove_partial(tmp)
    create_private(tmp, "backup")  # the copy holds the same records: owner-only like the original
    return dest, tmp


def _remove_partial(tmp: Path) -> None:
    for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm"), Path(f"{tmp}-journal")):
        with suppress(FileNotFoundError):
            leftover.unlink()
