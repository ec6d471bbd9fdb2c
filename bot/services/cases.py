"""Opening cases: one store for everything flagged, announced in the moderators' log channel.

Every change of a case (opened, claimed, note, resolved) is stored together with its audit entry in
one transaction; the notice in the log channel is posted or edited afterwards, best effort: when no
log channel is configured or Discord refuses, the case is still stored and a warning is logged.

Reported messages are *held*: expiry leaves them alone while their case is open, at most for the
group's ``max_hold_days``. When a hold ends (the case closed, or its time ran out) the event
``holdspace_hold_released(channel_id, message_id)`` is dispatched so expiry can resume.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import discord

from bot.clock import Clock
from bot.config import Settings
from bot.core.cases import Status, kind_label, status_word
from bot.core.timer_kinds import TimerKind
from bot.crypto import KeyRing
from bot.i18n import _, using
from bot.scheduler import Scheduler, Timer
from bot.services.audit import AuditLog
from bot.state import State
from bot.storage import audit as audit_store
from bot.storage import cases as case_store
from bot.storage import consents as consent_store
from bot.storage import holds as hold_store
from bot.storage.cases import CaseRecord, NewHold, OpenResult
from bot.storage.db import Database
from bot.ui.case_views import notice_view

log = logging.getLogger(__name__)

RETENTION_KEY = "daily"
RETENTION_EVERY = timedelta(days=1)


@dataclass(frozen=True)
class HeldMessage:
    channel_id: int
    message_id: int


def _hold_key(case_id: str, channel_id: int, message_id: int) -> str:
    return f"{case_id}:{channel_id}:{message_id}"


class CaseHost(Protocol):
    """What keeping cases needs of the bot (``HoldspaceBot`` provides it)."""

    @property
    def db(self) -> Database: ...
    @property
    def ring(self) -> KeyRing: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def state(self) -> State: ...
    @property
    def scheduler(self) -> Scheduler: ...
    @property
    def audit(self) -> AuditLog: ...
    def dispatch(self, event_name: str, /, *args: Any, **kwargs: Any) -> None: ...
    def get_channel(self, id: int, /) -> Any: ...


class CaseService:
    def __init__(self, bot: CaseHost) -> None:
        self.bot = bot
        bot.scheduler.timers.register(TimerKind.CASE_HOLD_END, self._on_hold_timer)
        bot.scheduler.timers.register(TimerKind.RETENTION, self._on_retention_timer)

    # -- opening ------------------------------------------------------------------------------------

    async def open(
        self,
        guild_id: int,
        kind: str,
        *,
        group_id: str | None = None,
        subject_id: int | None = None,
        details: dict[str, Any] | None = None,
        dedupe_key: str | None = None,
    ) -> int | None:
        """Open a case and post its notice; returns the case number.

        With ``dedupe_key``, an open case of the same kind and key is not opened twice: its number is
        returned instead. ``details`` (JSON-serialisable; never message content or names) is stored
        encrypted and shown to moderators in /cases show. Returns None only when the case could not
        be stored (logged as an error), so enforcement paths never fail because of a case.
        """
        try:
            result = await self.open_case(
                guild_id,
                kind,
                group_id=group_id,
                subject_id=subject_id,
                details=details,
                dedupe_key=dedupe_key,
            )
        except Exception:
            log.exception("a %s case could not be stored", kind)
            return None
        return result.number

    async def open_case(
        self,
        guild_id: int,
        kind: str,
        *,
        group_id: str | None = None,
        subject_id: int | None = None,
        reporter_id: int | None = None,
        details: dict[str, Any] | None = None,
        dedupe_key: str | None = None,
        held: HeldMessage | None = None,
        notify: bool = True,
    ) -> OpenResult:
        """Like :meth:`open`, but raises on failure and says whether the case is new.

        With ``notify`` False the caller posts the notice itself (:meth:`post_notice`), e.g. after it
        answered an interaction.
        """
        bot = self.bot
        now = bot.clock.now()
        hold_list: list[NewHold] = []
        if held is not None:
            hold_list.append(NewHold(held.channel_id, held.message_id, now + self._hold_length(group_id)))
        async with bot.db.transaction():
            result = await case_store.open_case(
                bot.db,
                bot.ring,
                guild_id=guild_id,
                kind=kind,
                now=now,
                group_id=group_id,
                subject_id=subject_id,
                reporter_id=reporter_id,
                details=details,
                dedupe_key=dedupe_key,
                holds=hold_list,
            )
            if result.created:
                # A member's report is recorded without its reporter: nobody else learns who it was.
                await bot.audit.record(
                    guild_id,
                    "case_opened",
                    group_id=group_id,
                    subject_id=subject_id,
                    details={"case": result.number, "kind": kind},
                )
                for hold in hold_list:
                    await bot.scheduler.timers.add(
                        TimerKind.CASE_HOLD_END,
                        hold.until,
                        {"case_id": result.case_id, "channel_id": hold.channel_id, "message_id": hold.message_id},
                        key=_hold_key(result.case_id, hold.channel_id, hold.message_id),
                    )
        # Features that keep a record of their own (a session's integrity report) hear of every case,
        # also one found open again: the event happened again.
        bot.dispatch("holdspace_case_recorded", guild_id, kind, group_id, result.number, dict(details or {}), now)
        if not result.created:
            log.debug("case #%d (%s) already open for that key; not opening another", result.number, kind)
            return result
        log.info("opened case #%d (%s) in guild %s", result.number, kind, guild_id)
        if hold_list:
            bot.scheduler.wake()
        if notify:
            await self.post_notice(guild_id, result)
        return result

    def _hold_length(self, group_id: str | None) -> timedelta:
        group = self.bot.state.groups.get(group_id) if group_id else None
        days = group.max_hold_days if group is not None else self.bot.settings.defaults.max_hold_days
        return timedelta(days=max(1, int(days)))

    # -- changing -----------------------------------------------------------------------------------

    async def get(self, guild_id: int, number: int) -> CaseRecord | None:
        return await case_store.get_case(self.bot.db, self.bot.ring, guild_id, number)

    async def claim(self, guild_id: int, number: int, actor_id: int, *, notify: bool = True) -> CaseRecord:
        """Claim a case for ``actor_id``; CaseRuleError (shown to the person) when it cannot be."""
        bot = self.bot
        async with bot.db.transaction():
            case = await case_store.claim(bot.db, bot.ring, guild_id, number, actor_id, bot.clock.now())
            await bot.audit.record(
                guild_id,
                "case_claimed",
                actor_id=actor_id,
                group_id=case.group_id,
                details={"case": number, "kind": case.kind},
            )
        if notify:
            await self.refresh_notice(case)
        return case

    async def note(self, guild_id: int, number: int, actor_id: int, note: str) -> CaseRecord:
        bot = self.bot
        async with bot.db.transaction():
            case = await case_store.add_note(bot.db, bot.ring, guild_id, number, actor_id, note, bot.clock.now())
            await bot.audit.record(
                guild_id,
                "case_noted",
                actor_id=actor_id,
                group_id=case.group_id,
                details={"case": number, "kind": case.kind},
            )
        return case

    async def resolve(
        self, guild_id: int, number: int, actor_id: int, outcome: str, note: str | None, *, notify: bool = True
    ) -> CaseRecord:
        """Close a case as actioned or dismissed (a note is required); releases its held messages."""
        bot = self.bot
        now = bot.clock.now()
        async with bot.db.transaction():
            result = await case_store.resolve(bot.db, bot.ring, guild_id, number, actor_id, outcome, note, now)
            case = result.case
            await bot.audit.record(
                guild_id,
                "case_resolved",
                actor_id=actor_id,
                group_id=case.group_id,
                details={"case": number, "kind": case.kind, "outcome": case.status.value},
            )
            for channel_id, message_id in result.released:
                await bot.scheduler.timers.cancel(TimerKind.CASE_HOLD_END, _hold_key(case.id, channel_id, message_id))
        for channel_id, message_id in result.released:
            log.debug("hold on message %s in %s released (case closed)", message_id, channel_id)
            bot.dispatch("holdspace_hold_released", channel_id, message_id)
        if notify:
            await self.refresh_notice(case)
        return case

    async def _on_hold_timer(self, timer: Timer) -> None:
        """A hold's time ran out before its case closed: let expiry have the message."""
        payload = timer.payload
        channel_id, message_id = int(payload["channel_id"]), int(payload["message_id"])
        released = await hold_store.release_one(
            self.bot.db, str(payload["case_id"]), channel_id, message_id, self.bot.clock.now()
        )
        if released:
            log.debug("hold on message %s in %s ended (max hold time)", message_id, channel_id)
            self.bot.dispatch("holdspace_hold_released", channel_id, message_id)

    # -- retention ----------------------------------------------------------------------------------

    async def ensure_retention(self) -> None:
        """Make sure the daily retention pass is scheduled (once; it reschedules itself)."""
        if await self.bot.scheduler.timers.due_time(TimerKind.RETENTION, RETENTION_KEY) is None:
            await self.bot.scheduler.schedule(
                TimerKind.RETENTION, self.bot.clock.now() + timedelta(minutes=5), {}, key=RETENTION_KEY
            )

    async def run_retention(self, now: datetime) -> tuple[int, int, int]:
        """Delete what is kept no longer than it must be: cases closed longer ago than
        ``retention.closed_cases_days``, audit entries older than ``retention.audit_days`` (the chain's
        anchor moves past them) and the consent records of people who left a group longer ago than
        ``retention.withdrawn_consent_days``. Returns the three counts."""
        retention = self.bot.settings.retention
        cases = await case_store.purge_closed(self.bot.db, now - timedelta(days=retention.closed_cases_days))
        entries = await audit_store.prune_before(self.bot.db, now - timedelta(days=retention.audit_days))
        enrolled = {(group_id, member) for group_id, members in self.bot.state.enrolled.items() for member in members}
        consents = await consent_store.purge_ended(
            self.bot.db, self.bot.ring, now - timedelta(days=retention.withdrawn_consent_days), enrolled
        )
        if cases or entries or consents:
            log.info(
                "retention: deleted %d closed cases, %d old audit entries and %d ended consent records",
                cases,
                entries,
                consents,
            )
        return cases, entries, consents

    async def _on_retention_timer(self, timer: Timer) -> None:
        now = self.bot.clock.now()
        await self.run_retention(now)
        await self.bot.scheduler.schedule(TimerKind.RETENTION, now + RETENTION_EVERY, {}, key=RETENTION_KEY)

    # -- the notice in the log channel -------------------------------------------------------------

    def group_name(self, group_id: str | None) -> str | None:
        if group_id is None:
            return None
        group = self.bot.state.groups.get(group_id)
        return group.name if group is not None else _("a group that no longer exists")

    def notice_text(self, case: CaseRecord | OpenResult, kind: str, group_id: str | None, status: str) -> str:
        """Kind, group and number only: never message content, never a person's name."""
        group = self.group_name(group_id)
        label = kind_label(kind)
        if group is None:
            return _("**Case #{number}**: {kind_label}. Status: {status}.").format(
                number=case.number, kind_label=label, status=status
            )
        return _("**Case #{number}**: {kind_label} in group **{group}**. Status: {status}.").format(
            number=case.number, kind_label=label, group=discord.utils.escape_markdown(group), status=status
        )

    @staticmethod
    def status_text(case: CaseRecord) -> str:
        if case.closed:
            return _("closed ({outcome})").format(outcome=status_word(case.status))
        if case.assignee_id is not None:
            return _("claimed by a moderator")
        return status_word(Status.OPEN)

    async def _log_channel(self, guild_id: int) -> discord.abc.Messageable | None:
        channel_id = self.bot.state.guild(guild_id).log_channel_id
        if channel_id is None:
            log.warning("no moderators' log channel is set up in guild %s; the case is stored only", guild_id)
            return None
        channel = self.bot.get_channel(channel_id)
        if not isinstance(channel, discord.TextChannel | discord.Thread | discord.VoiceChannel):
            log.warning("the moderators' log channel of guild %s is gone; the case is stored only", guild_id)
            return None
        return channel

    async def post_notice(self, guild_id: int, result: OpenResult) -> None:
        """Post the notice of a new case in the moderators' log channel (best effort)."""
        case = await self.get(guild_id, result.number)
        if case is None:
            return
        channel = await self._log_channel(guild_id)
        if channel is None:
            return
        with using(self.bot.state.guild(guild_id).language):  # moderator notices: the server's language
            status = status_word(Status.OPEN)
            text, view = self.notice_text(case, case.kind, case.group_id, status), notice_view(case.number)
        try:
            message = await channel.send(text, view=view, allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException as exc:
            log.warning(
                "could not post the notice of case #%d in the log channel (%s %s); the case is stored",
                case.number,
                exc.status,
                exc.code,
            )
            return
        try:
            await case_store.set_notice(self.bot.db, case.id, message.channel.id, message.id)
        except Exception:
            log.warning("could not remember the notice of case #%d", case.number, exc_info=True)

    async def refresh_notice(self, case: CaseRecord) -> None:
        """Show the case's current status on its notice; closed cases lose their buttons."""
        if case.notice_channel_id is None or case.notice_message_id is None:
            return
        channel = self.bot.get_channel(case.notice_channel_id)
        if not isinstance(channel, discord.TextChannel | discord.Thread | discord.VoiceChannel):
            return
        with using(self.bot.state.guild(case.guild_id).language):  # moderator notices: the server's language
            text = self.notice_text(case, case.kind, case.group_id, self.status_text(case))
            view = None if case.closed else notice_view(case.number)
        try:
            await channel.get_partial_message(case.notice_message_id).edit(content=text, view=view)
        except discord.HTTPException as exc:
            log.warning("could not update the notice of case #%d (%s %s)", case.number, exc.status, exc.code)

    # -- helpers for others -------------------------------------------------------------------------

    async def held_message_ids(self, channel_id: int, message_ids: list[int], now: datetime | None = None) -> set[int]:
        return await hold_store.held_message_ids(self.bot.db, channel_id, message_ids, now or self.bot.clock.now())
