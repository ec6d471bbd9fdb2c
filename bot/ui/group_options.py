"""What facilitators type about groups, turned into groups and names, and the permission checks that
answer with the missing permission's name and where to grant it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import discord
from discord import app_commands

from bot.core.permissions import human_name
from bot.core.records import GroupInfo
from bot.i18n import _, ngettext
from bot.ui.checks import is_group_facilitator, require_facilitator, require_group_facilitator, state_of
from bot.ui.replies import MissingBotPermission, UserError, echo

NAME_MIN, NAME_MAX = 2, 40
_NAME_RE = re.compile(r"^[\w][\w '&.\-]*$")


def validate_group_name(raw: str) -> str:
    name = " ".join((raw or "").split())
    if not name:
        raise UserError(_("The group needs a name, for example `Tuesday circle`."))
    if len(name) < NAME_MIN or len(name) > NAME_MAX:
        raise UserError(
            _("A group name has {minimum} to {maximum} characters; that one has {length}.").format(
                minimum=NAME_MIN, maximum=NAME_MAX, length=len(name)
            )
        )
    if not _NAME_RE.match(name) or "_" in name:
        raise UserError(
            _("A group name may use letters, digits, spaces and - ' & . only, and starts with a letter or digit.")
        )
    return name


def channel_slug(name: str) -> str:
    slug = re.sub(r"[^\w\-]+", "-", name.casefold()).strip("-")
    slug = re.sub(r"-{2,}", "-", slug)
    return slug[:90] or "group"


def plural(names: list[str]) -> str:
    if len(names) == 1:
        return names[0]
    return _("{names} and {last}").format(names=", ".join(names[:-1]), last=names[-1])


def missing_permission_error(names: Iterable[str], action: str, where: str | None = None) -> MissingBotPermission:
    human = [human_name(n) for n in names]
    count = len(human)
    if where:
        place = ngettext(
            "Grant it to holdspace in {where}'s settings (Edit Channel → Permissions → holdspace) or to "
            "holdspace's role in Server Settings → Roles",
            "Grant them to holdspace in {where}'s settings (Edit Channel → Permissions → holdspace) or to "
            "holdspace's role in Server Settings → Roles",
            count,
        ).format(where=where)
    else:
        place = ngettext(
            "Grant it to holdspace's role in Server Settings → Roles",
            "Grant them to holdspace's role in Server Settings → Roles",
            count,
        )
    return MissingBotPermission(
        ngettext(
            "holdspace needs the {permissions} permission to {action}. {place}, then try again. Nothing was changed.",
            "holdspace needs the {permissions} permissions to {action}. {place}, then try again. Nothing was changed.",
            count,
        ).format(permissions=plural(human), action=action, place=place)
    )


def require_guild_permissions(guild: discord.Guild, names: Iterable[str], action: str) -> None:
    perms = guild.me.guild_permissions
    if perms.administrator:
        return
    missing = [n for n in names if not getattr(perms, n)]
    if missing:
        raise missing_permission_error(missing, action)


def require_channel_permissions(channel: discord.abc.GuildChannel, names: Iterable[str], action: str) -> None:
    perms = channel.permissions_for(channel.guild.me)
    if perms.administrator:
        return
    missing = [n for n in names if not getattr(perms, n)]
    if missing:
        raise missing_permission_error(missing, action, f"#{channel.name}")


def find_group(interaction: discord.Interaction[Any], value: str) -> GroupInfo | None:
    """The group of this server that ``value`` names (or, from older autocompletes, its id)."""
    if interaction.guild_id is None:
        return None
    state = state_of(interaction)
    group = state.groups.get(value)
    if group is not None and group.guild_id == interaction.guild_id:
        return group
    return state.group_by_name(interaction.guild_id, value)


def resolve_group(
    interaction: discord.Interaction[Any], name: str, *, hint: str | None = None
) -> GroupInfo:
    """The one way a typed group option becomes a group; ``hint`` tells the asker where to look."""
    hint = _(" `/group list` shows them.") if hint is None else hint
    if interaction.guild_id is None:
        raise UserError(_("This command works inside a server."))
    if not name or not name.strip():
        raise UserError(_("Name a group;{hint}").format(hint=hint))
    if len(name) > 100:
        raise UserError(_("That group name is too long; pick a group from the list."))
    group = find_group(interaction, name)
    if group is None:
        raise UserError(
            _("There is no group called “{name}” on this server;{hint}").format(name=echo(name, 40), hint=hint)
        )
    return group


def resolve_facilitated_group(interaction: discord.Interaction[Any], name: str) -> GroupInfo:
    """The group named ``name``, when the person asking facilitates it (or manages the server)."""
    group = resolve_group(interaction, name)
    require_group_facilitator(interaction, group)
    return group


def group_here(interaction: discord.Interaction[Any]) -> GroupInfo:
    """The group an omitted group option means: the group of the room the command runs in, or the
    server's only group."""
    state = state_of(interaction)
    guild_id = interaction.guild_id
    if guild_id is None:
        raise UserError(_("This command works inside a server."))
    if interaction.channel_id is not None:
        here = state.group_of_channel(interaction.channel_id)
        if here is not None and here.guild_id == guild_id:
            return here
    groups = state.groups_of_guild(guild_id)
    if len(groups) == 1:
        return groups[0]
    if not groups:
        raise UserError(_("This server has no groups yet; a facilitator creates one with /group create."))
    raise UserError(_("Which group? Name it in the `group` option, or run the command in one of its rooms."))


class GroupTransformer(app_commands.Transformer[Any]):
    """A ``group`` option of a command facilitators run: the typed or picked name -> the group.

    Names are offered only to the people who run that group (every group for a server manager), and
    the asker's permission is checked before the name is looked up, so neither the choices nor the
    answer tell anyone else whether a group exists."""

    def check_asker(self, interaction: discord.Interaction[Any]) -> None:
        require_facilitator(interaction)

    def resolve(self, interaction: discord.Interaction[Any], value: str) -> GroupInfo:
        return resolve_group(interaction, value)

    async def transform(self, interaction: discord.Interaction[Any], value: str) -> GroupInfo:
        self.check_asker(interaction)
        return self.resolve(interaction, value)

    def offered(self, interaction: discord.Interaction[Any], group: GroupInfo) -> bool:
        return is_group_facilitator(interaction, group)

    async def autocomplete(  # type: ignore[override]
        self, interaction: discord.Interaction[Any], value: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None or not isinstance(interaction.user, discord.Member):
            return []
        needle = value.casefold().strip()
        return [
            app_commands.Choice(name=g.name[:100], value=g.name[:100])
            for g in state_of(interaction).groups_of_guild(interaction.guild_id)
            if needle in g.name.casefold() and self.offered(interaction, g)
        ][:25]


class FacilitatedGroupTransformer(GroupTransformer):
    """A group the person asking facilitates (or any group, for a server manager)."""

    def resolve(self, interaction: discord.Interaction[Any], value: str) -> GroupInfo:
        return resolve_facilitated_group(interaction, value)


class MemberGroupTransformer(GroupTransformer):
    """A group as a member names it: the choices are the groups they may consent to or already did."""

    def check_asker(self, interaction: discord.Interaction[Any]) -> None:
        return None  # anyone may ask about the groups open to them

    def resolve(self, interaction: discord.Interaction[Any], value: str) -> GroupInfo:
        return resolve_group(interaction, value, hint=_(" pick one from the list."))

    def offered(self, interaction: discord.Interaction[Any], group: GroupInfo) -> bool:
        state = state_of(interaction)
        return (
            group.enrolment == "open"
            or state.is_enrolled(group.id, interaction.user.id)
            or state.consent_of(group.id, interaction.user.id) is not None
        )


#: The annotations commands use for a group option.
FacilitatedGroup = app_commands.Transform[GroupInfo, FacilitatedGroupTransformer]
MemberGroup = app_commands.Transform[GroupInfo, MemberGroupTransformer]
