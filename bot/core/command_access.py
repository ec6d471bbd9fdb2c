"""Whether the staff commands are open to the staff roles, from the command permissions Discord reports.

Every staff command group carries ``default_member_permissions`` (see bot/ui/checks.py), so Discord
shows it only to people with those permissions (Manage Server for /group, /expiry, /cases, /setup and
/guard; Move Members for /session) until a server admin opens it in Server Settings > Integrations.
holdspace checks the roles itself at every use; this only tells the admin which step is left.

Discord's rule, for a person holding a role: an override on the command decides (that role's, else
@everyone's), else an override on the whole application (the same order), else the default
permissions, which the role or @everyone must grant. Channel overrides do not change who sees a
command in general and are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.i18n import _, slash

__all__ = ["STAFF_COMMANDS", "CommandFacts", "Gap", "Override", "closed_staff_commands", "open_step"]

#: The staff commands and the role they are for.
STAFF_COMMANDS: dict[str, str] = {"group": "facilitator", "session": "facilitator", "expiry": "facilitator",
                                  "cases": "moderator"}

ROLE = 1
USER = 2
ADMINISTRATOR = 1 << 3


@dataclass(frozen=True)
class Override:
    target_id: int  # a role, a user or a channel; the guild id is @everyone
    type: int  # 1 role, 2 user, 3 channel
    allowed: bool


@dataclass(frozen=True)
class CommandFacts:
    name: str
    id: int
    default_member_permissions: int | None  # None: everyone; 0: administrators only


@dataclass(frozen=True)
class Gap:
    command: str
    kind: str  # "facilitator" or "moderator"
    role_id: int


def _verdict(entries: Sequence[Override], role_id: int, guild_id: int) -> bool | None:
    roles = {o.target_id: o.allowed for o in entries if o.type == ROLE}
    if role_id in roles:
        return roles[role_id]
    return roles.get(guild_id)


def role_may_use(
    command: CommandFacts,
    overrides: Mapping[int, Sequence[Override]],
    *,
    app_id: int,
    guild_id: int,
    role_id: int,
    role_permissions: Mapping[int, int],
) -> bool:
    """Whether someone holding ``role_id`` (and @everyone) sees ``command``."""
    for target in (command.id, app_id):
        verdict = _verdict(overrides.get(target, ()), role_id, guild_id)
        if verdict is not None:
            return verdict
    held = role_permissions.get(role_id, 0) | role_permissions.get(guild_id, 0)
    if held & ADMINISTRATOR or command.default_member_permissions is None:
        return True
    needed = command.default_member_permissions
    return needed != 0 and held & needed == needed


def closed_staff_commands(
    commands: Sequence[CommandFacts],
    overrides: Mapping[int, Sequence[Override]],
    *,
    app_id: int,
    guild_id: int,
    staff_roles: Mapping[str, int | None],
    role_permissions: Mapping[int, int],
) -> list[Gap]:
    """The staff commands a holder of their staff role cannot see yet, in STAFF_COMMANDS order."""
    by_name = {c.name: c for c in commands}
    gaps = []
    for name, kind in STAFF_COMMANDS.items():
        role_id = staff_roles.get(kind)
        command = by_name.get(name)
        if role_id is None or command is None:
            continue
        if not role_may_use(
            command, overrides, app_id=app_id, guild_id=guild_id, role_id=role_id, role_permissions=role_permissions
        ):
            gaps.append(Gap(name, kind, role_id))
    return gaps


def _join(items: Sequence[str]) -> str:
    if len(items) == 1:
        return items[0]
    return _("{items} and {last}").format(items=", ".join(items[:-1]), last=items[-1])


def open_step(gaps: Sequence[Gap]) -> str:
    """The step that opens the closed commands, naming each role by mention."""
    parts = []
    for role_id in dict.fromkeys(g.role_id for g in gaps):
        commands = _join([slash(g.command) for g in gaps if g.role_id == role_id])
        parts.append(_("{commands} to {role}").format(commands=commands, role=f"<@&{role_id}>"))
    return _(
        "Open {commands} in Server Settings > Integrations > holdspace (add the role under the command): until "
        "then Discord shows them only to people who can manage the server."
    ).format(commands=_join(parts))
