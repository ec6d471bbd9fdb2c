"""The guard: keeping recording bots out and the group rooms closed.

- Allowlist: ``/guard allow|deny|list`` (server managers). holdspace itself is always allowed.
  Allowed bots get a member-level allow on every group room; every other bot a member-level deny
  of View Channel and Connect (a member deny beats any role allow).
- Prevention: a bot joining the server (GUILD_MEMBER_ADD) gets its denies on every group room at
  once, then a ``bot_added`` case names who added it when the audit log tells (the id, stored
  encrypted inside the case; never a name).
- Reaction: a non-allowed bot in a group voice room is disconnected, then the server's action
  (``/guard action``) is taken; anyone whose nickname or display name shows a recording marker is
  disconnected (a person is never kicked). The decision reads ``bot.state`` and this cog's memory
  only: no database or network read stands between the event and the disconnect request.
- Integrity: when a group room's overwrites change, or on start and resume, they are compared with
  what the room must carry (``bot.core.drift``) and restored; a ``permission_drift`` case says what
  changed, in words without names. A role gaining Administrator opens a case too: overwrites cannot
  keep its holders out.
- ``/guard audit``: a pass/warn/fail checklist of the server's set-up (``bot.core.server_audit``).

Loops are avoided three ways: a restoration is compared with what the room must carry and ends
when nothing differs (holdspace's own CHANNEL_UPDATE finds nothing to do); events for a room that
is already waiting to be checked are folded into that check; and ``RestoreLimiter`` caps the
attempts per room. When holdspace lacks a permission it says so in a case and does not retry.

Changes to consenting members' own overwrites and to a group's role are checked only after a short
grace period, because the consent and sessions features change exactly those while opening and
closing rooms; the guard never adds access for people (that is theirs), it only takes away access
nobody is meant to have.
"""

from __future__ import annotations

from bot.app import HoldspaceBot
from cogs.guard.cog import Guard

__all__ = ["Guard", "setup"]


async def setup(bot: HoldspaceBot) -> None:
    await bot.add_cog(Guard(bot))
