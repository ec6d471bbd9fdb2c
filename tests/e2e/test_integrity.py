"""The file proves itself: consent, enrolment and named-facilitator rows edited without the key, and
an older copy of the database put back (with or without its anchor), are found at the next start;
that group fails closed (the member's access is closed, a case is opened) while every other group
runs on. Raw edits go to the SQLite file while holdspace is stopped,
as someone holding a copy of the file could make them."""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.bootstrap import open_database
from bot.storage import cases as case_store
from bot.storage import records_check
from bot.storage.db import sqlite_companions
from tests.e2e.conftest import Holdspace
from tests.e2e.test_setup import (
    Staff,
    agree,
    can_see,
    create_group,
    db_bytes,
    enroll,
    final,
    rooms,
    started_with_group,
)

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
        "INSERT INTO consents (id, seq, group_id, guild_id, member_index, member_id, data) "
        "SELECT ?, seq + 1000, group_id, guild_id, member_index, member_id, data FROM consents WHERE id = ?",
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
    stored = db_bytes(hs)
    for name in (TUESDAY, THURSDAY, FRIDAY):
        assert name.encode() not in stored and name.casefold().encode() not in stored, "group names are encrypted"


# -- rosters: enrolments and named facilitators ---------------------------------------------------


def roster_rows(hs: Holdspace, table: str, group_id: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(hs.settings.database) as conn:
        return list(conn.execute(f"SELECT * FROM {table} WHERE group_id = ?", (group_id,)))


def move_enrolment(hs: Holdspace, tuesday: str, thursday: str) -> None:
    raw(hs, "UPDATE enrolments SET group_id = ? WHERE group_id = ?", (thursday, tuesday))


def delete_enrolment(hs: Holdspace, tuesday: str, thursday: str) -> None:
    raw(hs, "DELETE FROM enrolments WHERE group_id = ?", (tuesday,))


def copy_enrolment_in(hs: Holdspace, tuesday: str, thursday: str) -> None:
    """bob's enrolment in Friday copied into Tuesday, to let him in there."""
    raw(
        hs,
        "INSERT INTO enrolments (id, group_id, guild_id, member_index, member_id, created_ms) "
        "SELECT ?, ?, guild_id, member_index, member_id, created_ms FROM enrolments WHERE group_id NOT IN (?, ?)",
        ("e" * 32, tuesday, tuesday, thursday),
    )


def delete_facilitator(hs: Holdspace, tuesday: str, thursday: str) -> None:
    """The named facilitator's row deleted: the group would open to everyone with the role."""
    raw(hs, "DELETE FROM group_facilitators WHERE group_id = ?", (tuesday,))


def move_facilitator(hs: Holdspace, tuesday: str, thursday: str) -> None:
    raw(hs, "UPDATE group_facilitators SET group_id = ? WHERE group_id = ?", (thursday, tuesday))


def move_consents_to_another_server(hs: Holdspace, tuesday: str, thursday: str) -> None:
    """The group's consent rows made to name another server."""
    raw(hs, "UPDATE consents SET guild_id = guild_id + 1 WHERE group_id = ?", (tuesday,))


@pytest.mark.parametrize(
    ("edit", "broken"),
    [
        (move_enrolment, {TUESDAY, THURSDAY}),
        (delete_enrolment, {TUESDAY}),
        (copy_enrolment_in, {TUESDAY}),
        (delete_facilitator, {TUESDAY}),
        (move_facilitator, {TUESDAY, THURSDAY}),
        (move_consents_to_another_server, {TUESDAY}),
    ],
)
async def test_edited_roster_rows_close_the_group_and_open_a_case(
    holdspace: Holdspace, edit: Callable[[Holdspace, str, str], None], broken: set[str]
) -> None:
    hs = holdspace
    staff, ids = await _world(hs)
    fran = staff.facilitator
    assert "now facilitates" in await final(
        await hs.command(fran, None, "group facilitator add", group=TUESDAY, member=fran)
    )
    await hs.stop()
    edit(hs, ids[TUESDAY], ids[THURSDAY])
    await hs.start()
    await _closed_with_a_case(hs, ids, broken)
    assert hs.bot is not None
    # The facilitators keep the rooms: they are the ones who put the group right.
    text, _ = rooms(hs, hs.bot.state.groups[ids[TUESDAY]])
    assert can_see(hs, fran, text)
    await hs.restart()
    assert not hs.bot.state.tampered, "reported once; the roster as it stands is sealed again"


@pytest.mark.parametrize("table", ["enrolments", "group_facilitators"])
async def test_a_removed_roster_row_put_back_closes_the_group(holdspace: Holdspace, table: str) -> None:
    """The row of a member the facilitator removed (or of a named facilitator taken off the group),
    put back word for word."""
    hs = holdspace
    staff, ids = await _world(hs)
    fran, alice = staff.facilitator, hs.member("alice")
    await final(await hs.command(fran, None, "group facilitator add", group=TUESDAY, member=fran))
    dana = hs.guild.add_member(hs.sb.create_user("dana"), roles=[staff.fac_role, hs.world.member_role])
    await final(await hs.command(fran, None, "group facilitator add", group=TUESDAY, member=dana))
    before = roster_rows(hs, table, ids[TUESDAY])
    if table == "enrolments":
        await final(await hs.command(fran, None, "group remove", group=TUESDAY, member=alice, reason="x"))
    else:
        await final(await hs.command(fran, None, "group facilitator remove", group=TUESDAY, member=dana))
    await hs.stop()
    (kept,) = [r for r in before if r not in roster_rows(hs, table, ids[TUESDAY])]
    with sqlite3.connect(hs.settings.database) as conn:
        conn.execute(f"INSERT INTO {table} VALUES ({','.join('?' * len(kept))})", kept)
    await hs.start()
    await _closed_with_a_case(hs, ids, {TUESDAY})


# -- an older copy of the file, with or without its anchor ---------------------------------------


async def _backup_then_withdraw(hs: Holdspace, tmp_path: Path) -> tuple[dict[str, str], Path, bytes]:
    _, ids = await _world(hs)
    assert hs.bot is not None
    copy = await hs.bot.db.backup(tmp_path / "before-withdrawal.db")
    old_anchor = Path(f"{hs.settings.database}.anchor").read_bytes()
    alice = hs.member("alice")
    assert "withdrawn" in await final(await hs.command(alice, None, "consent withdraw", group=TUESDAY))
    await hs.stop()
    for companion in sqlite_companions(hs.settings.database):
        companion.unlink(missing_ok=True)
    shutil.copyfile(copy, hs.settings.database)
    return ids, copy, old_anchor


def _with_anchor_copy(hs: Holdspace, tmp_path: Path) -> Path:
    elsewhere = tmp_path / "another-volume"
    elsewhere.mkdir()
    hs.settings = dataclasses.replace(hs.settings, anchor_copy=elsewhere / "holdspace.anchor")
    return elsewhere / "holdspace.anchor"


@pytest.mark.parametrize("anchor", ["deleted", "older"])
async def test_an_older_backup_is_caught_by_the_second_anchor(
    holdspace: Holdspace, tmp_path: Path, anchor: str
) -> None:
    hs = holdspace
    copy_path = _with_anchor_copy(hs, tmp_path)
    ids, _, old_anchor = await _backup_then_withdraw(hs, tmp_path)
    assert copy_path.exists()
    beside = Path(f"{hs.settings.database}.anchor")
    if anchor == "deleted":
        beside.unlink()
    else:
        beside.write_bytes(old_anchor)  # the anchor as it was when the backup was made
    await hs.start()
    await _closed_with_a_case(hs, ids, {TUESDAY})


async def test_an_older_backup_without_any_anchor_closes_every_group_with_records(
    holdspace: Holdspace, tmp_path: Path
) -> None:
    """Without any anchor a start cannot tell which group was rolled back: each group with records
    fails closed and is reported (docs/privacy.md says so); groups without records run on."""
    hs = holdspace
    ids, _, _ = await _backup_then_withdraw(hs, tmp_path)
    Path(f"{hs.settings.database}.anchor").unlink()
    await hs.start()
    bot = hs.bot
    assert bot is not None
    alice, bob = hs.member("alice"), hs.member("bob")
    await hs.settle()
    for name, who in ((TUESDAY, alice), (FRIDAY, bob)):
        text, _ = rooms(hs, bot.state.groups[ids[name]])
        assert not can_see(hs, who, text) and bot.state.consent_of(ids[name], who.id) is None, name
    cases = await case_store.all_cases(bot.db, bot.ring, hs.guild.id)
    assert {c.group_id for c in cases if c.kind == "records_tampered"} == {ids[TUESDAY], ids[FRIDAY]}
    assert "Thank you" in await agree(hs, bob, FRIDAY), "members consent again and the group runs on"


async def test_integrity_accept_vouches_for_a_file_moved_without_its_anchor(holdspace: Holdspace) -> None:
    hs = holdspace
    _, ids = await _world(hs)
    await hs.stop()
    Path(f"{hs.settings.database}.anchor").unlink()
    db = await open_database(hs.settings, hs.ring)
    try:
        accepted = await records_check.accept(db, hs.ring)
    finally:
        await db.close()
    assert accepted.groups == 2 and accepted.left_out == 0  # Thursday has no records yet
    await hs.start()
    assert hs.bot is not None and not hs.bot.state.tampered
    assert hs.bot.state.consent_of(ids[TUESDAY], hs.member("alice").id) is not None
