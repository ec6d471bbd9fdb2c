"""Enforcement at the edges, end to end: races, refused and unanswered requests, role changes,
hand-made overwrites, things that happened while holdspace was offline, and a database that cannot
be written. The real holdspace bot against the sandbox; time is moved on the injected clock."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from bot.core.records import GroupInfo
from bot.sandbox.world import Application, Channel, Member
from bot.storage import audit as audit_store
from bot.storage import cases as case_store
from tests.e2e.conftest import Holdspace
from tests.e2e.test_setup import (
    Staff,
    agree,
    enroll,
    rooms,
    started_with_group,
)

GROUP = "Tuesday circle"
DISCONNECT = "/guilds/{guild_id}/members/{user_id}"
OVERWRITE = "/channels/{channel_id}/permissions/{overwrite_id}"


async def until(predicate: Callable[[], Any], timeout: float = 3.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def all_cases(hs: Holdspace, kind: str) -> list[case_store.CaseRecord]:
    assert hs.bot is not None
    return [c for c in await case_store.all_cases(hs.bot.db, hs.bot.ring, hs.guild.id) if c.kind == kind]


async def until_cases(hs: Holdspace, kind: str, count: int = 1, timeout: float = 3.0) -> list[case_store.CaseRecord]:
    deadline = time.monotonic() + timeout
    while True:
        found = await all_cases(hs, kind)
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {count} {kind} case(s), found {len(found)}")
        await asyncio.sleep(0.02)


async def audit_actions(hs: Holdspace) -> list[str]:
    assert hs.bot is not None
    return [e.action for e in await audit_store.entries(hs.bot.db, hs.bot.ring, hs.guild.id)]


async def advance_until(hs: Holdspace, done: Callable[[], bool], *, limit: float, step: float = 0.25) -> float:
    """Move the injected clock in steps (letting holdspace finish what each step woke) until ``done``;
    returns the injected seconds that took."""
    start = hs.clock.now()
    while True:
        await hs.settle()
        if done():
            return (hs.clock.now() - start).total_seconds()
        if (hs.clock.now() - start).total_seconds() >= limit:
            raise AssertionError(f"not done after {limit} s on the injected clock")
        hs.clock.advance(step)


def disconnects(hs: Holdspace, member: Member) -> list[Any]:
    return [
        r
        for r in hs.sb.requests_matching("PATCH", DISCONNECT)
        if r.json == {"channel_id": None} and r.path.endswith(f"/{member.id}")
    ]


def allows(channel: Channel, member: Member) -> int:
    overwrite = channel.overwrites.get(member.id)
    return 0 if overwrite is None else overwrite.allow


def new_bot(hs: Holdspace, name: str, perms: int = 0) -> tuple[Application, Member]:
    app = hs.sb.create_application(name)
    return app, hs.guild.add_bot(app, permissions=perms)


async def consented_in_voice(hs: Holdspace, who: str = "alice") -> tuple[Staff, GroupInfo, Member, Channel, Channel]:
    staff, group = await started_with_group(hs, GROUP)
    member = hs.member(who)
    text, voice = rooms(hs, group)
    await enroll(hs, staff, GROUP, member)
    await agree(hs, member, GROUP)
    hs.guild.join_voice(member, voice)
    await hs.settle()
    return staff, group, member, text, voice


# -- re-deciding on every change that matters ----------------------------------------------------


async def test_a_facilitator_losing_her_role_in_voice_is_disconnected(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, GROUP)
    fran = staff.facilitator
    _, voice = rooms(hs, group)
    hs.guild.join_voice(fran, voice)
    await hs.settle()
    assert hs.guild.voice_channel_of(fran) is voice, "a facilitator may stay"

    hs.guild.set_member_roles(fran, [hs.world.member_role.id])
    await until(lambda: hs.guild.voice_channel_of(fran) is None, what="the disconnect")
    assert len(disconnects(hs, fran)) == 1


# -- records survive a database that cannot be written for a while --------------------------------------


async def test_a_minute_without_a_writable_database_loses_no_record_and_logs_one_error(
    holdspace: Holdspace, caplog: pytest.LogCaptureFixture
) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, GROUP)
    fran = staff.facilitator
    text, voice = rooms(hs, group)
    hs.guild.join_voice(fran, voice)
    await hs.settle()
    bot = hs.bot
    assert bot is not None
    before = await audit_actions(hs)
    caplog.set_level(logging.INFO)

    await bot.db.execute("PRAGMA query_only = 1")  # every write refused, as on a read-only file system
    hs.sb.post_many(text, fran, 30)  # the expiry queue cannot record them either
    await hs.settle()
    hs.guild.set_member_roles(fran, [hs.world.member_role.id])
    await until(lambda: hs.guild.voice_channel_of(fran) is None, what="the disconnect, from memory")
    await until(lambda: bot.outbox.kept >= 2, what="the audit entry and the case kept")
    for _ in range(12):  # a minute passes
        hs.clock.advance(5)
        await hs.settle()
    assert await all_cases(hs, "unconsented_join") == []

    await bot.db.execute("PRAGMA query_only = 0")
    await advance_until(hs, lambda: bot.outbox.kept == 0, limit=10)
    case = (await until_cases(hs, "unconsented_join"))[0]
    assert case.subject_id == fran.id and case.details["disconnected"] is True and "happened_at" in case.details
    after = await audit_actions(hs)
    assert after[len(before) :].count("unconsented_join") == 1
    assert any(r.name == "bot.services.expiry" for r in caplog.records), "the expiry queue met the outage too"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert "read-only" in errors[0].getMessage() and "keeps" in errors[0].getMessage()
    assert not any(r.exc_info for r in caplog.records if r.levelno >= logging.WARNING)
