"""The anchor of the groups' consent chains (bot.core.consent_chain): a small file beside the
database, ``<database>.anchor``, holding each group's chain head and signed with the key.

It lives outside the database on purpose: putting back an older copy of the database (or deleting
its newest consent rows) leaves the anchor ahead of the file, and that is what gives it away. The
anchor is written after each consent event is committed; a crash in between leaves the database
ahead of the anchor, which is fine (a chain may grow past its anchor, never shrink below it).
Its signature is a keyed HMAC from the key ring (checked against every key, so rotation keeps it).
"""

from __future__ import annotations

import json
import logging
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from bot.core.consent_chain import Head
from bot.crypto import KeyRing
from bot.files import write_private_atomically
from bot.storage.db import Database

log = logging.getLogger(__name__)

PURPOSE = "consent-anchor"


def anchor_path(db: Database) -> Path:
    return Path(f"{db.path}.anchor")


@dataclass
class Anchor:
    """The heads last written, as read at load and kept up to date by every consent write."""

    path: Path
    heads: dict[str, Head] = field(default_factory=dict)
    #: False when the file exists but its signature does not hold: nothing in it can be trusted
    trusted: bool = True
    #: False when there was no file yet (a new database, or the first start with chains)
    existed: bool = True

    def body(self) -> str:
        return json.dumps({gid: h.as_list() for gid, h in sorted(self.heads.items())}, sort_keys=True)

    def save(self, ring: KeyRing) -> None:
        body = self.body()
        mac = ring.blind_index(body, purpose=PURPOSE).hex()
        write_private_atomically(self.path, json.dumps({"heads": body, "mac": mac}))
        self.trusted = self.existed = True


_anchors: weakref.WeakKeyDictionary[Database, Anchor] = weakref.WeakKeyDictionary()


def read(path: Path, ring: KeyRing) -> Anchor:
    """The anchor file at ``path``; an unreadable or unsigned one comes back untrusted."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Anchor(path, existed=False)
    try:
        outer = json.loads(raw)
        body = outer["heads"]
        mac = bytes.fromhex(outer["mac"])
        if mac not in ring.blind_indexes(body, purpose=PURPOSE):
            raise ValueError("signature")
        heads = {gid: Head.from_list(value) for gid, value in json.loads(body).items()}
    except (ValueError, KeyError, TypeError):
        log.error("the consent anchor %s does not hold its signature; no group's consents can be trusted", path)
        return Anchor(path, trusted=False)
    return Anchor(path, heads)


def of(db: Database, ring: KeyRing) -> Anchor:
    """The anchor of ``db`` (read from its file once per open database)."""
    anchor = _anchors.get(db)
    if anchor is None:
        anchor = _anchors[db] = read(anchor_path(db), ring)
    return anchor


def advance(db: Database, ring: KeyRing, group_id: str, head: Head) -> None:
    """Record a group's new head (after its event was committed)."""
    anchor = of(db, ring)
    old = anchor.heads.get(group_id)
    if old is not None and (old.epoch, old.n) > (head.epoch, head.n):
        return  # a later write got there first
    anchor.heads[group_id] = head
    anchor.save(ring)


def replace_heads(db: Database, ring: KeyRing, heads: dict[str, Head]) -> None:
    """After a load (or a re-chain), the heads as they now are."""
    anchor = of(db, ring)
    anchor.heads = dict(heads)
    anchor.save(ring)


def resign(db: Database, ring: KeyRing) -> None:
    """Sign the anchor with the ring's current key (after a key rotation); an anchor that does not
    hold its signature, or none at all, is left as it is for the next start to judge."""
    anchor = read(anchor_path(db), ring)
    if anchor.existed and anchor.trusted:
        anchor.save(ring)
        _anchors[db] = anchor
