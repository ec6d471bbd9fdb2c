"""The real holdspace bot, started against the sandbox with a temporary database, a test key and the
injected clock. Nothing of discord.py is mocked."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import HoldspaceBot
from bot.bootstrap import open_database
from bot.clock import FakeClock
from bot.config import Settings, load_settings
from bot.core.permissions import invite_permissions
from bot.crypto import KeyRing
from bot.sandbox import FAST_CLIENT_OPTIONS, InteractionHandle, Sandbox, point_discord_at
from bot.sandbox.gateway import GUILD_MEMBERS
from bot.sandbox.settle import WAIT_TIMEOUT, settle_holdspace
from bot.sandbox.world import Channel, Member, User
from bot.storage import consents as consent_store
from bot.storage import groups as group_store
from tests.conftest import StandardWorld, build_standard_world


class Holdspace:
    """Starts, stops and restarts the real holdspace bot against one sandbox world."""

    def __init__(self, sb: Sandbox, world: StandardWorld, clock: FakeClock, tmp_path: Path) -> None:
        self.sb = sb
        self.world = world
        self.clock = clock
        self.ring = KeyRing.generate()
        self.settings: Settings = dataclasses.replace(load_settings(None), database=tmp_path / "hs.db")
        self.bot: HoldspaceBot | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def guild(self) -> Any:
        return self.world.guild

    def member(self, name: str) -> Member:
        return self.world.members[name]

    async def start(self, *, sync: bool = False, settle: bool = True, timeout: float = WAIT_TIMEOUT) -> HoldspaceBot:
        """Start holdspace and wait until it is ready and, unless ``settle=False``, has finished its
        start-up work (reconcile, catch-up, sweeps), so that the test's first step never races it."""
        assert self.bot is None, "holdspace is already running"
        db = await open_database(self.settings, self.ring)
        bot = HoldspaceBot(
            settings=self.settings, db=db, ring=self.ring, clock=self.clock, sync=sync, **FAST_CLIENT_OPTIONS
        )
        point_discord_at(self.sb)
        self.bot = bot
        self._task = asyncio.create_task(bot.start(self.world.token))
        ready = asyncio.create_task(bot.wait_until_ready())
        done, _ = await asyncio.wait({self._task, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if self._task in done:
            ready.cancel()
            self._task.result()
            raise RuntimeError("holdspace stopped before it was ready")
        if ready not in done:
            ready.cancel()
            raise TimeoutError("holdspace was not ready in time")
        if self.world.app.bot.id in self.world.guild.members:
            cached = bot.get_guild(self.world.guild.id)
            assert cached is not None and not cached.unavailable, "holdspace was ready before its server arrived"
        if settle:
            await self.settle()
        return bot

    async def stop(self) -> None:
        """A clean shutdown."""
        if self.bot is None:
            return
        bot, task = self.bot, self._task
        self.bot, self._task = None, None
        await bot.close()
        if task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(task, WAIT_TIMEOUT)
        await bot.db.close()

    async def kill(self) -> None:
        """Stop without a clean shutdown: tasks cancelled mid-flight, no goodbye to Discord."""
        if self.bot is None:
            return
        bot, task = self.bot, self._task
        self.bot, self._task = None, None
        await bot.scheduler.stop()
        if task is not None:
            task.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await bot.close()
        with contextlib.suppress(Exception):
            await bot.db.close()

    async def restart(self) -> HoldspaceBot:
        await self.stop()
        return await self.start()

    async def settle(self, timeout: float = WAIT_TIMEOUT) -> None:
        """Wait until holdspace has handled all the sandbox sent it and has nothing under way: every
        dispatched event received, no request, database statement, handler or short real-time wait
        (grace period, retry pause) pending, the scheduler asleep with nothing due (bot.sandbox.settle).

        This is how a test checks that something does *not* happen (say, nothing expires a second
        before its time): it waits for holdspace to be done, not for a fixed time.
        """
        bot = self.bot
        assert bot is not None, "holdspace is not running"
        await settle_holdspace(self.sb, bot, timeout=timeout)

    async def seed_consent(self, group: Any, member_id: int) -> None:
        """Enrol ``member_id`` in ``group`` and record their "I agree" directly, as the consent feature
        would (for tests whose subject is not consenting itself)."""
        bot = self.bot
        assert bot is not None, "holdspace is not running"
        now = self.clock.now()
        await group_store.enrol(bot.db, bot.ring, group.id, member_id, now)
        bot.state.set_enrolled(group.id, member_id, True)
        event = await consent_store.record(
            bot.db,
            bot.ring,
            group_id=group.id,
            member_id=member_id,
            answer="agree",
            at=now,
            method="command",
            version=group.agreement_version,
            sha256=group.agreement_sha256,
        )
        bot.state.set_consent(group.id, event.as_fact())

    async def command(
        self, who: Member | User, channel: Channel | None, name: str, /, **options: Any
    ) -> InteractionHandle:
        """Run a slash command as ``who`` and wait for holdspace's first reply."""
        where = channel if channel is not None else self.guild.channels[0]
        handle = self.sb.run_command(who, where, name, **options)
        await handle.response()
        return handle


def build_holdspace_world(sb: Sandbox, *, open_commands: bool = True) -> StandardWorld:
    """The standard world with holdspace invited the way `holdspace check` says, and a #general room.

    With ``open_commands`` the server's admin has opened all of holdspace's commands to @everyone in
    Server Settings > Integrations (an override: Discord would otherwise hide the staff commands from
    everyone without Manage Server), so the tests reach holdspace's own role checks.
    """
    world = build_standard_world(sb, bot_permissions=invite_permissions().value, intents_enabled=GUILD_MEMBERS)
    world.guild.create_text_channel("general")
    if open_commands:
        sb.set_command_permissions(world.guild, None, app=world.app, everyone=True)
    return world


@pytest.fixture
def hs_world(sandbox: Sandbox) -> StandardWorld:
    return build_holdspace_world(sandbox)


@pytest.fixture
async def holdspace(
    sandbox: Sandbox, hs_world: StandardWorld, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[Holdspace]:
    """holdspace, not yet started: call ``await holdspace.start()``."""
    harness = Holdspace(sandbox, hs_world, clock, tmp_path)
    try:
        yield harness
    finally:
        await harness.stop()


@pytest.fixture
async def hs(holdspace: Holdspace) -> Holdspace:
    """holdspace, started and ready."""
    await holdspace.start()
    return holdspace
