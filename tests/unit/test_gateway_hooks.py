"""bot/services/gateway_hooks.py: voice changes handled in the step that read them, event types after
discord.py parsed the event; a failing handler never stops the others (nor the gateway's reading)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from bot.services.gateway_hooks import GatewayHooks


def test_voice_handlers_run_at_once_in_order_and_a_failing_one_does_not_stop_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hooks = GatewayHooks()
    seen: list[str] = []

    def broken(*_: Any) -> None:
        raise RuntimeError("boom")

    hooks.on_voice("first", lambda *_: seen.append("first"))
    hooks.on_voice("broken", broken)
    hooks.on_voice("last", lambda *_: seen.append("last"))
    with caplog.at_level(logging.ERROR):
        hooks.voice_changed(object(), object(), object())  # type: ignore[arg-type]
    assert seen == ["first", "last"]  # no loop step needed: they ran inside the call
    assert "a voice change could not be handled (broken)" in caplog.text
    hooks.remove("first")
    seen.clear()
    hooks.voice_changed(object(), object(), object())  # type: ignore[arg-type]
    assert seen == ["last"]


async def test_event_handlers_run_in_the_next_step_after_the_event_was_parsed(caplog: pytest.LogCaptureFixture) -> None:
    hooks = GatewayHooks()
    seen: list[str] = []

    def broken(_: str) -> None:
        raise RuntimeError("boom")

    hooks.after_event("broken", broken, frozenset({"GUILD_CREATE"}))
    hooks.after_event("record", seen.append, frozenset({"GUILD_CREATE", "RESUMED"}))
    with caplog.at_level(logging.ERROR):
        hooks.event_read("GUILD_CREATE")
        seen.append("parsed")  # discord.py parses the event after telling its type
        await asyncio.sleep(0)
    assert seen == ["parsed", "GUILD_CREATE"]
    assert "a gateway event could not be handled (broken)" in caplog.text


async def test_an_event_type_no_handler_asked_for_schedules_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    hooks = GatewayHooks()
    seen: list[str] = []
    hooks.after_event("ready", lambda t: seen.append(f"ready:{t}"), frozenset({"READY"}))
    hooks.after_event("resumed", lambda t: seen.append(f"resumed:{t}"), frozenset({"RESUMED"}))
    loop = asyncio.get_running_loop()
    scheduled: list[str] = []  # the event types handed on to a next step
    original = loop.call_soon

    def call_soon(callback: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(callback, "__name__", "") == "_run_after":
            scheduled.append(args[0])
        return original(callback, *args, **kwargs)

    monkeypatch.setattr(loop, "call_soon", call_soon)
    for _ in range(100):  # a burst of joins: none of these is wanted
        hooks.event_read("VOICE_STATE_UPDATE")
    assert scheduled == []
    hooks.event_read("RESUMED")
    await asyncio.sleep(0)
    assert seen == ["resumed:RESUMED"]  # only the handler that asked for it
    hooks.remove("resumed")
    hooks.event_read("RESUMED")
    await asyncio.sleep(0)
    assert seen == ["resumed:RESUMED"]  # removed: its type is no longer wanted
    assert scheduled == ["RESUMED"]
