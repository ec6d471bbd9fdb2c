"""The /guard audit checklist, computed from plain facts about a server.

Pure code: the guard cog gathers the facts from discord.py's cache (no request), this module turns
them into lines with pass, warn or fail. Lines refer to rooms, roles and bots by mention
(``<#id>``, ``<@&id>``, ``<@id>``), which Discord renders for the reader; no name is put in text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from bot.core.command_access import Gap, open_step
from bot.core.drift import permission_names
from bot.core.permissions import ROOM_PERMISSIONS, permissions_of
from bot.i18n import N_, _, ngettext, pgettext, slash

__all__ = [
    "AuditFacts",
    "AuditLine",
    "BotFacts",
    "RoleFacts",
    "RoomFacts",
    "build_checklist",
    "render",
    "required_room_permissions",
    "role_rank",
    "summary",
]

Status = Literal["pass", "warn", "fail"]

KICK_MEMBERS = 1 << 1
BAN_MEMBERS = 1 << 2
ADMINISTRATOR = 1 << 3
VIEW_AUDIT_LOG = 1 << 7
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
READ_MESSAGE_HISTORY = 1 << 16
CONNECT = 1 << 20
MOVE_MEMBERS = 1 << 24
MANAGE_ROLES = 1 << 28

# What holdspace needs in a group's rooms (bot.core.permissions.ROOM_PERMISSIONS, the list its own
# overwrite and invite link are made from). Manage Roles is "Manage Permissions" at channel level;
# Connect is needed because a bot can only allow or deny permissions it holds itself.
ROOM_NEEDS = permissions_of(ROOM_PERMISSIONS).value
TEXT_ROOM_NEEDS = ROOM_NEEDS
VOICE_ROOM_NEEDS = ROOM_NEEDS

VERIFICATION_NAMES = ("none", "low", "medium", "high", "highest")

_ICONS: dict[Status, str] = {"pass": "✅", "warn": "⚠️", "fail": "❌"}


def role_rank(position: int, role_id: int) -> tuple[int, int]:
    """A role's place in the server's order, higher ranks higher: Discord orders roles by position,
    and two roles on the same position by id, the older (smaller id) above."""
    return position, -role_id


def required_room_permissions(is_voice: bool) -> int:
    return VOICE_ROOM_NEEDS if is_voice else TEXT_ROOM_NEEDS


@dataclass(frozen=True)
class RoomFacts:
    channel_id: int
    is_voice: bool
    own_permissions: int  # holdspace's effective permissions in the room


@dataclass(frozen=True)
class RoleFacts:
    id: int
    position: int
    permissions: int
    people: int = 0  # how many people hold it
    bot_ids: tuple[int, ...] = ()  # which bots hold it (holdspace included)


@dataclass(frozen=True)
class BotFacts:
    id: int
    allowed: bool
    top_position: int
    administrator: bool = False
    top_role_id: int = 0  # its top role (ties on position are ordered by role id)
    rooms_denied: int = 0  # group rooms carrying its member-level deny


@dataclass(frozen=True)
class AuditFacts:
    own_id: int
    own_top_position: int
    own_guild_permissions: int
    bot_action: str
    rooms: Sequence[RoomFacts] = ()
    roles: Sequence[RoleFacts] = ()
    bots: Sequence[BotFacts] = ()  # every bot except holdspace
    mfa_required: bool = False
    verification_level: int = 0
    members_intent: bool = True
    groups: int = 0
    own_is_owner: bool = False
    humans: int = 0  # people (not bots) in the server
    #: the staff roles set with /setup: (what it is, role id)
    staff_roles: Sequence[tuple[str, int]] = ()
    #: staff commands Discord still hides from their role (None: Discord would not say)
    staff_command_gaps: Sequence[Gap] | None = ()
    own_top_role_id: int = 0  # holdspace's top role (ties on position are ordered by role id)


@dataclass(frozen=True)
class AuditLine:
    status: Status
    text: str

    def render(self) -> str:
        return f"{_ICONS[self.status]} **{_status_word(self.status)}** {self.text}"


def _status_word(status: Status) -> str:
    words = {
        "pass": pgettext("audit status", "pass"),
        "warn": pgettext("audit status", "warn"),
        "fail": pgettext("audit status", "fail"),
    }
    return words[status]


@dataclass
class _Lines:
    items: list[AuditLine] = field(default_factory=list)

    def add(self, status: Status, text: str) -> None:
        self.items.append(AuditLine(status, text))


def _names(bits: int) -> str:
    return ", ".join(permission_names(bits))


def _rooms(facts: AuditFacts, out: _Lines) -> None:
    if not facts.rooms:
        out.add("warn", _("There are no group rooms yet; run this audit again after creating a group."))
        return
    for room in facts.rooms:
        needs = required_room_permissions(room.is_voice)
        missing = needs & ~room.own_permissions
        room_mention = f"<#{room.channel_id}>"
        if missing:
            lacks = (
                N_(
                    "holdspace lacks {permissions} in the voice room {room}: grant it to holdspace's role in that "
                    "room's permissions."
                )
                if room.is_voice
                else N_(
                    "holdspace lacks {permissions} in the text room {room}: grant it to holdspace's role in that "
                    "room's permissions."
                )
            )
            out.add("fail", _(lacks).format(permissions=_names(missing), room=room_mention))
        else:
            has = (
                N_("holdspace has the permissions it needs in the voice room {room}.")
                if room.is_voice
                else N_("holdspace has the permissions it needs in the text room {room}.")
            )
            out.add("pass", _(has).format(room=room_mention))


def _server_permissions(facts: AuditFacts, out: _Lines) -> None:
    perms = facts.own_guild_permissions
    if perms & ADMINISTRATOR:
        out.add("warn", _("holdspace holds Administrator; it does not need it. Give its role only what it needs."))
    needed = {"kick": KICK_MEMBERS, "ban": BAN_MEMBERS}.get(facts.bot_action, 0)
    if needed and not perms & needed:
        out.add(
            "fail",
            _(
                "The server's guard action is {action}, but holdspace lacks {permissions}: grant it, or choose "
                "another action with {command}."
            ).format(action=facts.bot_action, permissions=_names(needed), command=slash("guard action")),
        )
    if not perms & VIEW_AUDIT_LOG:
        out.add(
            "warn",
            _("holdspace lacks View Audit Log, so a case cannot say who added a bot; grant it to see that."),
        )


def _role_order(facts: AuditFacts, out: _Lines) -> None:
    own = role_rank(facts.own_top_position, facts.own_top_role_id)
    above = [b for b in facts.bots if not b.allowed and role_rank(b.top_position, b.top_role_id) >= own]
    if facts.own_is_owner:
        return
    if above:
        status: Status = "fail" if facts.bot_action in ("kick", "ban") else "warn"
        mentions = ", ".join(f"<@{b.id}>" for b in above)
        out.add(
            status,
            _(
                "holdspace's role sits at or below the top role of {bots}, so it cannot kick or ban them: move "
                "holdspace's role above theirs in Server Settings > Roles."
            ).format(bots=mentions),
        )
    else:
        out.add("pass", _("holdspace's role sits above every bot that is not allowed."))


def _administrators(facts: AuditFacts, out: _Lines) -> None:
    admin_roles = [r for r in facts.roles if r.permissions & ADMINISTRATOR]
    allowed = {b.id for b in facts.bots if b.allowed}
    if not admin_roles:
        out.add("pass", _("No role holds Administrator."))
        return
    for role in sorted(admin_roles, key=lambda r: role_rank(r.position, r.id), reverse=True):
        others = [b for b in role.bot_ids if b != facts.own_id]
        blocked = [b for b in others if b not in allowed]
        trusted = [b for b in others if b in allowed]
        holders = ngettext("{count} person", "{count} people", role.people).format(count=role.people)
        if others:
            holders = _("{people} and {bots}").format(
                people=holders, bots=ngettext("{count} bot", "{count} bots", len(others)).format(count=len(others))
            )
        if blocked:
            out.add(
                "fail",
                _(
                    "{role} holds Administrator and is held by {bots}, not allowed: such a bot bypasses every "
                    "room's permissions and cannot be kept out; remove the bot or take the role from it."
                ).format(role=f"<@&{role.id}>", bots=", ".join(f"<@{b}>" for b in blocked)),
            )
        if trusted:
            out.add(
                "warn",
                _(
                    "{role} holds Administrator and is held by the allowed {bots}; an allowed bot does not need "
                    "Administrator."
                ).format(role=f"<@&{role.id}>", bots=", ".join(f"<@{b}>" for b in trusted)),
            )
        if not blocked and not trusted:
            out.add(
                "warn",
                _(
                    "{role} holds Administrator ({holders}): its holders bypass every group room's permissions. "
                    "Keep it to the people who must have it."
                ).format(role=f"<@&{role.id}>", holders=holders),
            )


def held_by_most(holders: int, humans: int) -> bool:
    """A staff role held by most of the server's people means nothing: it opens every group (the
    facilitator role) or every case (the moderator role) to nearly everyone. Two holders at least, so
    a server of one or two people can still set itself up."""
    return holders >= 2 and holders * 2 > humans


def _staff_roles(facts: AuditFacts, out: _Lines) -> None:
    people = {role.id: role.people for role in facts.roles}
    for label, role_id in facts.staff_roles:
        holders = people.get(role_id, 0)
        if held_by_most(holders, facts.humans):
            out.add(
                "fail",
                _(
                    "The {label} {role} is held by {holders} of the server's {humans} people, so it gives nearly "
                    "everyone what only staff should have. Give it to the staff only, or pick another role with "
                    "{command}."
                ).format(
                    label=label,
                    role=f"<@&{role_id}>",
                    holders=holders,
                    humans=facts.humans,
                    command=slash("setup configure"),
                ),
            )
        else:
            out.add(
                "pass",
                _("The {label} {role} is held by {holders} of {humans} people.").format(
                    label=label, role=f"<@&{role_id}>", holders=holders, humans=facts.humans
                ),
            )


def _staff_commands(facts: AuditFacts, out: _Lines) -> None:
    if not facts.staff_roles:
        return
    if facts.staff_command_gaps is None:
        out.add(
            "warn",
            _(
                "holdspace could not read the command permissions; check in Server Settings > Integrations > "
                "holdspace that {group}, {session} and {expiry} are open to the facilitator role and {cases} to "
                "the moderator role."
            ).format(group=slash("group"), session=slash("session"), expiry=slash("expiry"), cases=slash("cases")),
        )
    elif facts.staff_command_gaps:
        out.add("fail", open_step(facts.staff_command_gaps))
    else:
        out.add("pass", _("The staff commands are open to the facilitator and moderator roles."))


def _verification_word(name: str) -> str:
    """Discord's verification level in the reader's language (its settings name the same levels)."""
    words = {
        "none": pgettext("verification level", "none"),
        "low": pgettext("verification level", "low"),
        "medium": pgettext("verification level", "medium"),
        "high": pgettext("verification level", "high"),
        "highest": pgettext("verification level", "highest"),
    }
    return words.get(name, name)


def _security(facts: AuditFacts, out: _Lines) -> None:
    if facts.mfa_required:
        out.add("pass", _("Moderators must use two-factor authentication."))
    else:
        out.add(
            "warn",
            _("Moderators need not use two-factor authentication; require it in Server Settings > Safety Setup."),
        )
    level = facts.verification_level
    name = VERIFICATION_NAMES[level] if 0 <= level < len(VERIFICATION_NAMES) else str(level)
    name = _verification_word(name)
    if level >= 2:
        out.add("pass", _("The server's verification level is {level}.").format(level=name))
    else:
        out.add(
            "warn",
            _("The server's verification level is {level}; medium or higher keeps out fresh accounts.").format(
                level=name
            ),
        )
    if facts.members_intent:
        out.add("pass", _("The Server Members intent is on, so holdspace notices an added bot at once."))
    else:
        out.add(
            "fail",
            _(
                "The Server Members intent is off: holdspace does not notice an added bot. Switch it on in "
                "the Developer Portal under Bot > Privileged Gateway Intents."
            ),
        )


def _bots(facts: AuditFacts, out: _Lines) -> None:
    if not facts.bots:
        out.add("pass", _("No other bot is in the server."))
        return
    room_count = len(facts.rooms)
    for bot in sorted(facts.bots, key=lambda b: b.id):
        if bot.allowed:
            out.add("pass", _("{bot} is allowed into group rooms.").format(bot=f"<@{bot.id}>"))
        elif bot.administrator:
            out.add(
                "fail",
                _(
                    "{bot} is not allowed but holds Administrator: permissions cannot keep it out; remove it or "
                    "take Administrator from it."
                ).format(bot=f"<@{bot.id}>"),
            )
        elif bot.rooms_denied < room_count:
            out.add(
                "fail",
                _(
                    "{bot} is not allowed, but only {denied} of {rooms} group rooms deny it; holdspace restores "
                    "the rest when it has Manage Roles there."
                ).format(bot=f"<@{bot.id}>", denied=bot.rooms_denied, rooms=room_count),
            )
        else:
            out.add("pass", _("{bot} is not allowed and is kept out of every group room.").format(bot=f"<@{bot.id}>"))


def build_checklist(facts: AuditFacts) -> list[AuditLine]:
    """The audit's lines, in the order they are shown."""
    out = _Lines()
    _rooms(facts, out)
    _server_permissions(facts, out)
    _role_order(facts, out)
    _administrators(facts, out)
    _staff_roles(facts, out)
    _staff_commands(facts, out)
    _security(facts, out)
    _bots(facts, out)
    return out.items


def summary(lines: Iterable[AuditLine]) -> str:
    items = list(lines)
    counts = {s: sum(1 for line in items if line.status == s) for s in ("pass", "warn", "fail")}
    return _("Server audit: {fail} fail, {warn} warn, {passed} pass.").format(
        fail=counts["fail"], warn=counts["warn"], passed=counts["pass"]
    )


def render(lines: Sequence[AuditLine], *, limit: int = 1900) -> list[str]:
    """The checklist as message texts of at most ``limit`` characters each (failures first)."""
    order = {"fail": 0, "warn": 1, "pass": 2}
    ordered = sorted(lines, key=lambda line: order[line.status])
    chunks: list[str] = []
    current = summary(lines)
    for line in ordered:
        text = line.render()
        if len(text) > limit:
            text = text[: limit - 1] + "…"
        if len(current) + 1 + len(text) > limit:
            chunks.append(current)
            current = text
        else:
            current = f"{current}\n{text}"
    chunks.append(current)
    return chunks
