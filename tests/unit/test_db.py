from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from bot.errors import HoldspaceError
from bot.storage.db import DEFAULT_MIGRATIONS_DIR, Database


@pytest.fixture
async def db(tmp_path: Path):
    database = await Database.open(tmp_path / "hs.db")
    await database.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    yield database
    await database.close()


async def _values(db: Database) -> list[str]:
    return [str(r["v"]) for r in await db.fetchall("SELECT v FROM t ORDER BY id")]


async def test_pragmas(db: Database) -> None:
    assert str(await db.fetchval("PRAGMA journal_mode")).lower() == "wal"
    assert await db.fetchval("PRAGMA foreign_keys") == 1
    assert await db.fetchval("PRAGMA busy_timeout") == 5000
    assert await db.fetchval("PRAGMA synchronous") == 1  # NORMAL


def test_default_migrations_dir_is_the_repository_one() -> None:
    assert DEFAULT_MIGRATIONS_DIR.name == "migrations"
    assert (DEFAULT_MIGRATIONS_DIR / "0001_foundation.sql").is_file()


async def test_open_does_not_migrate(tmp_path: Path) -> None:
    database = await Database.open(tmp_path / "new.db")
    try:
        assert not await database.table_exists("schema_migrations")
        assert database.migrations_dir == DEFAULT_MIGRATIONS_DIR
    finally:
        await database.close()


async def test_execute_and_fetch_helpers(db: Database) -> None:
    result = await db.execute("INSERT INTO t (v) VALUES (?)", ("a",))
    assert result.rowcount == 1 and result.lastrowid == 1
    assert await db.executemany("INSERT INTO t (v) VALUES (?)", [("b",), ("c",)]) == 2
    row = await db.fetchone("SELECT id, v FROM t WHERE v = ?", ("b",))
    assert row is not None and row["v"] == "b"
    assert await db.fetchone("SELECT v FROM t WHERE v = 'zz'") is None
    assert await _values(db) == ["a", "b", "c"]


async def test_executemany_is_atomic(db: Database) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        await db.executemany("INSERT INTO t (v) VALUES (?)", [("a",), (None,)])
    assert await _values(db) == []


async def test_transaction_commits_and_rolls_back(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO t (v) VALUES ('kept')")
    with pytest.raises(RuntimeError):
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO t (v) VALUES ('lost')")
            raise RuntimeError("boom")
    assert await _values(db) == ["kept"]
    assert not db.connection.in_transaction


async def test_nested_transaction_uses_savepoint(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO t (v) VALUES ('outer')")
        with pytest.raises(ValueError):
            async with db.transaction() as inner:
                await inner.execute("INSERT INTO t (v) VALUES ('inner-lost')")
                raise ValueError
        async with db.transaction() as inner:
            await inner.execute("INSERT INTO t (v) VALUES ('inner-kept')")
        await db.execute("INSERT INTO t (v) VALUES ('helper')")  # helpers join the owner's transaction
    assert await _values(db) == ["outer", "inner-kept", "helper"]


async def test_other_tasks_wait_for_an_open_transaction(db: Database) -> None:
    inside = asyncio.Event()
    release = asyncio.Event()
    seen: list[list[str]] = []

    async def writer() -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO t (v) VALUES ('uncommitted')")
            inside.set()
            await release.wait()
            raise RuntimeError("rolled back")

    async def reader() -> None:
        await inside.wait()
        seen.append(await _values(db))

    task_w = asyncio.create_task(writer())
    task_r = asyncio.create_task(reader())
    await inside.wait()
    await asyncio.sleep(0.05)
    assert not seen  # the reader is waiting, not reading the uncommitted row
    release.set()
    with pytest.raises(RuntimeError):
        await task_w
    await task_r
    assert seen == [[]]


async def test_backup_is_consistent_and_refuses_overwrite(db: Database, tmp_path: Path) -> None:
    await db.executemany("INSERT INTO t (v) VALUES (?)", [(str(i),) for i in range(100)])
    dest = tmp_path / "backup.db"
    assert await db.backup(dest) == dest
    copy = sqlite3.connect(dest)
    try:
        assert copy.execute("SELECT count(*) FROM t").fetchone()[0] == 100
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        copy.close()
    with pytest.raises(HoldspaceError, match="already exists"):
        await db.backup(dest)
    await db.execute("INSERT INTO t (v) VALUES ('more')")
    await db.backup(dest, overwrite=True)
    copy = sqlite3.connect(dest)
    try:
        assert copy.execute("SELECT count(*) FROM t").fetchone()[0] == 101
    finally:
        copy.close()
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".backup.db.partial")]
    with pytest.raises(HoldspaceError, match="database itself"):
        await db.backup(db.path, overwrite=True)
    with pytest.raises(HoldspaceError, match="does not exist"):
        await db.backup(tmp_path / "nodir" / "b.db")


async def test_backup_while_another_connection_writes(db: Database, tmp_path: Path) -> None:
    other = sqlite3.connect(db.path)
    try:
        other.execute("INSERT INTO t (v) VALUES ('from-other')")
        other.commit()
        await db.backup(tmp_path / "b.db")
    finally:
        other.close()
    copy = sqlite3.connect(tmp_path / "b.db")
    try:
        assert copy.execute("SELECT v FROM t").fetchall() == [("from-other",)]
    finally:
        copy.close()


async def test_open_refuses_non_database(tmp_path: Path) -> None:
    path = tmp_path / "not.db"
    path.write_bytes(b"this is not a database at all, just some text" * 50)
    with pytest.raises(HoldspaceError):
        await Database.open(path)


async def test_close_twice_is_fine(tmp_path: Path) -> None:
    database = await Database.open(tmp_path / "x.db")
    await database.close()
    await database.close()


async def test_cancelled_transactions_never_leave_the_connection_inside_one(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "cancel.db")
    await db.execute("CREATE TABLE t (v INTEGER)")

    async def write(value: int) -> None:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO t (v) VALUES (?)", (value,))

    for delay_steps in range(6):
        task = asyncio.create_task(write(delay_steps))
        for _ in range(delay_steps):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert not db.connection.in_transaction
    await write(99)  # the connection still works, and committed what it was asked
    assert await db.fetchval("SELECT COUNT(*) FROM t WHERE v = 99") == 1
    await db.close()


async def test_fetchval_reads_the_one_column_by_name(db: Database) -> None:
    await db.execute("INSERT INTO t (v) VALUES ('a'), ('b')")
    assert await db.fetchval("SELECT COUNT(*) AS n FROM t") == 2
    assert await db.fetchval("SELECT v FROM t WHERE v = 'zzz'") is None
    with pytest.raises(ValueError):  # two columns: which one was meant is not for fetchval to guess
        await db.fetchval("SELECT id, v FROM t")


class _Mount:
    def __init__(self, read_only: bool = False, free_blocks: int = 1000) -> None:
        self.f_flag = os.ST_RDONLY if read_only else 0
        self.f_bavail = free_blocks


def _read_only_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every connection opened read-only by SQLite itself, as on a read-only mount."""
    real = aiosqlite.connect
    monkeypatch.setattr(aiosqlite, "connect", lambda path, **kw: real(f"file:{path}?mode=ro", uri=True, **kw))


async def _existing_database(tmp_path: Path) -> tuple[Path, Any]:
    from bot.crypto import KeyRing
    from bot.storage.keycheck import open_checked_database

    path = tmp_path / "hs.db"
    ring = KeyRing.generate()
    db = await open_checked_database(path, ring)
    await db.close()
    return path, ring


async def test_a_read_only_file_system_is_named_as_such_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.storage.keycheck import open_checked_database

    path, ring = await _existing_database(tmp_path)
    _read_only_connections(monkeypatch)
    monkeypatch.setattr(os, "statvfs", lambda _: _Mount(read_only=True))
    with pytest.raises(HoldspaceError, match="mounted read-only") as raised:
        await open_checked_database(path, ring)
    assert "holdspace database" not in str(raised.value)


async def test_a_full_disk_is_named_as_such_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.storage.keycheck import open_checked_database

    path, ring = await _existing_database(tmp_path)
    _read_only_connections(monkeypatch)
    monkeypatch.setattr(os, "statvfs", lambda _: _Mount(free_blocks=0))
    with pytest.raises(HoldspaceError, match="disk holding it is full"):
        await open_checked_database(path, ring)


def test_storage_problems_in_words() -> None:
    from bot.storage.db import storage_problem

    here = Path(".")
    assert storage_problem(here, sqlite3.OperationalError("database or disk is full")) is not None
    read_only = storage_problem(here, sqlite3.OperationalError("attempt to write a readonly database"))
    assert read_only is not None and "read-only" in read_only
    assert storage_problem(here, sqlite3.OperationalError("no such table: x")) is None
