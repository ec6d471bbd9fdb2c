"""Members can see what holdspace holds about them, and only they see it."""

from __future__ import annotations

from tests.e2e.conftest import Holdspace
from tests.e2e.test_setup import agree, enroll, final, started_with_group


async def test_mydata_shows_a_members_own_records_only_to_them(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, _ = await started_with_group(hs, "Tuesday circle")
    alice, bob = hs.member("alice"), hs.member("bob")
    await enroll(hs, staff, "Tuesday circle", alice)
    await agree(hs, alice, "Tuesday circle")

    handle = await hs.command(alice, None, "privacy mydata")
    text = await final(handle)
    assert handle.ephemeral
    assert "enrolled in: Tuesday circle" in text
    assert "Tuesday circle: agree, agreement version 1" in text
    assert "Reports you made: none" in text

    other = await final(await hs.command(bob, None, "privacy mydata"))
    assert "enrolled in: none" in other and "nothing recorded" in other
    assert "Tuesday circle: agree" not in other


async def test_privacy_notice_says_what_is_kept(hs: Holdspace) -> None:
    handle = await hs.command(hs.member("bob"), None, "privacy notice")
    assert handle.ephemeral and "never stores names" in (handle.content or "")
