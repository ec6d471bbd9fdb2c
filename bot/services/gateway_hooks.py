"""Gateway events that reach holdspace's rules without a task per listener.

discord.py starts a task for every listener of every event. In a burst of joins that means several
tasks per join and per leave, run interleaved with the reading of the next events, and each join's
disconnect waits behind the tasks of the joins before it. :meth:`HoldspaceBot.dispatch` hands two
events here instead:

- every voice-state change, to the handlers registered with :meth:`GatewayHooks.on_voice`, at once,
  in the step that read it (who must leave a group's voice room, who left it). A handler is a plain
  function that reads memory only and starts departures or tasks; it never waits.
- the type of a gateway event, to the handlers registered with :meth:`GatewayHooks.after_event` for
  that type, just after discord.py has parsed the event (its cache then holds what the event said);
  the same moment a listener's task would start, without the task. Other types cost one set look-up
  (a burst of joins and leaves brings hundreds of events none of them wants).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import discord

log = logging.getLogger(__name__)

#: (member, before, after) as discord.py's ``on_voice_state_update`` receives them.
VoiceHandler = Callable[[discord.Member, discord.VoiceState, discord.VoiceState], None]
#: The gateway event's type ("GUILD_CREATE", "RESUMED", ...).
EventHandler = Callable[[str], None]


class GatewayHooks:
    def __init__(self) -> None:
        self._voice: dict[str, VoiceHandler] = {}
        self._after: dict[str, tuple[frozenset[str], EventHandler]] = {}
        self._wanted: frozenset[str] = frozenset()  # every event type some handler asked for

    def on_voice(self, name: str, handler: VoiceHandler) -> None:
        """Run ``handler`` on every voice-state change (a feature registers when it loads)."""
        self._voice[name] = handler

    def after_event(self, name: str, handler: EventHandler, types: frozenset[str]) -> None:
        """Run ``handler`` with the event's type once discord.py has parsed a gateway event of ``types``."""
        self._after[name] = (types, handler)
        self._collect_wanted()

    def remove(self, name: str) -> None:
        self._voice.pop(name, None)
        if self._after.pop(name, None) is not None:
            self._collect_wanted()

    def _collect_wanted(self) -> None:
        self._wanted = frozenset().union(*(types for types, _ in self._after.values()))

    def voice_changed(self, member: discord.Member, before: discord.VoiceState, after: discord.VoiceState) -> None:
        """Every voice handler, in the order they were registered; one that fails is logged and the others
        still run (this is inside discord.py's reading of the gateway, which must go on)."""
        for name, handler in list(self._voice.items()):
            try:
                handler(member, before, after)
            except Exception:
                log.exception("a voice change could not be handled (%s)", name)

    def event_read(self, event_type: str) -> None:
        """Called before discord.py parses the event: the handlers run in the loop's next step, after it."""
        if event_type in self._wanted:
            asyncio.get_running_loop().call_soon(self._run_after, event_type)

    def _run_after(self, event_type: str) -> None:
        for name, (types, handler) in list(self._after.items()):
            if event_type not in types:
                continue
            try:
                handler(event_type)
            except Exception:
                log.exception("a gateway event could not be handled (%s)", name)
