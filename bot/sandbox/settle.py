"""Knowing that a client running against the sandbox has nothing left to do, without timing it.

A test checks that something does *not* happen by waiting until everything under way is done, never
for a fixed time. "Done" is read from the event loop itself, so it holds on a slow, busy machine as
on a fast one: the loop is quiet when, for several turns in a row,

- no callback is ready to run (a task woken, a future resolved, data read from a socket);
- no task is inside a discord.py HTTP request or an aiosqlite statement (work that waits on the wire
  or on the database thread, which the ready queue cannot show);
- no real-time sleep or timeout falls due within ``HORIZON`` seconds (grace periods, retry pauses,
  batching windows, discord.py's wait for guilds at start-up); waits further off are idle timeouts
  (heartbeats, keep-alives, slow retries), and a test needing what they lead to moves on without them;
- the sandbox has no unanswered request and its gateway has no event the client has not received.

Timeouts here only bound a failure: a test that passes never waits for one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from pathlib import Path
from types import CodeType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import discord

    from .server import Sandbox

#: How long any wait in tests may take before it counts as a failure. Generous on purpose: it bounds
#: a failure and is never a speed target (those live in benchmarks).
WAIT_TIMEOUT = 60.0
#: Real-time sleeps and timeouts due within this many seconds count as work under way.
HORIZON = 2.5
#: Consecutive quiet turns of the loop that make "settled".
QUIET_TURNS = 3


def _work_markers() -> tuple[frozenset[CodeType], str]:
    import aiosqlite
    import discord.http

    return frozenset({discord.http.HTTPClient.request.__code__}), str(Path(aiosqlite.__file__).parent)


def _awaits(coro: Any) -> Iterable[CodeType]:
    """The code of every coroutine (and generator) in ``coro``'s chain of awaits, outermost first."""
    seen = 0
    while coro is not None and seen < 200:
        seen += 1
        code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None) or getattr(coro, "ag_code", None)
        if code is not None:
            yield code
        nxt = getattr(coro, "cr_await", None)
        if nxt is None:
            nxt = getattr(coro, "gi_yieldfrom", None)
        if nxt is None:
            nxt = getattr(coro, "ag_await", None)
        coro = nxt


def task_work(loop: asyncio.AbstractEventLoop, *, ignore: Iterable[asyncio.Task[Any]] = ()) -> list[str]:
    """Tasks inside an HTTP request or a database statement."""
    http_codes, aiosqlite_dir = _work_markers()
    skip = set(ignore)
    found: list[str] = []
    for task in asyncio.all_tasks(loop):
        if task in skip or task.done():
            continue
        for code in _awaits(task.get_coro()):
            if code in http_codes:
                found.append(f"task {task.get_name()!r} is in an HTTP request")
                break
            if code.co_filename.startswith(aiosqlite_dir):
                found.append(f"task {task.get_name()!r} waits for the database")
                break
    return found


def loop_work(loop: asyncio.AbstractEventLoop, *, horizon: float = HORIZON,
              ignore: Iterable[asyncio.Task[Any]] = ()) -> list[str]:
    """Callbacks ready to run, and real-time sleeps or timeouts due within ``horizon`` seconds (except
    those of the tasks in ``ignore``).

    Reads the ready queue and the timer heap of CPython's asyncio loop; other loops report nothing.
    """
    skip = set(ignore)
    found: list[str] = []
    ready = [h for h in getattr(loop, "_ready", ()) if not h.cancelled()]
    if ready:
        found.append(f"{len(ready)} callbacks ready to run")
    now = loop.time()
    waiting = {id(w): t for t in asyncio.all_tasks(loop) if (w := getattr(t, "_fut_waiter", None)) is not None}
    for handle in getattr(loop, "_scheduled", ()):
        if not handle.cancelled() and handle.when() - now <= horizon:
            args = getattr(handle, "_args", None) or ()
            task = waiting.get(id(args[0])) if args else None
            if task is not None and task in skip:
                continue
            what = f"task {task.get_name()!r}" if task is not None else repr(getattr(handle, "_callback", handle))
            found.append(f"a real-time wait due in {max(0.0, handle.when() - now):.2f}s ({what})")
    return found


def sandbox_work(sb: Sandbox, client: discord.Client) -> list[str]:
    """Requests the sandbox has not answered; events dispatched to ``client`` it has not received."""
    found: list[str] = []
    if any(r.finished == 0.0 for r in sb.requests):
        found.append("a request to the sandbox is unanswered")
    user = client.user
    ws = client.ws if not client.is_closed() else None
    received = ws.sequence if ws is not None else None
    for s in sb.gateway.sessions.values():
        if user is not None and s.app.bot.id == user.id and s.connected and s.seq != received:
            found.append(f"gateway event #{s.seq} not yet received (the client is at {received})")
    return found


async def settle(sb: Sandbox, client: discord.Client, *, also: Callable[[], list[str]] | None = None,
                 watchers: Callable[[asyncio.Task[Any]], bool] | None = None,
                 timeout: float = WAIT_TIMEOUT, horizon: float = HORIZON) -> None:
    """Wait until ``client`` (and the sandbox) have nothing left to do; see the module's docstring.

    ``also`` adds the client's own signals (say, its scheduler asleep with nothing due). ``watchers``
    picks tasks whose real-time waits are not work: they only look again later at something that,
    in a test's consistent world, needs nothing done. Raises AssertionError naming what was still
    under way if that does not happen within ``timeout``.
    """
    loop = asyncio.get_running_loop()
    me = asyncio.current_task()
    deadline = loop.time() + timeout
    quiet = 0
    busy: list[str] = []
    while quiet < QUIET_TURNS:
        idle = [t for t in asyncio.all_tasks(loop) if watchers(t)] if watchers is not None else []
        busy = [*sandbox_work(sb, client), *(also() if also is not None else []),
                *task_work(loop, ignore=[me] if me is not None else []),
                *loop_work(loop, horizon=horizon, ignore=idle)]
        if busy:
            quiet = 0
            if loop.time() > deadline:
                raise AssertionError(f"did not settle within {timeout}s; still under way: " + "; ".join(busy[:8]))
            await asyncio.sleep(0.005)  # something is under way: look again shortly
        else:
            quiet += 1
            await asyncio.sleep(0)  # one more turn of the loop, timers and sockets included
