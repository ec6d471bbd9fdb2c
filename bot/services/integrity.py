"""Failing closed for a group whose records did not hold at the start: its consent chain
(bot.core.consent_chain), its roster seal (bot.core.roster_seal), its own row, or the anchor beside
the database (bot.storage.consent_anchor).

At load, ``bot.state`` counts no consent for such a group, so its members lose access at once. Here
holdspace makes that lasting before it connects: a reset event starts a new epoch of the group's
chain (consents from before it never count again, even if the file is "repaired" later), the
roster is sealed again as it now stands (rows that do not decrypt where they stand are dropped), and
once connected a case tells the moderators what was found, so the facilitators check the roster
(/group roster) and the members consent again. Facilitators keep their access to the rooms: they
are the ones who put the group right. Every other group runs on as usual, and holdspace never
refuses to start over it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.storage import consents as consent_store
from bot.storage import groups as group_store

if TYPE_CHECKING:
    from bot.app import HoldspaceBot

log = logging.getLogger(__name__)

KIND = "records_tampered"


class Integrity:
    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot
        self._cases: list[tuple[str, int, str]] = []  # (group id, epoch, problem) still to report
        bot.add_listener(self._on_ready, "on_ready")

    async def fail_closed(self) -> None:
        """Reset the chains of the groups the load found tampered (before the gateway connects)."""
        bot = self.bot
        for group_id, problem in sorted(bot.state.tampered.items()):
            log.error("the records of a group do not hold (%s); its members must consent again", problem)
            await group_store.rename_unreadable(bot.db, bot.ring, group_id)
            reset = await consent_store.record_reset(
                bot.db, bot.ring, group_id=group_id, at=bot.clock.now(), reason="records_tampered"
            )
            await group_store.reseal_roster(bot.db, bot.ring, group_id)
            self._cases.append((group_id, reset.epoch, problem))

    async def _on_ready(self) -> None:
        pending, self._cases = self._cases, []
        for group_id, epoch, problem in pending:
            group = self.bot.state.groups.get(group_id)
            if group is None:
                continue
            await self.bot.cases.open(
                group.guild_id,
                KIND,
                group_id=group_id,
                details={
                    "problem": problem,
                    "what_holdspace_did": (
                        "consents no longer count; members consent again; facilitators check the roster"
                    ),
                },
                dedupe_key=f"{KIND}:{group_id}:{epoch}",
            )
