"""Knowing that a client running against the sandbox has nothing left to do, without timing it.

A test checks that something does *not* happen by waiting until everything under way is done, never
for a fixed time. "Done" is read from the event loop itself, so it holds on a slow, busy machine as
on a fast one: the loop is quiet when, for several turns in a row,

- no callback is ready to run (a task woken, a future resolved, data read from a socket);
- no discord.py event handler is still running, and no task is inside a discord.py HTTP request or
  a database statement (work that waits on the wire or on the database thread, which the ready queue
  cannot show);
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
    """discord.py event handlers still running, and tasks inside an HTTP request or an aiosqlite
    statement (as far as their chain of awaits can be followed: a client's own database layer should
    say when it is busy, see :func:`settle_holdspace`)."""
    http_codes, aiosqlite_dir = _work_markers()
    skip = set(ignore)
    found: list[str] = []
    for task in asyncio.all_tasks(loop):
        if task in skip or task.done():
            continue
        if task.get_name().startswith("discord.py: "):
            found.append(f"discord.py is running the event handler {task.get_name()[12:]!r}")
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
    # tuple() copies in one step under the GIL: other threads (aiosqlite, discord.py's heartbeat) add
    # to the ready queue through call_soon_threadsafe while we look.
    ready = [h for h in tuple(getattr(loop, "_ready", ())) if not h.cancelled()]
    if ready:
        found.append(f"{len(ready)} callbacks ready to run")
    now = loop.time()
    waiting = {id(w): t for t in asyncio.all_tasks(loop) if (w := getattr(t, "_fut_waiter", None)) is not None}
    for handle in tuple(getattr(loop, "_scheduled", ())):
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


#: holdspace tasks that only look again, after a few real-time seconds, whether something needs doing:
#: the guard watching whether a room it saw created or changed becomes a group room. Tests and the
#: demo store a group with rooms that already carry what a group's rooms must carry, so what it finds
#: needs nothing done, and settling need not wait for it (were it renamed, settling would only take
#: longer, never end early).
HOLDSPACE_WATCHERS = ("_maybe_new_group_room",)


def holdspace_watcher(task: asyncio.Task[Any]) -> bool:
    name = getattr(task.get_coro(), "__qualname__", "")
    return any(w in name for w in HOLDSPACE_WATCHERS)


async def settle_holdspace(sb: Sandbox, bot: discord.Client, *, timeout: float = WAIT_TIMEOUT) -> None:
    """:func:`settle` for holdspace: also waits for its scheduler to be asleep with nothing due and
    for its database to be free (every statement holds the database's lock while it runs)."""
    scheduler = getattr(bot, "scheduler", None)
    db = getattr(bot, "db", None)

    def asleep() -> list[str]:
        found = [] if scheduler is None or scheduler.idle else ["holdspace's scheduler is running due work"]
        if db is not None and db.busy:
            found.append("a database statement or transaction of holdspace is under way")
        return found

    await settle(sb, bot, also=asleep, watchers=holdspace_watcher, timeout=timeout)
