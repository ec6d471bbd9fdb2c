"""Ground-rules reminders: built from the group's current agreement, posted as embeds, removed again;
and the automatic reminder when the first person joins a group's voice room while no session runs
(at most once per ``auto_reminder_gap``)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import discord

from bot.app import HoldspaceBot
from bot.core.records import GroupInfo
from bot.core.reminders import ReminderContent, ReminderKind, auto_reminder_due, ground_rules_content
from bot.i18n import using
from bot.storage import sessions as store
from bot.ui.locale import group_language
from bot.ui.reminder_views import limits_view
from bot.ui.replies import UserError
from cogs.sessions.rooms import SessionRooms

if TYPE_CHECKING:  # schedules.py uses this module's ts()
    from cogs.sessions.schedules import Schedules

log = logging.getLogger(__name__)


def ts(when: datetime, style: str = "F") -> str:
    """A Discord timestamp: every reader sees it in their own time zone."""
    return f"<t:{int(when.timestamp())}:{style}>"


def to_embed(content: ReminderContent) -> discord.Embed:
    embed = discord.Embed(title=content.title, description=content.description, colour=content.colour)
    for name, value in content.fields:
        embed.add_field(name=name, value=value, inline=False)
    embed.set_footer(text=content.footer)
    return embed


class Reminders:
    def __init__(self, bot: HoldspaceBot, rooms: SessionRooms, schedules: Schedules) -> None:
        self.bot = bot
        self.rooms = rooms
        self.schedules = schedules
        self._auto_marks: dict[str, datetime] = {}

    async def load(self) -> None:
        self._auto_marks = await store.load_auto_reminders(self.bot.db)

    async def ground_rules(self, group: GroupInfo, kind: ReminderKind, **extra: Any) -> ReminderContent:
        """The ground-rules reminder of ``kind`` for ``group``, from its current agreement, in the
        group's language (a room post: everyone in the room reads the same)."""
        with using(group_language(self.bot.state, group)):
            return ground_rules_content(
                group_name=group.name,
                agreement_version=group.agreement_version,
                ttl=group.ttl,
                expire_at_session_end=group.expire_at_session_end,
                kind=kind,
                removal_window=timedelta(seconds=self.bot.settings.expiry.batch_window_seconds),
                **extra,
            )

    async def post(
        self, channels: list[discord.abc.Messageable], content: ReminderContent, group: GroupInfo
    ) -> list[tuple[int, int]]:
        posted: list[tuple[int, int]] = []
        embed = to_embed(content)
        for channel in channels:
            if content.limits_button:
                with using(group_language(self.bot.state, group)):
                    view = limits_view(group.id)
                message = await channel.send(embed=embed, view=view)
            else:
                message = await channel.send(embed=embed)
            # Discord made this id while holdspace waited for the answer: a reading of its clock.
            self.bot.discord_clock.observe(message.id)
            posted.append((message.channel.id, message.id))
        return posted

    async def find_posted(self, channel: Any, after_id: int, title: str) -> int | None:
        """The id of a message holdspace already posted in ``channel`` after ``after_id`` with this
        embed title (a step that may have been done just before holdspace stopped), or None."""
        me = self.bot.user
        if me is None:
            return None
        async for message in channel.history(limit=100, after=discord.Object(id=max(after_id - 1, 0))):
            if message.author.id == me.id and any(embed.title == title for embed in message.embeds):
                return int(message.id)
        return None

    async def delete_posted(self, posted: list[tuple[int, int]] | tuple[tuple[int, int], ...]) -> int:
        removed = 0
        for channel_id, message_id in posted:
            try:
                await self.bot.http.delete_message(channel_id, message_id, reason="holdspace: session ended")
                removed += 1
            except discord.NotFound:
                removed += 1
            except discord.HTTPException:
                log.warning("could not remove a ground-rules reminder")
        return removed

    async def first_join(self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState) -> None:
        if member.bot or after.channel is None or before.channel == after.channel:
            return
        group = self.bot.state.group_of_channel(after.channel.id)
        if group is None or group.voice_channel_id != after.channel.id:
            return
        decision = self.bot.enforcement.decision(group, member)
        if not decision.allowed:
            return  # the consent backstop removes them; no reminder for someone who is not let in
        others = [m for m in after.channel.members if not m.bot and m.id != member.id]
        async with self.rooms.lock(group.id):
            now = self.bot.clock.now()
            next_start = await self.schedules.next_start(group.id)
            if not auto_reminder_due(
                last_posted_at=self._auto_marks.get(group.id),
                now=now,
                gap=group.auto_reminder_gap,
                session_running=self.rooms.running(group.id) is not None,
                people_already_in_voice=len(others),
                next_start=next_start,
            ):
                return
            await store.set_last_auto_reminder(self.bot.db, group.id, now)
            self._auto_marks[group.id] = now
            try:
                _, text, voice = self.rooms.find(group)
                content = await self.ground_rules(group, ReminderKind.AUTO)
                await self.post([text, voice], content, group)
            except (UserError, discord.HTTPException):
                log.warning("could not post the automatic ground-rules reminder")
                return
        await self.bot.audit.record(group.guild_id, "session.auto_reminder", actor_id=None, group_id=group.id)
