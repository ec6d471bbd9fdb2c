"""The gateway: HELLO, IDENTIFY/READY/GUILD_CREATE, heartbeats, RESUME with replay, intents, op 8.

Frames are plain JSON text (the client only inflates binary frames). Dispatches are buffered per
session, so a client that resumes gets what it missed, followed by RESUMED.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from . import permissions as P
from . import wire
from .world import DM, Application, Guild

if TYPE_CHECKING:
    from .server import Sandbox

GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_MODERATION = 1 << 2
GUILD_VOICE_STATES = 1 << 7
GUILD_PRESENCES = 1 << 8
GUILD_MESSAGES = 1 << 9
DIRECT_MESSAGES = 1 << 12
MESSAGE_CONTENT = 1 << 15
PRIVILEGED = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT

HEARTBEAT_INTERVAL_MS = 41250

_EVENT_INTENTS: dict[str, int] = {
    "GUILD_CREATE": GUILDS, "GUILD_UPDATE": GUILDS, "GUILD_DELETE": GUILDS,
    "GUILD_ROLE_CREATE": GUILDS, "GUILD_ROLE_UPDATE": GUILDS, "GUILD_ROLE_DELETE": GUILDS,
    "CHANNEL_CREATE": GUILDS, "CHANNEL_UPDATE": GUILDS, "CHANNEL_DELETE": GUILDS,
    "CHANNEL_PINS_UPDATE": GUILDS, "THREAD_CREATE": GUILDS, "THREAD_UPDATE": GUILDS,
    "THREAD_DELETE": GUILDS, "GUILD_MEMBER_ADD": GUILD_MEMBERS, "GUILD_MEMBER_UPDATE": GUILD_MEMBERS,
    "GUILD_MEMBER_REMOVE": GUILD_MEMBERS, "GUILD_BAN_ADD": GUILD_MODERATION,
    "GUILD_BAN_REMOVE": GUILD_MODERATION, "VOICE_STATE_UPDATE": GUILD_VOICE_STATES,
    "MESSAGE_CREATE": GUILD_MESSAGES, "MESSAGE_UPDATE": GUILD_MESSAGES, "MESSAGE_DELETE": GUILD_MESSAGES,
    "MESSAGE_DELETE_BULK": GUILD_MESSAGES,
}
_MESSAGE_EVENTS = {"MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE", "MESSAGE_DELETE_BULK"}


@dataclass
class Session:
    session_id: str
    app: Application
    intents: int
    seq: int = 0
    buffer: list[dict[str, Any]] = field(default_factory=list)
    queue: asyncio.Queue[str | None] | None = None
    ws: web.WebSocketResponse | None = None
    guild_ids: set[int] = field(default_factory=set)
    unavailable: set[int] = field(default_factory=set)  # servers in an outage: none of their events are sent

    @property
    def connected(self) -> bool:
        return self.ws is not None and not self.ws.closed


class Gateway:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox
        self.sessions: dict[str, Session] = {}
        self._sockets: set[web.WebSocketResponse] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.identify_count = 0
        self.resume_count = 0
        self.refused_while_down = 0

    # ----- dispatching world events
    def dispatch(self, event: str, data: dict[str, Any], guild_id: int | None) -> None:
        for s in list(self.sessions.values()):
            payload = self._for_session(s, event, data, guild_id)
            if payload is not None:
                self._send_dispatch(s, event, payload)

    def _for_session(self, s: Session, event: str, data: dict[str, Any],
                     guild_id: int | None) -> dict[str, Any] | None:
        world = self.sb.world
        if event == "INTERACTION_CREATE":
            return data if int(data["application_id"]) == s.app.id else None
        if event == "APPLICATION_COMMAND_PERMISSIONS_UPDATE" and int(data["application_id"]) != s.app.id:
            return None
        if guild_id is not None:
            guild = world.guilds.get(guild_id)
            if guild is None or guild_id not in s.guild_ids or guild_id in s.unavailable:
                return None
            if event in _MESSAGE_EVENTS:
                ch = world.channels.get(int(data["channel_id"]))
                bot_member = guild.members.get(s.app.bot.id)
                if ch is not None and bot_member is not None and \
                        not guild.permissions_for(bot_member, ch) & P.VIEW_CHANNEL:
                    return None
            need = _EVENT_INTENTS.get(event, 0)
            own_member_event = event == "GUILD_MEMBER_UPDATE" and data.get("user", {}).get("id") == str(s.app.bot.id)
            if need and not s.intents & need and not own_member_event:
                return None
        elif event in _MESSAGE_EVENTS:
            # DMs: only the bot's own DM channels, with DIRECT_MESSAGES.
            ch = world.channels.get(int(data["channel_id"]))
            if ch is None or ch.type != DM or not s.intents & DIRECT_MESSAGES:
                return None
        if event in ("MESSAGE_CREATE", "MESSAGE_UPDATE") and not s.intents & MESSAGE_CONTENT:
            data = _strip_content(data, s.app.bot.id, guild_id is None)
        return data

    def _send_dispatch(self, s: Session, event: str, data: dict[str, Any]) -> None:
        s.seq += 1
        frame = wire.dispatch(event, s.seq, data)
        s.buffer.append(frame)
        if s.connected and s.queue is not None:
            s.queue.put_nowait(wire.dumps(frame))

    def on_bot_added(self, guild: Guild, app: Application) -> None:
        for s in self.sessions.values():
            if s.app is app and guild.id not in s.guild_ids:
                s.guild_ids.add(guild.id)
                self._send_dispatch(s, "GUILD_CREATE", self._guild_create(s, guild))

    def guild_outage(self, guild: Guild) -> None:
        """The server becomes unavailable (an outage on Discord's side): GUILD_DELETE with
        ``unavailable: true`` to every session that has it; none of its events are sent until
        :meth:`guild_returns`, and what changed meanwhile arrives only in that GUILD_CREATE."""
        for s in self.sessions.values():
            if guild.id in s.guild_ids and guild.id not in s.unavailable:
                self._send_dispatch(s, "GUILD_DELETE", {"id": str(guild.id), "unavailable": True})
                s.unavailable.add(guild.id)

    def guild_returns(self, guild: Guild) -> None:
        """The outage is over: a full GUILD_CREATE, as Discord sends when a server becomes available."""
        for s in self.sessions.values():
            if guild.id in s.unavailable:
                s.unavailable.discard(guild.id)
                self._send_dispatch(s, "GUILD_CREATE", self._guild_create(s, guild))

    def _guild_create(self, s: Session, guild: Guild) -> dict[str, Any]:
        return guild.create_json(all_members=bool(s.intents & GUILD_MEMBERS), bot_id=s.app.bot.id)

    # ----- connection
    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.sb.down:
            self.refused_while_down += 1
            return web.Response(status=503, text="503 Service Unavailable")
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        self._sockets.add(ws)
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        writer = asyncio.create_task(self._writer(ws, queue))
        session: Session | None = None
        try:
            await queue.put(wire.dumps(wire.control(10, {"heartbeat_interval": HEARTBEAT_INTERVAL_MS})))
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                payload = wire.loads(msg.data)
                op = payload.get("op")
                d = payload.get("d")
                if op == 1:
                    await queue.put(wire.dumps(wire.control(11, None)))
                elif op == 2:
                    session = await self._identify(ws, queue, d)
                    if session is None:
                        break
                elif op == 6:
                    session = await self._resume(ws, queue, d)
                elif op == 8 and session is not None:
                    self._request_members(session, d)
                # op 3 presence and op 4 voice state: accepted and ignored
        finally:
            self._sockets.discard(ws)
            if session is not None and session.ws is ws:
                session.ws = None
                session.queue = None
            await queue.put(None)
            await asyncio.gather(writer, return_exceptions=True)
        return ws

    async def _writer(self, ws: web.WebSocketResponse, queue: asyncio.Queue[str | None]) -> None:
        while True:
            item = await queue.get()
            if item is None or ws.closed:
                return
            latency = self.sb.gateway_latency
            if latency:
                await asyncio.sleep(latency)
            try:
                await ws.send_str(item)
            except (ConnectionError, RuntimeError):
                return

    async def _identify(self, ws: web.WebSocketResponse, queue: asyncio.Queue[str | None],
                        d: dict[str, Any]) -> Session | None:
        token = str(d.get("token", ""))
        token = token.removeprefix("Bot ")
        app = self.sb.world.app_by_token(token)
        if app is None:
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        intents = int(d.get("intents", 0))
        if intents & PRIVILEGED & ~app.intents_enabled:
            await ws.close(code=4014, message=b"Disallowed intent(s).")
            return None
        self.identify_count += 1
        s = Session(secrets.token_hex(16), app, intents, queue=queue, ws=ws)
        guilds = [g for g in self.sb.world.guilds.values() if app.bot.id in g.members]
        s.guild_ids = {g.id for g in guilds}
        self.sessions[s.session_id] = s
        self._send_dispatch(s, "READY", {
            "v": 10, "user": app.bot.to_json() | {"verified": True, "mfa_enabled": False, "email": None},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": s.session_id, "session_type": "normal",
            "resume_gateway_url": self.sb.gateway_url, "shard": [0, 1],
            "application": {"id": str(app.id), "flags": app.flags}, "private_channels": [],
            "relationships": [], "presences": [], "guild_join_requests": [], "user_settings": {},
            "geo_ordered_rtc_regions": [], "auth": {},
        })
        for g in guilds:
            self._send_dispatch(s, "GUILD_CREATE", self._guild_create(s, g))
        return s

    async def _resume(self, ws: web.WebSocketResponse, queue: asyncio.Queue[str | None],
                      d: dict[str, Any]) -> Session | None:
        s = self.sessions.get(str(d.get("session_id")))
        token = str(d.get("token", "")).removeprefix("Bot ")
        if s is None or s.app.token != token:
            await queue.put(wire.dumps(wire.control(9, False)))
            return None
        self.resume_count += 1
        seq = int(d.get("seq") or 0)
        if s.ws is not None and s.ws is not ws and not s.ws.closed:
            await s.ws.close(code=4009)
        s.ws, s.queue = ws, queue
        for frame in s.buffer:
            if frame["s"] > seq:
                await queue.put(wire.dumps(frame))
        self._send_dispatch(s, "RESUMED", {})
        return s

    def _request_members(self, s: Session, d: dict[str, Any]) -> None:
        gid = int(d["guild_id"]) if not isinstance(d["guild_id"], list) else int(d["guild_id"][0])
        guild = self.sb.world.guilds.get(gid)
        if guild is None:
            return
        members = list(guild.members.values())
        if d.get("user_ids"):
            wanted = {int(u) for u in d["user_ids"]}
            members = [m for m in members if m.id in wanted]
        elif d.get("query"):
            q = str(d["query"]).lower()
            members = [m for m in members if m.user.username.lower().startswith(q)]
        limit = int(d.get("limit") or 0)
        if limit:
            members = members[:limit]
        chunk: dict[str, Any] = {"guild_id": str(gid), "members": [m.to_json() for m in members],
                                 "chunk_index": 0, "chunk_count": 1}
        if d.get("nonce"):
            chunk["nonce"] = d["nonce"]
        self._send_dispatch(s, "GUILD_MEMBERS_CHUNK", chunk)

    # ----- faults
    async def drop(self, *, resumable: bool = True, code: int = 4000) -> None:
        """Drop every live connection: resumable (close ``code``) or not (op 9, session forgotten)."""
        for s in list(self.sessions.values()):
            if not s.connected:
                continue
            assert s.ws is not None
            if resumable:
                await s.ws.close(code=code, message=b"sandbox dropped the connection")
            else:
                if s.queue is not None:
                    await s.queue.put(wire.dumps(wire.control(9, False)))
                del self.sessions[s.session_id]

    async def close_code(self, code: int) -> None:
        for ws in list(self._sockets):
            await ws.close(code=code)

    async def close_all(self) -> None:
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"sandbox stopping")

    def live_sessions(self, app: Application | None = None) -> list[Session]:
        return [s for s in self.sessions.values() if s.connected and (app is None or s.app is app)]


def _strip_content(data: dict[str, Any], bot_id: int, is_dm: bool) -> dict[str, Any]:
    author = data.get("author", {}).get("id")
    mentioned = any(u.get("id") == str(bot_id) for u in data.get("mentions", []))
    if is_dm or author == str(bot_id) or mentioned:
        return data
    out = dict(data)
    for key, empty in (("content", ""), ("embeds", []), ("attachments", []), ("components", [])):
        if key in out:
            out[key] = empty
    return out


Predicate = Callable[[dict[str, Any]], bool]
