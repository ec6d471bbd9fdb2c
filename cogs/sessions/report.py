"""A session's integrity report: the facts gathered while it runs, the report written once at its end,
and posting it to the group's facilitators and the mod-log.

While a session runs (all written down as it happens, bot/storage/session_watch.py, so a restart
loses nothing of it):
- presence: everyone who joins its voice room (and who is there when it starts, or when holdspace
  comes back) with their status by the one may-stay rule (consented, exempt facilitator, removed);
  a blind index per session and person, never an id or a name;
- interventions: every case opened or found open again for the group (unconsented join, bot blocked,
  recording marker, permission drift) with its number, and a disconnect that needed a retry;
- reminders posted, and holdspace coming back during the session (a restart or a new connection:
  who came and went while it was away is not counted, and the report says so).

At the end (lifecycle.py) the report is stored encrypted with the session, with the audit entry that
holds its digest, the end step ``reported`` and one durable timer per recipient, in one transaction:
a crash before it writes the report at the next start, a crash after it writes nothing twice. The
timers post the full text to each of the group's facilitators by DM (the group's text room is its
members'; facilitators keep their own copy, and `/session history` shows it again) and the summary
to the mod-log channel; a 429 or 5xx keeps the timer and tries again later.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import discord

from bot.app import HoldspaceBot
from bot.core import session_report as words
from bot.core.access import Reason
from bot.core.expiry import ExpiryReport, snowflake_time
from bot.core.records import GroupInfo
from bot.core.timer_kinds import TimerKind
from bot.i18n import using
from bot.scheduler import RetryLater, Timer, until_connected
from bot.services.audit import build_payload
from bot.storage import session_reports
from bot.storage import session_steps as steps
from bot.storage import session_watch as watch
from bot.storage import sessions as store

log = logging.getLogger(__name__)

#: Discord's limit for one message's content.
MESSAGE_LIMIT = 2000
#: Back-off of a refused posting (doubled per try, at most RETRY_MAX).
RETRY_FIRST = timedelta(seconds=30)
RETRY_MAX = timedelta(minutes=30)


def status_of(reason: Reason) -> str | None:
    """A may-stay decision as a presence status (None: not a person the report counts)."""
    if reason is Reason.CONSENTED:
        return "consented"
    if reason is Reason.FACILITATOR:
        return "exempt"
    if reason in (Reason.BOT, Reason.HOLDSPACE):
        return None
    return "removed"


def split(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """``text`` in messages of at most ``limit`` characters, cut between lines."""
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        line = line[:limit]
        if current and len(current) + 1 + len(line) > limit:
            parts.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        parts.append(current)
    return parts


class SessionReports:
    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot

    def load(self) -> None:
        self.bot.scheduler.timers.register(TimerKind.SESSION_REPORT, self._on_post_timer)

    # -- while a session runs -----------------------------------------------------------------------

    def _running_id(self, group_id: str) -> str | None:
        for running in self.bot.state.running_sessions.values():
            if running.group_id == group_id:
                return running.id
        return None

    def _status(self, group: GroupInfo, member: discord.Member) -> str | None:
        return status_of(self.bot.enforcement.decision(group, member).reason)

    async def joined(self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState) -> None:
        """Someone joined a voice room: counted when it is a running session's."""
        if after.channel is None or (before.channel is not None and before.channel.id == after.channel.id):
            return
        group = self.bot.state.group_of_channel(after.channel.id)
        if group is None or group.voice_channel_id != after.channel.id:
            return
        session_id = self._running_id(group.id)
        status = self._status(group, member)
        if session_id is None or status is None:
            return
        await self._saw(session_id, member.id, status)

    async def _saw(self, session_id: str, member_id: int, status: str) -> None:
        try:
            await watch.saw(self.bot.db, self.bot.ring, session_id, member_id, status)
        except sqlite3.Error as exc:
            # The report will say fewer people than were there; enforcement goes on from memory.
            self.bot.outbox.failed(exc)
            log.warning("could not record someone's presence in a session (%s)", type(exc).__name__)

    async def count_room(self, group: GroupInfo, session_id: str) -> int:
        """Everyone in the group's voice room now (at the start, or when holdspace comes back)."""
        guild = self.bot.get_guild(group.guild_id)
        room = guild.get_channel(group.voice_channel_id) if guild is not None else None
        counted = 0
        for member in list(getattr(room, "members", ())):
            status = self._status(group, member)
            if status is not None:
                await self._saw(session_id, member.id, status)
                counted += 1
        return counted

    async def returned(self) -> None:
        """holdspace is (re)connected: every running session notes that it was away, and counts who
        is in its room now (what happened meanwhile is not known, and the report says so)."""
        now = self.bot.discord_clock.now()
        for running in list(self.bot.state.running_sessions.values()):
            group = self.bot.state.groups.get(running.group_id)
            if group is None:
                continue
            await self._event(running.id, watch.RETURNED, now)
            await self.count_room(group, running.id)

    async def case_recorded(
        self, guild_id: int, kind: str, group_id: str | None, number: int, details: dict[str, Any], at: datetime
    ) -> None:
        """A case was opened (or found open again) for a group: an intervention while its session runs."""
        if group_id is None:
            return
        session_id = self._running_id(group_id)
        if session_id is None:
            return
        happened = details.get("happened_at")
        if isinstance(happened, str):
            with contextlib.suppress(ValueError):
                at = datetime.fromisoformat(happened)
        tries = details.get("tries")
        restored = details.get("restored")
        for item in words.interventions_of_case(
            kind,
            number,
            at,
            tries=tries if isinstance(tries, int) else 0,
            restored=restored if isinstance(restored, bool) else None,
        ):
            await self._event(session_id, item.kind, item.at, case_number=item.case_number)

    async def reminders_posted(self, session_id: str, count: int) -> None:
        if count:
            await self._event(session_id, watch.REMINDERS, self.bot.clock.now(), data={"count": count})

    async def _event(self, session_id: str, kind: str, at: datetime, **kw: Any) -> None:
        try:
            await watch.add_event(self.bot.db, session_id, kind, at, **kw)
        except sqlite3.Error as exc:
            self.bot.outbox.failed(exc)
            log.warning("could not record a session's %s for its report (%s)", kind, type(exc).__name__)

    @staticmethod
    def messages_data(expiry: ExpiryReport | None, *, failed: bool) -> dict[str, Any]:
        """What the end did to the session's messages, as the report keeps it."""
        if failed:
            return {"removed": 0, "pending": {"retry": 1}}
        if expiry is None or not expiry.applies:
            return {"removed": 0, "pending": {}}
        pending = dict(expiry.not_removed)
        return {"removed": expiry.removed, "pending": pending}

    # -- at the end ---------------------------------------------------------------------------------

    async def write(self, group: GroupInfo, session_id: str) -> bool:
        """Gather the session's facts and store its report, its audit entry, its postings and the end
        step ``reported`` in one transaction. False when the session already has its report."""
        bot = self.bot
        row = await store.get_session(bot.db, session_id)
        saved = await steps.of(bot.db, session_id)
        if row is None or saved is None:
            return False
        started = snowflake_time(saved.start_id) if saved.start_id else row.started_at
        ended = snowflake_time(saved.end_id) if saved.end_id else (row.ended_at or bot.clock.now())
        facts = await watch.events(bot.db, session_id)
        report = words.report_of(
            session_id=session_id,
            group=group.name,
            time_zone=bot.state.guild(group.guild_id).timezone or "UTC",
            end_reason=saved.end_reason or row.end_reason or "ended",
            started_at=started.astimezone(UTC),
            ended_at=ended.astimezone(UTC),
            statuses=await watch.statuses(bot.db, session_id),
            facts=facts,
            messages_expire=group.expire_at_session_end,
        )
        recipients = self._facilitators(group)
        now = bot.clock.now()
        async with bot.db.transaction():
            payload = build_payload(
                actor_id=None, group_id=group.id, subject_id=None, details=session_reports.audit_details(report)
            )
            stored = await session_reports.save(
                bot.db, bot.ring, guild_id=group.guild_id, report=report, audit_payload=payload, now=now
            )
            if not stored:
                return False
            await watch.clear(bot.db, session_id)
            await steps.set_end(bot.db, session_id, "reported")
            targets: list[dict[str, Any]] = [{"to": "modlog"}] + [
                {"to": "facilitator", "member_id": member_id} for member_id in recipients
            ]
            for index, target in enumerate(targets):
                await bot.scheduler.timers.add(
                    TimerKind.SESSION_REPORT,
                    now,
                    {"session_id": session_id, "guild_id": group.guild_id, "group_id": group.id, **target},
                    key=f"{session_id}:{index}",
                )
        bot.scheduler.wake()
        log.info(
            "session integrity report written (%d interventions, %d people present, %d recipients)",
            len(report.interventions),
            report.presence.total,
            len(recipients),
        )
        return True

    def _facilitators(self, group: GroupInfo) -> list[int]:
        """The people who facilitate the group now (ids go only into the encrypted timer payloads)."""
        guild = self.bot.get_guild(group.guild_id)
        cfg = self.bot.state.guilds.get(group.guild_id)
        if guild is None or cfg is None or cfg.facilitator_role_id is None:
            return []
        role = guild.get_role(cfg.facilitator_role_id)
        members = role.members if role is not None else []
        return sorted(
            m.id for m in members if not m.bot and self.bot.state.facilitates(group, m.id, [r.id for r in m.roles])
        )

    # -- posting --------------------------------------------------------------------------------------

    async def _on_post_timer(self, timer: Timer) -> None:
        session_id = str(timer.payload["session_id"])
        report = await session_reports.load(self.bot.db, self.bot.ring, session_id)
        if report is None:
            return  # the session is gone (its group was deleted): nothing to post
        await until_connected(self.bot)
        guild_id = int(timer.payload["guild_id"])
        target: Any
        server = self.bot.state.guild(guild_id).language
        group = self.bot.state.groups.get(str(timer.payload.get("group_id", "")))
        if timer.payload.get("to") == "modlog":
            channel_id = self.bot.state.guild(guild_id).log_channel_id
            target = self.bot.get_channel(channel_id) if channel_id is not None else None
            if not isinstance(target, discord.abc.Messageable):
                log.info("no mod-log channel to post a session report in; it is stored and listed")
                return
            with using(server):  # moderator notices are in the server's language
                text = words.modlog_text(report)
        else:
            member_id = int(timer.payload["member_id"])
            guild = self.bot.get_guild(guild_id)
            target = guild.get_member(member_id) if guild is not None else None
            if target is None:
                log.info("a facilitator left before their session report was sent; it stays in /session history")
                return
            with using(group.language if group is not None and group.language else server):
                text = words.facilitator_text(report)
        try:
            for part in split(text):
                await target.send(part, allowed_mentions=discord.AllowedMentions.none())
        except (discord.Forbidden, discord.NotFound):
            # Closed DMs or a room holdspace may not write in: trying again changes nothing.
            log.warning("a session report could not be delivered (refused); it stays in /session history")
        except discord.HTTPException as exc:
            # 429 past discord.py's own retries, 5xx, a timeout: the timer stays and is tried again.
            delay = min(RETRY_MAX, RETRY_FIRST * 2 ** min(timer.attempts, 6))
            log.warning("posting a session report failed (%s); trying again in %s", exc.status, delay)
            raise RetryLater(delay, f"HTTP {exc.status}") from None
        except discord.RateLimited as exc:
            delay = max(RETRY_FIRST, timedelta(seconds=exc.retry_after))
            log.warning("posting a session report is rate limited; trying again in %s", delay)
            raise RetryLater(delay, "rate limited") from None
