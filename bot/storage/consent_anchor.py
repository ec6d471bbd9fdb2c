"""The anchor of every group's records: a small signed file beside the database, ``<database>.anchor``,
holding the head of each group's consent chain (bot.core.consent_chain) and the count and digest of
its roster seal (bot.core.roster_seal); optionally a second copy elsewhere (``[bot] anchor_copy``).

It lives outside the database on purpose: putting back an older copy of the database (or deleting
its newest consent rows) leaves the anchor ahead of the file, and that is what gives it away. The
anchor is written after each change is committed; a crash in between leaves the database ahead of
the anchor, which is fine (a chain may grow past its anchor, never shrink below it). Its signature
is a keyed HMAC from the key ring (checked against every key, so rotation keeps it).

Both copies are read and the newer position of each group wins, so replacing one copy with an older
one changes nothing while the other holds. When no copy exists but the database holds records, the
start treats every group with records as tampered (bot.storage.consents.load_checked) unless the
server's administrator vouched for the file with ``holdspace integrity accept`` (:func:`accept`).
"""

from __future__ import annotations

import json
import logging
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.core.consent_chain import Head
from bot.core.roster_seal import Seal
from bot.crypto import KeyRing
from bot.files import write_private_atomically
from bot.storage.db import Database

log = logging.getLogger(__name__)

PURPOSE = "consent-anchor"


def anchor_path(db: Database) -> Path:
    return Path(f"{db.path}.anchor")


@dataclass
class Anchor:
    """The heads last written, as read at load and kept up to date by every write."""

    path: Path
    heads: dict[str, Head] = field(default_factory=dict)
    rosters: dict[str, Seal] = field(default_factory=dict)
    #: False when a copy exists but its signature does not hold: nothing in it can be trusted
    trusted: bool = True
    #: False when there was no copy at all (a new database, or the anchor was deleted)
    existed: bool = True
    #: further places the anchor is written to and read from
    copies: tuple[Path, ...] = ()

    def body(self) -> str:
        return json.dumps(
            {
                "consents": {gid: h.as_list() for gid, h in sorted(self.heads.items())},
                "rosters": {gid: s.as_list() for gid, s in sorted(self.rosters.items())},
            },
            sort_keys=True,
        )

    def save(self, ring: KeyRing) -> None:
        body = self.body()
        mac = ring.blind_index(body, purpose=PURPOSE).hex()
        text = json.dumps({"heads": body, "mac": mac})
        write_private_atomically(self.path, text)
        for copy in self.copies:
            try:
                write_private_atomically(copy, text)
            except OSError as exc:  # the record stands; the copy is behind until it can be written again
                log.error("cannot write the anchor's copy %s (%s); check [bot] anchor_copy", copy, exc.strerror)
        self.trusted = self.existed = True


_anchors: weakref.WeakKeyDictionary[Database, Anchor] = weakref.WeakKeyDictionary()
_copies: weakref.WeakKeyDictionary[Database, tuple[Path, ...]] = weakref.WeakKeyDictionary()


def keep_copy(db: Database, path: Path | None) -> None:
    """Also write the anchor of ``db`` to ``path`` and read it from there (before the first read)."""
    _copies[db] = () if path is None else (Path(path),)
    _anchors.pop(db, None)


def _parse_body(body: str) -> tuple[dict[str, Head], dict[str, Seal]]:
    parsed: Any = json.loads(body)
    if isinstance(parsed, dict) and isinstance(parsed.get("consents"), dict):
        heads = {gid: Head.from_list(v) for gid, v in parsed["consents"].items()}
        rosters = {gid: Seal.from_list(v) for gid, v in parsed.get("rosters", {}).items()}
        return heads, rosters
    # the form written before rosters were sealed: consent heads only
    return {gid: Head.from_list(v) for gid, v in parsed.items()}, {}


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
        heads, rosters = _parse_body(body)
    except (ValueError, KeyError, TypeError, AttributeError):
        log.error("the anchor %s does not hold its signature; no group's records can be trusted", path)
        return Anchor(path, trusted=False)
    return Anchor(path, heads, rosters)


def read_all(path: Path, copies: tuple[Path, ...], ring: KeyRing) -> Anchor:
    """Every copy merged: the furthest position of each group; untrusted if any copy is."""
    merged = read(path, ring)
    merged.copies = copies
    for copy in copies:
        other = read(copy, ring)
        if not other.existed:
            continue
        if not merged.existed:
            merged.existed, merged.trusted = True, other.trusted
        merged.trusted = merged.trusted and other.trusted
        for gid, head in other.heads.items():
            mine = merged.heads.get(gid)
            if mine is None or (head.epoch, head.n) > (mine.epoch, mine.n):
                merged.heads[gid] = head
        for gid, seal in other.rosters.items():
            if gid not in merged.rosters or seal.n > merged.rosters[gid].n:
                merged.rosters[gid] = seal
    return merged


def of(db: Database, ring: KeyRing) -> Anchor:
    """The anchor of ``db`` (read from its copies once per open database)."""
    anchor = _anchors.get(db)
    if anchor is None:
        anchor = _anchors[db] = read_all(anchor_path(db), _copies.get(db, ()), ring)
    return anchor


def advance(db: Database, ring: KeyRing, group_id: str, head: Head) -> None:
    """Record a group's new consent head (after its event was committed)."""
    anchor = of(db, ring)
    old = anchor.heads.get(group_id)
    if old is not None and (old.epoch, old.n) > (head.epoch, head.n):
        return  # a later write got there first
    anchor.heads[group_id] = head
    anchor.save(ring)


def advance_roster(db: Database, ring: KeyRing, group_id: str, seal: Seal) -> None:
    """Record a group's new roster seal (after the change was committed)."""
    anchor = of(db, ring)
    old = anchor.rosters.get(group_id)
    if old is not None and old.n > seal.n:
        return
    anchor.rosters[group_id] = seal
    anchor.save(ring)


def replace_heads(
    db: Database, ring: KeyRing, heads: dict[str, Head], rosters: dict[str, Seal] | None = None
) -> None:
    """After a load (or a re-chain), the heads (and roster seals, unless None) as they now are."""
    anchor = of(db, ring)
    anchor.heads = dict(heads)
    if rosters is not None:
        anchor.rosters = dict(rosters)
    anchor.save(ring)


def resign(db: Database, ring: KeyRing) -> None:
    """Sign the anchor with the ring's current key (after a key rotation); an anchor that does not
    hold its signature, or none at all, is left as it is for the next start to judge."""
    anchor = read_all(anchor_path(db), _copies.get(db, ()), ring)
    if anchor.existed and anchor.trusted:
        anchor.save(ring)
        _anchors[db] = anchor
