"""A member's own data: what holdspace holds about them, erasure, and leaving the server.

- :func:`gather` reads everything held about one member in one server from the database (it needs no
  running bot, so ``holdspace forget`` can say what will be kept);
- :meth:`MemberData.forget` erases: access is withdrawn through the consent feature's one withdrawal
  path (a member in the voice room is disconnected), enrolments and facilitator nominations go, links
  from cases they reported or claimed are cut (at once when the case is closed, when it closes
  otherwise), and one audit entry says an erasure happened without saying whose;
- :meth:`MemberData.leave` is the same withdrawal for someone who left the server (or was kicked or
  banned), with reason "left the server"; retention then runs as for any withdrawal;
- erasure requests written down by ``holdspace forget`` are carried out when the bot is ready and
  looked for again every minute while it runs (another process wrote them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

import discord

from bot.core import overwrites as ow
from bot.core.member_records import CaseFact, ConsentEventFact, Kept, MemberRecords, Retention, kept_after_erasure
from bot.core.records import GroupInfo
from bot.core.visibility import CaseFacts, CaseSight, Viewer, case_sight
from bot.crypto import KeyRing
from bot.services.features import ConsentGate
from bot.services.rooms import current_overwrites, put_overwrite
from bot.storage import audit as audit_store
from bot.storage import cases as case_store
from bot.storage import consents as consent_store
from bot.storage import erasure as erasure_store
from bot.storage import groups as group_store
from bot.storage.cases import CaseRecord
from bot.storage.db import Database

if TYPE_CHECKING:
    from bot.app import HoldspaceBot
    from bot.config import Settings

log = logging.getLogger(__name__)

LEFT_THE_SERVER = "left the server"
ERASURE_REQUESTED = "erasure requested"
#: How often the running bot looks for erasure requests written by ``holdspace forget``.
REQUEST_POLL = timedelta(minutes=1)
_MANY = 10_000


def retention_of(settings: Settings) -> Retention:
    r = settings.retention
    return Retention(r.closed_cases_days, r.audit_days, r.withdrawn_consent_days)


def _case_fact(case: CaseRecord, *, status_only: bool = False) -> CaseFact:
    kind = None if status_only else case.kind
    return CaseFact(case.number, kind, case.status.value, case.closed, case.opened_at, case.closed_at)


async def gather(db: Database, ring: KeyRing, guild_id: int, member_id: int, server: str) -> MemberRecords:
    """Everything holdspace holds about ``member_id`` in ``guild_id``, read from the database."""
    groups = {g.id: g for g in await group_store.load_all(db, ring) if g.guild_id == guild_id}
    records = MemberRecords(server=server)
    enrolled = set(await group_store.groups_of_member(db, ring, member_id))
    facilitates = set(await group_store.groups_of_member(db, ring, member_id, facilitators=True))
    records.enrolled = sorted(groups[g].name for g in enrolled if g in groups)
    records.facilitates = sorted(groups[g].name for g in facilitates if g in groups)
    history = await consent_store.history(db, ring, group_ids=list(groups), member_id=member_id)
    latest = consent_store.latest_per_member(history)
    records.consenting = sorted(groups[g].name for (g, _), e in latest.items() if e.answer == "agree")
    records.consent_events = [
        ConsentEventFact(groups[e.group_id].name, e.answer, e.at, e.method, e.version, e.reason) for e in history
    ]
    # The visibility rule: of a case about them a member learns its number and status, and nothing at
    # all of a member's report about them (the timing could name the reporter).
    me = Viewer(member_id)
    about = [
        c
        for c in await case_store.list_for_subject(db, ring, guild_id, member_id, limit=_MANY)
        if case_sight(me, CaseFacts(c.kind, c.group_id, c.subject_id, False)) is CaseSight.STATUS
    ]
    records.cases_about = [_case_fact(c, status_only=True) for c in sorted(about, key=lambda c: c.number)]
    reported = await case_store.list_for_reporter(db, ring, guild_id, member_id, limit=_MANY)
    records.reports_made = [_case_fact(c) for c in sorted(reported, key=lambda c: c.number)]
    claimed = await case_store.list_for_assignee(db, ring, guild_id, member_id, limit=_MANY)
    records.cases_assigned = [_case_fact(c) for c in sorted(claimed, key=lambda c: c.number)]
    as_text = str(int(member_id))
    naming = [
        e
        for e in await audit_store.entries(db, ring, guild_id)
        if as_text in (e.payload.get("actor"), e.payload.get("subject"))
    ]
    records.audit_entries = len(naming)
    records.newest_audit_entry = max((e.at for e in naming), default=None)
    return records


@dataclass
class Erasure:
    """What an erasure did and what it left, for the member (or the admin) in plain words."""

    erased: list[str] = field(default_factory=list)
    kept: list[Kept] = field(default_factory=list)
    disconnected: bool = False

    @property
    def nothing_to_erase(self) -> bool:
        return not self.erased


class MemberData:
    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot
        self._lock = asyncio.Lock()  # one erasure or departure at a time: they share records
        self._poller: asyncio.Task[None] | None = None

    @property
    def retention(self) -> Retention:
        return retention_of(self.bot.settings)

    def server_name(self, guild_id: int) -> str:
        guild = self.bot.get_guild(guild_id)
        return guild.name if guild is not None else "the server"

    async def gather(self, guild_id: int, member_id: int) -> MemberRecords:
        return await gather(self.bot.db, self.bot.ring, guild_id, member_id, self.server_name(guild_id))

    def _consent(self) -> ConsentGate:
        consent = self.bot.consent
        if consent is None:
            raise RuntimeError("the consent feature is not loaded; access cannot be withdrawn")
        return consent

    # -- leaving the server -------------------------------------------------------------------------

    async def leave(self, guild_id: int, member_id: int) -> int:
        """Someone left the server (or was kicked or banned): end what holdspace held open for them in
        every group. Returns the number of groups they had anything in."""
        async with self._lock:
            touched = 0
            for group in self.bot.state.groups_of_guild(guild_id):
                held, _ = await self._end_in_group(
                    group, member_id, answer="revoked", method="holdspace", reason=LEFT_THE_SERVER, audit=True
                )
                touched += held
                await self._drop_overwrites(group, member_id)
            return touched

    async def sweep_departed(self, guild: discord.Guild) -> int:
        """At start: people holdspace holds open who left while it was offline (needs the member list)."""
        state = self.bot.state
        held: set[int] = set()
        for group in state.groups_of_guild(guild.id):
            held |= state.consented_members(group.id)
            held |= state.enrolled.get(group.id, set()) | state.facilitators_of(group.id)
        if not held:
            return 0
        if not guild.chunked:
            try:
                await guild.chunk()
            except (TimeoutError, discord.HTTPException, discord.ClientException):
                log.warning("guild %s: the member list could not be read; departures are checked later", guild.id)
                return 0
        gone = [member_id for member_id in sorted(held) if guild.get_member(member_id) is None]
        for member_id in gone:
            await self.leave(guild.id, member_id)
        if gone:
            log.info("guild %s: %d people left while holdspace was offline; their access ended", guild.id, len(gone))
        return len(gone)

    async def _end_in_group(
        self, group: GroupInfo, member_id: int, *, answer: str, method: str, reason: str, audit: bool
    ) -> tuple[bool, bool]:
        """End consent, enrolment and facilitator nomination through the consent feature's one
        withdrawal path, as a removal: (anything held, disconnected)."""
        held, closing = await self._consent().end_consent(
            group,
            member_id,
            answer=answer,
            method=method,
            reason=reason,
            audit_action="consent_ended" if audit else None,
            removal=True,
        )
        if held and audit:
            await self.bot.outbox.audit(
                group.guild_id, "member_left", group_id=group.id, subject_id=member_id, details={"reason": reason}
            )
        return held, closing is not None and closing.disconnected

    async def _drop_overwrites(self, group: GroupInfo, member_id: int) -> None:
        """Whatever overwrite is left for someone no longer in the server goes (allow or deny)."""
        guild = self.bot.get_guild(group.guild_id)
        if guild is None:
            return
        target = ow.Target(ow.MEMBER, member_id)
        for channel_id in group.channel_ids:
            channel = guild.get_channel(channel_id)
            if channel is None or target not in current_overwrites(channel):
                continue
            try:
                await put_overwrite(self.bot, channel_id, target, None, f"holdspace: {LEFT_THE_SERVER}")
            except discord.NotFound:
                pass
            except discord.HTTPException as exc:
                log.warning("group %s: could not remove a departed member's overwrite (%s)", group.id, exc.status)

    # -- erasure ------------------------------------------------------------------------------------

    async def forget(self, guild_id: int, member_id: int, *, by_admin: bool = False) -> Erasure:
        """Erase what the practice's rules allow about ``member_id`` in ``guild_id``; say what is kept."""
        async with self._lock:
            result = Erasure()
            method = "holdspace" if by_admin else "command"
            before = await self.gather(guild_id, member_id)
            groups = 0
            for group in self.bot.state.groups_of_guild(guild_id):
                held, disconnected = await self._end_in_group(
                    group, member_id, answer="withdraw", method=method, reason=ERASURE_REQUESTED, audit=False
                )
                groups += held
                result.disconnected = result.disconnected or disconnected
            unlinked = await case_store.forget_member(self.bot.db, self.bot.ring, guild_id, member_id)
            if before.consenting:
                result.erased.append(
                    "your consent to " + ", ".join(before.consenting) + " (ended, your access withdrawn)"
                )
            if before.enrolled:
                result.erased.append("your enrolment in " + ", ".join(before.enrolled))
            if before.facilitates:
                result.erased.append("your place as a named facilitator of " + ", ".join(before.facilitates))
            if unlinked.cut:
                result.erased.append(
                    f"{unlinked.cut} link{'s' if unlinked.cut != 1 else ''} from closed cases to you "
                    "(reports you made and cases you worked on stay, without your name)"
                )
            if unlinked.kept_until_close:
                result.erased.append(
                    f"{unlinked.kept_until_close} link{'s' if unlinked.kept_until_close != 1 else ''} from open "
                    "cases to you, cut when each case is closed"
                )
            after = await self.gather(guild_id, member_id)
            result.kept = kept_after_erasure(after, self.retention, now=self.bot.clock.now())
            if result.erased:
                # Who asked is not recorded: the entry only says that an erasure happened.
                await self.bot.audit.record(
                    guild_id,
                    "member_erased",
                    details={"requested_by": "an admin" if by_admin else "the member", "groups": groups},
                )
            return result

    # -- requests written by `holdspace forget` -------------------------------------------------------

    def start(self) -> None:
        if self._poller is None:
            self._poller = asyncio.create_task(self._poll(), name="holdspace-erasure-requests")

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None

    async def _poll(self) -> None:
        while True:
            await self.bot.clock.sleep_until(self.bot.clock.now() + REQUEST_POLL)
            try:
                await self.carry_out_requests()
            except Exception:
                log.exception("erasure requests could not be carried out; trying again in a minute")

    async def carry_out_requests(self) -> int:
        """Carry out every written-down erasure request, oldest first."""
        done = 0
        for request in await erasure_store.pending(self.bot.db, self.bot.ring):
            # Also for a server holdspace is not connected to: the records go now, and the reconcile
            # closes the rooms there (no consent any more) when it connects again.
            result = await self.forget(request.guild_id, request.member_id, by_admin=True)
            await erasure_store.done(self.bot.db, request.id)
            done += 1
            log.info(
                "an erasure request was carried out (%s; %d kinds of records kept)",
                "nothing left to erase" if result.nothing_to_erase else "records erased",
                len(result.kept),
            )
        return done


def describe_kept(kept: list[Kept]) -> list[str]:
    """One line per kept record: what, until when, why."""
    return [f"- {k.what}: kept {k.until_text}, because {k.why}." for k in kept]
