"""REST routes of Discord's v10 API that the sandbox serves, with Discord's status and error codes."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from . import interactions as I
from . import permissions as P
from .errors import ApiError, invalid_form, missing_access, missing_permissions, unknown
from .permissions import Overwrite
from .snowflakes import snowflake_time
from .world import (
    AUDIT_MEMBER_DISCONNECT,
    AUDIT_MEMBER_ROLE_UPDATE,
    AUDIT_MEMBER_UPDATE,
    DM,
    EPHEMERAL,
    GUILD_CATEGORY,
    GUILD_TEXT,
    GUILD_VOICE,
    LOADING,
    PRIVATE_THREAD,
    PUBLIC_THREAD,
    Application,
    Attachment,
    Channel,
    Guild,
    Member,
    Message,
    Role,
    iso,
)

if TYPE_CHECKING:
    from multidict import MultiMapping

    from .server import Sandbox

SNOWFLAKE = re.compile(r"^\d{1,20}$")
_UPLOAD_NAME = re.compile(r"^files\[(\d{1,2})\]$")


@dataclass(frozen=True)
class Upload:
    """One ``files[n]`` part of a multipart request."""

    index: int
    filename: str
    data: bytes
    content_type: str | None = None


def upload_index(name: str) -> int | None:
    found = _UPLOAD_NAME.match(name)
    return int(found.group(1)) if found else None
MENTION = re.compile(r"<@!?(\d+)>")


@dataclass
class Ctx:
    sb: Sandbox
    method: str
    params: dict[str, str]
    query: MultiMapping[str]
    body: Any
    app: Application | None
    reason: str | None
    files: list[Upload] = field(default_factory=list)

    @property
    def bot_app(self) -> Application:
        assert self.app is not None
        return self.app

    def json(self) -> dict[str, Any]:
        if not isinstance(self.body, dict):
            raise ApiError(400, 50109, "The request body contains invalid JSON.")
        return self.body


Result = tuple[int, Any]
Handler = Callable[[Ctx], Awaitable[Result]]


@dataclass
class Route:
    method: str
    template: str
    handler: Handler
    auth: bool = True
    interaction: bool = False

    def __post_init__(self) -> None:
        pattern = re.sub(r"\\\{([a-z_]+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.template))
        self.regex = re.compile(f"^{pattern}$")


ROUTES: list[Route] = []


def route(method: str, template: str, *, auth: bool = True, interaction: bool = False
          ) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        ROUTES.append(Route(method, template, fn, auth, interaction))
        return fn
    return deco


def resolve(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """Literal routes win over parameter routes (``/users/@me`` before ``/users/{user_id}``)."""
    candidates = []
    for r in ROUTES:
        if r.method != method:
            continue
        m = r.regex.match(path)
        if m:
            candidates.append((r.template.count("{"), r, m.groupdict()))
    if not candidates:
        return None
    candidates.sort(key=lambda c: c[0])
    return candidates[0][1], candidates[0][2]


# ------------------------------------------------------------------------- helpers


def _sf(value: Any, what: str = "snowflake") -> int:
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str) and SNOWFLAKE.match(value):
        return int(value)
    raise invalid_form(what, f"Value \"{value}\" is not snowflake.", "NUMBER_TYPE_COERCE")


def get_channel(ctx: Ctx) -> Channel:
    cid = ctx.params["channel_id"]
    ch = ctx.sb.world.channels.get(int(cid)) if cid.isdigit() else None
    if ch is None:
        raise unknown("Channel", 10003)
    if ch.guild is not None and ctx.app is not None and ctx.app.bot.id not in ch.guild.members:
        raise missing_access()
    return ch


def get_guild(ctx: Ctx) -> Guild:
    gid = ctx.params["guild_id"]
    g = ctx.sb.world.guilds.get(int(gid)) if gid.isdigit() else None
    if g is None or (ctx.app is not None and ctx.app.bot.id not in g.members):
        raise unknown("Guild", 10004)
    return g


def bot_member(ctx: Ctx, guild: Guild) -> Member:
    m = guild.members.get(ctx.bot_app.bot.id)
    if m is None:
        raise missing_access()
    return m


def require(ctx: Ctx, guild: Guild | None, channel: Channel | None, needed: int) -> int:
    """The bot's permissions; 50001 when it cannot see ``channel``, 50013 when ``needed`` is missing."""
    if guild is None:
        return P.ALL
    me = bot_member(ctx, guild)
    perms = guild.permissions_for(me, channel)
    if channel is not None and not perms & P.VIEW_CHANNEL:
        raise missing_access()
    if perms & needed != needed:
        raise missing_permissions()
    return perms


def above(ctx: Ctx, guild: Guild, target: Member) -> None:
    """Role hierarchy: the bot's highest role must be above the target's; the owner is untouchable."""
    me = bot_member(ctx, guild)
    if target.id == guild.owner_id or (me.id != guild.owner_id and me.top_rank() <= target.top_rank()):
        raise missing_permissions()


def role_below(ctx: Ctx, guild: Guild, role: Role) -> None:
    me = bot_member(ctx, guild)
    if me.id != guild.owner_id and me.top_rank() <= role.rank:
        raise missing_permissions()


def check_grantable(ctx: Ctx, guild: Guild, bits: int, channel: Channel | None = None) -> None:
    """A bot can only allow or deny permissions it holds itself (ADMINISTRATOR holds all)."""
    me = bot_member(ctx, guild)
    held = guild.permissions_for(me, channel)
    if guild.permissions_for(me) & P.ADMINISTRATOR:
        return
    if bits & ~held:
        raise missing_permissions()


def _int_field(body: dict[str, Any], name: str, default: int = 0) -> int:
    value = body.get(name, default)
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise invalid_form(name, "Value is not a valid integer.", "NUMBER_TYPE_COERCE") from None


def _parse_overwrites(ctx: Ctx, guild: Guild, raw: Any, channel: Channel | None) -> list[Overwrite]:
    if not isinstance(raw, list):
        raise invalid_form("permission_overwrites", "Must be an array.", "LIST_TYPE_CONVERT")
    out = []
    for i, o in enumerate(raw):
        if not isinstance(o, dict) or "id" not in o:
            raise invalid_form(f"permission_overwrites.{i}.id", "This field is required")
        oid = _sf(o["id"], f"permission_overwrites.{i}.id")
        otype = _int_field(o, "type", -1)
        if otype not in (0, 1):
            raise invalid_form(f"permission_overwrites.{i}.type", "Value must be one of (0, 1).", "ENUM_TYPE_COERCE")
        allow, deny = _int_field(o, "allow"), _int_field(o, "deny")
        check_grantable(ctx, guild, allow | deny, channel)
        out.append(Overwrite(oid, otype, allow, deny))
    return out


def _message_fields(ctx: Ctx, body: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "content" in body or not partial:
        content = body.get("content") or ""
        if not isinstance(content, str):
            raise invalid_form("content", "Could not interpret value as string.", "STRING_TYPE_CONVERT")
        if len(content) > 2000:
            raise invalid_form("content", "Must be 2000 or fewer in length.", "BASE_TYPE_MAX_LENGTH")
        out["content"] = content
        mentioned = [ctx.sb.world.users[int(u)] for u in MENTION.findall(content)
                     if int(u) in ctx.sb.world.users]
        out["mentions"] = mentioned
    if "embeds" in body or "embed" in body or not partial:
        embeds = body.get("embeds") or ([body["embed"]] if body.get("embed") else [])
        if len(embeds) > 10:
            raise invalid_form("embeds", "Must be 10 or fewer in length.", "BASE_TYPE_MAX_LENGTH")
        out["embeds"] = [_embed(e) for e in embeds]
    if "components" in body or not partial:
        out["components"] = _components(body.get("components") or [])
    if ctx.files:
        out["attachments"] = _attachments(ctx, body)
    return out


def _attachments(ctx: Ctx, body: dict[str, Any]) -> list[Attachment]:
    """The uploaded files, matched to ``attachments[].id`` of the JSON part as Discord does."""
    uploads = {u.index: u for u in ctx.files}
    out: list[Attachment] = []
    for n, item in enumerate(body.get("attachments") or []):
        if not isinstance(item, dict):
            raise invalid_form(f"attachments.{n}", "Must be an object.", "MODEL_TYPE_CONVERT")
        try:
            upload = uploads[int(item.get("id", -1))]
        except (KeyError, TypeError, ValueError):
            raise invalid_form(f"attachments.{n}.id", "Unknown attachment.", "ATTACHMENT_NOT_FOUND") from None
        name = str(item.get("filename") or upload.filename)
        out.append(Attachment(ctx.sb.world.new_id(), name, upload.data, upload.content_type))
    return out


def _embed(e: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in e.items() if v is not None}
    out.setdefault("type", "rich")
    if "fields" in out:
        out["fields"] = [{"inline": False, **f} for f in out["fields"]]
    return out


def _components(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def fill(c: dict[str, Any]) -> dict[str, Any]:
        c = dict(c)
        c.setdefault("id", 1)
        if "components" in c:
            c["components"] = [fill(x) for x in c["components"]]
        return c
    return [fill(r) for r in rows]


def _find_message(ch: Channel, mid: str) -> Message:
    msg = ch.get_message(int(mid)) if mid.isdigit() else None
    if msg is None:
        raise unknown("Message", 10008)
    return msg


# ------------------------------------------------------------------ users / login


@route("GET", "/users/@me")
async def get_me(ctx: Ctx) -> Result:
    return 200, ctx.bot_app.bot.to_json() | {"verified": True, "mfa_enabled": False, "locale": "en-US",
                                             "premium_type": 0, "email": None, "bio": "", "banner": None,
                                             "accent_color": None, "banner_color": None}


@route("GET", "/users/{user_id}")
async def get_user(ctx: Ctx) -> Result:
    uid = ctx.params["user_id"]
    user = ctx.sb.world.users.get(int(uid)) if uid.isdigit() else None
    if user is None:
        raise unknown("User", 10013)
    return 200, user.to_json()


@route("GET", "/oauth2/applications/@me")
async def get_app(ctx: Ctx) -> Result:
    return 200, ctx.bot_app.to_json()


@route("GET", "/applications/@me")
async def get_app_me(ctx: Ctx) -> Result:
    return 200, ctx.bot_app.to_json()


@route("GET", "/users/@me/guilds")
async def my_guilds(ctx: Ctx) -> Result:
    bot_id = ctx.bot_app.bot.id
    guilds = sorted((g for g in ctx.sb.world.guilds.values() if bot_id in g.members), key=lambda g: g.id)
    out: list[dict[str, Any]] = []
    for g in guilds:
        me = g.members[bot_id]
        out.append({"id": str(g.id), "name": g.name, "icon": None, "banner": None,
                    "owner": g.owner_id == bot_id, "permissions": str(g.permissions_for(me)), "features": []})
    return 200, out


@route("GET", "/gateway", auth=False)
async def get_gateway(ctx: Ctx) -> Result:
    return 200, {"url": ctx.sb.gateway_url}


@route("GET", "/gateway/bot")
async def get_gateway_bot(ctx: Ctx) -> Result:
    return 200, {"url": ctx.sb.gateway_url, "shards": 1, "session_start_limit": {
        "total": 1000, "remaining": 999, "reset_after": 86_400_000, "max_concurrency": 1}}


@route("POST", "/users/@me/channels")
async def open_dm(ctx: Ctx) -> Result:
    body = ctx.json()
    if "recipient_id" not in body:
        raise invalid_form("recipient_id", "This field is required")
    uid = _sf(body["recipient_id"], "recipient_id")
    user = ctx.sb.world.users.get(uid)
    if user is None:
        raise unknown("User", 10013)
    ch = ctx.sb.world.dm_channel(user, ctx.bot_app.bot)
    return 200, ch.to_json()


# ------------------------------------------------------------------ application commands


COMMAND_NAME = re.compile(r"^[-_'\w]{1,32}$")
#: The locales Discord accepts as keys of name and description localisations.
DISCORD_LOCALES = frozenset(
    ("id", "da", "de", "en-GB", "en-US", "es-ES", "es-419", "fr", "hr", "it", "lt", "hu", "nl", "no", "pl", "pt-BR",
     "ro", "fi", "sv-SE", "vi", "tr", "cs", "el", "bg", "ru", "uk", "hi", "th", "zh-CN", "ja", "zh-TW", "ko")
)


def _check_localisations(raw: dict[str, Any], where: str, *, slash: bool, name_limit: int = 32) -> None:
    """Localised names follow the same rules as the name; descriptions are 1-100 characters."""
    for key, rule in (("name_localizations", "name"), ("description_localizations", "description")):
        for locale, text in (raw.get(key) or {}).items():
            if locale not in DISCORD_LOCALES:
                raise invalid_form(f"{where}{key}.{locale}", "Invalid Locale", "LOCALE_INVALID")
            text = str(text)
            if rule == "description" and not 1 <= len(text) <= 100:
                raise invalid_form(f"{where}{key}.{locale}", "Must be between 1 and 100 in length.",
                                   "BASE_TYPE_BAD_LENGTH")
            if rule == "name" and slash and (not COMMAND_NAME.match(text) or text != text.lower()):
                raise invalid_form(f"{where}{key}.{locale}", "Command name is invalid",
                                   "APPLICATION_COMMAND_INVALID_NAME")
            if rule == "name" and not 1 <= len(text) <= name_limit:
                raise invalid_form(f"{where}{key}.{locale}", f"Must be between 1 and {name_limit} in length.",
                                   "BASE_TYPE_BAD_LENGTH")


def _check_options(options: list[dict[str, Any]], where: str) -> None:
    if len(options) > 25:
        raise invalid_form(f"{where}options", "Must be 25 or fewer in length.", "BASE_TYPE_MAX_LENGTH")
    for i, o in enumerate(options):
        name = str(o.get("name", ""))
        if not COMMAND_NAME.match(name) or name != name.lower():
            raise invalid_form(f"{where}options.{i}.name", "Command name is invalid",
                               "APPLICATION_COMMAND_INVALID_NAME")
        if not 1 <= len(str(o.get("description", ""))) <= 100:
            raise invalid_form(f"{where}options.{i}.description", "Must be between 1 and 100 in length.",
                               "BASE_TYPE_BAD_LENGTH")
        _check_localisations(o, f"{where}options.{i}.", slash=True)
        for j, choice in enumerate(o.get("choices") or []):
            _check_localisations(choice, f"{where}options.{i}.choices.{j}.", slash=False, name_limit=100)
        _check_options(list(o.get("options") or []), f"{where}options.{i}.")


def _store_command(ctx: Ctx, raw: dict[str, Any], guild_id: int | None,
                   existing: list[dict[str, Any]]) -> dict[str, Any]:
    if not isinstance(raw, dict) or not raw.get("name"):
        raise invalid_form("name", "This field is required")
    ctype = int(raw.get("type") or 1)
    if ctype == 1:
        if not COMMAND_NAME.match(raw["name"]) or raw["name"] != raw["name"].lower():
            raise invalid_form("name", "Command name is invalid", "APPLICATION_COMMAND_INVALID_NAME")
        if not 1 <= len(raw.get("description") or "") <= 100:
            raise invalid_form("description", "Must be between 1 and 100 in length.", "BASE_TYPE_BAD_LENGTH")
        _check_options(list(raw.get("options") or []), "")
    elif not 1 <= len(raw["name"]) <= 32:
        raise invalid_form("name", "Must be between 1 and 32 in length.", "BASE_TYPE_BAD_LENGTH")
    _check_localisations(raw, "", slash=ctype == 1)
    old = next((c for c in existing if c["name"] == raw["name"] and c["type"] == ctype), None)
    cmd: dict[str, Any] = {
        "id": old["id"] if old else str(ctx.sb.world.new_id()), "application_id": str(ctx.bot_app.id),
        "version": str(ctx.sb.world.new_id()), "type": ctype, "name": raw["name"],
        "description": raw.get("description") or "", "default_member_permissions":
            None if raw.get("default_member_permissions") is None else str(int(raw["default_member_permissions"])),
        "nsfw": bool(raw.get("nsfw", False)),
        "options": raw.get("options") or [], "name_localizations": raw.get("name_localizations"),
        "description_localizations": raw.get("description_localizations"),
        "contexts": raw.get("contexts"), "integration_types": raw.get("integration_types") or [0],
    }
    if ctype != 1:
        cmd["description"] = ""
    if guild_id is not None:
        cmd["guild_id"] = str(guild_id)
    else:
        cmd["dm_permission"] = raw.get("dm_permission", True)
    return cmd


@route("GET", "/applications/{application_id}/commands")
async def get_global_commands(ctx: Ctx) -> Result:
    return 200, ctx.bot_app.global_commands


@route("PUT", "/applications/{application_id}/commands")
async def put_global_commands(ctx: Ctx) -> Result:
    if not isinstance(ctx.body, list):
        raise invalid_form("_root", "Must be an array.", "LIST_TYPE_CONVERT")
    old = ctx.bot_app.global_commands
    ctx.bot_app.global_commands = [_store_command(ctx, c, None, old) for c in ctx.body]
    return 200, ctx.bot_app.global_commands


@route("POST", "/applications/{application_id}/commands")
async def post_global_command(ctx: Ctx) -> Result:
    app = ctx.bot_app
    cmd = _store_command(ctx, ctx.json(), None, app.global_commands)
    app.global_commands = [c for c in app.global_commands if c["id"] != cmd["id"]] + [cmd]
    return 201, cmd


@route("GET", "/applications/{application_id}/guilds/{guild_id}/commands")
async def get_guild_commands(ctx: Ctx) -> Result:
    g = get_guild(ctx)
    return 200, ctx.bot_app.guild_commands.get(g.id, [])


@route("PUT", "/applications/{application_id}/guilds/{guild_id}/commands")
async def put_guild_commands(ctx: Ctx) -> Result:
    g = get_guild(ctx)
    if not isinstance(ctx.body, list):
        raise invalid_form("_root", "Must be an array.", "LIST_TYPE_CONVERT")
    old = ctx.bot_app.guild_commands.get(g.id, [])
    ctx.bot_app.guild_commands[g.id] = [_store_command(ctx, c, g.id, old) for c in ctx.body]
    return 200, ctx.bot_app.guild_commands[g.id]


@route("GET", "/applications/{application_id}/guilds/{guild_id}/commands/permissions")
async def get_guild_command_permissions(ctx: Ctx) -> Result:
    """Every override an admin set in this server for this application (its commands and itself)."""
    from .command_permissions import guild_permissions_json

    g = get_guild(ctx)
    app = ctx.bot_app
    return 200, [guild_permissions_json(app, g, target) for target in app.command_permissions.get(g.id, {})]


@route("GET", "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}/permissions")
async def get_command_permissions(ctx: Ctx) -> Result:
    from .command_permissions import guild_permissions_json

    g = get_guild(ctx)
    app = ctx.bot_app
    target = int(ctx.params["command_id"])
    if target not in app.command_permissions.get(g.id, {}):
        raise ApiError(404, 10066, "Unknown application command permissions")
    return 200, guild_permissions_json(app, g, target)


@route("POST", "/applications/{application_id}/guilds/{guild_id}/commands")
async def post_guild_command(ctx: Ctx) -> Result:
    g = get_guild(ctx)
    old = ctx.bot_app.guild_commands.get(g.id, [])
    cmd = _store_command(ctx, ctx.json(), g.id, old)
    ctx.bot_app.guild_commands[g.id] = [c for c in old if c["id"] != cmd["id"]] + [cmd]
    return 201, cmd


# ------------------------------------------------------------------ interactions


def _handle_for(ctx: Ctx, iid: str, token: str) -> I.InteractionHandle:
    handle = ctx.sb.interactions.get(int(iid)) if iid.isdigit() else None
    if handle is None or handle.token != token:
        raise unknown("interaction", 10062)
    return handle


def _handle_by_token(ctx: Ctx) -> I.InteractionHandle:
    token = ctx.params["webhook_token"]
    for h in ctx.sb.interactions.values():
        if h.token == token and str(h.app.id) == ctx.params["webhook_id"]:
            h.check_token()
            return h
    raise unknown("Webhook", 10015)


def _reply_message(ctx: Ctx, h: I.InteractionHandle, data: dict[str, Any], *, loading: bool = False,
                   ) -> Message:
    fields = _message_fields(ctx, data) if not loading else {"content": ""}
    flags = I.reply_flags(data) | (LOADING if loading else 0)
    # CHAT_INPUT_COMMAND (20) or CONTEXT_MENU_COMMAND (23) replies; DEFAULT (0) for components/modals
    mtype = 0
    if h.type == I.APPLICATION_COMMAND:
        mtype = 20 if h.payload["data"].get("type", 1) == 1 else 23
    return ctx.sb.world.post(h.channel, h.app.bot, check=False, flags=flags, type=mtype,
                             webhook_id=h.app.id, application_id=h.app.id,
                             interaction_metadata=I.message_interaction_metadata(h), **fields)


@route("POST", "/interactions/{interaction_id}/{interaction_token}/callback", auth=False, interaction=True)
async def interaction_callback(ctx: Ctx) -> Result:
    h = _handle_for(ctx, ctx.params["interaction_id"], ctx.params["interaction_token"])
    try:
        return await _callback(ctx, h)
    except ApiError as err:
        if not h.responded:
            h.error = err
            ctx.sb.recorder.notify()
        raise


async def _callback(ctx: Ctx, h: I.InteractionHandle) -> Result:
    if h.age > ctx.sb.interaction_deadline:
        raise unknown("interaction", 10062)
    if h.responded:
        raise ApiError(400, 40060, "Interaction has already been acknowledged.")
    body = ctx.json()
    rtype = _int_field(body, "type", -1)
    data = body.get("data") or {}
    resource: dict[str, Any] | None = None
    if (rtype == I.AUTOCOMPLETE_RESULT) != (h.type == I.AUTOCOMPLETE):
        raise invalid_form("type", "Interaction response type is not valid here.", "INTERACTION_RESPONSE_TYPE")
    if rtype == I.CHANNEL_MESSAGE_WITH_SOURCE:
        _require_content(data)
        h.message = _reply_message(ctx, h, data)
        resource = {"type": rtype, "message": h.message.to_json()}
    elif rtype == I.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE:
        h.message = _reply_message(ctx, h, data, loading=True)  # the "thinking" message; no resource
    elif rtype == I.DEFERRED_UPDATE_MESSAGE:
        if h.type not in (I.MESSAGE_COMPONENT, I.MODAL_SUBMIT):
            raise invalid_form("type", "Interaction response type is not valid here.", "INTERACTION_RESPONSE_TYPE")
        h.message = h.target
    elif rtype == I.UPDATE_MESSAGE:
        if h.type not in (I.MESSAGE_COMPONENT, I.MODAL_SUBMIT) or h.target is None:
            raise invalid_form("type", "Interaction response type is not valid here.", "INTERACTION_RESPONSE_TYPE")
        h.message = ctx.sb.world.edit_message(h.target, **_message_fields(ctx, data, partial=True))
        resource = {"type": rtype, "message": h.message.to_json()}
    elif rtype == I.AUTOCOMPLETE_RESULT:
        choices = data.get("choices")
        if not isinstance(choices, list) or len(choices) > 25:
            raise invalid_form("data.choices", "Must be 25 or fewer in length.", "BASE_TYPE_MAX_LENGTH")
        h.choices = choices
    elif rtype == I.MODAL:
        if h.type == I.MODAL_SUBMIT:
            raise invalid_form("type", "Interaction response type is not valid here.", "INTERACTION_RESPONSE_TYPE")
        if not data.get("custom_id") or not data.get("title"):
            raise invalid_form("data.custom_id", "This field is required")
        h.modal = data
    else:
        raise invalid_form("type", f"Value must be one of (4, 5, 6, 7, 8, 9); got {rtype}.", "ENUM_TYPE_COERCE")
    h.mark(rtype)
    if "with_response" not in ctx.query or ctx.query.get("with_response") in ("false", "0"):
        return 204, None
    inter: dict[str, Any] = {"id": str(h.id), "type": h.type,
                             "response_message_loading": rtype == I.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
                             "response_message_ephemeral": bool(h.message and h.message.ephemeral)}
    if h.message is not None and rtype in (4, 5, 7):
        inter["response_message_id"] = str(h.message.id)
    out: dict[str, Any] = {"interaction": inter}
    if resource is not None:
        out["resource"] = resource
    return 200, out


def _require_content(data: dict[str, Any]) -> None:
    if not (data.get("content") or data.get("embeds") or data.get("components") or data.get("poll")):
        raise ApiError(400, 50006, "Cannot send an empty message")


def _webhook_message(ctx: Ctx, h: I.InteractionHandle) -> Message:
    mid = ctx.params.get("message_id", "@original")
    if mid == "@original":
        if h.message is None or h.response_type in (I.MODAL, None):
            raise unknown("Message", 10008)
        return h.message
    for m in h.followups:
        if str(m.id) == mid:
            return m
    if h.message is not None and str(h.message.id) == mid:
        return h.message
    raise unknown("Message", 10008)


@route("POST", "/webhooks/{webhook_id}/{webhook_token}", auth=False, interaction=True)
async def webhook_followup(ctx: Ctx) -> Result:
    h = _handle_by_token(ctx)
    if not h.responded:
        raise unknown("Webhook", 10015)
    body = ctx.json()
    _require_content(body)
    if h.response_type == I.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE and h.message is not None \
            and h.message.flags & LOADING:
        # The first follow-up after a deferral fills the "thinking" message.
        msg = ctx.sb.world.edit_message(h.message, flags=h.message.flags & ~LOADING,
                                        **_message_fields(ctx, body))
        msg.edited_at = None
    else:
        msg = _reply_message(ctx, h, body)
        h.followups.append(msg)
    ctx.sb.recorder.notify()
    wait = ctx.query.get("wait", "false").lower() in ("true", "1")
    return (200, msg.to_json()) if wait else (204, None)


@route("GET", "/webhooks/{webhook_id}/{webhook_token}/messages/@original", auth=False, interaction=True)
@route("GET", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", auth=False, interaction=True)
async def webhook_get(ctx: Ctx) -> Result:
    h = _handle_by_token(ctx)
    return 200, _webhook_message(ctx, h).to_json()


@route("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/@original", auth=False, interaction=True)
@route("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", auth=False, interaction=True)
async def webhook_edit(ctx: Ctx) -> Result:
    h = _handle_by_token(ctx)
    msg = _webhook_message(ctx, h)
    fields = _message_fields(ctx, ctx.json(), partial=True)
    msg = ctx.sb.world.edit_message(msg, flags=msg.flags & ~LOADING, **fields)
    ctx.sb.recorder.notify()
    return 200, msg.to_json()


@route("DELETE", "/webhooks/{webhook_id}/{webhook_token}/messages/@original", auth=False, interaction=True)
@route("DELETE", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", auth=False, interaction=True)
async def webhook_delete(ctx: Ctx) -> Result:
    h = _handle_by_token(ctx)
    msg = _webhook_message(ctx, h)
    ctx.sb.world.delete_message(msg)
    if msg in h.followups:
        h.followups.remove(msg)
    ctx.sb.recorder.notify()
    return 204, None


# ------------------------------------------------------------------ guilds and channels


@route("GET", "/guilds/{guild_id}")
async def get_guild_route(ctx: Ctx) -> Result:
    g = get_guild(ctx)
    data = g.to_json()
    if ctx.query.get("with_counts") in ("true", "1"):
        data["approximate_member_count"] = len(g.members)
        data["approximate_presence_count"] = 0
    return 200, data


@route("GET", "/guilds/{guild_id}/channels")
async def get_guild_channels(ctx: Ctx) -> Result:
    g = get_guild(ctx)
    return 200, [c.to_json() for c in g.channels if not c.is_thread]


@route("POST", "/guilds/{guild_id}/channels")
async def create_channel(ctx: Ctx) -> Result:
    g = get_guild(ctx)
    require(ctx, g, None, P.MANAGE_CHANNELS)
    body = ctx.json()
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 100:
        raise invalid_form("name", "Must be between 1 and 100 in length.", "BASE_TYPE_BAD_LENGTH")
    ctype = _int_field(body, "type", GUILD_TEXT)
    if ctype not in (GUILD_TEXT, GUILD_VOICE, GUILD_CATEGORY):
        raise invalid_form("type", "Value must be one of (0, 2, 4).", "ENUM_TYPE_COERCE")
    parent = None
    if body.get("parent_id"):
        parent = ctx.sb.world.channels.get(_sf(body["parent_id"], "parent_id"))
        if parent is None or parent.guild is not g or parent.type != GUILD_CATEGORY:
            raise invalid_form("parent_id", "Category does not exist", "CHANNEL_PARENT_INVALID")
    overwrites = _parse_overwrites(ctx, g, body.get("permission_overwrites") or [], None)
    if overwrites and not g.permissions_for(bot_member(ctx, g)) & (P.MANAGE_ROLES | P.ADMINISTRATOR):
        raise missing_permissions()
    ch = g._create_channel(ctype, name, parent, overwrites, body.get("topic"))
    if "position" in body and body["position"] is not None:
        ch.position = _int_field(body, "position")
    return 201, ch.to_json()


@route("GET", "/channels/{channel_id}")
async def get_channel_route(ctx: Ctx) -> Result:
    ch = get_channel(ctx)
    require(ctx, ch.guild, ch, 0)
    return 200, ch.to_json()


@route("PATCH", "/channels/{channel_id}")
async def edit_channel(ctx: Ctx) -> Result:
    ch = get_channel(ctx)
    g = ch.guild
    if g is None:
        raise ApiError(403, 50003, "Cannot execute action on a DM channel")
    require(ctx, g, ch, P.MANAGE_THREADS if ch.is_thread else P.MANAGE_CHANNELS)
    body = ctx.json()
    changes: dict[str, Any] = {}
    if "name" in body:
        if not isinstance(body["name"], str) or not 1 <= len(body["name"]) <= 100:
            raise invalid_form("name", "Must be between 1 and 100 in length.", "BASE_TYPE_BAD_LENGTH")
        changes["name"] = body["name"]
    if "topic" in body:
        changes["topic"] = body["topic"]
    if "position" in body and body["position"] is not None:
        changes["position"] = _int_field(body, "position")
    if "parent_id" in body:
        changes["parent_id"] = _sf(body["parent_id"], "parent_id") if body["parent_id"] else None
    if "permission_overwrites" in body:
        require(ctx, g, ch, P.MANAGE_ROLES)
        ows = _parse_overwrites(ctx, g, body["permission_overwrites"] or [], ch)
        changes["overwrites"] = {o.id: o for o in ows}
    g.update_channel(ch, **changes)
    return 200, ch.to_json()


@route("DELETE", "/channels/{channel_id}")
async def delete_channel(ctx: Ctx) -> Result:
    ch = get_channel(ctx)
    if ch.guild is None:
        return 200, ch.to_json()
    require(ctx, ch.guild, ch, P.MANAGE_THREADS if ch.is_thread else P.MANAGE_CHANNELS)
    data = ch.to_json()
    ch.guild.delete_channel(ch)
    return 200, data


@route("PUT", "/channels/{channel_id}/permissions/{overwrite_id}")
async def put_overwrite(ctx: Ctx) -> Result:
    ch = get_channel(ctx)
    g = ch.guild
    if g is None or ch.is_thread:
        raise ApiError(400, 50024, "Cannot execute action on this channel type")
    require(ctx, g, ch, P.MANAGE_ROLES)
    body = ctx.json()
    otype = body.get("type")
    if otype not in (0, 1, "0", "1", "role", "member"):
        raise invalid_form("type", "This field is required")
    otype = 0 if otype in (0, "0", "role") else 1
    target = _sf(ctx.params["overwrite_id"], "overwrite_id")
    if otype == 0 and target not in g.roles:
        raise unknown("Role", 10011)
    if otype == 1 and target not in g.members:
        raise unknown("Member", 10007)
    allow, deny = _int_field(body, "allow"), _int_field(body, "deny")
    check_grantable(ctx, g, allow | deny, ch)
    g.write_overwrite(ch, Overwrite(target, otype, allow, deny), by=ctx.bot_app.bot.id, reason=ctx.reason)
    return 204, None


@route("DELETE", "/channels/{channel_id}/permissions/{overwrite_id}")
async def delete_overwrite(ctx: Ctx) -> Result:
    ch = get_channel(ctx)
    g = ch.guild
    if g is None:
        raise ApiError(400, 50024, "Cannot execute action on this channel type")
    require(ctx, g, ch, P.MANAGE_ROLES)
    target = _sf(ctx.params["overwrite_id"], "overwrite_id")
    g.remove_overwrite(ch, target, by=ctx.bot_app.bot.id, reason=ctx.reason)
    return 204, None


# ------------------------------------------------------------------ messages


@route("GET", "/channels/{channel_id}/messages")
async def get_messages(ctx: Ctx) -> Result:
    ch = get_channel(ctx)
    perms = require(ctx, ch.guild, ch, 0)
    try:
        limit = int(ctx.query.get("limit", "50"))
    except ValueError:
        raise invalid_form("limit", "Value is not int.", "NUMBER_TYPE_COERCE") from None
    if not 1 <= limit <= 100:
        raise invalid_form("limit", "Int value should be between 1 and 100.", "NUMBER_TYPE_MAX")
    if not perms & P.READ_MESSAGE_HISTORY:
        return 200, []
    msgs = ch.messages  # oldest first
    if "around" in ctx.query:
        around = _sf(ctx.query["around"], "around")
        before = [m for m in msgs if m.id < around][-(limit // 2):] if limit > 1 else []
        rest = [m for m in msgs if m.id >= around][: limit - len(before)]
        picked = before + rest
    elif "after" in ctx.query:
        after = _sf(ctx.query["after"], "after")
        picked = [m for m in msgs if m.id > after][:limit]
    else:
        if "before" in ctx.query:
            before_id = _sf(ctx.query["before"], "before")
            msgs = [m for m in msgs if m.id < before_id]
        picked = msgs[-limit:]
    return 200, [m.to_json() for m in reversed(picked)]


@route("GET", "/channels/{channel_id}/messages/{message_id}")
async def get_message(ctx: Ctx) -> Result:
    ch = get_channel(ctx)
    require(ctx, ch.guild, ch, P.READ_MESSAGE_HISTORY)
    return 200, _find_message(ch, ctx.params["message_id"]).to_json()


@route("POST", "/channels/{channel_id}/messages")
async def create_message(ctx: Ctx) -> Result:
    ch = get_channel(ctx)
    if ch.type == GUILD_CATEGORY:
        raise ApiError(400, 50008, "Cannot send messages in a non-text channel")
    body = ctx.json()
    require(ctx, ch.guild, ch, P.SEND_MESSAGES_IN_THREADS if ch.is_thread else P.SEND_MESSAGES)
    if ch.type == DM and not all(u.dms_open for u in ch.recipients):
        raise ApiError(403, 50007, "Cannot send messages to this user")
    if not (body.get("content") or body.get("embeds") or body.get("components") or body.get("sticker_ids")
            or body.get("poll") or body.get("embed") or ctx.files):
        raise ApiError(400, 50006, "Cannot send an empty message")
    fields = _message_fields(ctx, body)
    flags = _int_field(body, "flags") & ((1 << 2) | (1 << 12) | (1 << 15))
    ref = body.get("message_reference")
    extra: dict[str, Any] = {}
    if isinstance(ref, dict) and ref.get("message_id"):
        ref_id = _sf(ref["message_id"], "message_reference.message_id")
        if ch.get_message(ref_id) is None and ref.get("fail_if_not_exists", True):
            raise invalid_form("message_reference", "Unknown message", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE")
        extra["message_reference"] = {"type": 0, "message_id": str(ref_id), "channel_id": str(ch.id)} | (
            {"guild_id": str(ch.guild.id)} if ch.guild else {})
        extra["type"] = 19
    msg = ctx.sb.world.post(ch, ctx.bot_app.bot, check=False, flags=flags, **fields, **extra)
    return 200, msg.to_json()


@route("PATCH", "/channels/{channel_id}/messages/{message_id}")
async def edit_message(ctx: Ctx) -> Result:
    ch = get_channel(ctx)
    require(ctx, ch.guild, ch, 0)
    msg = _find_message(ch, ctx.params["message_id"])
    body = ctx.json()
    if msg.author.id != ctx.bot_app.bot.id:
        if set(body) - {"flags"}:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        require(ctx, ch.guild, ch, P.MANAGE_MESSAGES)
    fields = _message_fields(ctx, body, partial=True)
    if "flags" in body and body["flags"] is not None:
        fields["flags"] = (msg.flags & ~(1 << 2)) | (_int_field(body, "flags") & (1 << 2))
    ctx.sb.world.edit_message(msg, **fields)
    return 200, msg.to_json()


@route("DELETE", "/channels/{channel_id}/messages/{message_id}")
async def delete_message(ctx: Ctx) -> Result:
    ch = get_channel(ctx)
    require(ctx, ch.guild, ch, 0)
    msg = _find_message(ch, ctx.params["message_id"])
    if msg.author.id != ctx.bot_app.bot.id:
        if ch.guild is None:
            raise ApiError(403, 50003, "Cannot execute action on a DM channel")
        require(ctx, ch.guild, ch, P.MANAGE_MESSAGES)
    ctx.sb.world.delete_message(msg)
    return 204, None


@route("POST", "/channels/{channel_id}/messages/bulk-delete")
async def bulk_delete(ctx: Ctx) -> Result:
    ch = get_channel(ctx)
    if ch.guild is None:
        raise ApiError(403, 50003, "Cannot execute action on a DM channel")
    require(ctx, ch.guild, ch, P.MANAGE_MESSAGES)
    body = ctx.json()
    raw = body.get("messages")
    if not isinstance(raw, list):
        raise invalid_form("messages", "This field is required")
    if len(raw) < 2:
        raise invalid_form("messages", "Must be 2 or more in length.", "BASE_TYPE_MIN_LENGTH")
    if len(raw) > 100:
        raise invalid_form("messages", "Must be 100 or fewer in length.", "BASE_TYPE_MAX_LENGTH")
    ids = [_sf(x, "messages") for x in raw]
    if len(set(ids)) != len(ids):
        raise invalid_form("messages", "Duplicate messages provided.", "DUPLICATE_MESSAGES")
    cutoff = ctx.sb.clock.now() - timedelta(days=14)
    if any(snowflake_time(i) < cutoff for i in ids):
        raise ApiError(400, 50034, "You can only bulk delete messages that are under 14 days old.")
    deleted = []
    for i in ids:
        if ch._messages.pop(i, None) is not None:
            deleted.append(str(i))
    ctx.sb.world.emit("MESSAGE_DELETE_BULK", {"ids": deleted, "channel_id": str(ch.id),
                                              "guild_id": str(ch.guild.id)}, ch.guild.id)
    return 204, None


@route("POST", "/channels/{channel_id}/typing")
async def typing(ctx: Ctx) -> Result:
    ch = get_channel(ctx)
    require(ctx, ch.guild, ch, P.SEND_MESSAGES_IN_THREADS if ch.is_thread else P.SEND_MESSAGES)
    return 204, None


@route("GET", "/channels/{channel_id}/pins")
async def get_pins_old(ctx: Ctx) -> Result:
    ch = get_channel(ctx)
    perms = require(ctx, ch.guild, ch, 0)
    if not perms & P.READ_MESSAGE_HISTORY:
        return 200, []
    return 200, [m.to_json() for m in ch.pins]


@route("GET", "/channels/{channel_id}/messages/pins")
async def get_pins(ctx: Ctx) -> Result:
    """Pins, most recently pinned first, in pages of at most 50; ``before`` is a pinned-at time
    (ISO 8601): the next page starts below the last item's ``pinned_at``."""
    ch = get_channel(ctx)
    perms = require(ctx, ch.guild, ch, 0)
    try:
        limit = int(ctx.query.get("limit", "50"))
    except ValueError:
        raise invalid_form("limit", "Value is not int.", "NUMBER_TYPE_COERCE") from None
    if not 1 <= limit <= 50:
        raise invalid_form("limit", "Int value should be between 1 and 50.", "NUMBER_TYPE_MAX")
    pins = ch.pins if perms & P.READ_MESSAGE_HISTORY else []
    if "before" in ctx.query:
        try:
            before = datetime.fromisoformat(ctx.query["before"])
        except ValueError:
            raise invalid_form("before", "Could not parse the date-time.", "DATE_TIME_TYPE_PARSE") from None
        if before.tzinfo is None:
            before = before.replace(tzinfo=UTC)
        pins = [m for m in pins if (m.pinned_at or m.created_at) < before]
    return 200, {"items": [{"pinned_at": iso(m.pinned_at or m.created_at), "message": m.to_json()}
                           for m in pins[:limit]],
                 "has_more": len(pins) > limit}


async def _pin(ctx: Ctx, pinned: bool) -> Result:
    ch = get_channel(ctx)
    if ch.guild is not None:
        perms = require(ctx, ch.guild, ch, 0)
        if not perms & (P.MANAGE_MESSAGES | P.PIN_MESSAGES):
            raise missing_permissions()
    msg = _find_message(ch, ctx.params["message_id"])
    if pinned and not msg.pinned and len(ch.pins) >= 250:
        raise ApiError(400, 30003, "Maximum number of pins reached (250)")
    if msg.pinned != pinned:
        ctx.sb.world.set_pinned(msg, pinned)
    return 204, None


@route("PUT", "/channels/{channel_id}/pins/{message_id}")
@route("PUT", "/channels/{channel_id}/messages/pins/{message_id}")
async def pin(ctx: Ctx) -> Result:
    return await _pin(ctx, True)


@route("DELETE", "/channels/{channel_id}/pins/{message_id}")
@route("DELETE", "/channels/{channel_id}/messages/pins/{message_id}")
async def unpin(ctx: Ctx) -> Result:
    return await _pin(ctx, False)


# ------------------------------------------------------------------ members


def _member(ctx: Ctx, g: Guild, key: str = "user_id") -> Member:
    uid = ctx.params[key]
    if not uid.isdigit():
        raise unknown("Member", 10007)
    if int(uid) not in g.members:
        if int(uid) not in ctx.sb.world.users:
            raise unknown("User", 10013)
        raise unknown("Member", 10007)
    return g.members[int(uid)]


@route("GET", "/guilds/{guild_id}/members")
async def list_members(ctx: Ctx) -> Result:
    g = get_guild(ctx)
    if not ctx.bot_app.intents_enabled & (1 << 1):
        raise missing_access()
    limit = int(ctx.query.get("limit", "1"))
    if not 1 <= limit <= 1000:
        raise invalid_form("limit", "Int value should be between 1 and 1000.", "NUMBER_TYPE_MAX")
    after = int(ctx.query.get("after", "0"))
    members = sorted((m for m in g.members.values() if m.id > after), key=lambda m: m.id)[:limit]
    return 200, [m.to_json() for m in members]


@route("GET", "/guilds/{guild_id}/members/{user_id}")
async def get_member(ctx: Ctx) -> Result:
    g = get_guild(ctx)
    return 200, _member(ctx, g).to_json()


@route("PATCH", "/guilds/{guild_id}/members/@me")
async def edit_me(ctx: Ctx) -> Result:
    g = get_guild(ctx)
    me = bot_member(ctx, g)
    body = ctx.json()
    if "nick" in body:
        require(ctx, g, None, P.CHANGE_NICKNAME)
        me.nick = body["nick"] or None
        g._emit("GUILD_MEMBER_UPDATE", g.member_update_json(me))
    return 200, me.to_json()


@route("PATCH", "/guilds/{guild_id}/members/{user_id}")
async def edit_member(ctx: Ctx) -> Result:
    g = get_guild(ctx)
    m = _member(ctx, g)
    body = ctx.json()
    me = bot_member(ctx, g)
    member_changed = False
    if "channel_id" in body:
        current = g.voice_channel_of(m)
        if current is None:
            raise ApiError(400, 40032, "Target user is not connected to voice.")
        require(ctx, g, current, P.MOVE_MEMBERS)
        target = None
        if body["channel_id"] is not None:
            target = ctx.sb.world.channels.get(_sf(body["channel_id"], "channel_id"))
            if target is None or target.guild is not g or target.type != GUILD_VOICE:
                raise invalid_form("channel_id", "Channel is not a voice channel", "CHANNEL_TYPE_INVALID")
            require(ctx, g, target, P.CONNECT | P.MOVE_MEMBERS)
            if not g.permissions_for(m, target) & P.CONNECT:
                raise missing_permissions()
    if "nick" in body:
        require(ctx, g, None, P.MANAGE_NICKNAMES)
        above(ctx, g, m)
    if "roles" in body:
        require(ctx, g, None, P.MANAGE_ROLES)
        new = [_sf(r, "roles") for r in body["roles"] or []]
        for rid in new:
            if rid not in g.roles:
                raise unknown("Role", 10011)
        changed = set(new) ^ set(m.role_ids)
        for rid in changed:
            role = g.roles.get(rid)
            if role is not None:
                role_below(ctx, g, role)
                if role.managed:
                    raise ApiError(400, 50035, "Invalid Form Body", {"roles": {"_errors": [
                        {"code": "MANAGED_ROLE", "message": "Cannot add or remove a managed role"}]}})
    # all checks passed: apply
    if "channel_id" in body:
        target = ctx.sb.world.channels.get(int(body["channel_id"])) if body["channel_id"] else None
        g.set_voice(m, target)
        if target is None:
            g._audit(AUDIT_MEMBER_DISCONNECT, me.id, None, ctx.reason)
    if "nick" in body:
        m.nick = body["nick"] or None
        g._audit(AUDIT_MEMBER_UPDATE, me.id, m.id, ctx.reason)
        member_changed = True
    if "roles" in body:
        m.role_ids = list(dict.fromkeys(_sf(r) for r in body["roles"] or []))
        g._audit(AUDIT_MEMBER_ROLE_UPDATE, me.id, m.id, ctx.reason)
        member_changed = True
    if member_changed:
        g._emit("GUILD_MEMBER_UPDATE", g.member_update_json(m))
    return 200, m.to_json()


@route("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}")
async def add_member_role(ctx: Ctx) -> Result:
    return await _member_role(ctx, True)


@route("DELETE", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}")
async def remove_member_role(ctx: Ctx) -> Result:
    return await _member_role(ctx, False)


async def _member_role(ctx: Ctx, add: bool) -> Result:
    g = get_guild(ctx)
    m = _member(ctx, g)
    rid = ctx.params["role_id"]
    role = g.roles.get(int(rid)) if rid.isdigit() else None
    if role is None or role.id == g.id:
        raise unknown("Role", 10011)
    require(ctx, g, None, P.MANAGE_ROLES)
    role_below(ctx, g, role)
    if role.managed:
        raise missing_permissions()
    if add and role.id not in m.role_ids:
        m.role_ids.append(role.id)
    elif not add and role.id in m.role_ids:
        m.role_ids.remove(role.id)
    else:
        return 204, None
    g._audit(AUDIT_MEMBER_ROLE_UPDATE, ctx.bot_app.bot.id, m.id, ctx.reason)
    g._emit("GUILD_MEMBER_UPDATE", g.member_update_json(m))
    return 204, None


@route("DELETE", "/guilds/{guild_id}/members/{user_id}")
async def kick(ctx: Ctx) -> Result:
    g = get_guild(ctx)
    m = _member(ctx, g)
    require(ctx, g, None, P.KICK_MEMBERS)
    above(ctx, g, m)
    g.remove_member(m, by=ctx.bot_app.bot, reason=ctx.reason)
    return 204, None


@route("PUT", "/guilds/{guild_id}/bans/{user_id}")
async def ban(ctx: Ctx) -> Result:
    g = get_guild(ctx)
    uid = ctx.params["user_id"]
    if not uid.isdigit() or int(uid) not in ctx.sb.world.users:
        raise unknown("User", 10013)
    require(ctx, g, None, P.BAN_MEMBERS)
    m = g.members.get(int(uid))
    if m is not None:
        above(ctx, g, m)
    g.remove_member(int(uid), by=ctx.bot_app.bot, reason=ctx.reason, ban=True)
    return 204, None


@route("DELETE", "/guilds/{guild_id}/bans/{user_id}")
async def unban(ctx: Ctx) -> Result:
    g = get_guild(ctx)
    require(ctx, g, None, P.BAN_MEMBERS)
    uid = ctx.params["user_id"]
    if not uid.isdigit() or int(uid) not in g.bans:
        raise unknown("Ban", 10026)
    g.bans.discard(int(uid))
    g._emit("GUILD_BAN_REMOVE", {"guild_id": str(g.id), "user": ctx.sb.world.users[int(uid)].to_json()})
    return 204, None


@route("GET", "/guilds/{guild_id}/bans")
async def list_bans(ctx: Ctx) -> Result:
    g = get_guild(ctx)
    require(ctx, g, None, P.BAN_MEMBERS)
    return 200, [{"reason": None, "user": ctx.sb.world.users[u].to_json()} for u in sorted(g.bans)]


@route("GET", "/guilds/{guild_id}/bans/{user_id}")
async def get_ban(ctx: Ctx) -> Result:
    g = get_guild(ctx)
    require(ctx, g, None, P.BAN_MEMBERS)
    uid = ctx.params["user_id"]
    if not uid.isdigit() or int(uid) not in g.bans:
        raise unknown("Ban", 10026)
    return 200, {"reason": None, "user": ctx.sb.world.users[int(uid)].to_json()}


# ------------------------------------------------------------------ roles


@route("GET", "/guilds/{guild_id}/roles")
async def get_roles(ctx: Ctx) -> Result:
    g = get_guild(ctx)
    return 200, [r.to_json() for r in g.roles.values()]


@route("GET", "/guilds/{guild_id}/roles/{role_id}")
async def get_role(ctx: Ctx) -> Result:
    g = get_guild(ctx)
    rid = ctx.params["role_id"]
    role = g.roles.get(int(rid)) if rid.isdigit() else None
    if role is None:
        raise unknown("Role", 10011)
    return 200, role.to_json()


@route("POST", "/guilds/{guild_id}/roles")
async def create_role(ctx: Ctx) -> Result:
    g = get_guild(ctx)
    require(ctx, g, None, P.MANAGE_ROLES)
    body = ctx.json()
    perms = _int_field(body, "permissions", g.everyone.permissions)
    check_grantable(ctx, g, perms)
    for r in g.roles.values():
        if r.position >= 1:
            r.position += 1
    name = body.get("name") or "new role"
    role = g.create_role(str(name), perms, position=1, color=_int_field(body, "color"),
                         hoist=bool(body.get("hoist")), mentionable=bool(body.get("mentionable")))
    g._audit(30, ctx.bot_app.bot.id, role.id, ctx.reason)
    return 200, role.to_json()


@route("PATCH", "/guilds/{guild_id}/roles/{role_id}")
async def edit_role(ctx: Ctx) -> Result:
    g = get_guild(ctx)
    rid = ctx.params["role_id"]
    role = g.roles.get(int(rid)) if rid.isdigit() else None
    if role is None:
        raise unknown("Role", 10011)
    require(ctx, g, None, P.MANAGE_ROLES)
    role_below(ctx, g, role)
    body = ctx.json()
    changes: dict[str, Any] = {}
    if "name" in body and body["name"] is not None:
        changes["name"] = str(body["name"])
    if "permissions" in body and body["permissions"] is not None:
        perms = _int_field(body, "permissions")
        check_grantable(ctx, g, perms & ~role.permissions)
        changes["permissions"] = perms
    for key in ("hoist", "mentionable"):
        if key in body and body[key] is not None:
            changes[key] = bool(body[key])
    if "color" in body and body["color"] is not None:
        changes["color"] = _int_field(body, "color")
    g.update_role(role, **changes)
    return 200, role.to_json()


@route("DELETE", "/guilds/{guild_id}/roles/{role_id}")
async def delete_role(ctx: Ctx) -> Result:
    g = get_guild(ctx)
    rid = ctx.params["role_id"]
    role = g.roles.get(int(rid)) if rid.isdigit() else None
    if role is None or role.id == g.id:
        raise unknown("Role", 10011)
    require(ctx, g, None, P.MANAGE_ROLES)
    role_below(ctx, g, role)
    if role.managed:
        raise ApiError(400, 50028, "Invalid Role")
    g.delete_role(role)
    return 204, None


# ------------------------------------------------------------------ audit log


@route("GET", "/guilds/{guild_id}/audit-logs")
async def audit_logs(ctx: Ctx) -> Result:
    g = get_guild(ctx)
    require(ctx, g, None, P.VIEW_AUDIT_LOG)
    entries = sorted(g.audit_log, key=lambda e: e.id, reverse=True)
    q = ctx.query
    if "action_type" in q:
        entries = [e for e in entries if e.action_type == int(q["action_type"])]
    if "user_id" in q:
        entries = [e for e in entries if e.user_id == int(q["user_id"])]
    if "before" in q:
        entries = [e for e in entries if e.id < int(q["before"])]
    if "after" in q:
        entries = sorted((e for e in entries if e.id > int(q["after"])), key=lambda e: e.id)
    limit = int(q.get("limit", "50"))
    if not 1 <= limit <= 100:
        raise invalid_form("limit", "Int value should be between 1 and 100.", "NUMBER_TYPE_MAX")
    entries = entries[:limit]
    user_ids = {e.user_id for e in entries if e.user_id} | {e.target_id for e in entries if e.target_id}
    users = [ctx.sb.world.users[u].to_json() for u in user_ids if u in ctx.sb.world.users]
    return 200, {"audit_log_entries": [e.to_json() for e in entries], "users": users, "integrations": [],
                 "webhooks": [], "guild_scheduled_events": [], "threads": [], "application_commands": [],
                 "auto_moderation_rules": []}


EPHEMERAL_FLAG = EPHEMERAL


# ------------------------------------------------------------------ threads


def _visible_threads(ctx: Ctx, guild: Guild) -> list[Channel]:
    me = bot_member(ctx, guild)
    return [c for c in guild.channels if c.is_thread and guild.permissions_for(me, c) & P.VIEW_CHANNEL]


@route("GET", "/guilds/{guild_id}/threads/active")
async def active_threads(ctx: Ctx) -> Result:
    g = get_guild(ctx)
    threads = [c for c in _visible_threads(ctx, g) if not c.archived]
    return 200, {"threads": [c.to_json() for c in threads], "members": [], "has_more": False}


async def _archived(ctx: Ctx, *, private: bool) -> Result:
    """Archived threads of a channel, newest archive first, paged by ``before`` (an ISO timestamp)."""
    ch = get_channel(ctx)
    g = ch.guild
    if g is None:
        raise ApiError(400, 50024, "Cannot execute action on this channel type")
    require(ctx, g, ch, P.READ_MESSAGE_HISTORY | (P.MANAGE_THREADS if private else 0))
    kind = PRIVATE_THREAD if private else PUBLIC_THREAD
    threads = [c for c in _visible_threads(ctx, g) if c.archived and c.parent_id == ch.id and c.type == kind]
    threads.sort(key=lambda c: (c.archived_at or snowflake_time(c.id), c.id), reverse=True)
    if "before" in ctx.query:
        from datetime import datetime as _dt

        try:
            before = _dt.fromisoformat(ctx.query["before"])
        except ValueError:
            raise invalid_form("before", "Could not interpret value as a timestamp.", "DATE_TIME_TYPE_PARSE") from None
        threads = [c for c in threads if (c.archived_at or snowflake_time(c.id)) < before]
    limit = int(ctx.query.get("limit", "50"))
    page = threads[:limit]
    return 200, {"threads": [c.to_json() for c in page], "members": [], "has_more": len(threads) > limit}


@route("GET", "/channels/{channel_id}/threads/archived/public")
async def archived_public_threads(ctx: Ctx) -> Result:
    return await _archived(ctx, private=False)


@route("GET", "/channels/{channel_id}/threads/archived/private")
async def archived_private_threads(ctx: Ctx) -> Result:
    return await _archived(ctx, private=True)
