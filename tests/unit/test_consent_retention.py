"""Consent records are kept while they matter and deleted once someone left a group long enough ago."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.core.records import GroupInfo
from bot.crypto import KeyRing
from bot.storage import consents, groups, migrations
from bot.storage.db import Database

T0 = datetime(2020, 1, 1, tzinfo=UTC)


async def test_purge_ended_keeps_current_and_enrolled_and_deletes_old_leavers(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "hs.db")
    await migrations.migrate(db)
    ring = KeyRing.generate()
    group = GroupInfo(id="g", guild_id=1, name="G", text_channel_id=10, voice_channel_id=11)
    await groups.insert_group(db, ring, group, "agreement", T0)

    async def event(member: int, answer: str, at: datetime) -> None:
        await consents.record(db, ring, group_id="g", member_id=member, answer=answer, at=at, method="command")

    await event(1, "agree", T0)  # still consents
    await event(2, "agree", T0)
    await event(2, "withdraw", T0 + timedelta(days=1))  # left long ago: goes
    await event(3, "agree", T0)
    await event(3, "withdraw", T0 + timedelta(days=400))  # left recently: kept
    await event(4, "decline", T0)  # declined long ago but still enrolled: kept
    cutoff = T0 + timedelta(days=365)
    assert await consents.purge_ended(db, ring, cutoff, still_enrolled={("g", 4)}) == 2
    left = {(e.member_id, e.answer) for e in await consents.history(db, ring)}
    assert left == {(1, "agree"), (3, "agree"), (3, "withdraw"), (4, "decline")}
    assert await consents.purge_ended(db, ring, cutoff, still_enrolled={("g", 4)}) == 0
    await db.close()
