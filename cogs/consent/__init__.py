"""The consent gate: reading the agreement, agreeing or not, withdrawing, consent over time, and the
backstop that disconnects people found in a group's voice room without consent.

Hooks for other features:
- the sessions feature dispatches ``bot.dispatch("holdspace_session_end", group_id)`` when a
  session ends; consents that went stale during it (agreement changed, too old) are withdrawn then;
- ``next_session_text(bot, group_id)`` asks the sessions feature (``bot.sessions``) for a
  ``next_session_text(group_id)`` coroutine to tell a member who just consented when the next
  session is.
"""

from __future__ import annotations

from bot.app import HoldspaceBot
from cogs.consent.commands import Consent

__all__ = ["Consent", "setup"]


async def setup(bot: HoldspaceBot) -> None:
    await bot.add_cog(Consent(bot))
