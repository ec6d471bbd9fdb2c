"""The audit log's hash chain: pure encoding and verification, and the stored chain end to end."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import FakeClock
from bot.core.audit_chain import (
    GENESIS_HASH,
    ChainEntry,
    canonical_entry,
    entry_hash,
    verify_chain,
)
from bot.crypto import KeyRing, generate_key
from bot.exports.cases_audit import export_audit, verify_audit
from bot.services.audit import AuditLog, build_payload
from bot.storage import audit as audit_store
from bot.storage.db import Database

GUILD = 111


def _chain(n: int) -> list[ChainEntry]:
    entries = []
    prev = GENESIS_HASH
    for seq in range(1, n + 1):
        payload = build_payload(actor_id=seq, group_id=None, subject_id=None, details={"n": seq})
        digest = entry_hash(
            prev, canonical_entry(seq=seq, at_ms=1000 * seq, guild_id=GUILD, action="x", payload=payload)
        )
        entries.append(ChainEntry(seq, 1000 * seq, GUILD, "x", payload, prev, digest))
        prev = digest
    return entries


def test_canonical_encoding_is_stable_and_key_order_free() -> None:
    a = canonical_entry(seq=1, at_ms=5, guild_id=7, action="a", payload={"b": 1, "a": [1, "x"]})
    b = canonical_entry(seq=1, at_ms=5, guild_id=7, action="a", payload={"a": [1, "x"], "b": 1})
    assert a == b
    assert b'"guild":"7"' in a


def test_salt_makes_equal_entries_hash_differently() -> None:
    one = build_payload(actor_id=42, group_id=None, subject_id=None, details=None)
    two = build_payload(actor_id=42, group_id=None, subject_id=None, details=None)
    assert one["salt"] != two["salt"]
    h1 = entry_hash(GENESIS_HASH, canonical_entry(seq=1, at_ms=0, guild_id=1, action="a", payload=one))
    h2 = entry_hash(GENESIS_HASH, canonical_entry(seq=1, at_ms=0, guild_id=1, action="a", payload=two))
    assert h1 != h2


def test_intact_chain_verifies() -> None:
    result = verify_chain(_chain(5))
    assert result.ok and result.checked == 5 and result.last_seq == 5
    assert "intact" in result.describe()
    assert verify_chain([]).ok


@pytest.mark.parametrize(
    ("mutate", "broken", "words"),
    [
        (lambda es: es.__setitem__(2, replace(es[2], action="y")), 3, "changed"),
        (lambda es: es.__setitem__(2, replace(es[2], at_ms=1)), 3, "changed"),
        (lambda es: es.__setitem__(2, replace(es[2], guild_id=999)), 3, "changed"),
        (lambda es: es.__setitem__(1, replace(es[1], payload={**es[1].payload, "actor": "1"})), 2, "changed"),
        (lambda es: es.__setitem__(3, replace(es[3], prev_hash=bytes(32))), 4, "link"),
        (lambda es: es.pop(2), 3, "missing"),
        (lambda es: es.__setitem__(1, replace(es[1], payload=None, payload_error="altered")), 2, "decrypted"),
    ],
)
def test_first_broken_link_is_named(mutate, broken: int, words: str) -> None:  # type: ignore[no-untyped-def]
    entries = _chain(5)
    mutate(entries)
    result = verify_chain(entries)
    assert not result.ok
    assert result.broken_seq == broken
    assert words in (result.reason or "")
    assert f"#{broken}" in result.describe()


def test_changed_hash_with_relinked_successor_is_caught_at_the_changed_entry() -> None:
    entries = _chain(4)
    forged = replace(entries[1], action="forged")
    forged_hash = entry_hash(
        forged.prev_hash,
        canonical_entry(seq=2, at_ms=forged.at_ms, guild_id=GUILD, action="forged", payload=forged.payload or {}),
    )
    entries[1] = replace(forged, hash=forged_hash)
    result = verify_chain(entries)
    # The forger could recompute entry 2 (they knew the plaintext here), but entry 3 still links to
    # the original hash.
    assert not result.ok and result.broken_seq == 3


def test_anchor_starts_the_chain_after_pruning() -> None:
    entries = _chain(6)
    rest = entries[3:]
    assert verify_chain(rest, anchor_seq=3, anchor_hash=entries[2].hash).ok
    assert not verify_chain(rest).ok


# -- the stored chain --------------------------------------------------------------------------------


async def _fill(db: Database, ring: KeyRing, clock: FakeClock, n: int) -> AuditLog:
    log = AuditLog(db, ring, clock)
    for i in range(n):
        await log.record(GUILD, "case_claimed", actor_id=1000 + i, subject_id=2000 + i, details={"case": i})
        clock.advance(60)
    return log


async def test_stored_chain_verifies_and_hides_ids(db: Database, ring: KeyRing) -> None:
    clock = FakeClock()
    await _fill(db, ring, clock, 5)
    result = await verify_audit(db, ring)
    assert result.ok and result.checked == 5
    raw = await db.fetchall("SELECT payload FROM audit_log")
    for (blob,) in raw:
        assert b"1000" not in bytes(blob) and b"2000" not in bytes(blob)


async def test_changing_one_row_by_hand_is_caught(db: Database, ring: KeyRing) -> None:
    clock = FakeClock()
    await _fill(db, ring, clock, 5)
    await db.execute("UPDATE audit_log SET action = 'case_resolved' WHERE seq = 3")
    result = await verify_audit(db, ring)
    assert not result.ok and result.broken_seq == 3


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_log SET guild_id = 222 WHERE seq = 2",
        "UPDATE audit_log SET at_ms = at_ms + 1 WHERE seq = 2",
        "UPDATE audit_log SET payload = (SELECT payload FROM audit_log WHERE seq = 1) WHERE seq = 2",
        "UPDATE audit_log SET hash = zeroblob(32) WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 2",
    ],
)
async def test_every_kind_of_hand_edit_is_caught(db: Database, ring: KeyRing, sql: str) -> None:
    clock = FakeClock()
    await _fill(db, ring, clock, 4)
    await db.execute(sql)
    result = await verify_audit(db, ring)
    assert not result.ok
    assert result.broken_seq in (2, 3)


async def test_chain_survives_reencryption_under_a_new_key(db: Database) -> None:
    old_key, new_key = generate_key(), generate_key()
    old_ring = KeyRing.parse(old_key)
    await _fill(db, old_ring, FakeClock(), 3)
    both = KeyRing.parse(f"{new_key},{old_key}")
    # Re-encrypt every payload the way rotate-key does: decrypt with the old, encrypt with the new.
    for row in await db.fetchall("SELECT id, payload FROM audit_log"):
        entry_id = row["id"]
        plain = both.decrypt(row["payload"], table="audit_log", column="payload", row=entry_id)
        fresh = both.encrypt(plain, table="audit_log", column="payload", row=entry_id)
        await db.execute("UPDATE audit_log SET payload = ? WHERE id = ?", (fresh, entry_id))
    assert (await verify_audit(db, KeyRing.parse(new_key))).ok
    # Without the key the payloads cannot be read, and verification says so instead of passing.
    assert not (await verify_audit(db, old_ring)).ok


async def test_appends_are_serialised(db: Database, ring: KeyRing) -> None:
    import asyncio

    log = AuditLog(db, ring, FakeClock())
    await asyncio.gather(*(log.record(GUILD, "parallel", details={"i": i}) for i in range(30)))
    result = await verify_audit(db, ring)
    assert result.ok and result.checked == 30


async def test_pruning_keeps_the_rest_verifiable(db: Database, ring: KeyRing) -> None:
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    await _fill(db, ring, clock, 3)
    clock.advance(timedelta(days=10))
    cutoff = clock.now()
    await _fill(db, ring, clock, 2)
    removed = await audit_store.prune_before(db, cutoff)
    assert removed == 3
    result = await verify_audit(db, ring)
    assert result.ok and result.checked == 2
    # New entries keep chaining after the pruned ones.
    await AuditLog(db, ring, clock).record(GUILD, "after_prune")
    assert (await verify_audit(db, ring)).ok
    await audit_store.prune_before(db, clock.now() + timedelta(days=1))
    await AuditLog(db, ring, clock).record(GUILD, "after_everything_pruned")
    result = await verify_audit(db, ring)
    assert result.ok and result.checked == 1 and result.last_seq == 7


async def test_export_audit_json_and_csv(db: Database, ring: KeyRing) -> None:
    import csv
    import io
    import json

    await _fill(db, ring, FakeClock(), 2)
    await AuditLog(db, ring, FakeClock()).record(999, "other_guild")
    data = json.loads(await export_audit(db, ring, GUILD, "json"))
    assert [e["seq"] for e in data["entries"]] == [1, 2]
    assert data["entries"][0]["actor_id"] == "1000"
    assert "salt" not in json.dumps(data)
    rows = list(csv.DictReader(io.StringIO(await export_audit(db, ring, GUILD, "csv"))))
    assert [r["seq"] for r in rows] == ["1", "2"]
    with pytest.raises(ValueError):
        await export_audit(db, ring, GUILD, "xml")


def test_message_names_the_broken_link_for_the_cli() -> None:
    entries = _chain(3)
    entries[1] = replace(entries[1], action="forged")
    result = verify_chain(entries)
    assert result.message == result.describe()
    assert "#2" in result.message and "broken" in result.message
    assert "intact" in verify_chain(_chain(2)).message
