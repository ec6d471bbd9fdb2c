"""Vouching for the file as it stands: ``holdspace integrity accept``.

Without any copy of the anchor (bot.storage.consent_anchor) a start cannot tell an older copy of the
database from the newest, so it treats every group with records as tampered. When the server's
administrator knows the file is the right one (moved to a new machine without its anchor, say), they
run ``holdspace integrity accept`` while holdspace is stopped: the anchor is written anew from the
file, for every group whose records hold among themselves. Groups whose records do not hold even
among themselves stay out of it and are still reported at the next start.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core import roster_seal
from bot.core.consent_chain import Head, verify
from bot.core.roster_seal import Seal
from bot.crypto import KeyRing
from bot.storage import consent_anchor
from bot.storage import consents as consent_store
from bot.storage import groups as group_store
from bot.storage.db import Database


@dataclass(frozen=True)
class Accepted:
    groups: int  # groups whose records now stand in the anchor
    left_out: int  # groups whose records do not hold among themselves


async def accept(db: Database, ring: KeyRing) -> Accepted:
    """Write the anchor from the file as it stands."""
    heads: dict[str, Head] = {}
    rosters: dict[str, Seal] = {}
    left_out: set[str] = set()
    events = await consent_store.history(db, ring)
    by_group: dict[str, list[consent_store.ConsentEvent]] = {}
    for event in events:
        by_group.setdefault(event.group_id, []).append(event)
    for gid, group_events in by_group.items():
        head, problem = verify([e.linked() for e in group_events], None)
        if problem is not None:
            left_out.add(gid)
        elif head is not None:
            heads[gid] = head
    anchor = consent_anchor.of(db, ring)
    anchor.existed, anchor.trusted, anchor.heads, anchor.rosters = True, True, {}, {}
    for gid, roster in (await group_store.load_rosters(db, ring)).items():
        stored = roster.seal
        if roster.problem is None or roster.problem.startswith("the signed record"):
            if stored.n > 0 or stored.digest != roster_seal.EMPTY:
                rosters[gid] = stored
        else:
            left_out.add(gid)
    consent_anchor.replace_heads(db, ring, heads, rosters)
    groups = len(set(heads) | set(rosters))
    return Accepted(groups, len(left_out))
