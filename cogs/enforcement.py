"""Re-deciding who may stay in group voice rooms on every change that matters.

- Start, re-identify and resume: everyone in a server's group voice rooms is decided as soon as the
  server's GUILD_CREATE has been read (discord.py's ``on_ready`` comes ``guild_ready_timeout`` later),
  and again on RESUMED. Every disconnect goes out before any prompt, audit entry or case.
- Role changes (GUILD_MEMBER_UPDATE): a facilitator who loses the role while in the voice room, or
  anyone whose exemption depended on a role, is decided again.
- Voice events end a disconnect's back-off early and let a later join count as new.

The decisions and the requests live in ``bot.enforcement`` and ``bot.departures``.
"""

from __future__ import annotations

import asyncio
import logging

import discord
from discord.ext import commands

from bot.app import HoldspaceBot

log = logging.getLogger(__name__)


class Enforcement(commands.Cog):
    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot
        self._decided: set[int] = set()  # servers decided since the last READY
        self._tasks: set[asyncio.Task[None]] = set()

    @commands.Cog.listener()
    async def on_socket_event_type(self, event_type: str) -> None:
        # Runs right after discord.py parsed the event, so its cache already holds the server.
        if event_type == "READY":
            self._decided.clear()
        elif event_type == "GUILD_CREATE":
            for guild in self.bot.guilds:
                if guild.id not in self._decided and not guild.unavailable:
                    self._decided.add(guild.id)
                    self._reconcile(guild, "present_at_start")
        elif event_type == "RESUMED":
            for guild in self.bot.guilds:
                self._reconcile(guild, "present_at_resume")

    def _reconcile(self, guild: discord.Guild, trigger: str) -> None:
        started = self.bot.enforcement.reconcile_voice(guild, trigger=trigger)
        # The guard decides the bots in the rooms from the same data, as soon.
        self.bot.dispatch("holdspace_guild_data", guild, "start" if trigger == "present_at_start" else "resume")
        if started:
            log.info("%d people without a right to stay found in group voice rooms (%s)", started, trigger)
        # Access someone gave by hand meanwhile: reverted and reported once the disconnects are out.
        task = asyncio.create_task(
            self.bot.enforcement.revert_stray_access_in(guild, when="while holdspace was offline"),
            name="holdspace-stray-access",
        )
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("looking for access given by hand failed", exc_info=task.exception())

    async def cog_unload(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    @commands.Cog.listener()
    async def on_member_update(self, before: discord.Member, after: discord.Member) -> None:
        if before.roles != after.roles:
            self.bot.enforcement.roles_changed(after)

    @commands.Cog.listener()
    async def on_voice_state_update(
        self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState
    ) -> None:
        if before.channel is not None and (after.channel is None or after.channel.id != before.channel.id):
            self.bot.departures.noticed_leave(before.channel.id, member.id)


async def setup(bot: HoldspaceBot) -> None:
    await bot.add_cog(Enforcement(bot))
