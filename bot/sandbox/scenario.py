"""What simulated people do that goes through the bot: slash commands, buttons, modals, context menus.

The plain world changes (join voice, post, pin, nickname, add a bot, edit overwrites) live on the
world objects (``Guild.join_voice``, ``Sandbox.post``, ...); this module builds interactions the
way Discord builds them from the bot's synced commands and returns handles on the bot's reply.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import interactions as I
from . import permissions as P
from .command_permissions import CHANNEL, ROLE, USER, may_use
from .errors import SandboxRefused
from .interactions import InteractionHandle
from .world import Application, Channel, Guild, Member, Message, Role, User

if TYPE_CHECKING:
    from .server import Sandbox


def _user(who: Member | User) -> User:
    return who.user if isinstance(who, Member) else who


class Scenario:
    """Mixed into :class:`Sandbox`."""

    def _app_for(self: Sandbox, app: Application | None) -> Application:  # type: ignore[misc]
        if app is not None:
            return app
        live = {s.app for s in self.gateway.sessions.values()}
        if len(live) == 1:
            return next(iter(live))
        if len(self.world.applications) == 1:
            return next(iter(self.world.applications.values()))
        raise LookupError("several applications exist: pass app=")

    def _start(self: Sandbox, app: Application, itype: int, who: Member | User, channel: Channel,  # type: ignore[misc]
               data: dict[str, Any], target: Message | None = None,
               message: Message | None = None, trigger: InteractionHandle | None = None) -> InteractionHandle:
        user = _user(who)
        if channel.guild is not None:
            if user.id not in channel.guild.members:
                raise SandboxRefused(f"user {user.id} is not a member of guild {channel.guild.id}")
            perms = channel.guild.permissions_for(user, channel)
            if not perms & P.VIEW_CHANNEL:
                raise SandboxRefused(f"user {user.id} cannot see channel {channel.id}")
            if itype == I.APPLICATION_COMMAND and not perms & P.USE_APPLICATION_COMMANDS:
                raise SandboxRefused(f"user {user.id} may not use application commands in {channel.id}")
            if itype in (I.APPLICATION_COMMAND, I.AUTOCOMPLETE) and "id" in data:
                cmd = next((c for c in app.commands_for(channel.guild.id) if c["id"] == data["id"]), None)
                if cmd is not None and not may_use(app, channel.guild, user.id, channel, cmd):
                    # Discord does not even show the command: it never reaches the bot.
                    raise SandboxRefused(
                        f"user {user.id} may not use /{cmd['name']} here: its default member permissions "
                        "or the server's command permission overrides shut them out"
                    )
        payload, guild = I.base_payload(self, app, itype, user, channel, data)
        if message is not None:
            payload["message"] = message.to_json()
        handle = InteractionHandle(self, app, itype, user, guild, channel, payload, target)
        handle.trigger = trigger
        self.interactions[handle.id] = handle
        self.world.emit("INTERACTION_CREATE", payload, guild.id if guild else None)
        return handle

    def set_command_permissions(  # type: ignore[misc]
        self: Sandbox, guild: Guild, command: str | None = None, *, app: Application | None = None,
        roles: Mapping[Role, bool] | None = None, users: Mapping[Member | User, bool] | None = None,
        channels: Mapping[Channel, bool] | None = None, everyone: bool | None = None,
        all_channels: bool | None = None,
    ) -> None:
        """What a server admin sets in Server Settings > Integrations: overrides for one command
        (by name, ``command``) or, with ``command=None``, for all of the application's commands.
        Replaces that target's overrides, as Discord's PUT does; nothing given clears them."""
        app = self._app_for(app)
        target = app.id if command is None else int(I.find_command(app, guild, command, 1)["id"])
        entries: list[dict[str, Any]] = []
        for role, allowed in (roles or {}).items():
            entries.append({"id": role.id, "type": ROLE, "permission": allowed})
        for who, allowed in (users or {}).items():
            entries.append({"id": _user(who).id, "type": USER, "permission": allowed})
        for channel, allowed in (channels or {}).items():
            entries.append({"id": channel.id, "type": CHANNEL, "permission": allowed})
        if everyone is not None:
            entries.append({"id": guild.id, "type": ROLE, "permission": everyone})
        if all_channels is not None:
            entries.append({"id": guild.id - 1, "type": CHANNEL, "permission": all_channels})
        overrides = app.command_permissions.setdefault(guild.id, {})
        if entries:
            overrides[target] = entries
        else:
            overrides.pop(target, None)
        self.world.emit("APPLICATION_COMMAND_PERMISSIONS_UPDATE", {
            "id": str(target), "application_id": str(app.id), "guild_id": str(guild.id),
            "permissions": [{"id": str(e["id"]), "type": e["type"], "permission": e["permission"]} for e in entries],
        }, guild.id)

    def run_command(self: Sandbox, who: Member | User, channel: Channel, command: str,  # type: ignore[misc]
                    options: Mapping[str, Any] | None = None, /, *, app: Application | None = None,
                    **kw_options: Any) -> InteractionHandle:
        """``who`` runs ``/command`` in ``channel``; ``command`` may name a subcommand path
        (``"session start"``, ``"group sub leaf"``). Options by name: str/int/float/bool, a
        Member/User (user option), a Channel, a Role. Returns the handle; ``await handle.response()``.
        """
        app = self._app_for(app)
        name, *path = command.split()
        cmd = I.find_command(app, channel.guild, name, 1)
        opts = dict(options or {}) | kw_options
        data = I.build_command_data(cmd, path, opts, channel.guild)
        return self._start(app, I.APPLICATION_COMMAND, who, channel, data)

    def autocomplete(self: Sandbox, who: Member | User, channel: Channel, command: str,  # type: ignore[misc]
                     focused: str, value: str = "", options: Mapping[str, Any] | None = None, /, *,
                     app: Application | None = None, **kw_options: Any) -> InteractionHandle:
        """``who`` types ``value`` into option ``focused`` of ``/command``; the bot's choices land in
        ``handle.choices`` once ``await handle.response()`` returns."""
        app = self._app_for(app)
        name, *path = command.split()
        cmd = I.find_command(app, channel.guild, name, 1)
        opts = dict(options or {}) | kw_options | {focused: value}
        data = I.build_command_data(cmd, path, opts, channel.guild, focused=focused)
        return self._start(app, I.AUTOCOMPLETE, who, channel, data)

    def message_command(self: Sandbox, who: Member | User, message: Message, name: str, *,  # type: ignore[misc]
                        app: Application | None = None) -> InteractionHandle:
        """A message context-menu command (command type 3) on ``message``."""
        app = self._app_for(app)
        channel = message.channel
        cmd = I.find_command(app, channel.guild, name, 3)
        data: dict[str, Any] = {"id": str(cmd["id"]), "name": cmd["name"], "type": 3,
                                "target_id": str(message.id),
                                "resolved": {"messages": {str(message.id): message.to_json()}}}
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        return self._start(app, I.APPLICATION_COMMAND, who, channel, data, target=message)

    def user_command(self: Sandbox, who: Member | User, target: Member | User, channel: Channel,  # type: ignore[misc]
                     name: str, *, app: Application | None = None) -> InteractionHandle:
        """A user context-menu command (command type 2) on ``target``."""
        app = self._app_for(app)
        cmd = I.find_command(app, channel.guild, name, 2)
        resolved: dict[str, dict[str, Any]] = {}
        tid = I._option_value(I.USER, target, resolved, channel.guild)
        data: dict[str, Any] = {"id": str(cmd["id"]), "name": cmd["name"], "type": 2, "target_id": tid,
                                "resolved": resolved}
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        return self._start(app, I.APPLICATION_COMMAND, who, channel, data)

    def click(self: Sandbox, who: Member | User, message: Message, custom_id: str, *,  # type: ignore[misc]
              values: list[str] | None = None, app: Application | None = None) -> InteractionHandle:
        """``who`` clicks the button (or picks ``values`` in the select) ``custom_id`` on ``message``."""
        component = _find_component(message.components, custom_id)
        if component is None:
            raise LookupError(f"message {message.id} has no component {custom_id!r}")
        if component.get("disabled"):
            raise SandboxRefused(f"component {custom_id!r} is disabled")
        app = self._app_for(app if app is not None else self._app_of_message(message))
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": int(component["type"])}
        if values is not None:
            data["values"] = values
        return self._start(app, I.MESSAGE_COMPONENT, who, message.channel, data, target=message,
                           message=message)

    def _app_of_message(self: Sandbox, message: Message) -> Application | None:  # type: ignore[misc]
        return self.world.applications.get(message.author.id)

    def submit_modal(self: Sandbox, handle: InteractionHandle, values: Mapping[str, str],  # type: ignore[misc]
                     who: Member | User | None = None) -> InteractionHandle:
        """Submit the modal the bot showed in reply to ``handle`` with text ``values`` by custom_id."""
        if handle.modal is None:
            raise LookupError(f"the bot showed no modal for interaction {handle.id}")
        comps = []
        for comp in handle.modal.get("components", []):
            if comp.get("type") == 1:
                comps.append({"type": 1, "components": [
                    _submitted(c, values) for c in comp.get("components", [])]})
            elif comp.get("type") == 18:
                comps.append({"type": 18, "id": comp.get("id", 0),
                              "component": _submitted(comp["component"], values)})
            elif comp.get("type") == 10:
                continue
        data = {"custom_id": handle.modal["custom_id"], "components": comps}
        return self._start(handle.app, I.MODAL_SUBMIT, who or handle.user, handle.channel, data,
                           target=handle.target, message=handle.target, trigger=handle)


def _submitted(component: dict[str, Any], values: Mapping[str, str]) -> dict[str, Any]:
    cid = component.get("custom_id", "")
    out: dict[str, Any] = {"type": component.get("type", 4), "id": component.get("id", 0), "custom_id": cid}
    if component.get("type", 4) == 4:
        out["value"] = values.get(cid, component.get("value") or "")
    else:
        v: Any = values.get(cid, [])
        out["values"] = list(v) if not isinstance(v, str) else [v]
    return out


def _find_component(rows: list[dict[str, Any]], custom_id: str) -> dict[str, Any] | None:
    for comp in rows:
        if comp.get("custom_id") == custom_id:
            return comp
        for key in ("components", "accessory"):
            sub = comp.get(key)
            if isinstance(sub, list):
                found = _find_component(sub, custom_id)
                if found:
                    return found
            elif isinstance(sub, dict):
                found = _find_component([sub], custom_id)
                if found:
                    return found
    return None
