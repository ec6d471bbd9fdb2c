"""Expiry at its edges, end to end: threads holdspace never saw being made, settings changed while
a long history is read. The real holdspace bot against the sandbox; time moves with the fake clock."""

from __future__ import annotations

from datetime import timedelta

from bot.services.expiry import DEFAULT_WINDOW
from bot.storage import expiry as expiry_store
from tests.e2e.conftest import Holdspace
from tests.e2e.test_expiry import (
    BULK,
    HOUR,
    PAST_WINDOW,
    SINGLE,
    all_gone,
    answer,
    bot_of,
    make_group,
    pending,
    post,
    recorded,
)

HISTORY = "/channels/{channel_id}/messages"


async def test_threads_started_or_archived_while_holdspace_was_offline_expire(holdspace: Holdspace) -> None:
    await holdspace.start()
    guild = holdspace.guild
    room = await make_group(holdspace)
    known = guild.create_thread(room.text, "seen being made")
    seen = post(holdspace, known, 2)
    await recorded(holdspace, room.group, 2)
    await holdspace.stop()

    # While holdspace is away: a new public thread, a new private one, a thread made and archived,
    # and the thread it knew gets more messages and is archived.
    new_public = guild.create_thread(room.text, "started while away")
    new_private = guild.create_thread(room.text, "private, started while away", private=True)
    short_lived = guild.create_thread(room.text, "started and archived while away")
    away = (
        post(holdspace, new_public, 40)
        + post(holdspace, new_private, 3)
        + post(holdspace, short_lived, 4)
        + post(holdspace, known, 3)
    )
    for thread in (new_private, short_lived, known):
        guild.archive_thread(thread)

    await holdspace.start()
    await recorded(holdspace, room.group, 2 + len(away))
    holdspace.clock.advance(HOUR + PAST_WINDOW)
    await all_gone(holdspace, *seen, *away)
    assert await pending(holdspace, room.group) == 0
    assert holdspace.sb.requests_matching("GET", "/channels/{channel_id}/threads/archived/private")


async def test_a_thread_older_than_the_group_room_keeps_its_earlier_messages(hs: Holdspace) -> None:
    text = hs.guild.create_text_channel("adopted")
    thread = hs.guild.create_thread(text, "older than the group")
    before = post(hs, thread, 3)
    hs.guild.archive_thread(thread)
    hs.clock.advance(timedelta(minutes=1))
    room = await make_group(hs, text=text)
    cog = bot_of(hs).get_cog("Expiry")
    assert cog is not None
    cog.service.request_catch_up()  # type: ignore[attr-defined]
    await cog.service.wait_caught_up()  # type: ignore[attr-defined]
    hs.clock.advance(2 * HOUR)
    await hs.settle()
    assert all(thread.get_message(m.id) is not None for m in before)
    assert await pending(hs, room.group) == 0


async def test_a_ttl_shortened_during_a_slow_catch_up_applies_to_every_pending_row(holdspace: Holdspace) -> None:
    await holdspace.start()
    room = await make_group(holdspace, ttl=10 * HOUR)
    await holdspace.stop()
    away = post(holdspace, room.text, 500)
    holdspace.sb.faults.add_latency(0.3, "GET", HISTORY)  # five pages of history: about 1.5 s
    await holdspace.start(settle=False)  # act while the catch-up still reads
    await recorded(holdspace, room.group, 100)  # the first page is in, the rest is still being read
    text, ephemeral = await answer(
        holdspace.sb.run_command(holdspace.world.owner, room.text, "expiry settings", group="Circle", ttl="1h")
    )
    assert ephemeral and "ttl**: 1h" in text
    assert await pending(holdspace, room.group) < 500, "the change came after the catch-up; nothing was tested"
    await recorded(holdspace, room.group, 500)
    holdspace.sb.faults.clear()
    status = await expiry_store.status(bot_of(holdspace).db, room.group.id)
    assert status.next_due is not None and status.next_due <= holdspace.clock.now() + HOUR
    holdspace.clock.advance(HOUR + PAST_WINDOW)
    await all_gone(holdspace, *away)


async def test_a_ttl_changed_with_group_settings_during_a_catch_up_applies_too(holdspace: Holdspace) -> None:
    await holdspace.start()
    room = await make_group(holdspace, ttl=10 * HOUR)
    await holdspace.stop()
    away = post(holdspace, room.text, 300)
    holdspace.sb.faults.add_latency(0.3, "GET", HISTORY)
    await holdspace.start(settle=False)  # act while the catch-up still reads
    await recorded(holdspace, room.group, 100)
    text, ephemeral = await answer(
        holdspace.sb.run_command(holdspace.world.owner, room.text, "group settings", group="Circle", ttl="30m")
    )
    assert ephemeral, text
    await recorded(holdspace, room.group, 300)
    holdspace.sb.faults.clear()
    holdspace.clock.advance(timedelta(minutes=30) + PAST_WINDOW)
    await all_gone(holdspace, *away)


async def test_live_chat_is_deleted_in_few_requests_and_never_later_than_the_window(hs: Holdspace) -> None:
    room = await make_group(hs, ttl=HOUR)
    messages = []
    for _ in range(20):  # one message a second, as in a lively chat
        messages += post(hs, room.text, 1)
        hs.clock.advance(timedelta(seconds=1))
    await recorded(hs, room.group, 20)
    hs.clock.advance(HOUR - timedelta(seconds=21))
    bound = DEFAULT_WINDOW + timedelta(seconds=1)
    for _ in range(30):  # time passes second by second; every due message goes within the window
        hs.clock.advance(timedelta(seconds=1))
        await hs.settle()
        now = hs.clock.now()
        left = [m for m in messages if room.text.get_message(m.id) is not None]
        overdue = [m for m in left if m.created_at + HOUR + bound <= now]
        assert not overdue, f"{len(overdue)} messages stayed longer than the window past their time to live"
    assert not room.text.messages
    calls = hs.sb.requests_matching("POST", BULK) + hs.sb.requests_matching("DELETE", SINGLE)
    assert len(calls) <= 5, f"{len(calls)} delete requests for 20 messages"
