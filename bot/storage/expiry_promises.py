"""End-of-session promises: every message of a group in a range of ids goes by a due time, also one
recorded only later; kept until each room of the group was read through the range's end."""

from __future__ import annotations

from collections.abc import Iterable

from bot.storage.db import Database
from bot.storage.expiry import apply_promises


async def add_promise(
    db: Database,
    promise_id: str,
    group_id: str,
    from_id: int,
    to_id: int,
    due_ms: int,
    rooms: Iterable[int],
    now_ms: int,
) -> int:
    """Everything of the group in [from_id, to_id) goes at ``due_ms``; ``rooms`` must still be read
    through ``to_id``. Applied at once to the rows already stored; returns how many that were."""
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO expiry_promises (id, group_id, from_id, to_id, due_ms, created_ms) VALUES (?, ?, ?, ?, ?, ?)",
            (promise_id, group_id, from_id, to_id, due_ms, now_ms),
        )
        await conn.executemany(
            "INSERT OR IGNORE INTO expiry_promise_rooms (promise_id, channel_id) VALUES (?, ?)",
            [(promise_id, channel_id) for channel_id in rooms],
        )
        return await apply_promises(conn, group_id, all_rooms=True)


async def room_read(db: Database, channel_id: int, read_from_ms: int) -> None:
    """A room was read through everything Discord had when the read began: promises made before that
    no longer wait for it; promises that wait for no room any more are kept no longer."""
    async with db.transaction() as conn:
        await conn.execute(
            "DELETE FROM expiry_promise_rooms WHERE channel_id = ? AND promise_id IN "
            "(SELECT id FROM expiry_promises WHERE created_ms <= ?)",
            (channel_id, read_from_ms),
        )
        await conn.execute(
            "DELETE FROM expiry_promises WHERE created_ms <= ? AND id NOT IN "
            "(SELECT promise_id FROM expiry_promise_rooms)",
            (read_from_ms,),
        )


async def promise_rooms(db: Database, promise_id: str) -> list[int]:
    rows = await db.fetchall("SELECT channel_id FROM expiry_promise_rooms WHERE promise_id = ?", (promise_id,))
    return [int(r["channel_id"]) for r in rows]


async def range_rows(db: Database, group_id: str, from_id: int, to_id: int) -> list[tuple[int, str | None, bool]]:
    """(due_ms, last_error, pinned) of the group's rows in [from_id, to_id): what is left of a session."""
    rows = await db.fetchall(
        "SELECT due_ms, last_error, pinned FROM expiry_messages "
        "WHERE group_id = ? AND message_id >= ? AND message_id < ?",
        (group_id, from_id, to_id),
    )
    return [(r["due_ms"], r["last_error"], bool(r["pinned"])) for r in rows]
