"""The sandbox server: one aiohttp app on 127.0.0.1 serving Discord's REST API and gateway."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import yarl
from aiohttp import BodyPartReader, web

from bot.clock import Clock, SystemClock

from . import rest, wire
from .errors import ApiError
from .faults import Faults
from .gateway import Gateway
from .interactions import FIRST_REPLY_DEADLINE, InteractionHandle
from .ratelimit import RateLimitConfig, RateLimiter
from .recorder import RecordedEvent, RecordedRequest, Recorder
from .scenario import Scenario
from .settle import WAIT_TIMEOUT
from .spec import SpecChecker
from .world import Application, Channel, Guild, Member, Message, User, World

API_PREFIX = "/api/v10"
JSON = "application/json"


def _json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    if status == 204 or body is None:
        return web.Response(status=status, headers=headers)
    resp = web.Response(status=status, body=wire.dumps_bytes(body), headers=headers)
    resp.headers["Content-Type"] = JSON  # exactly, without "; charset=utf-8"
    return resp


class Sandbox(Scenario):
    """A local Discord. ``async with Sandbox(clock=clock) as sb:`` serves on 127.0.0.1 (port 0)."""

    def __init__(self, *, clock: Clock | None = None, rate_limits: RateLimitConfig | None = None,
                 spec_path: str | Path | None = None, check_spec: bool = True,
                 interaction_deadline: float = FIRST_REPLY_DEADLINE) -> None:
        self.clock: Clock = clock or SystemClock()
        self.recorder = Recorder()
        self.gateway = Gateway(self)
        self.world = World(self.clock, self._on_world_event)
        self.world.bot_added_hook = self.gateway.on_bot_added
        self.ratelimiter = RateLimiter(rate_limits)
        self.faults = Faults()
        self.spec = SpecChecker(spec_path) if check_spec else None
        self.interactions: dict[int, InteractionHandle] = {}
        self.interaction_deadline = interaction_deadline
        self.gateway_latency = 0.0
        self.down = False  # an outage: every request and gateway connection is answered 503
        self.port = 0
        self._runner: web.AppRunner | None = None

    # ----- lifecycle
    async def start(self) -> Sandbox:
        app = web.Application()
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._handle_http)
        app.router.add_get("/", self.gateway.handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Sandbox:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    def point_discord(self) -> None:
        point_discord_at(self)

    # ----- world shortcuts
    def create_user(self, username: str, **kw: Any) -> User:
        return self.world.create_user(username, **kw)

    def create_application(self, name: str, **kw: Any) -> Application:
        return self.world.create_application(name, **kw)

    def create_guild(self, name: str, owner: User) -> Guild:
        return self.world.create_guild(name, owner)

    def post(self, channel: Channel, author: Member | User, content: str = "", **kw: Any) -> Message:
        """A person posts; ``at=`` backdates the message (its snowflake carries that time)."""
        return self.world.post(channel, author, content, **kw)

    def post_many(self, channel: Channel, author: Member | User, count: int, *, content: str = "message {i}",
                  at: datetime | None = None, **kw: Any) -> list[Message]:
        return [self.world.post(channel, author, content.format(i=i), at=at, **kw) for i in range(count)]

    def dm_channel(self, user: User, app: Application | None = None) -> Channel:
        """The DM channel between ``user`` and a bot (one per person in this model)."""
        app = self._app_for(app)
        return self.world.dm_channel(user, app.bot)

    def pin(self, message: Message, pinned: bool = True) -> None:
        self.world.set_pinned(message, pinned)

    def delete(self, message: Message) -> None:
        self.world.delete_message(message)

    @property
    def unserved_requests(self) -> list[RecordedRequest]:
        """Requests to routes the sandbox does not model (answered 404): a test should have none."""
        return [r for r in self.recorder.requests if r.route is None]

    @property
    def spec_violations(self) -> list[str]:
        return self.spec.violations if self.spec is not None else []

    # ----- waiting and inspecting
    @property
    def requests(self) -> list[RecordedRequest]:
        return self.recorder.requests

    @property
    def events(self) -> list[RecordedEvent]:
        return self.recorder.events

    def requests_matching(self, method: str | None = None, path: str | None = None,
                          status: int | None = None) -> list[RecordedRequest]:
        return self.recorder.requests_matching(method, path, status)

    async def wait_for_request(self, method: str, path: str, *, timeout: float = WAIT_TIMEOUT,
                               status: int | None = None, after: int = 0) -> RecordedRequest:
        return await self.recorder.wait_for_request(method, path, timeout=timeout, status=status, after=after)

    async def wait_for_event(self, name: str, check: Callable[[dict[str, Any]], bool] | None = None, *,
                             timeout: float = WAIT_TIMEOUT, after: int = 0) -> RecordedEvent:
        return await self.recorder.wait_for_event(name, check, timeout=timeout, after=after)

    async def wait_until(self, predicate: Callable[[], Any], timeout: float = WAIT_TIMEOUT) -> Any:
        return await self.recorder.wait_until(predicate, timeout)

    async def wait_connected(self, app: Application, timeout: float = WAIT_TIMEOUT) -> None:
        """Until ``app``'s bot has a live gateway session that received READY."""
        await self.wait_until(lambda: self.gateway.live_sessions(app), timeout)

    async def api(self, method: str, path: str, *, json_body: Any = None, token: str | None = None,
                  params: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
        """A raw request to the sandbox (for tests): returns status, decoded JSON body and headers."""
        import aiohttp

        headers = {"Authorization": f"Bot {token}"} if token else {}
        async with aiohttp.ClientSession() as session, session.request(
                method, self.api_base + path, json=json_body, headers=headers, params=params) as resp:
            raw = await resp.read()
            body = wire.loads(raw) if raw and resp.headers.get("Content-Type") == JSON else None
            return resp.status, body, dict(resp.headers)

    # ----- faults
    async def drop_gateway(self, *, resumable: bool = True, code: int = 4000) -> None:
        await self.gateway.drop(resumable=resumable, code=code)

    async def go_down(self) -> None:
        """Discord has an outage: live gateway connections drop (close code 1011) and, until
        :meth:`come_back`, every REST request and every new gateway connection gets a 503."""
        self.down = True
        await self.gateway.close_code(1011)

    def come_back(self) -> None:
        """The outage is over; sessions dropped by it can resume."""
        self.down = False

    def guild_outage(self, guild: Guild) -> None:
        """One server becomes unavailable while the connection stays up (GUILD_DELETE, unavailable)."""
        self.gateway.guild_outage(guild)

    def guild_returns(self, guild: Guild) -> None:
        """That server is available again: its full GUILD_CREATE."""
        self.gateway.guild_returns(guild)

    def _on_world_event(self, event: str, data: dict[str, Any], guild_id: int | None) -> None:
        self.recorder.add_event(RecordedEvent(event, data, guild_id, time.monotonic()))
        self.gateway.dispatch(event, data, guild_id)

    # ----- HTTP
    async def _handle_http(self, request: web.Request) -> web.StreamResponse:
        if self.down:
            return _json_response(503, {"message": "503: Service Unavailable", "code": 0})
        method = request.method
        path = request.path[len(API_PREFIX):] or "/"
        found = rest.resolve(method, path)
        rec = RecordedRequest(method, path, found[0].template if found else None, query=dict(request.query),
                              started=time.monotonic())
        self.recorder.requests.append(rec)
        try:
            body, bad_body, files = await self._read_body(request)
            rec.json = body
            headers: dict[str, str]
            if bad_body is not None and found is not None:
                status, out, headers = bad_body.status, bad_body.body(), {}
            else:
                status, out, headers = await self._serve(request, method, path, found, body, rec, files)
        except Exception:
            rec.status = 500
            rec.finished = time.monotonic()
            self.recorder.notify()
            raise
        rec.status = status
        rec.response = out
        rec.finished = time.monotonic()
        self.recorder.notify()
        return _json_response(status, out, headers)

    @staticmethod
    async def _read_body(request: web.Request) -> tuple[Any, ApiError | None, list[rest.Upload]]:
        """The JSON body, or ``payload_json`` of a multipart upload with its ``files[n]`` parts."""
        files: list[rest.Upload] = []
        if request.content_type.startswith("multipart/"):
            raw: bytes | str = b""
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    continue
                data = bytes(await part.read())
                if part.name == "payload_json":
                    raw = data
                elif part.name and (index := rest.upload_index(part.name)) is not None:
                    files.append(rest.Upload(index, part.filename or "file", data,
                                             part.headers.get("Content-Type")))
        else:
            raw = await request.read()
        if not raw:
            return None, None, files
        try:
            return wire.loads(raw), None, files
        except ValueError:
            return None, ApiError(400, 50109, "The request body contains invalid JSON."), files

    async def _serve(self, request: web.Request, method: str, path: str,
                     found: tuple[rest.Route, dict[str, str]] | None, body: Any,
                     rec: RecordedRequest, files: list[rest.Upload] | None = None) -> tuple[int, Any, dict[str, str]]:
        if found is None:
            return 404, {"message": "404: Not Found", "code": 0}, {}
        route, params = found
        app: Application | None = None
        if route.auth:
            auth = request.headers.get("Authorization", "")
            app = self.world.app_by_token(auth.removeprefix("Bot ")) if auth.startswith("Bot ") else None
            if app is None:
                return 401, {"message": "401: Unauthorized", "code": 0}, {}
            rec.app_id = app.id
        elif route.interaction and "webhook_id" in params and params["webhook_id"].isdigit():
            rec.app_id = int(params["webhook_id"])

        latency = self.faults.latency_for(method, path, route.template)
        if latency:
            await asyncio.sleep(latency)

        major = "+".join(params[k] for k in ("channel_id", "guild_id", "webhook_id", "webhook_token")
                         if k in params)
        verdict = self.ratelimiter.check(method, route.template, major, rec.app_id,
                                         exempt_global=route.interaction)
        headers = dict(verdict.headers)
        fault = self.faults.take(method, path, route.template)
        if fault is not None and fault.status == 429:
            return self._too_many(headers, fault.retry_after, "global" if fault.is_global else "user")
        if verdict.limited:
            return self._too_many(headers, verdict.retry_after, verdict.scope or "user")
        if fault is not None:
            return fault.status, {"message": f"{fault.status}: sandbox fault", "code": 0}, headers

        if self.spec is not None and body is not None:
            self.spec.check_request(method, route.template, body)
        ctx = rest.Ctx(self, method, params, request.query, body, app,
                       request.headers.get("X-Audit-Log-Reason"), list(files or ()))
        try:
            status, out = await route.handler(ctx)
        except ApiError as err:
            status, out = err.status, err.body()
        if self.spec is not None:
            self.spec.check_response(method, route.template, status, out)
        return status, out, headers

    @staticmethod
    def _too_many(headers: dict[str, str], retry_after: float, scope: str) -> tuple[int, Any, dict[str, str]]:
        is_global = scope == "global"
        headers = dict(headers)
        headers.update({
            "X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}", "X-RateLimit-Scope": scope,
            "Retry-After": str(max(1, round(retry_after))), "Via": "1.1 google",
        })
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global}
        if is_global:
            body["code"] = 0
        return 429, body, headers


def point_discord_at(sb: Sandbox) -> None:
    """Point the unmodified discord.py client at ``sb`` (REST base URL and gateway URL).

    Do not call ``discord.http._set_api_version`` afterwards: it resets ``Route.BASE``.
    """
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

    Route.BASE = sb.api_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(sb.gateway_url)
