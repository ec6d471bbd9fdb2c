"""The audit trail's hash chain: canonical entry encoding, entry hashes and verification.

Pure code, no I/O. Every entry's hash covers the hash of the entry before it and the entry's
*plaintext* canonical form (sequence number, time, guild, action and the decrypted payload). Hashing
the plaintext, not the stored ciphertext, lets ``holdspace rotate-key`` re-encrypt every payload
without breaking the chain. The payload carries a random per-entry salt, so the hash of an entry
cannot be used to guess the member ids inside it.

What the chain catches: any changed, inserted, reordered or removed row between the anchor and the
last entry. What it cannot catch alone: the removal of the newest entries (a shorter chain is still a
valid chain). Entries removed by retention from the old end are summarised by an *anchor* (the
sequence number and hash of the last removed entry), from which verification starts.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "GENESIS_HASH",
    "HASH_LEN",
    "ChainEntry",
    "VerifyResult",
    "canonical_entry",
    "entry_hash",
    "new_salt",
    "verify_chain",
]

HASH_LEN = 32
GENESIS_HASH = bytes(HASH_LEN)
_DOMAIN = b"holdspace/v1/audit-entry"
SALT_BYTES = 16


def new_salt() -> str:
    """A fresh random salt for one entry's payload (hex)."""
    return secrets.token_hex(SALT_BYTES)


def canonical_entry(*, seq: int, at_ms: int, guild_id: int, action: str, payload: Mapping[str, Any]) -> bytes:
    """The one byte encoding of an entry that its hash covers.

    Sorted keys, no insignificant whitespace, UTF-8. Ids are written as decimal strings so every JSON
    implementation reads them back unchanged.
    """
    document = {
        "v": 1,
        "seq": int(seq),
        "at_ms": int(at_ms),
        "guild": str(int(guild_id)),
        "action": str(action),
        "payload": dict(payload),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(prev_hash: bytes, canonical: bytes) -> bytes:
    """SHA-256 over a domain label, the previous entry's hash and this entry's canonical bytes."""
    prev = bytes(prev_hash)
    if len(prev) != HASH_LEN:
        raise ValueError(f"a previous hash is {HASH_LEN} bytes long")
    return hashlib.sha256(_DOMAIN + prev + canonical).digest()


@dataclass(frozen=True)
class ChainEntry:
    """One stored entry, with its payload already decrypted (``payload`` None: it could not be)."""

    seq: int
    at_ms: int
    guild_id: int
    action: str
    payload: Mapping[str, Any] | None
    prev_hash: bytes
    hash: bytes
    payload_error: str | None = None


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of a verification: ``ok``, how many entries were checked, the first broken link."""

    ok: bool
    checked: int
    broken_seq: int | None = None
    reason: str | None = None
    last_seq: int | None = None

    @property
    def message(self) -> str:
        """One line for the operator (what ``holdspace audit-verify`` prints)."""
        return self.describe()

    def describe(self) -> str:
        if self.ok:
            if self.checked == 0:
                return "audit log: no entries to check; the chain is intact"
            return f"audit log: {self.checked} entries checked up to #{self.last_seq}; the chain is intact"
        if self.broken_seq is None:
            return f"audit log: {self.reason} ({self.checked} checked before it are intact)"
        return (
            f"audit log: the chain is broken at entry #{self.broken_seq}: {self.reason} "
            f"({self.checked} entries before it are intact)"
        )


def verify_chain(
    entries: Iterable[ChainEntry], *, anchor_seq: int = 0, anchor_hash: bytes = GENESIS_HASH
) -> VerifyResult:
    """Check ``entries`` (ordered by seq) against each other and the anchor; name the first break."""
    expected_seq = anchor_seq + 1
    prev = bytes(anchor_hash)
    checked = 0
    last: int | None = None
    for entry in entries:
        if entry.seq != expected_seq:
            if entry.seq > expected_seq:
                reason = f"entries #{expected_seq} to #{entry.seq - 1} are missing"
                return VerifyResult(False, checked, expected_seq, reason, last)
            reason = f"entry #{entry.seq} appears out of order (expected #{expected_seq})"
            return VerifyResult(False, checked, entry.seq, reason, last)
        if bytes(entry.prev_hash) != prev:
            reason = "its link to the entry before does not match (an entry before it was replaced)"
            return VerifyResult(False, checked, entry.seq, reason, last)
        if entry.payload is None:
            reason = f"its payload cannot be decrypted ({entry.payload_error or 'altered or moved'})"
            return VerifyResult(False, checked, entry.seq, reason, last)
        computed = entry_hash(
            prev,
            canonical_entry(
                seq=entry.seq,
                at_ms=entry.at_ms,
                guild_id=entry.guild_id,
                action=entry.action,
                payload=entry.payload,
            ),
        )
        if computed != bytes(entry.hash):
            reason = "its content does not match its hash (the entry was changed)"
            return VerifyResult(False, checked, entry.seq, reason, last)
        prev = computed
        checked += 1
        last = entry.seq
        expected_seq += 1
    return VerifyResult(True, checked, None, None, last)
