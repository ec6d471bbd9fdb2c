"""The file proves itself: consent rows edited without the key, and an older copy of the database put
back, are found at the next start; that group fails closed (the member's access is closed, a case is
opened) while every other group runs on. Raw edits go to the SQLite file while holdspace is stopped,
as someone holding a copy of the file could make them."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.storage import cases as case_store
from bot.storage.db import sqlite_companions
from tests.e2e.conftest import Holdspace
from tests.e2e.test_setup import Staff, agree, can_see, create_group, enroll, final, rooms, started_with_group

TUESDAY, THURSDAY, FRIDAY = "Tuesday circle", "Thursday circle", "Friday circle"


def raw(hs: Holdspace, sql: str, params: tuple[object, ...] = ()) -> None:
    with sqlite3.connect(hs.settings.database) as conn:
        conn.execute(sql, params)


def group_rows(hs: Holdspace, group_id: str) -> list[tuple[str, int]]:
    with sqlite3.connect(hs.settings.database) as conn:
        return list(conn.execute("SELECT id, seq FROM consents WHERE group_id = ? ORDER BY seq", (group_id,)))


def move_latest(hs: Holdspace, tuesday: str, thursday: str) -> None:
    """Move the group's newest consent row to another group."""
    row_id, _ = group_rows(hs, tuesday)[-1]
    raw(hs, "UPDATE consents SET group_id = ? WHERE id = ?", (thursday, row_id))


def delete_latest(hs: Holdspace, tuesday: str, thursday: str) -> None:
    """Delete the group's newest consent row (the withdrawal)."""
    row_id, _ = group_rows(hs, tuesday)[-1]
    raw(hs, "DELETE FROM consents WHERE id = ?", (row_id,))


def replay_agreement(hs: Holdspace, tuesday: str, thursday: str) -> None:
    """Play the agreement again after the withdrawal: its row moved to the end of the order."""
    rows = group_rows(hs, tuesday)
    agreed, _ = rows[-2]
    with sqlite3.connect(hs.settings.database) as conn:
        (top,) = conn.execute("SELECT MAX(seq) FROM consents").fetchone()
    raw(hs, "UPDATE consents SET seq = ? WHERE id = ?", (top + 1, agreed))


def delete_and_copy_back(hs: Holdspace, tuesday: str, thursday: str) -> None:
    """Delete the withdrawal and copy the agreement row in again under a new id."""
    rows = group_rows(hs, tuesday)
    withdrawn, _ = rows[-1]
    agreed, _ = rows[-2]
    raw(hs, "DELETE FROM consents WHERE id = ?", (withdrawn,))
    raw(
        hs,
        "INSERT INTO consents (id, seq, group_id, member_index, member_id, data) "
        "SELECT ?, seq + 1000, group_id, member_index, member_id, data FROM consents WHERE id = ?",
        ("f" * 32, agreed),
    )


async def _world(hs: Holdspace) -> tuple[Staff, dict[str, str]]:
    """alice agreed in Tuesday; bob agreed in Friday (the group nobody touches)."""
    staff, tuesday = await started_with_group(hs, TUESDAY)
    thursday = await create_group(hs, staff, THURSDAY)
    friday = await create_group(hs, staff, FRIDAY)
    alice, bob = hs.member("alice"), hs.member("bob")
    await enroll(hs, staff, TUESDAY, alice)
    assert "Thank you" in await agree(hs, alice, TUESDAY)
    await enroll(hs, staff, FRIDAY, bob)
    assert "Thank you" in await agree(hs, bob, FRIDAY)
    return staff, {TUESDAY: tuesday.id, THURSDAY: thursday.id, FRIDAY: friday.id}


async def _closed_with_a_case(hs: Holdspace, ids: dict[str, str], broken: set[str]) -> None:
    bot = hs.bot
    assert bot is not None
    alice, bob = hs.member("alice"), hs.member("bob")
    await hs.settle()
    for name in (TUESDAY, THURSDAY):
        text, voice = rooms(hs, bot.state.groups[ids[name]])
        assert not can_see(hs, alice, text) and not can_see(hs, alice, voice), name
        assert bot.state.consent_of(ids[name], alice.id) is None
    friday_text, _ = rooms(hs, bot.state.groups[ids[FRIDAY]])
    assert can_see(hs, bob, friday_text), "the untouched group runs on"
    assert bot.state.consent_of(ids[FRIDAY], bob.id) is not None
    await hs.sb.wait_until(lambda: len([m for m in hs.world.members.values()]) > 0)
    cases = await case_store.all_cases(bot.db, bot.ring, hs.guild.id)
    tampered = {c.group_id for c in cases if c.kind == "records_tampered"}
    assert tampered == {ids[name] for name in broken}, [c.details for c in cases]


@pytest.mark.parametrize(
    ("edit", "withdraw_first", "broken"),
    [
        (move_latest, False, {TUESDAY, THURSDAY}),
        (delete_latest, True, {TUESDAY}),
        (replay_agreement, True, {TUESDAY}),
        (delete_and_copy_back, True, {TUESDAY}),
    ],
)
async def test_edited_consent_rows_close_the_group_and_open_a_case(
    holdspace: Holdspace,
    edit: Callable[[Holdspace, str, str], None],
    withdraw_first: bool,
    broken: set[str],
) -> None:
    hs = holdspace
    _, ids = await _world(hs)
    alice = hs.member("alice")
    if withdraw_first:
        assert "withdrawn" in await final(await hs.command(alice, None, "consent withdraw", group=TUESDAY))
    await hs.stop()
    edit(hs, ids[TUESDAY], ids[THURSDAY])
    await hs.start()
    await hs.sb.wait_until(lambda: hs.bot is not None and hs.bot.is_ready())
    await _closed_with_a_case(hs, ids, broken)
    # The group works again as soon as its members consent again.
    assert "Thank you" in await agree(hs, alice, TUESDAY)
    assert hs.bot is not None and hs.bot.state.consent_of(ids[TUESDAY], alice.id) is not None
    await hs.restart()
    assert hs.bot.state.consent_of(ids[TUESDAY], alice.id) is not None and not hs.bot.state.tampered


async def test_an_older_backup_put_back_closes_the_group_and_opens_a_case(holdspace: Holdspace, tmp_path: Path) -> None:
    hs = holdspace
    _, ids = await _world(hs)
    alice = hs.member("alice")
    assert hs.bot is not None
    copy = await hs.bot.db.backup(tmp_path / "before-withdrawal.db")
    assert "withdrawn" in await final(await hs.command(alice, None, "consent withdraw", group=TUESDAY))
    await hs.stop()
    for companion in sqlite_companions(hs.settings.database):
        companion.unlink(missing_ok=True)
    shutil.copyfile(copy, hs.settings.database)
    await hs.start()
    await hs.sb.wait_until(lambda: hs.bot is not None and hs.bot.is_ready())
    await _closed_with_a_case(hs, ids, {TUESDAY})


async def test_an_untouched_file_starts_as_before(holdspace: Holdspace) -> None:
    hs = holdspace
    _, ids = await _world(hs)
    await hs.restart()
    assert hs.bot is not None and not hs.bot.state.tampered
    assert hs.bot.state.consent_of(ids[TUESDAY], hs.member("alice").id) is not None
