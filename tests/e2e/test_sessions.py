"""Sessions end to end: the real holdspace bot against the sandbox, time moved with the fake clock.

Groups, set-up and consents are written through holdspace's own storage and state (the way the
groups and consent features store them), so these tests depend only on the sessions feature.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.core import overwrites as ow
from bot.core.records import GroupInfo, GuildConfig
from bot.core.reminders import REMINDER_LIMIT
from bot.core.timer_kinds import TimerKind
from bot.sandbox import SandboxRefused
from bot.sandbox import permissions as P
from bot.sandbox.world import Channel, Member, Role
from bot.storage import groups as group_store
from bot.storage import guilds as guild_store
from bot.storage import sessions as session_store
from tests.e2e.conftest import Holdspace

TIMER_START, TIMER_END = TimerKind.SESSION_START, TimerKind.SESSION_END
BERLIN = ZoneInfo("Europe/Berlin")
AGREEMENT = "We keep what is said here private. We do not record. We are kind."


@dataclass
class Circle:
    group: GroupInfo
    text: Channel
    voice: Channel
    facilitator_role: Role


async def make_group(
    hs: Holdspace,
    *,
    lock: bool = True,
    consented: tuple[str, ...] = ("alice", "bob"),
    timezone: str = "Europe/Berlin",
    name: str = "Circle",
    auto_reminder_gap: timedelta = timedelta(hours=2),
) -> Circle:
    bot = hs.bot
    assert bot is not None
    sb, guild = hs.sb, hs.guild
    facilitator = guild.create_role("Facilitator", 0)
    guild.set_member_roles(hs.member("carol"), [hs.world.member_role.id, facilitator.id])
    text = guild.create_text_channel(name.lower())
    voice = guild.create_voice_channel(f"{name.lower()}-voice")
    me = guild.bot_member(hs.world.app)
    assert me is not None
    for channel in (text, voice):
        guild.set_overwrite(channel, guild.everyone, deny=ow.EVERYONE_DENY)
        guild.set_overwrite(channel, me, allow=ow.BOT_ALLOW)
        guild.set_overwrite(channel, facilitator, allow=ow.FACILITATOR_ALLOW)

    def synced() -> bool:
        channel = bot.get_channel(voice.id)
        return channel is not None and len(getattr(channel, "overwrites", {})) == 3

    await sb.wait_until(synced)
    now = hs.clock.now()
    await guild_store.save(
        bot.db, guild_store.GuildRow(guild.id, facilitator.id, None, None, None, None, timezone), now
    )
    bot.state.put_guild(GuildConfig(guild.id, facilitator_role_id=facilitator.id, timezone=timezone, configured=True))
    group = GroupInfo.with_defaults(
        bot.settings.defaults,
        id=uuid.uuid4().hex,
        guild_id=guild.id,
        name=name,
        text_channel_id=text.id,
        voice_channel_id=voice.id,
        lock_between_sessions=lock,
        auto_reminder_gap=auto_reminder_gap,
    )
    group = await group_store.insert_group(bot.db, bot.ring, group, AGREEMENT, now)
    bot.state.put_group(group)
    for who in consented:
        member = hs.member(who)
        await hs.seed_consent(group, member.id)
        if not lock:  # what the consent feature gives a consenting member of an unlocked group
            for channel in (text, voice):
                guild.set_overwrite(channel, member, allow=ow.MEMBER_ALLOW)
    return Circle(group, text, voice, facilitator)


def titles(channel: Channel) -> list[str]:
    return [e.get("title", "") for m in channel.messages for e in m.embeds]


def started(channel: Channel) -> int:
    return sum(1 for t in titles(channel) if t.endswith("the session has started"))


def welcomes(channel: Channel) -> int:
    return sum(1 for t in titles(channel) if "here are our ground rules" in t)


def can_join(hs: Holdspace, who: str, circle: Circle) -> bool:
    try:
        hs.guild.join_voice(hs.member(who), circle.voice)
    except SandboxRefused:
        return False
    hs.guild.leave_voice(hs.member(who))
    return True


async def run(hs: Holdspace, who: str, command: str, where: Channel, **options: object) -> tuple[str, bool]:
    """Run a command and return (the answer's text, whether it was ephemeral), waiting for follow-ups."""
    handle = await hs.command(hs.member(who), where, command, **options)
    if handle.deferred:  # the first follow-up fills the "thinking" message (flag 128 = loading)
        await hs.sb.wait_until(lambda: handle.message is not None and not handle.flags & 128)
    return handle.content or "", handle.ephemeral


def reminded_since(circle: Circle, before: int) -> Callable[[], bool]:
    return lambda: started(circle.text) > before and started(circle.voice) > 0


def both_rooms_have(circle: Circle, count: Callable[[Channel], int], n: int) -> Callable[[], bool]:
    return lambda: count(circle.text) == n and count(circle.voice) == n


def running(hs: Holdspace, circle: Circle) -> bool:
    assert hs.bot is not None
    return hs.bot.state.session_running(circle.group.id)


# -- acceptance ---------------------------------------------------------------------------------------


async def test_weekly_18_berlin_starts_at_18_local_on_both_sides_of_dst(hs: Holdspace) -> None:
    circle = await make_group(hs)
    bot = hs.bot
    assert bot is not None
    text, ephemeral = await run(
        hs,
        "carol",
        "session schedule add",
        circle.text,
        group=circle.group.id,
        weekday=3,
        time="18:00",
        duration="90m",
        timezone="Europe/Berlin",
    )
    assert ephemeral and "Thursdays at 18:00 (Europe/Berlin)" in text
    (schedule,) = await session_store.list_schedules(bot.db, group_id=circle.group.id)
    # The clock starts on Monday 2 March 2026 (CET); the first session is Thursday 5 March 17:00 UTC.
    assert await bot.scheduler.timers.due_time(TIMER_START, schedule.id) == datetime(2026, 3, 5, 17, tzinfo=UTC)

    # Jump to the Thursday before the change; the starts missed meanwhile are skipped, not run.
    hs.clock.set(datetime(2026, 3, 26, 16, 59, tzinfo=UTC))

    async def next_start() -> datetime | None:
        return await bot.scheduler.timers.due_time(TIMER_START, schedule.id)

    await hs.settle()
    assert not running(hs, circle)
    assert await next_start() == datetime(2026, 3, 26, 17, tzinfo=UTC)
    assert started(circle.text) == 0

    for start_utc in (datetime(2026, 3, 26, 17, tzinfo=UTC), datetime(2026, 4, 2, 16, tzinfo=UTC)):
        assert start_utc.astimezone(BERLIN).strftime("%A %H:%M") == "Thursday 18:00"
        hs.clock.set(start_utc - timedelta(minutes=1))
        await hs.settle()  # the last session's messages have expired before counting
        assert not running(hs, circle)
        before = started(circle.text)
        hs.clock.set(start_utc)
        await hs.sb.wait_until(lambda: running(hs, circle))
        await hs.sb.wait_until(reminded_since(circle, before))
        session = await session_store.running_session(bot.db, circle.group.id)
        assert session is not None and session.started_at == start_utc and session.late == timedelta(0)
        assert session.planned_end == start_utc + timedelta(minutes=90)
        # ends by itself after 90 minutes
        hs.clock.set(start_utc + timedelta(minutes=90))
        await hs.sb.wait_until(lambda: not running(hs, circle))
        await hs.settle()  # the session's messages are removed after the rooms are locked
    # ... and the next one after the change is again 18:00 Berlin, 16:00 UTC
    assert await next_start() == datetime(2026, 4, 9, 16, tzinfo=UTC)


async def test_restarted_mid_session_still_ends_on_time(hs: Holdspace) -> None:
    circle = await make_group(hs)
    text, ephemeral = await run(hs, "carol", "session start", circle.text, group=circle.group.id, duration="1h")
    assert ephemeral and "has started" in text
    start = hs.clock.now()
    assert can_join(hs, "alice", circle)
    hs.clock.advance(timedelta(minutes=20))
    hs.guild.join_voice(hs.member("alice"), circle.voice)
    await hs.restart()
    bot = hs.bot
    assert bot is not None
    assert running(hs, circle), "the running session is known again after the restart"
    row = await session_store.running_session(bot.db, circle.group.id)
    assert row is not None
    assert await bot.scheduler.timers.due_time(TIMER_END, row.id) == start + timedelta(hours=1)
    hs.clock.set(start + timedelta(minutes=59))
    await hs.settle()
    assert running(hs, circle)
    hs.clock.set(start + timedelta(hours=1))
    await hs.sb.wait_until(lambda: not running(hs, circle))
    await hs.settle()
    row = await session_store.last_session(bot.db, circle.group.id)
    assert row is not None and row.ended_at == start + timedelta(hours=1) and row.end_reason == "planned end"
    # locked again, and alice, still in voice, was disconnected
    await hs.sb.wait_until(lambda: hs.guild.voice_channel_of(hs.member("alice")) is None)
    assert not can_join(hs, "alice", circle)


async def test_restart_while_offline_past_the_end(hs: Holdspace) -> None:
    circle = await make_group(hs, lock=False)
    await run(hs, "carol", "session start", circle.text, group=circle.group.id, duration="30m")
    start = hs.clock.now()
    await hs.stop()
    hs.clock.set(start + timedelta(minutes=45))
    await hs.start()
    await hs.sb.wait_until(lambda: not running(hs, circle))


async def test_non_facilitator_is_refused_ephemerally(hs: Holdspace) -> None:
    circle = await make_group(hs, lock=False)
    messages_before = len(circle.text.messages)
    text, ephemeral = await run(hs, "alice", "session start", circle.text, group=circle.group.id)
    assert ephemeral
    assert "Only facilitators can use this command" in text
    assert not running(hs, circle)
    assert len(circle.text.messages) == messages_before
    text, ephemeral = await run(
        hs, "alice", "session schedule add", circle.text, group=circle.group.id, weekday=0, time="18:00", duration="1h"
    )
    assert ephemeral and "Only facilitators can use this command" in text


async def test_reminder_in_both_rooms_at_start_and_auto_reminder_once_per_gap(hs: Holdspace) -> None:
    circle = await make_group(hs, lock=False)
    # the first person joining an idle room gets the ground rules posted, once per gap
    hs.guild.join_voice(hs.member("alice"), circle.voice)
    await hs.sb.wait_until(lambda: welcomes(circle.text) == 1 and welcomes(circle.voice) == 1)
    hs.guild.join_voice(hs.member("bob"), circle.voice)  # not the first
    hs.guild.leave_voice(hs.member("alice"))
    hs.guild.leave_voice(hs.member("bob"))
    hs.clock.advance(timedelta(minutes=30))
    hs.guild.join_voice(hs.member("bob"), circle.voice)  # first again, but within the gap
    hs.guild.leave_voice(hs.member("bob"))
    await hs.settle()
    assert welcomes(circle.text) == 1
    hs.clock.advance(timedelta(hours=2))
    hs.guild.join_voice(hs.member("bob"), circle.voice)
    await hs.sb.wait_until(lambda: welcomes(circle.text) == 2 and welcomes(circle.voice) == 2)
    hs.guild.leave_voice(hs.member("bob"))

    # at start: one reminder in the text room and one in the voice room's chat
    await run(hs, "carol", "session start", circle.text, group=circle.group.id)
    assert started(circle.text) == 1 and started(circle.voice) == 1
    embed = next(e for m in circle.text.messages for e in m.embeds if e["title"].endswith("has started"))
    names = [f["name"] for f in embed["fields"]]
    assert names == [
        "What is said here stays here",
        "No recording, no screenshots",
        "A private space",
        "The limits of confidentiality",
        "Raising a concern",
    ]
    assert "/report new" in str(embed["fields"])
    shown = len(embed["title"]) + len(embed["description"]) + len(embed["footer"]["text"])
    assert shown + sum(len(f["name"]) + len(f["value"]) for f in embed["fields"]) <= REMINDER_LIMIT
    # while a session runs, no automatic reminder
    hs.clock.advance(timedelta(hours=3))
    await hs.sb.wait_until(lambda: not running(hs, circle))  # ended (2h default)
    # kept until the session ended, then expired with the rest (the group expires at session end)
    await hs.sb.wait_until(lambda: started(circle.text) == 0 and started(circle.voice) == 0)
    await run(hs, "carol", "session start", circle.text, group=circle.group.id)
    before = welcomes(circle.text) + welcomes(circle.voice)
    hs.guild.join_voice(hs.member("alice"), circle.voice)
    await hs.settle()
    assert welcomes(circle.text) + welcomes(circle.voice) == before

    # the button under the reminder still answers after a restart, with the limits in full; this
    # group's agreement has no such section, so holdspace's own wording is shown and the lack named
    await hs.restart()
    posted = next(m for m in circle.voice.messages for e in m.embeds if e["title"].endswith("has started"))
    handle = hs.sb.click(hs.member("alice"), posted, f"hs:limits:{circle.group.id}")
    await handle.response()
    await hs.sb.wait_until(lambda: handle.content is not None, timeout=3)
    assert handle.ephemeral
    assert "when a court orders disclosure, or the law otherwise requires it." in (handle.content or "")
    assert "has no section on the limits of confidentiality" in (handle.content or "")


async def test_no_welcome_when_a_scheduled_session_starts_within_the_gap(hs: Holdspace) -> None:
    """Someone arriving 20 minutes early gets the ground rules once, from the session's start."""
    circle = await make_group(hs, lock=False)
    # the sandbox clock reads Monday 12:00 UTC; the session starts at 12:20
    await run(
        hs, "carol", "session schedule add", circle.text,
        group=circle.group.id, weekday=0, time="12:20", duration="1.5h", timezone="UTC",
    )
    hs.guild.join_voice(hs.member("alice"), circle.voice)
    await hs.settle()
    assert welcomes(circle.text) == 0 and welcomes(circle.voice) == 0
    hs.clock.advance(timedelta(minutes=20))
    await hs.sb.wait_until(lambda: started(circle.text) == 1 and started(circle.voice) == 1, timeout=3)
    await hs.settle()
    assert welcomes(circle.text) == 0 and welcomes(circle.voice) == 0
    assert started(circle.text) == 1 and started(circle.voice) == 1


async def test_locked_rooms_open_only_during_the_session(hs: Holdspace) -> None:
    circle = await make_group(hs, lock=True, consented=("alice",))
    assert not can_join(hs, "alice", circle)
    assert not can_join(hs, "bob", circle)  # never consented
    await run(hs, "carol", "session start", circle.text, group=circle.group.id)
    assert can_join(hs, "alice", circle)
    assert not can_join(hs, "bob", circle)
    hs.guild.join_voice(hs.member("alice"), circle.voice)
    hs.guild.join_voice(hs.member("carol"), circle.voice)
    text, ephemeral = await run(hs, "carol", "session end", circle.text, group=circle.group.id)
    assert ephemeral and "locked" in text and "1 person was disconnected" in text
    assert "Messages of this session: 2 messages removed." in text  # the two start reminders (expiry at session end)
    assert hs.guild.voice_channel_of(hs.member("alice")) is None
    assert hs.guild.voice_channel_of(hs.member("carol")) == circle.voice  # facilitators may stay
    assert not can_join(hs, "alice", circle)
    assert any(t.endswith("the session has ended") for t in titles(circle.text))


async def test_the_session_lock_keeps_exactly_who_may_stay(hs: Holdspace) -> None:
    """Locking at the end asks the one "may stay" rule: a group that names its own facilitators keeps
    them, and a holder of the facilitator role it does not name leaves with everyone else."""
    circle = await make_group(hs, lock=True, consented=("alice",))
    bot = hs.bot
    assert bot is not None
    hs.guild.set_member_roles(hs.member("bob"), [hs.world.member_role.id, circle.facilitator_role.id])
    await hs.settle()
    await run(hs, "carol", "session start", circle.text, group=circle.group.id)
    for who in ("alice", "bob", "carol"):
        hs.guild.join_voice(hs.member(who), circle.voice)
    await hs.settle()
    assert all(hs.guild.voice_channel_of(hs.member(who)) == circle.voice for who in ("alice", "bob", "carol"))
    carol = hs.member("carol").id
    await group_store.add_facilitator(bot.db, bot.ring, circle.group.id, carol, hs.clock.now())
    bot.state.set_facilitator(circle.group.id, carol, True)
    text, _ = await run(hs, "carol", "session end", circle.text, group=circle.group.id)
    assert "2 people were disconnected" in text
    assert hs.guild.voice_channel_of(hs.member("alice")) is None
    assert hs.guild.voice_channel_of(hs.member("bob")) is None
    assert hs.guild.voice_channel_of(hs.member("carol")) == circle.voice


async def test_session_end_event_is_dispatched(hs: Holdspace) -> None:
    circle = await make_group(hs, lock=False)
    bot = hs.bot
    assert bot is not None
    seen: list[str] = []

    async def listener(group_id: str) -> None:
        seen.append(group_id)

    bot.add_listener(listener, "on_holdspace_session_end")
    await run(hs, "carol", "session start", circle.text, group=circle.group.id)
    await run(hs, "carol", "session end", circle.text, group=circle.group.id)
    await hs.sb.wait_until(lambda: seen == [circle.group.id])


# -- bad input ------------------------------------------------------------------------------------------


async def test_bad_schedules_are_refused_with_nothing_stored(hs: Holdspace) -> None:
    circle = await make_group(hs)
    bot = hs.bot
    assert bot is not None
    cases = [
        ({"time": "18:00", "duration": "1h", "timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"time": "25:00", "duration": "1h"}, "not a time of day"),
        ({"time": "six", "duration": "1h"}, "not a time"),
        ({"time": "18:00", "duration": "5m"}, "shortest allowed"),
        ({"time": "18:00", "duration": "soon"}, "duration"),
    ]
    for options, expected in cases:
        text, ephemeral = await run(
            hs, "carol", "session schedule add", circle.text, group=circle.group.id, weekday=0, **options
        )
        assert ephemeral and expected in text, (options, text)
    assert await session_store.list_schedules(bot.db) == []

    text, _ = await run(
        hs, "carol", "session schedule add", circle.text, group=circle.group.id, weekday=0, time="18:00", duration="2h"
    )
    assert "now meets" in text
    text, ephemeral = await run(
        hs, "carol", "session schedule add", circle.text, group=circle.group.id, weekday=0, time="19:00", duration="1h"
    )
    assert ephemeral and "overlap" in text
    assert len(await session_store.list_schedules(bot.db)) == 1
    # another group may meet at the same time
    other = await make_group(hs, name="Other")
    text, _ = await run(
        hs, "carol", "session schedule add", other.text, group=other.group.id, weekday=0, time="19:00", duration="1h"
    )
    assert "now meets" in text


async def test_gap_and_overlap_times_are_accepted_with_their_defined_answer(hs: Holdspace) -> None:
    circle = await make_group(hs)
    text, _ = await run(
        hs, "carol", "session schedule add", circle.text, group=circle.group.id, weekday=6, time="02:30", duration="30m"
    )
    assert "does not exist" in text and "happens twice" in text
    assert "29 March 2026" in text and "25 October 2026" in text


async def test_start_twice_and_end_when_idle(hs: Holdspace) -> None:
    circle = await make_group(hs, lock=False)
    text, ephemeral = await run(hs, "carol", "session end", circle.text, group=circle.group.id)
    assert ephemeral and "No session" in text
    await run(hs, "carol", "session start", circle.text, group=circle.group.id)
    reminders = started(circle.text)
    text, ephemeral = await run(hs, "carol", "session start", circle.text, group=circle.group.id)
    assert ephemeral and "already running" in text
    assert started(circle.text) == reminders
    bot = hs.bot
    assert bot is not None
    assert len([s for s in bot.state.running_sessions.values() if s.group_id == circle.group.id]) == 1


async def test_schedule_list_remove_and_status(hs: Holdspace) -> None:
    circle = await make_group(hs)
    bot = hs.bot
    assert bot is not None
    await run(
        hs, "carol", "session schedule add", circle.text, group=circle.group.id, weekday=3, time="18:00", duration="90m"
    )
    text, _ = await run(hs, "carol", "session schedule list", circle.text)
    assert "Circle" in text and "Thursdays at 18:00 (Europe/Berlin)" in text
    text, _ = await run(hs, "carol", "session status", circle.text)
    assert "no session running" in text and "Thursday 05 March at 18:00 (Europe/Berlin)" in text
    assert bot.sessions is not None
    assert "18:00" in (await bot.sessions.next_session_text(circle.group.id) or "")
    (schedule,) = await session_store.list_schedules(bot.db)
    text, ephemeral = await run(hs, "carol", "session schedule remove", circle.text, schedule=schedule.id)
    assert ephemeral and "no longer meets" in text
    assert await session_store.list_schedules(bot.db) == []
    assert await bot.scheduler.timers.due_time(TIMER_START, schedule.id) is None
    text, _ = await run(hs, "carol", "session schedule remove", circle.text, schedule=schedule.id)
    assert "does not exist" in text


async def test_late_start_after_an_outage_and_skip_when_too_late(hs: Holdspace) -> None:
    circle = await make_group(hs, lock=False)
    bot = hs.bot
    assert bot is not None
    await run(
        hs, "carol", "session schedule add", circle.text, group=circle.group.id, weekday=3, time="18:00", duration="90m"
    )
    first = datetime(2026, 3, 5, 17, tzinfo=UTC)
    await hs.stop()
    hs.clock.set(first + timedelta(minutes=30))  # offline through the start, less than its length
    await hs.start()
    await hs.sb.wait_until(lambda: running(hs, circle) and started(circle.text) == 1)
    bot = hs.bot
    assert bot is not None
    row = await session_store.running_session(bot.db, circle.group.id)
    assert row is not None and row.late == timedelta(minutes=30)
    assert row.planned_end == first + timedelta(minutes=90)  # still ends when planned
    assert await bot.scheduler.timers.due_time(TIMER_END, row.id) == first + timedelta(minutes=90)
    embed = next(e for m in circle.text.messages for e in m.embeds if e["title"].endswith("has started"))
    assert "late" in embed["description"]
    hs.clock.set(first + timedelta(minutes=90))
    await hs.sb.wait_until(lambda: not running(hs, circle))

    # offline through the whole of the next one: skipped, and the one after is scheduled
    second = first + timedelta(days=7)
    await hs.stop()
    hs.clock.set(second + timedelta(minutes=95))
    await hs.start()
    bot = hs.bot
    assert bot is not None
    (schedule,) = await session_store.list_schedules(bot.db)
    third = second + timedelta(days=7)
    await hs.settle()
    assert await bot.scheduler.timers.due_time(TIMER_START, schedule.id) == third
    assert not running(hs, circle)


@pytest.mark.parametrize("who", ["owner"])
async def test_server_owner_counts_as_facilitator(hs: Holdspace, who: str) -> None:
    circle = await make_group(hs, lock=False)
    text, _ = await run(hs, who, "session start", circle.text, group=circle.group.id)
    assert "has started" in text


def _unused(member: Member) -> None:  # keep the import used for type checkers
    return None


async def test_reminder_every_during_a_session(hs: Holdspace) -> None:
    circle = await make_group(hs, lock=False)

    def periodic(channel: Channel) -> int:
        return sum(1 for t in titles(channel) if t.endswith("a reminder of our ground rules"))

    await run(hs, "carol", "session start", circle.text, group=circle.group.id, duration="1h", remind_every="20m")
    start = hs.clock.now()
    for n, minutes in ((1, 20), (2, 40)):
        hs.clock.set(start + timedelta(minutes=minutes))
        await hs.sb.wait_until(both_rooms_have(circle, periodic, n))
    hs.clock.set(start + timedelta(hours=1))  # the session ends; no reminder at or after the end
    await hs.sb.wait_until(lambda: not running(hs, circle))
    hs.clock.set(start + timedelta(hours=2))
    await hs.settle()
    assert periodic(circle.text) <= 2


async def test_review_dm_before_a_scheduled_session(hs: Holdspace) -> None:
    circle = await make_group(hs, lock=False, consented=("alice", "bob"))
    bot = hs.bot
    assert bot is not None
    # bob agreed to an earlier version of the agreement: his consent is out of date
    old = bot.state.consent_of(circle.group.id, hs.member("bob").id)
    assert old is not None
    bot.state.set_consent(circle.group.id, dataclasses.replace(old, version=0))
    await run(
        hs,
        "carol",
        "session schedule add",
        circle.text,
        group=circle.group.id,
        weekday=3,
        time="18:00",
        duration="1h",
        dm_before="2h",
    )
    first = datetime(2026, 3, 5, 17, tzinfo=UTC)
    hs.clock.set(first - timedelta(hours=2, minutes=1))
    await hs.settle()
    assert hs.world.bob.dms == []
    hs.clock.set(first - timedelta(hours=2))
    await hs.sb.wait_until(lambda: len(hs.world.bob.dms) == 1)
    assert "Circle" in hs.world.bob.dms[0].content and "/consent" in hs.world.bob.dms[0].content
    assert hs.world.alice.dms == []  # her consent is current


async def test_a_start_that_discord_refuses_half_way_is_undone(hs: Holdspace) -> None:
    circle = await make_group(hs, lock=True, consented=("alice",))
    bot = hs.bot
    assert bot is not None
    # the rooms open and the text room's reminder is posted, then the voice chat refuses the post
    hs.sb.faults.fail("POST", rf".*/channels/{circle.voice.id}/messages", status=403)
    text, ephemeral = await run(hs, "carol", "session start", circle.text, group=circle.group.id)
    assert ephemeral and "Nothing was changed" in text
    assert not running(hs, circle)
    assert await session_store.last_session(bot.db, circle.group.id) is None
    assert started(circle.text) == 0 and started(circle.voice) == 0
    assert not can_join(hs, "alice", circle)  # locked again
    assert await bot.db.fetchval("SELECT COUNT(*) FROM timers WHERE kind LIKE 'session.%'") == 0


async def test_missing_bot_permission_is_named_before_anything_changes(hs: Holdspace) -> None:
    circle = await make_group(hs, lock=False)
    me = hs.guild.bot_member(hs.world.app)
    assert me is not None
    hs.guild.set_overwrite(circle.voice, me, allow=ow.BOT_ALLOW & ~P.SEND_MESSAGES, deny=P.SEND_MESSAGES)
    await hs.sb.wait_until(
        lambda: not circle_voice(hs, circle).permissions_for(circle_voice(hs, circle).guild.me).send_messages
    )
    text, ephemeral = await run(hs, "carol", "session start", circle.text, group=circle.group.id)
    assert ephemeral and "Send Messages" in text
    assert not running(hs, circle) and started(circle.text) == 0


def circle_voice(hs: Holdspace, circle: Circle) -> Any:
    assert hs.bot is not None
    return hs.bot.get_channel(circle.voice.id)


async def test_start_reminder_outlives_a_short_ttl_until_the_session_ends(hs: Holdspace) -> None:
    circle = await make_group(hs, lock=False)
    assert hs.bot is not None
    short = dataclasses.replace(circle.group, ttl=timedelta(minutes=30))
    await group_store.update_group(hs.bot.db, short)  # stored first, as every settings change is
    hs.bot.state.update_group(circle.group.id, ttl=short.ttl)
    await run(hs, "carol", "session start", circle.text, group=circle.group.id)
    await hs.sb.wait_until(lambda: started(circle.text) == 1 and started(circle.voice) == 1)
    said = hs.sb.post(circle.text, hs.member("alice"), "hello")
    hs.clock.advance(timedelta(minutes=40))
    await hs.sb.wait_until(lambda: circle.text.get_message(said.id) is None)
    assert started(circle.text) == 1 and started(circle.voice) == 1, "the ground rules stay while the session runs"
    await run(hs, "carol", "session end", circle.text, group=circle.group.id)
    await hs.sb.wait_until(lambda: started(circle.text) == 0 and started(circle.voice) == 0)
