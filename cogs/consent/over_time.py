"""Consent over time: each consent expires after the group's `reconsent_after_days` (a durable timer),
and consents that went stale (the agreement changed, or too old) are withdrawn, but never while a
session of the group runs (then after it ends); the member is asked to consent again."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from bot.app import HoldspaceBot
from bot.core.records import ConsentFact, GroupInfo
from bot.core.timer_kinds import TimerKind
from bot.scheduler import RetryLater, Timer

log = logging.getLogger(__name__)

RUNNING_RETRY = timedelta(minutes=10)


class OverTime:
    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot

    def register(self) -> None:
        self.bot.scheduler.timers.register(TimerKind.CONSENT_EXPIRY, self.expiry_timer)
        self.bot.scheduler.timers.register(TimerKind.CONSENT_REVALIDATE, self.revalidate_timer)

    async def schedule_expiry(self, group: GroupInfo, fact: ConsentFact) -> None:
        due = fact.given_at + timedelta(days=group.reconsent_after_days)
        await self.bot.scheduler.schedule(
            TimerKind.CONSENT_EXPIRY,
            due,
            {"group_id": group.id, "member_id": fact.member_id, "consent_id": fact.consent_id},
            key=fact.consent_id,
        )

    async def reschedule_expiry(self, group: GroupInfo) -> None:
        for fact in list(self.bot.state.consents.get(group.id, {}).values()):
            await self.schedule_expiry(group, fact)

    async def expiry_timer(self, timer: Timer) -> None:
        group = self.bot.state.groups.get(str(timer.payload.get("group_id")))
        if group is None:
            return
        fact = self.bot.state.consent_of(group.id, int(timer.payload["member_id"]))
        if fact is None or fact.consent_id != timer.payload.get("consent_id"):
            return  # withdrawn or renewed meanwhile: moot
        if self.bot.state.session_running(group.id):
            raise RetryLater(RUNNING_RETRY, "a session is running")
        await self._revoke(group, fact, "expired")

    async def revalidate_timer(self, timer: Timer) -> None:
        group_id = str(timer.payload.get("group_id"))
        if not await self.revalidate_group(group_id):
            raise RetryLater(RUNNING_RETRY, "a session is running")

    def stale_consents(self, group: GroupInfo) -> list[tuple[ConsentFact, str]]:
        now = self.bot.clock.now()
        out = []
        for fact in self.bot.state.consents.get(group.id, {}).values():
            if fact.version != group.agreement_version:
                out.append((fact, "agreement_changed"))
            elif fact.given_at + timedelta(days=group.reconsent_after_days) <= now:
                out.append((fact, "expired"))
        return out

    async def revalidate_group(self, group_id: str) -> bool:
        """Withdraw consents that went stale, unless a session runs (then False: try again later)."""
        group = self.bot.state.groups.get(group_id)
        if group is None or self.bot.get_guild(group.guild_id) is None:
            return True
        stale = self.stale_consents(group)
        if not stale:
            return True
        if self.bot.state.session_running(group_id):
            return False
        for fact, why in stale:
            await self._revoke(group, fact, why)
        return True

    async def _revoke(self, group: GroupInfo, fact: ConsentFact, why: str) -> None:
        """Memory first (fail closed), the disconnect first, then the rooms (retried until they hold),
        then the records (kept through a database outage)."""
        outbox = self.bot.outbox
        async with self.bot.access_order.turn(group.id, fact.member_id):
            if self.bot.state.consent_of(group.id, fact.member_id) != fact:
                return
            self.bot.state.set_consent(group.id, None, member_id=fact.member_id)
            closing = await self.bot.enforcement.close_rooms(
                group, fact.member_id, reason=f"consent {why.replace('_', ' ')}"
            )
            await outbox.consent_event(
                group.id,
                fact.member_id,
                ended=fact,
                answer="revoked",
                at=self.bot.clock.now(),
                method="holdspace",
                reason=why,
            )
        details: dict[str, Any] = {"why": why, "version": fact.version, "disconnected": closing.disconnected}
        if closing.problems:
            details["problems"] = closing.problems
        await outbox.audit(
            group.guild_id, "consent_revoked", group_id=group.id, subject_id=fact.member_id, details=details
        )
        guild = self.bot.get_guild(group.guild_id)
        member = guild.get_member(fact.member_id) if guild else None
        if member is not None:
            await self.bot.access.send_prompt(member, group, why=why)

    async def session_ended(self, group_id: str) -> None:
        try:
            if await self.revalidate_group(group_id):
                await self.bot.scheduler.cancel(TimerKind.CONSENT_REVALIDATE, group_id)
        except Exception:
            log.exception("revalidating consents after a session of group %s failed", group_id)
