"""Records that survive a database that cannot be written for a while.

Enforcement acts from memory first; its records (audit entries, cases, the consent events behind a
withdrawal) are written afterwards through :class:`Outbox`. When the database refuses a write (disk
full, read-only file system, locked, I/O error), the record is kept in memory, in order, and written
when the database takes writes again; later records queue behind it so the audit chain keeps its
order. The outbox is bounded: past ``limit`` kept records further ones are counted and reported as
lost, never dropped silently.

The log gets one ERROR when an outage begins (its cause and what holdspace keeps doing) and one line
when it ends, instead of a traceback for every failed write.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bot.core.timer_kinds import TimerKind
from bot.storage import consents as consent_store

if TYPE_CHECKING:
    from bot.app import HoldspaceBot
    from bot.core.records import ConsentFact

log = logging.getLogger(__name__)

#: Injected-clock seconds between tries to write kept records.
RETRY_SECONDS = 5.0
#: Records kept at most while the database cannot be written.
LIMIT = 10_000

Write = Callable[[], Awaitable[Any]]


def is_database_error(exc: BaseException) -> bool:
    """A failure of the database itself (as opposed to a bug or a refused Discord request)."""
    return isinstance(exc, sqlite3.Error)


def describe_database_error(exc: BaseException) -> str:
    """The cause of a database failure in words an operator acts on."""
    text = str(exc).lower()
    if "disk is full" in text or "database or disk is full" in text:
        return "the disk is full"
    if "readonly" in text or "read-only" in text or "read only" in text:
        return "the database is read-only (a read-only file system or file permissions)"
    if "locked" in text or "busy" in text:
        return "the database is locked by another program"
    if "disk i/o" in text:
        return "the disk reports an I/O error"
    return f"the database refused the write ({exc})"


@dataclass
class _Kept:
    what: str
    write: Write


class Outbox:
    def __init__(self, bot: HoldspaceBot, *, limit: int = LIMIT) -> None:
        self.bot = bot
        self.limit = limit
        self.retry_seconds = RETRY_SECONDS
        self._kept: deque[_Kept] = deque()
        self._lost = 0
        self._outage: str | None = None  # the cause while the database cannot be written
        self._written_late = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def kept(self) -> int:
        return len(self._kept)

    @property
    def in_outage(self) -> bool:
        return self._outage is not None

    # -- writing ----------------------------------------------------------------------------------

    async def write(self, what: str, write: Write) -> bool:
        """Run ``write`` now, or keep it for later when the database cannot be written.

        True when it was written now. Errors that are not the database's are raised as usual.
        """
        if self._kept:  # keep the order: behind what is waiting already
            self._keep(what, write)
            return False
        try:
            await write()
        except Exception as exc:
            if not is_database_error(exc):
                raise
            self.failed(exc)
            self._keep(what, write)
            return False
        return True

    async def audit(self, guild_id: int, action: str, **kw: Any) -> bool:
        """An audit entry stamped with the time it happened, written now or later."""
        at = self.bot.clock.now()

        async def write() -> None:
            await self.bot.audit.record(guild_id, action, at=at, **kw)

        return await self.write(f"audit entry {action}", write)

    async def case(self, guild_id: int, kind: str, **kw: Any) -> int | None:
        """Open a case now (its number) or later (None while it is kept)."""
        at = self.bot.clock.now()
        number: list[int] = []
        details = dict(kw.pop("details", None) or {})

        async def write() -> None:
            if self.bot.clock.now() - at > timedelta(seconds=1):
                details.setdefault("happened_at", at.isoformat(timespec="seconds"))
            result = await self.bot.cases.open_case(guild_id, kind, details=details, **kw)
            number.append(result.number)

        await self.write(f"{kind} case", write)
        return number[0] if number else None

    async def consent_event(
        self, group_id: str, member_id: int, *, ended: ConsentFact | None = None, **fields: Any
    ) -> None:
        """A consent event (``fields`` as :func:`bot.storage.consents.record` takes them) written now or
        later; when it ends the consent ``ended``, that consent's expiry timer is cancelled after it.

        The one way a withdrawal, revocation, removal or "I do not agree" is written down: memory has
        forgotten the consent already, so neither record may be lost to a database outage."""
        bot = self.bot
        await self.write(
            f"consent {fields.get('answer', 'event')}",
            lambda: consent_store.record(bot.db, bot.ring, group_id=group_id, member_id=member_id, **fields),
        )
        if ended is not None:
            consent_id = ended.consent_id
            await self.write("expiry timer", lambda: bot.scheduler.cancel(TimerKind.CONSENT_EXPIRY, consent_id))

    # -- outages ----------------------------------------------------------------------------------

    def failed(self, exc: BaseException) -> None:
        """Note a failed write (any feature may report one); the first of an outage is logged as one
        ERROR with its cause, and the outage is watched until the database takes writes again."""
        if self._outage is not None:
            return
        self._outage = describe_database_error(exc)
        self._watch()
        log.error(
            "the database cannot be written: %s. holdspace keeps enforcing from memory (disconnects, closed "
            "rooms) and keeps its audit entries and cases to write when the database takes writes again "
            "(at most %d); fix the cause, holdspace retries every %.0f s",
            self._outage,
            self.limit,
            self.retry_seconds,
        )

    def recovered(self) -> None:
        if self._outage is None:
            return
        lost = f"; {self._lost} could not be kept and are lost" if self._lost else ""
        log.warning(
            "the database can be written again (it was: %s); %d kept records written%s",
            self._outage,
            self._written_late,
            lost,
        )
        self._outage = None
        self._written_late = 0
        self._lost = 0

    def _keep(self, what: str, write: Write) -> None:
        if len(self._kept) >= self.limit:
            self._lost += 1
            if self._lost == 1:
                log.error(
                    "holdspace keeps at most %d records while the database cannot be written; from now on "
                    "records are lost (counted) until it can be written again",
                    self.limit,
                )
            return
        self._kept.append(_Kept(what, write))
        self._watch()

    def _watch(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush_forever(), name="holdspace-outbox")

    async def _flush_forever(self) -> None:
        clock = self.bot.clock
        while True:
            await clock.sleep_until(clock.now() + timedelta(seconds=self.retry_seconds))
            await self._flush()
            if not self._kept and await self._writable():
                break
        self.recovered()

    async def _writable(self) -> bool:
        try:
            await self.bot.db.check_writable()
        except Exception as exc:
            if not is_database_error(exc):
                raise
            return False
        return True

    async def _flush(self) -> None:
        while self._kept:
            item = self._kept[0]
            try:
                await item.write()
            except Exception as exc:
                if is_database_error(exc):
                    return  # still down: try again later
                log.exception("a kept %s could not be written and is dropped", item.what)
            else:
                self._written_late += 1
            self._kept.popleft()

    async def flush_now(self) -> None:
        """Try the kept records at once (tests, shutdown)."""
        await self._flush()
        if not self._kept:
            self.recovered()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._kept:
            log.error("%d records could not be written before holdspace stopped and are lost", len(self._kept))
