"""Interactions: building INTERACTION_CREATE payloads as Discord does, and handles on the bot's reply."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .errors import ApiError
from .settle import WAIT_TIMEOUT
from .world import DM, EPHEMERAL, LOADING, Application, Channel, Guild, Member, Message, Role, User

if TYPE_CHECKING:
    from .server import Sandbox

PING = 1
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
AUTOCOMPLETE = 4
MODAL_SUBMIT = 5

# response types
PONG = 1
CHANNEL_MESSAGE_WITH_SOURCE = 4
DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE = 5
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7
AUTOCOMPLETE_RESULT = 8
MODAL = 9

FIRST_REPLY_DEADLINE = 3.0
TOKEN_LIFETIME = 15 * 60.0

SUB_COMMAND = 1
SUB_COMMAND_GROUP = 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER = 3, 4, 5, 6, 7, 8, 9, 10


class InteractionHandle:
    """One interaction a simulated person started, and what the bot answered.

    ``await handle.response()`` waits for the first reply; then ``response_type``, ``content``,
    ``embeds``, ``components``, ``flags``, ``ephemeral``, ``modal`` and ``message`` describe it,
    and ``followups`` lists follow-up messages (``await handle.wait_followups(n)``).
    """

    def __init__(self, sb: Sandbox, app: Application, itype: int, user: User, guild: Guild | None,
                 channel: Channel, payload: dict[str, Any], target: Message | None = None) -> None:
        self.sb = sb
        self.app = app
        self.type = itype
        self.user = user
        self.guild = guild
        self.channel = channel
        self.payload = payload
        self.id = int(payload["id"])
        self.token = str(payload["token"])
        self.target = target
        self.trigger: InteractionHandle | None = None  # for a modal submit: the interaction that showed it
        # Discord's deadlines run on Discord's clock: the sandbox's (a FakeClock in tests, so that a
        # slow machine never makes a reply late; a test shows lateness by moving the clock).
        self.created = sb.clock.now()
        self.response_type: int | None = None
        self.message: Message | None = None
        self.modal: dict[str, Any] | None = None
        self.choices: list[dict[str, Any]] | None = None  # an autocomplete answer
        self.followups: list[Message] = []
        self.error: ApiError | None = None
        self._responded = asyncio.Event()

    def __repr__(self) -> str:
        return f"<InteractionHandle id={self.id} type={self.type} response_type={self.response_type}>"

    @property
    def responded(self) -> bool:
        return self.response_type is not None

    async def response(self, timeout: float = WAIT_TIMEOUT) -> InteractionHandle:
        """Wait for the bot's first reply (``timeout`` only bounds a failure).

        Raises TimeoutError when none came, and RuntimeError when the bot's first reply was refused
        (``self.error`` holds Discord's error, e.g. 10062 when it came too late).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._responded.is_set():
            if self.error is not None:
                raise RuntimeError(f"the bot's reply to interaction {self.id} was refused: {self.error}")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"the bot did not answer interaction {self.id} within {timeout}s")
            await self.sb.wait_until(lambda: self._responded.is_set() or self.error is not None,
                                     timeout=remaining)
        return self

    async def wait_followups(self, count: int = 1, timeout: float = WAIT_TIMEOUT) -> list[Message]:
        await self.sb.wait_until(lambda: len(self.followups) >= count, timeout=timeout)
        return self.followups

    @property
    def deferred(self) -> bool:
        return self.response_type in (DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE, DEFERRED_UPDATE_MESSAGE)

    @property
    def content(self) -> str | None:
        return self.message.content if self.message else None

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return self.message.embeds if self.message else []

    @property
    def components(self) -> list[dict[str, Any]]:
        return self.message.components if self.message else []

    @property
    def flags(self) -> int:
        return self.message.flags if self.message else 0

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    # ----- called by the REST layer
    @property
    def age(self) -> float:
        """Seconds since the interaction was created, on the sandbox's clock."""
        return (self.sb.clock.now() - self.created).total_seconds()

    def check_token(self, lifetime: float = TOKEN_LIFETIME) -> None:
        if self.age > lifetime:
            raise ApiError(401, 50027, "Invalid Webhook Token")

    def mark(self, response_type: int) -> None:
        self.response_type = response_type
        self._responded.set()
        self.sb.recorder.notify()


# ----------------------------------------------------------------- payload building


def member_json_with_perms(guild: Guild, member: Member, channel: Channel | None) -> dict[str, Any]:
    out = member.to_json()
    out["permissions"] = str(guild.permissions_for(member, channel))
    return out


def base_payload(sb: Sandbox, app: Application, itype: int, user: User, channel: Channel,
                 data: dict[str, Any] | None) -> tuple[dict[str, Any], Guild | None]:
    guild = channel.guild
    iid = sb.world.new_id()
    payload: dict[str, Any] = {
        "id": str(iid), "application_id": str(app.id), "type": itype,
        "token": f"interaction.{iid}.{secrets.token_urlsafe(24)}", "version": 1, "locale": user.locale,
        "entitlements": [], "attachment_size_limit": 10 * 1024 * 1024, "channel_id": str(channel.id),
    }
    ch_json = channel.to_json()
    if guild is not None:
        member = guild.members[user.id]
        bot_member = guild.members.get(app.bot.id)
        ch_json["permissions"] = str(guild.permissions_for(member, channel))
        payload.update({
            "guild_id": str(guild.id), "guild_locale": "en-US",
            "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
            "member": member_json_with_perms(guild, member, channel),
            "app_permissions": str(guild.permissions_for(bot_member, channel)) if bot_member else "0",
            "authorizing_integration_owners": {"0": str(guild.id)}, "context": 0,
        })
    else:
        payload.update({"user": user.to_json(), "app_permissions": "0", "context": 1,
                        "authorizing_integration_owners": {"1": str(user.id)}})
    payload["channel"] = ch_json
    if data is not None:
        payload["data"] = data
    return payload, guild


def find_command(app: Application, guild: Guild | None, name: str, ctype: int = 1) -> dict[str, Any]:
    for cmd in app.commands_for(guild.id if guild else None):
        if cmd["name"] == name and int(cmd.get("type", 1)) == ctype:
            return cmd
    raise LookupError(f"application {app.id} has no synced command {name!r} (type {ctype})")


def build_command_data(cmd: dict[str, Any], path: list[str], options: Mapping[str, Any],
                       guild: Guild | None, focused: str | None = None) -> dict[str, Any]:
    """data for a chat-input command: walks subcommand groups/subcommands, fills ``resolved``."""
    resolved: dict[str, dict[str, Any]] = {}
    level_opts: list[dict[str, Any]] = list(cmd.get("options") or [])
    nest: list[dict[str, Any]] = []
    for part in path:
        sub = next((o for o in level_opts if o["name"] == part and o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)),
                   None)
        if sub is None:
            raise LookupError(f"command {cmd['name']!r} has no subcommand {part!r}")
        nest.append(sub)
        level_opts = list(sub.get("options") or [])
    if any(o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP) for o in level_opts):
        raise LookupError(f"command {cmd['name']!r} needs a subcommand")
    leaf: list[dict[str, Any]] = []
    known = {o["name"]: o for o in level_opts}
    for name, value in options.items():
        spec = known.get(name)
        if spec is None:
            raise LookupError(f"command {cmd['name']!r} has no option {name!r}")
        if name == focused:
            leaf.append({"name": name, "type": spec["type"], "value": str(value), "focused": True})
            continue
        leaf.append({"name": name, "type": spec["type"], "value": _option_value(spec["type"], value, resolved,
                                                                                  guild)})
    for o in level_opts:
        if focused is None and o.get("required") and o["name"] not in options:
            raise LookupError(f"option {o['name']!r} of command {cmd['name']!r} is required")
    opts = leaf
    for sub in reversed(nest):
        opts = [{"name": sub["name"], "type": sub["type"], "options": opts}]
    data: dict[str, Any] = {"id": str(cmd["id"]), "name": cmd["name"], "type": int(cmd.get("type", 1))}
    if opts:
        data["options"] = opts
    if cmd.get("guild_id"):
        data["guild_id"] = str(cmd["guild_id"])
    if resolved:
        data["resolved"] = resolved
    return data


def _option_value(otype: int, value: Any, resolved: dict[str, dict[str, Any]], guild: Guild | None) -> Any:
    if otype == STRING:
        return str(value)
    if otype == INTEGER:
        return int(value)
    if otype == NUMBER:
        return float(value)
    if otype == BOOLEAN:
        return bool(value)
    if otype in (USER, MENTIONABLE) and isinstance(value, Member | User):
        user = value.user if isinstance(value, Member) else value
        resolved.setdefault("users", {})[str(user.id)] = user.to_json()
        if guild is not None and user.id in guild.members:
            m = guild.members[user.id]
            mj = m.to_json(with_user=False)
            mj["permissions"] = str(guild.permissions_for(m))
            resolved.setdefault("members", {})[str(user.id)] = mj
        return str(user.id)
    if otype in (ROLE, MENTIONABLE) and isinstance(value, Role):
        resolved.setdefault("roles", {})[str(value.id)] = value.to_json()
        return str(value.id)
    if otype == CHANNEL and isinstance(value, Channel):
        cj = value.to_json()
        cj["permissions"] = str(guild.permissions_for(guild.owner_id)) if guild else "0"
        resolved.setdefault("channels", {})[str(value.id)] = cj
        return str(value.id)
    raise TypeError(f"cannot use {value!r} for an option of type {otype}")


def message_interaction_metadata(handle: InteractionHandle) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": str(handle.id), "type": handle.type, "user": handle.user.to_json(),
        "authorizing_integration_owners": handle.payload.get("authorizing_integration_owners", {}),
    }
    if handle.target is not None and handle.type == MESSAGE_COMPONENT:
        out["interacted_message_id"] = str(handle.target.id)
    if handle.type == MODAL_SUBMIT and handle.trigger is not None:
        out["triggering_interaction_metadata"] = message_interaction_metadata(handle.trigger)
    return out


def reply_flags(data: Mapping[str, Any]) -> int:
    # EPHEMERAL, SUPPRESS_EMBEDS, SUPPRESS_NOTIFICATIONS, IS_COMPONENTS_V2
    return int(data.get("flags") or 0) & (EPHEMERAL | (1 << 2) | (1 << 12) | (1 << 15))


def is_dm(channel: Channel) -> bool:
    return channel.type == DM


__all__ = ["LOADING", "InteractionHandle"]
