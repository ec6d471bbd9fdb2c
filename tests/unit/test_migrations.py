from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.storage.db import DEFAULT_MIGRATIONS_DIR, Database
from bot.storage.migrations import MigrationError, discover, migrate, pending, status


async def _schema(db: Database) -> list[tuple[str, str]]:
    rows = await db.fetchall("SELECT name, sql FROM sqlite_master ORDER BY name")
    return [(str(r["name"]), str(r["sql"])) for r in rows]


def _write(directory: Path, name: str, sql: str) -> Path:
    path = directory / name
    path.write_text(sql, encoding="utf-8")
    return path


@pytest.fixture
def mig_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "migrations"
    directory.mkdir()
    _write(directory, "0001_first.sql", "CREATE TABLE things (id TEXT PRIMARY KEY, n INTEGER NOT NULL);")
    _write(
        directory,
        "0002_second.sql",
        "INSERT INTO things VALUES ('a', 1);\nCREATE INDEX things_n ON things (n);",
    )
    return directory


@pytest.fixture
async def db(tmp_path: Path):
    database = await Database.open(tmp_path / "hs.db")
    yield database
    await database.close()


async def test_fresh_database_then_rerun_applies_nothing(db: Database, mig_dir: Path) -> None:
    assert await pending(db, mig_dir) == ["0001_first.sql", "0002_second.sql"]
    assert await migrate(db, mig_dir) == ["0001_first.sql", "0002_second.sql"]
    assert await db.fetchval("SELECT n FROM things WHERE id = 'a'") == 1
    assert await migrate(db, mig_dir) == []
    assert await pending(db, mig_dir) == []
    states = await status(db, mig_dir)
    assert [(s.name, s.applied) for s in states] == [("0001_first.sql", True), ("0002_second.sql", True)]
    rows = await db.fetchall("SELECT version, name FROM schema_migrations ORDER BY version")
    assert [tuple(r) for r in rows] == [(1, "0001_first.sql"), (2, "0002_second.sql")]


async def test_project_migrations_apply(db: Database) -> None:
    applied = await migrate(db, DEFAULT_MIGRATIONS_DIR)
    assert applied[0] == "0001_foundation.sql"
    for table in ("meta", "key_check", "key_rotation", "schema_migrations"):
        assert await db.table_exists(table)
    await db.set_meta("commands", "abc")
    await db.set_meta("commands", "def")
    assert await db.get_meta("commands") == "def"
    assert await db.get_meta("absent") is None


async def test_failing_migration_leaves_everything_as_before(db: Database, mig_dir: Path) -> None:
    await migrate(db, mig_dir)
    before_schema = await _schema(db)
    before_rows = [tuple(r) for r in await db.fetchall("SELECT * FROM schema_migrations")]
    _write(
        mig_dir,
        "0003_broken.sql",
        "CREATE TABLE extra (id INTEGER);\nUPDATE things SET n = 99;\nINSERT INTO nowhere VALUES (1);",
    )
    with pytest.raises(MigrationError, match=r"0003_broken\.sql") as info:
        await migrate(db, mig_dir)
    assert "\n" not in str(info.value)
    assert await _schema(db) == before_schema
    assert await db.fetchval("SELECT n FROM things WHERE id = 'a'") == 1
    assert [tuple(r) for r in await db.fetchall("SELECT * FROM schema_migrations")] == before_rows
    assert not await db.table_exists("extra")
    # the connection is still usable and not stuck in a transaction
    assert not db.connection.in_transaction
    await db.execute("INSERT INTO things VALUES ('b', 2)")


async def test_failing_first_migration_leaves_empty_database(db: Database, tmp_path: Path) -> None:
    directory = tmp_path / "bad"
    directory.mkdir()
    _write(directory, "0001_bad.sql", "CREATE TABLE t (x);\nSELECT * FROM missing;")
    with pytest.raises(MigrationError):
        await migrate(db, directory)
    assert await _schema(db) == []


async def test_foreign_key_violation_is_rolled_back(db: Database, tmp_path: Path) -> None:
    directory = tmp_path / "fk"
    directory.mkdir()
    _write(
        directory,
        "0001_fk.sql",
        "CREATE TABLE parent (id INTEGER PRIMARY KEY);\n"
        "CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parent (id));\n"
        "INSERT INTO child VALUES (1, 42);",
    )
    with pytest.raises(MigrationError, match="foreign keys"):
        await migrate(db, directory)
    assert await _schema(db) == []
    assert await db.fetchval("PRAGMA foreign_keys") == 1


async def test_edited_migration_refused(db: Database, mig_dir: Path) -> None:
    await migrate(db, mig_dir)
    _write(mig_dir, "0001_first.sql", "CREATE TABLE things (id TEXT PRIMARY KEY, n INTEGER);")
    with pytest.raises(MigrationError, match=r"0001_first\.sql changed"):
        await migrate(db, mig_dir)
    with pytest.raises(MigrationError):
        await pending(db, mig_dir)


async def test_line_endings_do_not_count_as_edits(db: Database, mig_dir: Path) -> None:
    await migrate(db, mig_dir)
    path = mig_dir / "0002_second.sql"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert await migrate(db, mig_dir) == []


async def test_missing_migration_refused(db: Database, mig_dir: Path) -> None:
    await migrate(db, mig_dir)
    _write(mig_dir, "0003_third.sql", "SELECT 1;")
    await migrate(db, mig_dir)
    (mig_dir / "0002_second.sql").unlink()
    with pytest.raises(MigrationError, match=r"0002_second\.sql .*missing"):
        await migrate(db, mig_dir)


async def test_newer_database_refused(db: Database, mig_dir: Path, tmp_path: Path) -> None:
    await migrate(db, mig_dir)
    older = tmp_path / "older"
    older.mkdir()
    shutil.copy(mig_dir / "0001_first.sql", older / "0001_first.sql")
    with pytest.raises(MigrationError, match="newer"):
        await migrate(db, older)


async def test_out_of_order_new_migration_refused(db: Database, tmp_path: Path) -> None:
    directory = tmp_path / "m"
    directory.mkdir()
    _write(directory, "0001_a.sql", "CREATE TABLE a (x);")
    _write(directory, "0003_c.sql", "CREATE TABLE c (x);")
    await migrate(db, directory)
    _write(directory, "0002_b.sql", "CREATE TABLE b (x);")
    with pytest.raises(MigrationError, match="renumber"):
        await migrate(db, directory)


@pytest.mark.parametrize(
    "name", ["1_short.sql", "0001-dash.sql", "0001_Upper.sql", "abcd_x.sql", "0001_.sql"]
)
def test_bad_filename_refused(tmp_path: Path, name: str) -> None:
    _write(tmp_path, "0001_ok.sql", "SELECT 1;")
    _write(tmp_path, name, "SELECT 1;")
    with pytest.raises(MigrationError, match="misnamed"):
        discover(tmp_path)


def test_other_files_ignored_and_duplicates_refused(tmp_path: Path) -> None:
    _write(tmp_path, "README.md", "notes")
    _write(tmp_path, "0001_a.sql", "SELECT 1;")
    assert [m.name for m in discover(tmp_path)] == ["0001_a.sql"]
    _write(tmp_path, "0001_b.sql", "SELECT 1;")
    with pytest.raises(MigrationError, match="share version"):
        discover(tmp_path)


@pytest.mark.parametrize(
    "statement", ["BEGIN;", "COMMIT;", "BEGIN IMMEDIATE;", "ROLLBACK;", "END TRANSACTION;"]
)
def test_transaction_control_refused(tmp_path: Path, statement: str) -> None:
    _write(tmp_path, "0001_a.sql", f"CREATE TABLE a (x);\n{statement}\n")
    with pytest.raises(MigrationError, match="BEGIN/COMMIT"):
        discover(tmp_path)


async def test_triggers_with_begin_end_allowed(db: Database, tmp_path: Path) -> None:
    _write(
        tmp_path,
        "0001_trigger.sql",
        "CREATE TABLE a (x INTEGER);\nCREATE TABLE log (x INTEGER);\n"
        "CREATE TRIGGER a_log AFTER INSERT ON a\nBEGIN\n  INSERT INTO log VALUES (new.x);\nEND;\n"
        "-- a trailing comment without newline",
    )
    assert await migrate(db, tmp_path) == ["0001_trigger.sql"]
    await db.execute("INSERT INTO a VALUES (5)")
    assert await db.fetchval("SELECT x FROM log") == 5


def test_missing_directory_refused(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="does not exist"):
        discover(tmp_path / "nope")
