"""Groups: creating and adopting their rooms, enrolment, settings, the agreement and the roster.

The Discord side of access (grant, withdraw, disconnect, reconcile) lives in bot/services/access.py;
turning typed options into groups and names lives in bot/ui/group_options.py.
"""

from __future__ import annotations

from bot.app import HoldspaceBot
from cogs.groups.commands import Groups

__all__ = ["Groups", "setup"]


async def setup(bot: HoldspaceBot) -> None:
    await bot.add_cog(Groups(bot))
