"""The per-person order of access changes and the outbox that keeps records through a database outage."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from types import SimpleNamespace
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.services.access_order import AccessOrder
from bot.services.outbox import Outbox, describe_database_error


async def test_changes_for_one_person_take_turns_and_a_removal_makes_the_one_in_flight_stale() -> None:
    order = AccessOrder()
    seen: list[str] = []
    agreeing = asyncio.Event()

    async def agree() -> bool:
        async with order.turn("g", 7) as epoch:
            agreeing.set()
            await asyncio.sleep(0.01)
            seen.append("agree")
            return order.stale("g", 7, epoch)

    async def remove() -> None:
        await agreeing.wait()
        order.supersede("g", 7)
        async with order.turn("g", 7):
            seen.append("remove")

    stale, _ = await asyncio.gather(agree(), remove())
    assert stale and seen == ["agree", "remove"]
    assert not order.busy("g", 7)
    async with order.turn("g", 8) as epoch:
        assert not order.stale("g", 8, epoch) and order.busy("g", 8)


class _Audit:
    """The audit log and the database's write check, down while ``down`` is set."""

    def __init__(self) -> None:
        self.down: BaseException | None = None
        self.written: list[tuple[str, Any]] = []

    async def check_writable(self) -> None:
        if self.down is not None:
            raise self.down

    async def record(self, guild_id: int, action: str, **kw: Any) -> None:
        if self.down is not None:
            raise self.down
        self.written.append((action, kw["at"]))


async def test_records_kept_while_the_database_is_down_are_written_in_order_with_one_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    audit = _Audit()
    bot: Any = SimpleNamespace(clock=clock, audit=audit, db=audit)
    outbox = Outbox(bot)
    caplog.set_level(logging.INFO)
    audit.down = sqlite3.OperationalError("database or disk is full")
    for n in range(5):
        assert not await outbox.audit(1, f"entry_{n}")
        clock.advance(1)
    assert outbox.kept == 5 and audit.written == []
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "the disk is full" in errors[0].getMessage()

    audit.down = None
    for _ in range(200):  # the next try comes within one retry interval of the injected clock
        if outbox.kept == 0 and not outbox.in_outage:
            break
        clock.advance(0.5)
        await asyncio.sleep(0.001)
    assert [a for a, _ in audit.written] == [f"entry_{n}" for n in range(5)]
    assert [at for _, at in audit.written] == sorted(at for _, at in audit.written), "each keeps its own time"
    assert outbox.kept == 0 and not outbox.in_outage
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1
    await outbox.close()


async def test_the_outbox_is_bounded_and_says_what_it_lost(caplog: pytest.LogCaptureFixture) -> None:
    audit = _Audit()
    outbox = Outbox(SimpleNamespace(clock=FakeClock(), audit=audit, db=audit), limit=2)  # type: ignore[arg-type]
    audit.down = sqlite3.OperationalError("attempt to write a readonly database")
    for n in range(4):
        await outbox.audit(1, f"entry_{n}")
    assert outbox.kept == 2
    assert any("lost" in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    audit.down = None
    await outbox.flush_now()
    assert [a for a, _ in audit.written] == ["entry_0", "entry_1"]
    assert any("2 could not be kept" in r.getMessage() for r in caplog.records)
    await outbox.close()


async def test_a_bug_is_not_taken_for_an_outage() -> None:
    audit = _Audit()
    outbox = Outbox(SimpleNamespace(clock=FakeClock(), audit=audit, db=audit))  # type: ignore[arg-type]
    audit.down = ValueError("not a database problem")
    with pytest.raises(ValueError):
        await outbox.audit(1, "entry")
    assert outbox.kept == 0 and not outbox.in_outage
    assert "read-only" in describe_database_error(sqlite3.OperationalError("attempt to write a readonly database"))
    assert "locked" in describe_database_error(sqlite3.OperationalError("database is locked"))
