"""The steps of starting and ending a session, written down as they are done (migrations/0010).

A start goes recorded -> rooms_open -> posting -> done; an end goes ending -> locked -> expired ->
(the end recorded) -> reported -> done, where ``reported`` is set in the transaction that stores the
session's integrity report. Whatever is not done when holdspace stops is finished at its next start,
also an end recorded whose report was not written yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.storage.db import Database

START_STEPS = ("recorded", "rooms_open", "posting", "done")
END_STEPS = ("ending", "locked", "expired", "reported", "done")


@dataclass(frozen=True)
class Steps:
    session_id: str
    group_id: str
    start_step: str
    end_step: str | None
    start_id: int | None
    end_id: int | None
    end_reason: str | None
    end_actor: str | None
    ended: bool = False  # the end is recorded (only its report and the last step are left)


async def set_start(db: Database, session_id: str, step: str, *, start_id: int | None = None) -> None:
    assert step in START_STEPS
    await db.execute(
        "UPDATE sessions SET start_step = ?, start_id = COALESCE(?, start_id) WHERE id = ?",
        (step, start_id, session_id),
    )


async def set_end(
    db: Database,
    session_id: str,
    step: str,
    *,
    end_id: int | None = None,
    reason: str | None = None,
    actor: str | None = None,
) -> None:
    assert step in END_STEPS
    await db.execute(
        "UPDATE sessions SET end_step = ?, end_id = COALESCE(?, end_id), end_reason = COALESCE(?, end_reason), "
        "end_actor = COALESCE(?, end_actor) WHERE id = ?",
        (step, end_id, reason, actor, session_id),
    )


async def unfinished(db: Database) -> list[Steps]:
    """Sessions whose start or end was not finished (holdspace stopped in between); an ended session
    whose end steps are not done yet still lacks its report."""
    rows = await db.fetchall(
        "SELECT id, group_id, start_step, end_step, start_id, end_id, end_reason, end_actor, ended_ms FROM sessions "
        "WHERE (ended_ms IS NULL AND (start_step != 'done' OR end_step IS NOT NULL)) "
        "OR (ended_ms IS NOT NULL AND end_step IS NOT NULL AND end_step != 'done')"
    )
    return [_steps(r) for r in rows]


async def of(db: Database, session_id: str) -> Steps | None:
    row = await db.fetchone(
        "SELECT id, group_id, start_step, end_step, start_id, end_id, end_reason, end_actor, ended_ms FROM sessions "
        "WHERE id = ?",
        (session_id,),
    )
    return None if row is None else _steps(row)


def _steps(row: Any) -> Steps:
    return Steps(
        row["id"],
        row["group_id"],
        row["start_step"],
        row["end_step"],
        row["start_id"],
        row["end_id"],
        row["end_reason"],
        row["end_actor"],
        row["ended_ms"] is not None,
    )
