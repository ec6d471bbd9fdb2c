"""Re-deciding who may stay in group voice rooms on every change that matters.

- Start, re-identify and resume: everyone in a server's group voice rooms is decided as soon as the
  server's GUILD_CREATE has been read (discord.py's ``on_ready`` comes ``guild_ready_timeout`` later),
  and again on RESUMED. A server that comes back from an outage (GUILD_DELETE with ``unavailable``,
  then its GUILD_CREATE) is decided again the same way: whatever happened meanwhile arrives only in
  that GUILD_CREATE. Every disconnect goes out before any prompt, audit entry or case.
- Role changes (GUILD_MEMBER_UPDATE): a facilitator who loses the role while in the voice room, or
  anyone whose exemption depended on a role, is decided again; the rooms of the groups that name
  them follow (``bot.facilitator_roles``).
- Voice events end a disconnect's back-off early and let a later join count as new (read as each
  event arrives, through ``bot.gateway_hooks``).

The decisions and the requests live in ``bot.enforcement`` and ``bot.departures``.
"""

from __future__ import annotations

import logging

import discord
from discord.ext import commands

from bot.app import HoldspaceBot
from bot.background import Background

log = logging.getLogger(__name__)

#: The gateway events after which the voice rooms are decided again (or forgotten until then).
RECONCILE_EVENTS = frozenset({"READY", "GUILD_CREATE", "GUILD_DELETE", "RESUMED"})


class Enforcement(commands.Cog):
    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot
        self._decided: set[int] = set()  # servers decided since the last READY
        self._away: set[int] = set()  # servers that went unavailable after they were decided
        self._background = Background(log, "looking for access given by hand failed")

    def event_read(self, event_type: str) -> None:
        # Runs right after discord.py parsed the event (``bot.gateway_hooks``), so its cache holds the server.
        if event_type == "READY":
            self._decided.clear()
            self._away.clear()
        elif event_type == "GUILD_CREATE":
            for guild in self.bot.guilds:
                if guild.id not in self._decided and not guild.unavailable:
                    self._decided.add(guild.id)
                    back = guild.id in self._away
                    self._away.discard(guild.id)
                    self._reconcile(guild, "present_after_outage" if back else "present_at_start")
        elif event_type == "GUILD_DELETE":
            # An outage (not a removal): decided again when its GUILD_CREATE comes.
            for guild in self.bot.guilds:
                if guild.unavailable and guild.id in self._decided:
                    self._decided.discard(guild.id)
                    self._away.add(guild.id)
        elif event_type == "RESUMED":
            for guild in self.bot.guilds:
                self._reconcile(guild, "present_at_resume")

    def _reconcile(self, guild: discord.Guild, trigger: str) -> None:
        started = self.bot.enforcement.reconcile_voice(guild, trigger=trigger)
        # The guard decides the bots in the rooms from the same data, as soon.
        source = {"present_at_start": "start", "present_after_outage": "return"}.get(trigger, "resume")
        self.bot.dispatch("holdspace_guild_data", guild, source)
        if started:
            log.info("%d people without a right to stay found in group voice rooms (%s)", started, trigger)
        # Access someone gave by hand meanwhile: reverted and reported once the disconnects are out.
        back = trigger == "present_after_outage"
        when = "while the server was unavailable" if back else "while holdspace was offline"
        self._background.spawn(self.bot.enforcement.revert_stray_access_in(guild, when=when), "holdspace-stray-access")

    async def cog_load(self) -> None:
        self.bot.gateway_hooks.on_voice("departures.noticed_leave", self.voice_changed)
        self.bot.gateway_hooks.after_event("enforcement.reconcile", self.event_read, RECONCILE_EVENTS)

    async def cog_unload(self) -> None:
        self.bot.gateway_hooks.remove("departures.noticed_leave")
        self.bot.gateway_hooks.remove("enforcement.reconcile")
        self._background.cancel()

    @commands.Cog.listener()
    async def on_member_update(self, before: discord.Member, after: discord.Member) -> None:
        if before.roles != after.roles:
            self.bot.enforcement.roles_changed(after)  # the voice room first: the disconnect leads
            self.bot.facilitator_roles.member_changed(before, after)

    @commands.Cog.listener()
    async def on_guild_role_delete(self, role: discord.Role) -> None:
        self.bot.facilitator_roles.role_deleted(role)

    def voice_changed(self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState) -> None:
        if before.channel is not None and (after.channel is None or after.channel.id != before.channel.id):
            self.bot.departures.noticed_leave(before.channel.id, member.id)


async def setup(bot: HoldspaceBot) -> None:
    await bot.add_cog(Enforcement(bot))
