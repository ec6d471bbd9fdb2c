"""A session's integrity report, end to end: the real holdspace bot against the sandbox. A session with
an unconsented join, a blocked bot and a rate-limited room reports each with its case number and the
pending deletions, to the facilitator by DM and in summary to the mod-log; an edited stored report
fails ``holdspace audit-verify``; a restart between the end and the report writes exactly one."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

from bot.core.session_report import report_id
from bot.exports.cases_audit import verify_audit
from bot.sandbox.world import Member
from bot.storage import cases as case_store
from bot.storage import guilds as guild_store
from bot.storage import session_reports
from bot.storage import session_steps as steps
from tests.e2e.conftest import Holdspace
from tests.e2e.test_enforcement import new_bot
from tests.e2e.test_session_edges import sessions_of, set_expiry
from tests.e2e.test_sessions import Circle, make_group, run, started

BULK_DELETE = r"/channels/{}/messages/bulk-delete"


def reports_in(who: Member) -> list[str]:
    return [m.content for m in who.user.dms if "Session integrity report" in (m.content or "")]


async def with_mod_log(hs: Holdspace, moderator: str | None = None) -> int:
    """A mod-log channel (and a moderator role given to ``moderator``), set up as /setup configure
    stores them."""
    assert hs.bot is not None
    log_channel = hs.guild.create_text_channel("mod-log")
    cfg = hs.bot.state.guild(hs.guild.id)
    role_id = None
    if moderator is not None:
        role = hs.guild.create_role("Moderator", 0)
        hs.guild.set_member_roles(hs.member(moderator), [hs.world.member_role.id, role.id])
        role_id = role.id
    await guild_store.save(
        hs.bot.db,
        guild_store.GuildRow(hs.guild.id, cfg.facilitator_role_id, role_id, log_channel.id, None, None, cfg.timezone),
        hs.clock.now(),
    )
    hs.bot.state.put_guild(dataclasses.replace(cfg, log_channel_id=log_channel.id, moderator_role_id=role_id))
    return log_channel.id


async def case_numbers(hs: Holdspace, kind: str) -> list[int]:
    assert hs.bot is not None
    cases, _ = await case_store.list_cases(hs.bot.db, hs.bot.ring, hs.guild.id, kind=kind, limit=50)
    return sorted(c.number for c in cases)


async def busy_session(hs: Holdspace) -> tuple[Circle, int]:
    """A session with alice (consented) and carol (facilitator) present, one unconsented join (bob),
    one bot blocked in voice, and messages in a room Discord rate limits at the end."""
    circle = await make_group(hs, lock=False, consented=("alice",))
    await set_expiry(hs, circle, ttl=None, expire_at_session_end=True)
    log_id = await with_mod_log(hs)
    await run(hs, "carol", "session start", circle.text, group=circle.group.id)
    await hs.sb.wait_until(lambda: started(circle.text) == 1 and started(circle.voice) == 1)
    hs.guild.join_voice(hs.member("alice"), circle.voice)
    hs.guild.set_voice(hs.member("carol"), circle.voice)
    hs.guild.set_voice(hs.member("bob"), circle.voice)  # no consent: removed
    _, recorder = new_bot(hs, "recorder")
    hs.guild.set_voice(recorder, circle.voice)  # a bot not allowed in the group: blocked
    await hs.sb.wait_until(
        lambda: hs.guild.voice_channel_of(hs.member("bob")) is None and hs.guild.voice_channel_of(recorder) is None
    )
    hs.sb.post_many(circle.text, hs.member("alice"), 5)
    await hs.settle()
    return circle, log_id


async def test_a_sessions_report_lists_each_intervention_with_its_case_and_the_pending_deletions(
    hs: Holdspace,
) -> None:
    circle, log_id = await busy_session(hs)
    unconsented = await case_numbers(hs, "unconsented_join")
    blocked = await case_numbers(hs, "recording_bot_blocked")
    assert len(unconsented) == 1 and len(blocked) == 1
    # The text room answers every deletion with "429, retry after 10 minutes".
    hs.sb.faults.rate_limit(
        None, rf"/channels/{circle.text.id}/messages/(bulk-delete|\d+)$", times=10_000, retry_after=600
    )
    hs.clock.advance(timedelta(minutes=30))
    await run(hs, "carol", "session end", circle.text, group=circle.group.id)

    def modlog() -> list[str]:
        return [m.content for m in hs.sb.world.channels[log_id].messages if "Session of" in (m.content or "")]

    # (Not settled: the room's deletions wait out Discord's 10 minutes, as they should.)
    await hs.sb.wait_until(lambda: reports_in(hs.member("carol")) and modlog())
    [text] = reports_in(hs.member("carol"))
    assert f"join without consent removed (case #{unconsented[0]})" in text, text
    assert f"bot blocked (case #{blocked[0]})" in text, text
    assert "Present: 3 people (2 with a current consent" not in text  # carol is exempt, not consented
    assert "Present: 3 people (1 with a current consent, 1 facilitator exempt from consent, 1 without consent" in text
    pending = re.search(r"still pending: (\d+) still queued: Discord is rate limiting", text)
    assert pending and int(pending.group(1)) >= 5, text
    assert "Ground-rules reminders posted: 2." in text
    for name in ("alice", "carol", "bob", "recorder"):
        assert name not in text.lower()
    # The mod-log: numbers, statuses and case numbers, no names.
    [summary] = modlog()
    assert f"#{unconsented[0]}" in summary and f"#{blocked[0]}" in summary, summary
    assert "3 people present (1 consented, 1 exempt, 1 removed)" in summary, summary
    assert re.search(r"[1-9]\d* pending", summary), summary
    for name in ("alice", "carol", "bob", "recorder"):
        assert name not in summary.lower()
    # Stored once, covered by the audit trail.
    assert hs.bot is not None
    stored = await session_reports.of_group(hs.bot.db, hs.bot.ring, circle.group.id)
    assert len(stored) == 1 and stored[0].pending
    assert (await verify_audit(hs.bot.db, hs.bot.ring)).ok


async def test_audit_verify_fails_when_a_stored_report_is_edited(hs: Holdspace) -> None:
    circle = await make_group(hs, lock=False)
    await run(hs, "carol", "session start", circle.text, group=circle.group.id)
    hs.guild.join_voice(hs.member("alice"), circle.voice)
    await hs.settle()
    await run(hs, "carol", "session end", circle.text, group=circle.group.id)
    await hs.settle()
    assert hs.bot is not None
    bot = hs.bot
    [report] = await session_reports.of_group(bot.db, bot.ring, circle.group.id)
    assert report.presence.consented == 1
    assert (await verify_audit(bot.db, bot.ring)).ok
    # Someone with the key rewrites the report: one more person "with a consent".
    edited = dataclasses.replace(report, presence=dataclasses.replace(report.presence, consented=2))
    blob = bot.ring.encrypt_json(
        session_reports.as_record(edited), table="sessions", column="report", row=report.session_id
    )
    await bot.db.execute("UPDATE sessions SET report = ? WHERE id = ?", (blob, report.session_id))
    result = await verify_audit(bot.db, bot.ring)
    assert not result.ok and "edited" in (result.reason or ""), result


async def test_a_restart_between_the_end_and_the_report_writes_exactly_one_report(holdspace: Holdspace) -> None:
    hs = holdspace
    await hs.start()
    circle = await make_group(hs, lock=False)
    await with_mod_log(hs)
    await run(hs, "carol", "session start", circle.text, group=circle.group.id)
    hs.guild.join_voice(hs.member("alice"), circle.voice)
    await hs.settle()
    assert hs.bot is not None
    lifecycle = sessions_of(hs).lifecycle
    real_write = lifecycle.report.write
    stopped = False

    async def crash(*args: object, **kw: object) -> bool:
        nonlocal stopped
        stopped = True
        raise RuntimeError("holdspace stopped here")

    lifecycle.report.write = crash  # type: ignore[method-assign]
    await run(hs, "carol", "session end", circle.text, group=circle.group.id)
    assert stopped
    session_id = next(iter(await steps.unfinished(hs.bot.db))).session_id
    assert not await session_reports.of_group(hs.bot.db, hs.bot.ring, circle.group.id)
    lifecycle.report.write = real_write  # type: ignore[method-assign]
    await hs.kill()
    await hs.start()
    await hs.sb.wait_until(lambda: reports_in(hs.member("carol")))
    await hs.settle()
    await hs.restart()
    await hs.settle()
    assert hs.bot is not None
    stored = await session_reports.of_group(hs.bot.db, hs.bot.ring, circle.group.id)
    assert [r.session_id for r in stored] == [session_id]
    assert stored[0].presence.consented == 1, "the presence recorded before the restart is kept"
    assert len(reports_in(hs.member("carol"))) == 1
    assert (await steps.of(hs.bot.db, session_id)).end_step == "done"  # type: ignore[union-attr]
    assert (await verify_audit(hs.bot.db, hs.bot.ring)).ok


async def test_session_history_lists_a_groups_reports_for_its_facilitators_and_moderators_only(
    hs: Holdspace,
) -> None:
    circle = await make_group(hs, lock=False, consented=("alice",))
    await with_mod_log(hs, moderator="bob")
    for _ in range(2):
        await run(hs, "carol", "session start", circle.text, group=circle.group.id)
        hs.guild.join_voice(hs.member("alice"), circle.voice)
        await hs.settle()
        hs.clock.advance(timedelta(minutes=50))
        await run(hs, "carol", "session end", circle.text, group=circle.group.id)
        hs.guild.leave_voice(hs.member("alice"))
        await hs.settle()
        hs.clock.advance(timedelta(days=7))
    assert hs.bot is not None
    stored = await session_reports.of_group(hs.bot.db, hs.bot.ring, circle.group.id)
    ids = [report_id(r) for r in stored]
    assert len(ids) == 2

    listing, ephemeral = await run(hs, "carol", "session history", circle.text, group="Circle")
    assert ephemeral and listing.index(ids[0]) < listing.index(ids[1]), listing  # newest first
    assert "1 person present, 0 interventions" in listing
    shown, _ = await run(hs, "carol", "session history", circle.text, group="Circle", report=ids[1][:8])
    assert "Session integrity report: Circle" in shown and ids[1] in shown
    # A moderator (not a facilitator) reads them too.
    general = next(c for c in hs.guild.channels if c.name == "general")
    as_moderator, _ = await run(hs, "bob", "session history", general, group="Circle")
    assert ids[0] in as_moderator
    # A member does not, and learns nothing about the group from the answer.
    refused, ephemeral = await run(hs, "alice", "session history", circle.text, group="Circle")
    assert ephemeral and "facilitators and moderators" in refused and ids[0] not in refused
    nothing, _ = await run(hs, "alice", "session history", circle.text, group="No such group")
    assert nothing == refused
    # An id that is no report of the group: a polite answer, nothing else.
    unknown, ephemeral = await run(hs, "carol", "session history", circle.text, group="Circle", report="zzz")
    assert ephemeral and "No report of Circle has that id" in unknown


async def test_a_restart_mid_session_keeps_who_was_present_and_the_report_says_holdspace_was_away(
    holdspace: Holdspace,
) -> None:
    hs = holdspace
    await hs.start()
    circle = await make_group(hs, lock=False, consented=("alice", "bob"))
    await run(hs, "carol", "session start", circle.text, group=circle.group.id)
    hs.guild.join_voice(hs.member("alice"), circle.voice)
    hs.guild.join_voice(hs.member("bob"), circle.voice)
    await hs.settle()
    hs.guild.leave_voice(hs.member("bob"))  # bob was there before the restart only
    await hs.kill()
    hs.clock.advance(timedelta(minutes=10))
    hs.guild.set_voice(hs.member("carol"), circle.voice)  # joined while holdspace was away
    await hs.start()
    hs.clock.advance(timedelta(minutes=10))
    await run(hs, "carol", "session end", circle.text, group=circle.group.id)
    await hs.sb.wait_until(lambda: reports_in(hs.member("carol")))
    [text] = reports_in(hs.member("carol"))
    # alice (in the room throughout) once, bob (before) and carol (found there on return) each once.
    assert "Present: 3 people (2 with a current consent, 1 facilitator exempt from consent)" in text, text
    assert "holdspace was away during the session and came back at" in text and "not counted" in text


async def test_a_rate_limited_report_dm_is_kept_and_sent_later(hs: Holdspace) -> None:
    circle = await make_group(hs, lock=False, consented=("alice",))
    await run(hs, "carol", "session start", circle.text, group=circle.group.id)
    await hs.settle()
    dm = hs.sb.dm_channel(hs.member("carol").user)
    # Every try of the DM answers 429 until discord.py gives up on this attempt.
    hs.sb.faults.rate_limit("POST", rf"/channels/{dm.id}/messages$", times=5, retry_after=0.01)
    await run(hs, "carol", "session end", circle.text, group=circle.group.id)
    await hs.sb.wait_until(lambda: len([r for r in hs.sb.requests if r.status == 429 and str(dm.id) in r.path]) == 5)
    await hs.settle()
    assert reports_in(hs.member("carol")) == []
    assert hs.bot is not None
    assert len(await session_reports.of_group(hs.bot.db, hs.bot.ring, circle.group.id)) == 1  # written down first
    hs.clock.advance(timedelta(seconds=31))
    await hs.sb.wait_until(lambda: reports_in(hs.member("carol")))
    await hs.settle()
    assert len(reports_in(hs.member("carol"))) == 1


async def test_the_facilitators_report_is_in_the_groups_language_and_the_summary_in_the_servers(
    hs: Holdspace,
) -> None:
    circle = await make_group(hs, lock=False, consented=("alice",))
    log_id = await with_mod_log(hs)
    await set_expiry(hs, circle, language="de")
    await run(hs, "carol", "session start", circle.text, group=circle.group.id)
    hs.guild.join_voice(hs.member("alice"), circle.voice)
    await hs.settle()
    await run(hs, "carol", "session end", circle.text, group=circle.group.id)
    await hs.sb.wait_until(
        lambda: (
            any("Integritätsbericht" in (m.content or "") for m in hs.member("carol").user.dms)
            and hs.sb.world.channels[log_id].messages
        )
    )
    assert "Anwesend: 1 Person (1 mit gültiger Einwilligung)" in next(
        m.content for m in hs.member("carol").user.dms if "Integritätsbericht" in (m.content or "")
    )
    assert any("Session of **Circle** ended" in (m.content or "") for m in hs.sb.world.channels[log_id].messages)
