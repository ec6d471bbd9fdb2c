"""Opening cases: one store for everything flagged, announced in the moderators' log channel."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.app import HoldspaceBot


class CaseService:
    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot

    async def open(
        self,
        guild_id: int,
        kind: str,
        *,
        group_id: str | None = None,
        subject_id: int | None = None,
        details: dict[str, Any] | None = None,
        dedupe_key: str | None = None,
    ) -> int | None:
        """Open a case and post its notice; returns the case number (None while not built)."""
        return None
