"""Consent receipts end to end: what a member keeps after agreeing, declining or withdrawing, and the
same receipt again from `/consent receipt`, matching the stored consent record."""

from __future__ import annotations

import csv
import io
import re

from bot.core.receipts import receipt_id
from bot.exports.consents import export_consents
from bot.sandbox.world import Member
from bot.storage import consents as consent_store
from tests.e2e.conftest import Holdspace
from tests.e2e.test_setup import agree, click, enroll, final, find_custom_id, shown_agreement, started_with_group

GROUP = "Tuesday circle"


def receipts(who: Member) -> list[str]:
    """The receipts in ``who``'s DMs, oldest first."""
    return [
        str(e.get("description"))
        for m in who.user.dms
        for e in m.embeds
        if "Consent receipt" in str(e.get("description"))
    ]


def rid(text: str) -> str:
    found = re.search(r"Receipt id: `([0-9A-F]{5}-[0-9A-F]{5})`", text)
    assert found, text
    return found.group(1)


async def stored(hs: Holdspace, group_id: str, member: Member) -> list[consent_store.ConsentEvent]:
    assert hs.bot is not None
    return await consent_store.history(hs.bot.db, hs.bot.ring, group_ids=[group_id], member_id=member.id)


async def test_agree_and_withdraw_each_send_a_receipt_matching_the_record(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, GROUP)
    alice = hs.member("alice")
    await enroll(hs, staff, GROUP, alice)

    thanks = await agree(hs, alice, GROUP)
    assert "receipt is in your direct messages" in thanks
    await hs.sb.wait_until(lambda: len(receipts(alice)) == 1)
    receipt = receipts(alice)[0]
    [agreed] = await stored(hs, group.id, alice)
    assert f"version {agreed.version}" in receipt and agreed.sha256 and agreed.sha256 in receipt
    assert rid(receipt) == receipt_id(group.id, alice.id, "agree", agreed.at)
    assert f"**{GROUP}** on {hs.guild.name}" in receipt
    assert "Europe/Berlin" in receipt and "UTC" in receipt
    assert "What is shared here stays here." in receipt  # the agreed points, one line each
    assert f"{hs.settings.retention.withdrawn_consent_days} days" in receipt
    assert "/consent withdraw" in receipt
    assert str(alice.id) not in receipt and "alice" not in receipt.lower()

    await final(await hs.command(alice, None, "consent withdraw", group=GROUP))
    await hs.sb.wait_until(lambda: len(receipts(alice)) == 2)
    withdrawn = receipts(alice)[1]
    events = await stored(hs, group.id, alice)
    assert [e.answer for e in events] == ["agree", "withdraw"]
    assert "you withdrew" in withdrawn and f"version {agreed.version}" in withdrawn
    assert rid(withdrawn) == receipt_id(group.id, alice.id, "withdraw", events[1].at)

    # the facilitator finds the same id in the roster, the practice in the export
    roster = await final(await hs.command(staff.facilitator, None, "group roster", group=GROUP))
    assert rid(withdrawn) in roster
    assert hs.bot is not None
    rows = list(csv.DictReader(io.StringIO(await export_consents(hs.bot.db, hs.bot.ring, hs.guild.id, GROUP, "csv"))))
    assert [r["receipt_id"] for r in rows] == [rid(receipt), rid(withdrawn)]


async def test_declining_gives_a_receipt_too(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, GROUP)
    bob = hs.member("bob")
    await enroll(hs, staff, GROUP, bob)
    shown = await shown_agreement(hs, bob, GROUP)
    message, cid = find_custom_id(shown.followups, "hs:decline:")
    await final(await click(hs, bob, message, cid))
    await hs.sb.wait_until(lambda: len(receipts(bob)) == 1)
    [declined] = await stored(hs, group.id, bob)
    assert "you did not agree" in receipts(bob)[0]
    assert rid(receipts(bob)[0]) == receipt_id(group.id, bob.id, "decline", declined.at)


async def test_closed_dms_show_the_receipt_here_and_consent_receipt_shows_it_later(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, group = await started_with_group(hs, GROUP)
    carol = hs.member("carol")
    await enroll(hs, staff, GROUP, carol)
    carol.user.close_dms()

    shown = await shown_agreement(hs, carol, GROUP)
    message, cid = find_custom_id(shown.followups, "hs:agree:")
    handle = await click(hs, carol, message, cid)
    answer = await final(handle, count=2)
    assert handle.ephemeral
    assert "direct messages are closed" in answer and "Consent receipt: you agreed" in answer
    [agreed] = await stored(hs, group.id, carol)
    assert rid(answer) == receipt_id(group.id, carol.id, "agree", agreed.at)
    assert receipts(carol) == []

    hs.clock.advance(3600)
    again = await hs.command(carol, None, "consent receipt", group=GROUP)
    text = await final(again)
    assert again.ephemeral and "direct messages are closed" in text
    assert rid(text) == rid(answer) and agreed.sha256 and agreed.sha256 in text

    # with DMs open again, the same receipt goes to the DMs as well
    carol.user.open_dms()
    text = await final(await hs.command(carol, None, "consent receipt", group=GROUP))
    assert "receipt again" in text
    await hs.sb.wait_until(lambda: len(receipts(carol)) == 1)
    assert rid(receipts(carol)[0]) == rid(answer)


async def test_consent_receipt_without_an_answer_says_what_to_do(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, _ = await started_with_group(hs, GROUP)
    dave = hs.member("bob")
    await enroll(hs, staff, GROUP, dave)
    handle = await hs.command(dave, None, "consent receipt", group=GROUP)
    text = await final(handle)
    assert handle.ephemeral and "no answer of yours" in text and "/consent give" in text
