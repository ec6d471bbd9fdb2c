"""Messages that expire, end to end: the real holdspace bot against the sandbox; time is moved with
the fake clock, never slept. Groups are written through holdspace's own storage and state (the way
the groups feature stores them), so these tests depend only on the expiry feature."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from bot.app import HoldspaceBot
from bot.core import overwrites as ow
from bot.core.records import GroupInfo
from bot.sandbox import InteractionHandle
from bot.sandbox.settle import WAIT_TIMEOUT
from bot.sandbox.world import Channel, Message
from bot.services.expiry import DEFAULT_WINDOW, DeleteFailed
from bot.storage import expiry as expiry_store
from bot.storage import groups as group_store
from bot.storage import holds
from cogs.expiry import Expiry
from tests.e2e.conftest import Holdspace
from tests.e2e.panels import button_id

AGREEMENT = "We keep what is said here private. We do not record. We are kind."
BULK = "/channels/{channel_id}/messages/bulk-delete"
SINGLE = "/channels/{channel_id}/messages/{message_id}"
HOUR = timedelta(hours=1)
# Deletions in a room are gathered for up to the batching window after their due time.
PAST_WINDOW = DEFAULT_WINDOW + timedelta(seconds=1)


@dataclass
class Room:
    group: GroupInfo
    text: Channel
    voice: Channel


def bot_of(hs: Holdspace) -> HoldspaceBot:
    assert hs.bot is not None
    return hs.bot


def cog_of(hs: Holdspace) -> Expiry:
    cog = bot_of(hs).get_cog("Expiry")
    # discord.py loads the extension as its own module object, so compare by name, not by class.
    assert cog is not None and type(cog).__name__ == "Expiry"
    return cast(Expiry, cog)


async def make_group(
    hs: Holdspace,
    *,
    ttl: timedelta | None = HOUR,
    keep_pinned: bool = True,
    text: Channel | None = None,
    name: str = "Circle",
    track: bool = True,
) -> Room:
    """A group on new (or given) rooms; ``track`` tells expiry at once, as the groups feature does."""
    bot = bot_of(hs)
    guild = hs.guild
    text = text or guild.create_text_channel(name.lower())
    voice = guild.create_voice_channel(f"{name.lower()}-voice")
    me = guild.bot_member(hs.world.app)
    assert me is not None
    for channel in (text, voice):  # closed the way the groups feature closes a group's rooms
        guild.set_overwrite(channel, guild.everyone, deny=ow.EVERYONE_DENY)
        guild.set_overwrite(channel, me, allow=ow.BOT_ALLOW)

    def synced() -> bool:
        channels = [bot.get_channel(text.id), bot.get_channel(voice.id)]
        return all(c is not None and len(getattr(c, "overwrites", {})) == 2 for c in channels)

    await hs.sb.wait_until(synced)
    group = GroupInfo.with_defaults(
        bot.settings.defaults,
        id=uuid.uuid4().hex,
        guild_id=guild.id,
        name=name,
        text_channel_id=text.id,
        voice_channel_id=voice.id,
        ttl=ttl,
        keep_pinned=keep_pinned,
    )
    group = await group_store.insert_group(bot.db, bot.ring, group, AGREEMENT, hs.clock.now())
    bot.state.put_group(group)
    if track:
        await cog_of(hs).track_group(group)
    return Room(group, text, voice)


def post(hs: Holdspace, channel: Channel, count: int, **kw: Any) -> list[Message]:
    return hs.sb.post_many(channel, hs.world.owner, count, **kw)


async def eventually(predicate: Any, timeout: float = WAIT_TIMEOUT, what: str = "condition") -> None:
    """Wait until ``predicate()`` (sync or async) is true (``timeout`` only bounds a failure)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def pending(hs: Holdspace, group: GroupInfo) -> int:
    status = await expiry_store.status(bot_of(hs).db, group.id)
    return status.pending + status.waiting


async def recorded(hs: Holdspace, group: GroupInfo, count: int) -> None:
    async def check() -> bool:
        return await pending(hs, group) >= count

    await eventually(check, what=f"{count} recorded messages")


async def all_gone(hs: Holdspace, *messages: Message) -> None:
    def gone() -> bool:
        return all(m.channel.get_message(m.id) is None for m in messages)

    await eventually(gone, what="the messages to be deleted")
    await hs.settle()  # holdspace removes its rows only after Discord confirmed the deletes


async def answer(handle: InteractionHandle) -> tuple[str, bool]:
    await handle.response()
    if handle.deferred:
        # The first follow-up after a deferral fills the "thinking" message.
        await hs_wait(handle, lambda: handle.followups or (handle.message and (handle.content or handle.embeds)))
    message = handle.followups[0] if handle.followups else handle.message
    assert message is not None
    text = message.content or "\n".join(str(e) for e in message.embeds)
    return text, bool(message.flags & 64)


async def hs_wait(handle: InteractionHandle, predicate: Any) -> None:
    await handle.sb.wait_until(predicate)


# -- acceptance --------------------------------------------------------------------------------


async def test_250_messages_go_in_three_bulk_deletes_once_the_ttl_passed(hs: Holdspace) -> None:
    room = await make_group(hs)
    messages = post(hs, room.text, 250)
    await recorded(hs, room.group, 250)
    hs.clock.advance(HOUR - timedelta(seconds=1))
    await hs.settle()
    assert len(room.text.messages) == 250, "nothing goes before it is due"
    hs.clock.advance(timedelta(seconds=2))
    await all_gone(hs, *messages)
    assert len(hs.sb.requests_matching("POST", BULK)) <= 3
    assert not hs.sb.requests_matching("DELETE", SINGLE)
    assert await pending(hs, room.group) == 0


async def test_old_messages_go_one_by_one_the_rest_in_bulk(hs: Holdspace) -> None:
    room = await make_group(hs, ttl=HOUR)
    old_time = hs.clock.now() - timedelta(days=20)
    young = post(hs, room.text, 130)
    await recorded(hs, room.group, 130)
    # Backdated messages arrive overdue: they go at once, one by one.
    old = post(hs, room.text, 20, at=old_time)
    await all_gone(hs, *old)
    assert len(room.text.messages) == 130
    hs.clock.advance(HOUR + PAST_WINDOW)
    await all_gone(hs, *young)
    singles = hs.sb.requests_matching("DELETE", SINGLE)
    bulks = hs.sb.requests_matching("POST", BULK)
    assert len(singles) == 20
    assert len(bulks) == 2
    assert not hs.sb.requests_matching(status=400)


async def test_a_bulk_delete_refused_as_too_old_is_split_into_single_deletes(hs: Holdspace) -> None:
    room = await make_group(hs)
    messages = post(hs, room.text, 5)
    await recorded(hs, room.group, 5)
    service = cog_of(hs).service
    real = service.api

    class TooOldOnce:
        refused = 0

        async def bulk_delete(self, channel_id: int, message_ids: Any) -> None:
            if not self.refused:
                self.refused += 1
                raise DeleteFailed(400, 50034, "too old")
            await real.bulk_delete(channel_id, message_ids)

        async def delete(self, channel_id: int, message_id: int) -> None:
            await real.delete(channel_id, message_id)

    service.api = TooOldOnce()
    hs.clock.advance(HOUR + PAST_WINDOW)
    await all_gone(hs, *messages)
    assert len(hs.sb.requests_matching("DELETE", SINGLE)) == 5
    assert await pending(hs, room.group) == 0


async def test_keep_pinned_keeps_the_pinned_ones(hs: Holdspace) -> None:
    room = await make_group(hs, keep_pinned=True)
    messages = post(hs, room.text, 10)
    hs.sb.pin(messages[3])
    hs.sb.pin(messages[7])
    await recorded(hs, room.group, 10)
    await hs.sb.wait_for_event("MESSAGE_UPDATE")
    await hs.settle()
    hs.clock.advance(HOUR + PAST_WINDOW)
    others = [m for i, m in enumerate(messages) if i not in (3, 7)]
    await all_gone(hs, *others)
    assert [m.id for m in room.text.messages] == [messages[3].id, messages[7].id]
    # Unpinned later: it goes at once (its ttl has passed).
    hs.sb.pin(messages[3], False)
    await all_gone(hs, messages[3])
    assert [m.id for m in room.text.messages] == [messages[7].id]


async def test_without_keep_pinned_pinned_ones_go_too(hs: Holdspace) -> None:
    room = await make_group(hs, keep_pinned=False)
    messages = post(hs, room.text, 4)
    hs.sb.pin(messages[0])
    await recorded(hs, room.group, 4)
    hs.clock.advance(HOUR + PAST_WINDOW)
    await all_gone(hs, *messages)


async def test_a_429_storm_and_5xx_on_bulk_delete_lose_nothing(hs: Holdspace) -> None:
    room = await make_group(hs)
    messages = post(hs, room.text, 250)
    await recorded(hs, room.group, 250)
    hs.sb.faults.rate_limit("POST", BULK, times=12, retry_after=0.01)
    hs.sb.faults.fail("POST", BULK, 503, times=3)
    hs.clock.advance(HOUR + PAST_WINDOW)
    for _ in range(20):
        await hs.settle()  # every attempt made until the next backoff
        if all(m.channel.get_message(m.id) is None for m in messages):
            break
        hs.clock.advance(timedelta(minutes=1))  # past every backoff
    await all_gone(hs, *messages)
    assert hs.sb.requests_matching("POST", BULK, status=429)
    assert hs.sb.requests_matching("POST", BULK, status=503)
    assert await pending(hs, room.group) == 0


async def test_messages_posted_while_holdspace_was_stopped_expire(holdspace: Holdspace) -> None:
    await holdspace.start()
    room = await make_group(holdspace)
    first = post(holdspace, room.text, 2)
    await recorded(holdspace, room.group, 2)
    await holdspace.stop()
    while_away = post(holdspace, room.text, 300) + post(holdspace, room.voice, 5)
    await holdspace.start()
    await recorded(holdspace, room.group, 307)
    holdspace.clock.advance(HOUR + PAST_WINDOW)
    await all_gone(holdspace, *first, *while_away)
    assert not holdspace.sb.requests_matching("DELETE", SINGLE)


async def test_overdue_messages_from_while_away_go_at_once(holdspace: Holdspace) -> None:
    await holdspace.start()
    room = await make_group(holdspace)
    await holdspace.stop()
    messages = post(holdspace, room.text, 30)
    holdspace.clock.advance(2 * HOUR)
    await holdspace.start()
    await all_gone(holdspace, *messages)


async def test_killed_in_the_middle_of_deleting_leaves_nothing_after_restart(holdspace: Holdspace) -> None:
    await holdspace.start()
    room = await make_group(holdspace)
    messages = post(holdspace, room.text, 250)
    await recorded(holdspace, room.group, 250)
    holdspace.sb.faults.add_latency(0.3, "POST", BULK)
    holdspace.clock.advance(HOUR + PAST_WINDOW)
    await holdspace.sb.wait_for_request("POST", BULK)
    await holdspace.kill()
    holdspace.sb.faults.clear()
    assert any(m.channel.get_message(m.id) is not None for m in messages), "the kill came too late to test"
    await holdspace.start()
    await all_gone(holdspace, *messages)
    assert await pending(holdspace, room.group) == 0


async def test_messages_from_before_the_room_became_a_group_room_stay_unless_purged(hs: Holdspace) -> None:
    text = hs.guild.create_text_channel("adopted")
    before = post(hs, text, 5)
    hs.sb.pin(before[0])
    room = await make_group(hs, text=text, track=False, keep_pinned=True)  # first seen with a message
    after = post(hs, text, 3)
    await recorded(hs, room.group, 3)
    hs.clock.advance(2 * HOUR)
    await all_gone(hs, *after)
    assert [m.id for m in text.messages] == [m.id for m in before]
    handle = await hs.command(hs.world.owner, text, "expiry purge-now", group="Circle")
    assert handle.ephemeral and "every" in (handle.content or "")
    assert handle.message is not None
    click = hs.sb.click(hs.world.owner, handle.message, button_id(handle.message, "Delete all messages"))
    await click.response()
    (report,) = await click.wait_followups(1)
    await all_gone(hs, *before[1:])
    assert [m.id for m in text.messages] == [before[0].id]  # pinned, kept
    assert "4 messages removed" in report.content and "pinned" in report.content


async def test_purge_says_which_rooms_it_could_not_read(hs: Holdspace) -> None:
    room = await make_group(hs)
    in_text = post(hs, room.text, 3)
    post(hs, room.voice, 2)
    await recorded(hs, room.group, 5)
    hs.sb.faults.fail("GET", rf"/channels/{room.voice.id}/messages", 403, times=1)
    report = await cog_of(hs).service.purge(room.group.id)
    await all_gone(hs, *in_text)
    assert report.removed == 5  # the voice chat's recorded messages went; its older history was not read
    assert "1 room could not be read" in report.text


async def test_purge_can_be_cancelled(hs: Holdspace) -> None:
    room = await make_group(hs)
    hs.sb.post(room.text, hs.world.owner, "x")
    handle = await hs.command(hs.world.owner, room.text, "expiry purge-now", group="Circle")
    assert handle.message is not None
    click = hs.sb.click(hs.world.owner, handle.message, button_id(handle.message, "Cancel"))
    await click.response()
    assert not hs.sb.requests_matching("POST", BULK) and len(room.text.messages) >= 1


async def test_messages_missed_by_the_gateway_are_caught_up_on_reconnect(hs: Holdspace) -> None:
    room = await make_group(hs)
    seen = post(hs, room.text, 2)
    await recorded(hs, room.group, 2)
    missed = post(hs, room.text, 5, emit=False) + post(hs, room.voice, 3, emit=False)  # never dispatched
    await hs.sb.drop_gateway(resumable=False)  # re-identify: on_ready again
    await recorded(hs, room.group, 10)
    missed_on_resume = post(hs, room.text, 4, emit=False)
    await hs.sb.drop_gateway(resumable=True)  # resume: on_resumed
    await recorded(hs, room.group, 14)
    hs.clock.advance(HOUR + PAST_WINDOW)
    await all_gone(hs, *seen, *missed, *missed_on_resume)


async def test_held_messages_wait_until_the_hold_is_released(hs: Holdspace) -> None:
    room = await make_group(hs)
    bot = bot_of(hs)
    messages = post(hs, room.text, 4)
    await recorded(hs, room.group, 4)
    number = await bot.cases.open(hs.guild.id, "message_report", group_id=room.group.id, details={})
    case_id = await bot.db.fetchval("SELECT id FROM cases WHERE guild_id = ? AND number = ?", (hs.guild.id, number))
    held = messages[1]
    await holds.add_hold(bot.db, room.text.id, held.id, case_id, hs.clock.now() + timedelta(days=3))
    hs.clock.advance(HOUR + PAST_WINDOW)
    await all_gone(hs, messages[0], messages[2], messages[3])
    assert [m.id for m in room.text.messages] == [held.id]
    status = await expiry_store.status(bot.db, room.group.id)
    assert status.held == 1 and not status.failures
    await holds.release_case(bot.db, case_id, hs.clock.now())
    bot.dispatch("holdspace_hold_released", room.text.id, held.id)
    await all_gone(hs, held)


async def test_a_room_adopted_again_after_its_group_was_deleted(hs: Holdspace) -> None:
    bot = bot_of(hs)
    first = await make_group(hs, name="First")
    old_rows = post(hs, first.text, 2)
    await recorded(hs, first.group, 2)
    await group_store.delete_group(bot.db, first.group.id)
    bot.state.groups.pop(first.group.id)
    post(hs, first.text, 1)  # between groups: not recorded
    second = await make_group(hs, text=first.text, name="Second")
    new_rows = post(hs, first.text, 3)
    await recorded(hs, second.group, 3)
    hs.clock.advance(HOUR + PAST_WINDOW)
    await all_gone(hs, *old_rows, *new_rows)
    assert len(first.text.messages) == 1


async def test_pending_rows_of_a_deleted_group_still_go_after_a_restart(holdspace: Holdspace) -> None:
    bot = await holdspace.start()
    room = await make_group(holdspace)
    messages = post(holdspace, room.text, 3)
    await recorded(holdspace, room.group, 3)
    await group_store.delete_group(bot.db, room.group.id)
    await holdspace.restart()
    holdspace.clock.advance(HOUR + PAST_WINDOW)
    await all_gone(holdspace, *messages)


# -- the voice room's chat and threads ---------------------------------------------------------


async def test_voice_chat_and_threads_expire_too(hs: Holdspace) -> None:
    room = await make_group(hs)
    thread = hs.guild.create_thread(room.text, "side talk")
    in_voice = post(hs, room.voice, 3)
    in_thread = post(hs, thread, 2)
    await recorded(hs, room.group, 5)
    hs.clock.advance(HOUR + PAST_WINDOW)
    await all_gone(hs, *in_voice, *in_thread)


async def test_messages_elsewhere_are_not_recorded(hs: Holdspace) -> None:
    room = await make_group(hs)
    general = hs.guild.channel("general")
    elsewhere = post(hs, general, 3)
    post(hs, room.text, 1)
    await recorded(hs, room.group, 1)
    hs.clock.advance(2 * HOUR)
    await eventually(lambda: not room.text.messages, what="the group message to go")
    assert all(general.get_message(m.id) is not None for m in elsewhere)
    rows = await bot_of(hs).db.fetchall("SELECT channel_id FROM expiry_messages")
    assert all(r["channel_id"] != general.id for r in rows)


async def test_a_message_deleted_by_someone_else_drops_its_row(hs: Holdspace) -> None:
    room = await make_group(hs)
    messages = post(hs, room.text, 3)
    await recorded(hs, room.group, 3)
    hs.sb.delete(messages[0])

    async def two_left() -> bool:
        return await pending(hs, room.group) == 2

    await eventually(two_left, what="the row of the deleted message to go")


# -- end of session -------------------------------------------------------------------------------


async def test_session_end_removes_what_was_posted_in_the_session(hs: Holdspace) -> None:
    room = await make_group(hs, ttl=None)
    before = post(hs, room.text, 2)
    await recorded(hs, room.group, 2)
    hs.clock.advance(timedelta(minutes=5))
    started = hs.clock.now()
    during = post(hs, room.text, 4) + post(hs, room.voice, 2)
    hs.sb.pin(during[0])
    await recorded(hs, room.group, 8)
    hs.clock.advance(timedelta(minutes=50))
    report = await cog_of(hs).expire_session(room.group.id, started)
    assert report.removed == 5
    assert report.text == "5 messages removed, 1 could not be (1 kept because they are pinned)."
    assert {m.id for m in room.text.messages} == {before[0].id, before[1].id, during[0].id}
    assert not room.voice.messages


async def test_session_end_does_nothing_when_the_setting_is_off(hs: Holdspace) -> None:
    room = await make_group(hs, ttl=None)
    bot = bot_of(hs)
    await cog_of(hs).service.change_settings(room.group, expire_at_session_end=False)
    started = hs.clock.now()
    post(hs, room.text, 2)
    await recorded(hs, room.group, 2)
    report = await cog_of(hs).expire_session(room.group.id, started)
    assert not report.applies and report.removed == 0
    assert len(room.text.messages) == 2
    assert bot.state.groups[room.group.id].expire_at_session_end is False


# -- commands and bad input ------------------------------------------------------------------------


async def test_settings_refuse_bad_durations_and_change_nothing(hs: Holdspace) -> None:
    room = await make_group(hs)
    for bad in ("0m", "-5m", "999999999d", "400d", "soon", "30", "1h-"):
        text, ephemeral = await answer(
            hs.sb.run_command(hs.world.owner, room.text, "expiry settings", group="Circle", ttl=bad)
        )
        assert ephemeral and "ttl cannot be used" in text and "Traceback" not in text, (bad, text)
    assert bot_of(hs).state.groups[room.group.id].ttl == HOUR
    stored = {g.id: g for g in await group_store.load_all(bot_of(hs).db, bot_of(hs).ring)}
    assert stored[room.group.id].ttl == HOUR


async def test_settings_change_re_times_pending_deletions(hs: Holdspace) -> None:
    room = await make_group(hs, ttl=HOUR)
    messages = post(hs, room.text, 5)
    await recorded(hs, room.group, 5)
    text, ephemeral = await answer(
        hs.sb.run_command(hs.world.owner, room.text, "expiry settings", group="Circle", ttl="3h")
    )
    assert ephemeral and "ttl**: 3h" in text
    hs.clock.advance(2 * HOUR)
    await hs.settle()
    assert len(room.text.messages) == 5, "re-timed to 3h: none lost, none early"
    assert await pending(hs, room.group) == 5
    hs.clock.advance(HOUR + PAST_WINDOW)
    await all_gone(hs, *messages)
    stored = {g.id: g for g in await group_store.load_all(bot_of(hs).db, bot_of(hs).ring)}
    assert stored[room.group.id].ttl == 3 * HOUR


async def test_a_ttl_changed_with_group_settings_re_times_too(hs: Holdspace) -> None:
    room = await make_group(hs, ttl=HOUR)
    messages = post(hs, room.text, 3)
    await recorded(hs, room.group, 3)
    text, ephemeral = await answer(
        hs.sb.run_command(hs.world.owner, room.text, "group settings", group="Circle", ttl="10m")
    )
    assert ephemeral, text
    assert bot_of(hs).state.groups[room.group.id].ttl == timedelta(minutes=10)
    hs.clock.advance(timedelta(minutes=10) + PAST_WINDOW)
    await all_gone(hs, *messages)


async def test_ttl_off_keeps_messages_and_status_says_so(hs: Holdspace) -> None:
    room = await make_group(hs, ttl=HOUR)
    post(hs, room.text, 3)
    await recorded(hs, room.group, 3)
    await answer(hs.sb.run_command(hs.world.owner, room.text, "expiry settings", group="Circle", ttl="off"))
    hs.clock.advance(5 * HOUR)
    await hs.settle()
    assert len(room.text.messages) == 3
    text, ephemeral = await answer(hs.sb.run_command(hs.world.owner, room.text, "expiry status", group="Circle"))
    assert ephemeral and "Pending deletions**: 0" in text and "Kept without a due time" in text


async def test_status_shows_pending_and_next_due(hs: Holdspace) -> None:
    room = await make_group(hs)
    post(hs, room.text, 4)
    await recorded(hs, room.group, 4)
    text, ephemeral = await answer(hs.sb.run_command(hs.world.owner, room.text, "expiry status", group="Circle"))
    assert ephemeral and "Pending deletions**: 4" in text and "Failures**: none" in text
    due = int((hs.clock.now() + HOUR).timestamp())
    assert f"<t:{due}" in text or f"<t:{due - 1}" in text


async def test_members_cannot_change_expiry(hs: Holdspace) -> None:
    room = await make_group(hs)
    text, ephemeral = await answer(
        hs.sb.run_command(hs.member("alice"), hs.guild.channel("general"), "expiry settings", group="Circle", ttl="1m")
    )
    assert ephemeral and ("not set up" in text or "Only facilitators" in text or "not allowed" in text)
    assert bot_of(hs).state.groups[room.group.id].ttl == HOUR


async def test_unknown_group_is_a_clear_answer(hs: Holdspace) -> None:
    await make_group(hs)
    text, ephemeral = await answer(
        hs.sb.run_command(hs.world.owner, hs.guild.channel("general"), "expiry status", group="Nope")
    )
    assert ephemeral and "no group called" in text


async def test_a_403_opens_one_case_per_channel_and_retries(hs: Holdspace) -> None:
    room = await make_group(hs)
    messages = post(hs, room.text, 3)
    await recorded(hs, room.group, 3)
    hs.sb.faults.fail("POST", BULK, 403, times=2)
    opened: list[tuple[Any, ...]] = []
    cases = bot_of(hs).cases
    original = cases.open

    async def spy(guild_id: int, kind: str, **kw: Any) -> Any:
        opened.append((kind, kw.get("dedupe_key")))
        return await original(guild_id, kind, **kw)

    cases.open = spy  # type: ignore[method-assign]
    hs.clock.advance(HOUR + PAST_WINDOW)
    await hs.sb.wait_for_request("POST", BULK, status=403)

    async def blocked() -> bool:
        status = await expiry_store.status(bot_of(hs).db, room.group.id)
        return status.failures.get("blocked") == 3

    await eventually(blocked, what="the rows to be marked blocked")
    assert opened == [("expiry_blocked", str(room.text.id))]
    assert len(room.text.messages) == 3
    hs.clock.advance(timedelta(minutes=1) + PAST_WINDOW)  # the first backoff: still forbidden
    await hs.sb.wait_for_request("POST", BULK, status=403, after=1)
    await hs.settle()
    assert [kind for kind, _ in opened] == ["expiry_blocked"] * 2  # deduplicated by the case service
    hs.clock.advance(timedelta(minutes=3))
    await all_gone(hs, *messages)
    assert await pending(hs, room.group) == 0


async def test_a_deleted_room_drops_its_rows(hs: Holdspace) -> None:
    room = await make_group(hs)
    post(hs, room.voice, 3)
    await recorded(hs, room.group, 3)
    hs.guild.delete_channel(room.voice)

    async def dropped() -> bool:
        return await pending(hs, room.group) == 0

    await eventually(dropped, what="the rows of the deleted room to go")
    hs.clock.advance(2 * HOUR)
    await hs.settle()
    assert not hs.sb.requests_matching("POST", BULK)


async def test_a_room_holdspace_cannot_read_opens_a_case_and_does_not_crash(holdspace: Holdspace) -> None:
    await holdspace.start()
    room = await make_group(holdspace)
    post(holdspace, room.text, 1)
    await recorded(holdspace, room.group, 1)
    await holdspace.stop()
    later = post(holdspace, room.voice, 2) + post(holdspace, room.text, 2)
    holdspace.sb.faults.fail("GET", rf"/channels/{room.voice.id}/messages", 403, times=1)
    bot = await holdspace.start()
    cog = cog_of(holdspace)
    await eventually(lambda: room.text.id in cog.service.synced, what="the readable room to be caught up")
    await cog.service.wait_caught_up()
    assert room.voice.id not in cog.service.synced
    kinds = [r["kind"] for r in await bot.db.fetchall("SELECT kind FROM cases")]
    assert kinds.count("expiry_blocked") == 1
    # Once the room is readable again, the next catch-up (here: a resume) records what was missed.
    cog.service.request_catch_up()
    await cog.service.wait_caught_up()
    holdspace.clock.advance(HOUR + PAST_WINDOW)
    await all_gone(holdspace, *later)
