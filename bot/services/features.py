"""What one feature offers the others through the bot: typed attributes (``bot.consent``,
``bot.sessions``) that a feature sets while it is loaded, instead of features looking each other up."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

import discord

from bot.core.records import GroupInfo
from bot.ui.consent_views import ConsentFlow

if TYPE_CHECKING:
    from bot.services.enforcement import Closing


class ConsentGate(ConsentFlow, Protocol):
    """The consent feature: its buttons' flow, the backstop, consent over time and its one withdrawal
    path."""

    async def enforce(
        self, member: discord.Member, group: GroupInfo, *, trigger: str, open_case: bool = True
    ) -> None: ...

    async def revalidate_group(self, group_id: str) -> bool: ...

    async def reschedule_expiry(self, group: GroupInfo) -> None: ...

    async def end_consent(
        self,
        group: GroupInfo,
        member_id: int,
        *,
        answer: str,
        method: str,
        reason: str,
        audit_action: str | None = ...,
        removal: bool = ...,
        at: datetime | None = ...,
    ) -> tuple[bool, Closing | None]:
        """The one withdrawal path (leaving the server, erasure): (anything was held open, what closing
        the rooms did, None when there was no consent)."""
        ...


class SessionCalendar(Protocol):
    """The sessions feature, as others ask it when a group meets next."""

    async def next_session_text(self, group_id: str) -> str | None: ...
