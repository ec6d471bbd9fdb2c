from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.config import GroupDefaults
from bot.core.records import GroupInfo
from bot.crypto import KeyRing
from bot.state import State
from bot.storage import consents, groups, guilds
from bot.storage.db import Database

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MEMBER = 123456789012345678


def _group(**kw: object) -> GroupInfo:
    values: dict[str, object] = dict(
        id="g1",
        guild_id=10,
        name="Tuesday Circle",
        text_channel_id=100,
        voice_channel_id=101,
        category_id=99,
        created_channels=True,
    )
    values.update(kw)
    return GroupInfo.with_defaults(GroupDefaults(reconsent_after_days=30, ttl=None), **values)


async def test_group_round_trip_with_settings_and_agreement(db: Database, ring: KeyRing) -> None:
    stored = await groups.insert_group(db, ring, _group(), "Rules v1", NOW)
    assert stored.agreement_version == 1
    assert await groups.name_taken(db, ring, 10, "  tuesday   circle ")
    assert not await groups.name_taken(db, ring, 11, "tuesday circle")
    loaded = await groups.load_all(db, ring)
    assert loaded == [stored]
    assert loaded[0].reconsent_after_days == 30 and loaded[0].ttl is None
    agreement = await groups.get_agreement(db, ring, "g1")
    assert agreement is not None and agreement.text == "Rules v1" and agreement.version == 1

    version, sha = await groups.add_agreement_version(db, ring, "g1", "Rules v2", NOW)
    assert version == 2
    current = await groups.get_agreement(db, ring, "g1")
    assert current is not None and current.text == "Rules v2" and current.sha256 == sha
    old = await groups.get_agreement(db, ring, "g1", 1)
    assert old is not None and old.text == "Rules v1"

    changed = GroupInfo(**{**stored.__dict__, "enrolment": "open", "ttl": timedelta(hours=3)})
    await groups.update_group(db, changed)
    (reloaded,) = await groups.load_all(db, ring)
    assert reloaded.enrolment == "open" and reloaded.ttl == timedelta(hours=3)
    assert reloaded.agreement_version == 2 and reloaded.agreement_sha256 == sha


async def test_duplicate_names_and_channels_are_refused_by_the_schema(db: Database, ring: KeyRing) -> None:
    await groups.insert_group(db, ring, _group(), "x", NOW)
    with pytest.raises(Exception):  # noqa: B017 - sqlite3.IntegrityError
        await groups.insert_group(db, ring, _group(id="g2", text_channel_id=200, voice_channel_id=201), "x", NOW)
    assert len(await groups.load_all(db, ring)) == 1


async def test_enrolments_and_consents_and_state_load(db: Database, ring: KeyRing) -> None:
    await guilds.save(db, guilds.GuildRow(10, 50, 51, 52, 53, 54, "Europe/Berlin"), NOW)
    group = await groups.insert_group(db, ring, _group(), "Rules", NOW)
    assert await groups.enrol(db, ring, "g1", MEMBER, NOW)
    assert not await groups.enrol(db, ring, "g1", MEMBER, NOW)
    await consents.record(
        db,
        ring,
        group_id="g1",
        member_id=MEMBER,
        answer="agree",
        at=NOW,
        method="command",
        version=1,
        sha256=group.agreement_sha256,
    )
    await consents.record(
        db,
        ring,
        group_id="g1",
        member_id=MEMBER + 1,
        answer="agree",
        at=NOW,
        method="lobby",
        version=1,
        sha256=group.agreement_sha256,
    )
    await consents.record(db, ring, group_id="g1", member_id=MEMBER + 1, answer="withdraw", at=NOW, method="command")

    state = State()
    await state.load(db, ring, FakeClock(NOW))
    assert state.loaded
    assert state.guild(10).facilitator_role_id == 50 and state.guild(10).timezone == "Europe/Berlin"
    assert state.groups["g1"].name == "Tuesday Circle"
    assert state.is_enrolled("g1", MEMBER)
    assert state.consented_members("g1") == {MEMBER}
    fact = state.consent_of("g1", MEMBER)
    assert fact is not None and fact.version == 1 and fact.method == "command"
    assert state.group_of_channel(101) is state.groups["g1"]

    events = await consents.history(db, ring, group_ids=["g1"], member_id=MEMBER + 1)
    assert [e.answer for e in events] == ["agree", "withdraw"]
    assert await groups.unenrol(db, ring, "g1", MEMBER)
    assert not await groups.unenrol(db, ring, "g1", MEMBER)


async def test_the_file_holds_no_member_id_or_answer_in_clear(db: Database, ring: KeyRing, tmp_path: Path) -> None:
    await groups.insert_group(db, ring, _group(), "Secret rules", NOW)
    await groups.enrol(db, ring, "g1", MEMBER, NOW)
    await consents.record(
        db,
        ring,
        group_id="g1",
        member_id=MEMBER,
        answer="agree",
        at=NOW,
        method="command",
        version=1,
        sha256="ab",
    )
    await db.close()
    raw = b"".join(p.read_bytes() for p in sorted(tmp_path.glob("hs.sqlite3*")))
    assert str(MEMBER).encode() not in raw
    assert MEMBER.to_bytes(8, "big") not in raw
    assert b"answer" not in raw and b"command" not in raw
    assert b"Secret rules" not in raw


async def test_export_consents_csv_and_json(db: Database, ring: KeyRing) -> None:
    import csv
    import io
    import json

    from bot.errors import HoldspaceError
    from bot.exports.consents import export_consents

    group = await groups.insert_group(db, ring, _group(), "Rules", NOW)
    await groups.insert_group(
        db, ring, _group(id="g2", name="Other", text_channel_id=200, voice_channel_id=201), "R", NOW
    )
    await consents.record(
        db,
        ring,
        group_id="g1",
        member_id=MEMBER,
        answer="agree",
        at=NOW,
        method="lobby",
        version=1,
        sha256=group.agreement_sha256,
    )
    await consents.record(db, ring, group_id="g2", member_id=MEMBER, answer="decline", at=NOW, method="dm")
    rows = list(csv.DictReader(io.StringIO(await export_consents(db, ring, 10, "tuesday circle", "csv"))))
    assert [(r["member_id"], r["answer"], r["version"], r["method"]) for r in rows] == [
        (str(MEMBER), "agree", "1", "lobby")
    ]
    document = json.loads(await export_consents(db, ring, 10, None, "json"))
    assert {g["name"] for g in document["groups"]} == {"Tuesday Circle", "Other"}
    assert [c["answer"] for c in document["consents"]] == ["agree", "decline"]
    with pytest.raises(HoldspaceError):
        await export_consents(db, ring, 10, "nope", "csv")
    with pytest.raises(HoldspaceError):
        await export_consents(db, ring, 10, None, "xml")
    assert json.loads(await export_consents(db, ring, 99, None, "json"))["consents"] == []


async def test_group_facilitators_are_stored_encrypted_and_loaded_into_state(
    db: Database, ring: KeyRing, tmp_path: Path
) -> None:
    await groups.insert_group(db, ring, _group(), "Rules", NOW)
    assert await groups.add_facilitator(db, ring, "g1", MEMBER, NOW)
    assert not await groups.add_facilitator(db, ring, "g1", MEMBER, NOW)
    assert await groups.load_facilitators(db, ring) == [("g1", MEMBER)]
    state = State()
    await state.load(db, ring, FakeClock())
    assert state.facilitators_of("g1") == {MEMBER}
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert str(MEMBER).encode() not in raw
    assert await groups.remove_facilitator(db, ring, "g1", MEMBER)
    assert not await groups.remove_facilitator(db, ring, "g1", MEMBER)
    assert await groups.load_facilitators(db, ring) == []
