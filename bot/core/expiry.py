"""Expiring messages: which due messages go how (pure; no I/O, no Discord imports).

Discord deletes messages in bulk (``POST .../messages/bulk-delete``, 2 to 100 ids, none older than
14 days) or one by one (``DELETE .../messages/{id}``). ``plan_deletions`` turns the due messages of
one pass into the fewest requests: per channel, the ids younger than 14 days minus a safety margin
go in bulk batches of up to 100 (sized evenly so that no batch is left with a single id; a lone
young id uses a single delete because bulk needs at least 2), the older ones one by one. Pinned
messages are left out where the group keeps pinned messages, held ones where a report holds them.

``classify`` turns a request's result into what happens to the rows: removed (success or 404),
blocked (403: a case is opened once per channel and the rows are retried with backoff), retried
(429, 5xx, network trouble, anything unexpected: rows kept, retried with backoff) or, for a bulk
request that Discord refused as too old (50034), retried one by one. Nothing is ever dropped
silently, and only what Discord confirmed gone counts as removed.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum

from bot.i18n import N_, _, ngettext

DISCORD_EPOCH_MS = 1420070400000
BULK_MAX = 100
BULK_MIN = 2
BULK_MAX_AGE = timedelta(days=14)
SAFETY_MARGIN = timedelta(hours=1)
# Deletions in a room are gathered for at most this long after the earliest is due, so live chat
# costs a few bulk requests instead of one per message. Members are told: "removed within N seconds".
BATCH_WINDOW = timedelta(seconds=5)

# Discord JSON error codes that matter here.
UNKNOWN_CHANNEL = 10003
UNKNOWN_MESSAGE = 10008
TOO_OLD_TO_BULK_DELETE = 50034


def snowflake_ms(snowflake: int) -> int:
    """Milliseconds since the Unix epoch at which ``snowflake`` was made."""
    return (snowflake >> 22) + DISCORD_EPOCH_MS


def snowflake_time(snowflake: int) -> datetime:
    """When ``snowflake`` was made (UTC)."""
    return datetime.fromtimestamp(snowflake_ms(snowflake) / 1000, UTC)


def snowflake_floor(when: datetime) -> int:
    """The smallest snowflake made at or after ``when``: ids ``>=`` it were made at ``when`` or later."""
    ms = math.ceil(when.timestamp() * 1000) - DISCORD_EPOCH_MS
    return max(ms, 0) << 22


def due_time(message_id: int, ttl: timedelta | None) -> datetime | None:
    """When a message expires under ``ttl`` (None: it does not expire by age)."""
    if ttl is None:
        return None
    return snowflake_time(message_id) + ttl


def bulk_cutoff(now: datetime, margin: timedelta = SAFETY_MARGIN) -> int:
    """Ids at or above this snowflake are young enough for a bulk delete at ``now``."""
    return snowflake_floor(now - BULK_MAX_AGE + margin)


@dataclass(frozen=True)
class DueMessage:
    channel_id: int
    message_id: int
    pinned: bool = False


@dataclass(frozen=True)
class Batch:
    """One request: a bulk delete (``bulk``) of 2..100 ids or a single delete of one id."""

    channel_id: int
    message_ids: tuple[int, ...]

    @property
    def bulk(self) -> bool:
        return len(self.message_ids) >= BULK_MIN


@dataclass
class Plan:
    batches: list[Batch] = field(default_factory=list)
    kept_pinned: list[DueMessage] = field(default_factory=list)
    held: list[DueMessage] = field(default_factory=list)

    def requests(self, channel_id: int | None = None) -> int:
        return sum(1 for b in self.batches if channel_id is None or b.channel_id == channel_id)


def even_chunks(ids: list[int], size: int = BULK_MAX) -> list[list[int]]:
    """Split into ceil(n/size) chunks of nearly equal length (so 101 ids give 51 + 50, not 100 + 1)."""
    if not ids:
        return []
    count = math.ceil(len(ids) / size)
    base, extra = divmod(len(ids), count)
    chunks: list[list[int]] = []
    start = 0
    for index in range(count):
        length = base + (1 if index < extra else 0)
        chunks.append(ids[start : start + length])
        start += length
    return chunks


def plan_deletions(
    due: Iterable[DueMessage],
    now: datetime,
    *,
    keep_pinned: Callable[[int], bool] | Container[int] = (),
    held: Container[tuple[int, int]] = (),
    margin: timedelta = SAFETY_MARGIN,
) -> Plan:
    """Group due messages per channel into bulk and single deletes.

    ``keep_pinned`` says per channel id whether pinned messages stay (a predicate or a container of
    channel ids); ``held`` holds (channel id, message id) pairs that must not be deleted now.
    """
    keeps: Callable[[int], bool] = keep_pinned if callable(keep_pinned) else keep_pinned.__contains__
    cutoff = bulk_cutoff(now, margin)
    plan = Plan()
    per_channel: dict[int, set[int]] = defaultdict(set)
    for message in due:
        if (message.channel_id, message.message_id) in held:
            plan.held.append(message)
        elif message.pinned and keeps(message.channel_id):
            plan.kept_pinned.append(message)
        else:
            per_channel[message.channel_id].add(message.message_id)
    for channel_id in sorted(per_channel):
        ids = sorted(per_channel[channel_id])
        young = [i for i in ids if i >= cutoff]
        old = [i for i in ids if i < cutoff]
        for chunk in even_chunks(young):
            plan.batches.append(Batch(channel_id, tuple(chunk)))
        for message_id in old:
            plan.batches.append(Batch(channel_id, (message_id,)))
    return plan


class Outcome(Enum):
    REMOVED = "removed"  # deleted now, or already gone (404): the rows go
    BLOCKED = "blocked"  # 403: holdspace may not delete there; case opened, retried with backoff
    RETRY = "retry"  # 429 / 5xx / network / unexpected: rows kept, retried with backoff
    SPLIT = "split"  # bulk refused as too old: retry these ids one by one at once


def classify(status: int | None, code: int | None = None, *, bulk: bool = False) -> Outcome:
    """What a request's result means for its rows. ``status`` None means no HTTP answer at all."""
    if status is not None and 200 <= status < 300:
        return Outcome.REMOVED
    if status == 404:
        # Unknown message or unknown channel: either way the message is gone.
        return Outcome.REMOVED
    if status == 403:
        return Outcome.BLOCKED
    if status == 400 and bulk and code == TOO_OLD_TO_BULK_DELETE:
        return Outcome.SPLIT
    return Outcome.RETRY


def backoff(attempts: int, *, blocked: bool = False) -> timedelta:
    """Delay before the next try after ``attempts`` failed ones (1, 2, ...): doubling, capped.

    Transient trouble starts at 5 s and caps at 30 min; a missing permission starts at 1 min and
    caps at 1 h (someone has to fix the permission first).
    """
    attempts = max(attempts, 1)
    if blocked:
        return min(timedelta(hours=1), timedelta(minutes=1) * 2 ** min(attempts - 1, 10))
    return min(timedelta(minutes=30), timedelta(seconds=5) * 2 ** min(attempts - 1, 12))


REASONS = {
    "pinned": N_("kept because they are pinned"),
    "held": N_("held while a report about them is open"),
    "blocked": N_("holdspace lacks the Manage Messages permission there"),
    "retry": N_("Discord did not answer in time; they stay queued and are retried"),
    "waiting": N_("waiting for holdspace to check the room's pinned messages; they follow shortly"),
    "pending": N_("still queued; they are removed as soon as Discord allows"),
    "session": N_("ground-rules reminders of a session still running"),
}


@dataclass
class ExpiryReport:
    """What one expiry run did, in numbers a facilitator can read."""

    removed: int = 0
    not_removed: dict[str, int] = field(default_factory=dict)
    applies: bool = True
    notes: list[str] = field(default_factory=list)

    def add_failed(self, reason: str, count: int = 1) -> None:
        if count:
            self.not_removed[reason] = self.not_removed.get(reason, 0) + count

    @property
    def failed(self) -> int:
        return sum(self.not_removed.values())

    def merge(self, other: ExpiryReport) -> None:
        self.removed += other.removed
        for reason, count in other.not_removed.items():
            self.add_failed(reason, count)
        self.notes.extend(other.notes)

    def __str__(self) -> str:
        return self.text

    @property
    def text(self) -> str:
        """The summary for facilitators: N messages removed, M could not be (why)."""
        if not self.applies:
            return _("Messages are kept at the end of sessions in this group (expire at session end is off).")
        text = ngettext("{count} message removed", "{count} messages removed", self.removed).format(count=self.removed)
        if self.failed:
            why = "; ".join(f"{n} {_reason(reason)}" for reason, n in self.not_removed.items())
            text = _("{removed}, {count} could not be ({why})").format(removed=text, count=self.failed, why=why)
        return text + "." + "".join(f" {note[0].upper()}{note[1:]}." for note in self.notes)


def _reason(reason: str) -> str:
    """Why messages were not removed, in the reader's language (an unknown reason as recorded)."""
    known = REASONS.get(reason)
    return _(known) if known is not None else reason
