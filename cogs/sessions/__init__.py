"""Sessions: start and end, weekly schedules in local time, and ground-rules reminders.

- ``/session start`` opens a locked group's rooms to its consented members, posts the ground rules in
  the text room and in the voice room's chat, and records the session with its end as a durable timer.
- ``/session end`` locks the rooms again where the group locks between sessions (and disconnects the
  people still in voice: overwrites alone remove nobody), expires the session's messages where the
  group does that at session end, records the end and tells the consent feature
  (``holdspace_session_end``).
- Schedules start and end sessions by themselves at local wall-clock time on durable timers; each
  start schedules the next occurrence computed in local time (bot.core.schedule).
- The ground rules are also posted when the first person joins a group's voice room while no session
  runs (at most once per ``auto_reminder_gap``), optionally every ``remind_every`` during a session,
  and members whose consent is out of date can be sent a DM before a scheduled session.

No names are stored or logged; ids are logged at debug level only. Every facilitator action and every
automatic start and end is written to the audit log.
"""

from __future__ import annotations

from bot.app import HoldspaceBot
from cogs.sessions.commands import Sessions

__all__ = ["Sessions", "setup"]


async def setup(bot: HoldspaceBot) -> None:
    await bot.add_cog(Sessions(bot))
