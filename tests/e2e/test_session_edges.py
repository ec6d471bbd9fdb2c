"""Sessions at their edges, end to end: a room stuck in Discord's rate limit, a room unreadable at the
end, a host clock that is wrong, a crash in the middle of /session start. The real holdspace bot
against the sandbox; time moves with the fake clock, never slept."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

from bot.clock import FakeClock
from bot.sandbox.world import Message
from bot.storage import groups as group_store
from cogs.sessions import Sessions
from tests.e2e.conftest import Holdspace
from tests.e2e.test_expiry import answer
from tests.e2e.test_sessions import Circle, can_join, make_group, run, started

PERMISSIONS = "/channels/{channel_id}/permissions/{overwrite_id}"


def sessions_of(hs: Holdspace) -> Sessions:
    assert hs.bot is not None
    cog = hs.bot.get_cog("Sessions")
    assert cog is not None
    return cog  # type: ignore[return-value]


async def set_expiry(hs: Holdspace, circle: Circle, **changes: Any) -> None:
    """Store expiry settings as the settings commands do (database first, then memory)."""
    assert hs.bot is not None
    changed = dataclasses.replace(hs.bot.state.groups[circle.group.id], **changes)
    await group_store.update_group(hs.bot.db, changed)
    hs.bot.state.update_group(circle.group.id, **changes)


def gone(*messages: Message) -> bool:
    return all(m.channel.get_message(m.id) is None for m in messages)


async def test_a_room_stuck_in_a_rate_limit_does_not_delay_another_groups_session_end_lock(hs: Holdspace) -> None:
    stuck = await make_group(hs, name="Stuck")
    other = await make_group(hs, name="Other")
    lifecycle = sessions_of(hs).lifecycle
    end = hs.clock.now() + timedelta(hours=1)
    for circle in (stuck, other):
        await lifecycle.start(circle.group, actor_id=None, planned_end=end)
    assert can_join(hs, "alice", other)
    hs.sb.post_many(stuck.text, hs.member("alice"), 5)
    await hs.settle()
    # From now on every request about the stuck group's rooms answers 429 "retry after 30 s".
    hs.sb.faults.rate_limit(None, rf"/channels/({stuck.text.id}|{stuck.voice.id})(/.*)?$", times=1000, retry_after=30)
    first = len(hs.sb.requests)
    hs.clock.set(end)  # both sessions end now
    await hs.sb.wait_until(lambda: not can_join(hs, "alice", other))
    after = hs.sb.requests[first:]
    limited = [r for r in after if r.status == 429]
    other_lock = [r for r in after if r.route == PERMISSIONS and str(other.text.id) in r.path]
    assert limited and other_lock, "both groups' ends ran"
    # The other group was locked while the stuck room still waits out its 30 s (no retry of it yet) ...
    stuck_paths = {r.path for r in limited}
    assert not [r for r in after if r.path in stuck_paths and r.status != 429]
    # ... and without waiting for it: its lock began within 100 ms of the stuck room's first answer.
    assert min(r.started for r in other_lock) - min(r.finished for r in limited) <= 0.1
    assert can_join(hs, "alice", stuck), "the stuck group's lock is still waiting for Discord"


async def test_end_of_session_removes_every_session_message_even_with_a_room_unreadable_at_the_end(
    holdspace: Holdspace,
) -> None:
    await holdspace.start()
    circle = await make_group(holdspace, lock=False)
    await set_expiry(holdspace, circle, ttl=None, expire_at_session_end=True)
    before = holdspace.sb.post_many(circle.text, holdspace.member("alice"), 2)
    holdspace.clock.advance(timedelta(minutes=1))
    await run(holdspace, "carol", "session start", circle.text, group=circle.group.id)
    await holdspace.sb.wait_until(lambda: started(circle.text) == 1 and started(circle.voice) == 1)
    during = holdspace.sb.post_many(circle.text, holdspace.member("alice"), 3)
    await holdspace.settle()
    await holdspace.stop()
    # Posted while holdspace was away; the text room's history then fails at the connect and at the end.
    away = holdspace.sb.post_many(circle.text, holdspace.member("bob"), 4) + holdspace.sb.post_many(
        circle.voice, holdspace.member("bob"), 2
    )
    # Unreadable from the connect through the end of the session (every try answers 503).
    holdspace.sb.faults.fail("GET", rf"/channels/{circle.text.id}/messages", 503, times=10_000)
    await holdspace.start()
    await holdspace.settle()
    holdspace.clock.advance(timedelta(minutes=5))
    text, _ = await run(holdspace, "carol", "session end", circle.text, group=circle.group.id)
    assert "could not be read" in text and "as soon as" in text, text
    assert not gone(*away), "the room was not readable yet"
    holdspace.sb.faults.clear()  # readable again: the next try (every 30 s) reads it
    holdspace.clock.advance(timedelta(seconds=31))
    await holdspace.sb.wait_until(lambda: gone(*during, *away))
    assert started(circle.text) == 0 and started(circle.voice) == 0
    assert not gone(*before), "what was posted before the session stays (ttl is off)"


async def test_start_reminders_are_kept_while_the_session_runs_and_gone_at_its_end(hs: Holdspace) -> None:
    circle = await make_group(hs, lock=False)
    await set_expiry(hs, circle, ttl=timedelta(minutes=30), expire_at_session_end=False)
    await run(hs, "carol", "session start", circle.text, group=circle.group.id)
    await hs.sb.wait_until(lambda: started(circle.text) == 1 and started(circle.voice) == 1)
    hs.clock.advance(timedelta(minutes=40))
    await hs.settle()
    assert started(circle.text) == 1 and started(circle.voice) == 1
    text, _ = await answer(hs.sb.run_command(hs.world.owner, circle.text, "expiry status", group="Circle"))
    assert "reminders kept until the session ends**: 2" in text and "open report" not in text, text
    await run(hs, "carol", "session end", circle.text, group=circle.group.id)
    await hs.sb.wait_until(lambda: started(circle.text) == 0 and started(circle.voice) == 0)


class AheadClock:
    """holdspace's clock, ``ahead`` of the sandbox's (Discord's) clock."""

    def __init__(self, base: FakeClock, ahead: timedelta) -> None:
        self.base = base
        self.ahead = ahead

    def now(self) -> datetime:
        return self.base.now() + self.ahead

    async def sleep_until(self, when: datetime) -> None:
        await self.base.sleep_until(when - self.ahead)


async def test_session_end_removes_every_session_message_with_the_host_clock_10_minutes_ahead(
    holdspace: Holdspace,
) -> None:
    sandbox_clock = holdspace.clock
    holdspace.clock = AheadClock(sandbox_clock, timedelta(minutes=10))  # type: ignore[assignment]
    await holdspace.start()
    circle = await make_group(holdspace, lock=False)
    before = holdspace.sb.post_many(circle.text, holdspace.member("alice"), 2)
    sandbox_clock.advance(timedelta(minutes=1))
    await run(holdspace, "carol", "session start", circle.text, group=circle.group.id)
    await holdspace.sb.wait_until(lambda: started(circle.text) == 1 and started(circle.voice) == 1)
    during = holdspace.sb.post_many(circle.text, holdspace.member("alice"), 6) + holdspace.sb.post_many(
        circle.voice, holdspace.member("bob"), 4
    )
    sandbox_clock.advance(timedelta(minutes=20))
    text, _ = await run(holdspace, "carol", "session end", circle.text, group=circle.group.id)
    assert "12 messages removed" in text, text  # ten posts and the two start reminders
    assert gone(*during) and started(circle.text) == 0 and started(circle.voice) == 0
    assert not gone(*before)
    assert holdspace.bot is not None
    offset = holdspace.bot.discord_clock.current()
    assert offset is not None and offset.too_far and round(offset.offset.total_seconds()) == -600


async def test_a_restart_after_a_kill_between_the_steps_of_session_start_posts_the_ground_rules_once(
    holdspace: Holdspace,
) -> None:
    await holdspace.start()
    circle = await make_group(holdspace, lock=True)
    assert not can_join(holdspace, "alice", circle)
    holdspace.sb.faults.add_latency(0.3, "PUT", PERMISSIONS)
    holdspace.sb.run_command(holdspace.member("carol"), circle.text, "session start", group=circle.group.id)
    await holdspace.sb.wait_for_request("PUT", PERMISSIONS)  # the first overwrite edit is done
    await holdspace.kill()
    holdspace.sb.faults.clear()
    assert started(circle.text) == 0 and started(circle.voice) == 0
    await holdspace.start()
    await holdspace.sb.wait_until(lambda: started(circle.text) == 1 and started(circle.voice) == 1)
    assert can_join(holdspace, "alice", circle)
    await holdspace.restart()
    await holdspace.settle()
    assert started(circle.text) == 1 and started(circle.voice) == 1
