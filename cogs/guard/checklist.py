"""``/guard audit``: the facts the pass/warn/fail checklist (``bot.core.server_audit``) needs, read from
discord.py's cache (no request)."""

from __future__ import annotations

import discord

from bot.app import HoldspaceBot
from bot.core.guard import BOT_DENY
from bot.core.server_audit import AuditFacts, BotFacts, RoleFacts, RoomFacts
from bot.i18n import _
from cogs.guard.memory import GuardMemory


def audit_facts(bot: HoldspaceBot, memory: GuardMemory, guild: discord.Guild) -> AuditFacts:
    """The facts the checklist needs, from discord.py's cache (no request)."""
    me = guild.me
    cfg = bot.state.guilds.get(guild.id)
    staff = (
        ((_("facilitator role"), cfg.facilitator_role_id), (_("moderator role"), cfg.moderator_role_id)) if cfg else ()
    )
    action, allowed = memory.config(guild.id)
    rooms = [
        RoomFacts(channel.id, isinstance(channel, discord.VoiceChannel), channel.permissions_for(me).value)
        for _room, channel in memory.group_rooms(guild)
    ]
    roles = []
    for role in guild.roles:
        holders = role.members
        roles.append(
            RoleFacts(
                role.id,
                role.position,
                role.permissions.value,
                people=sum(1 for m in holders if not m.bot),
                bot_ids=tuple(m.id for m in holders if m.bot),
            )
        )
    bots = []
    for member in guild.members:
        if not member.bot or member == me:
            continue
        denied = 0
        for _room, channel in memory.group_rooms(guild):
            deny = channel.overwrites_for(member).pair()[1].value
            if deny & BOT_DENY == BOT_DENY:
                denied += 1
        bots.append(
            BotFacts(
                member.id,
                allowed=member.id in allowed,
                top_position=member.top_role.position,
                top_role_id=member.top_role.id,
                administrator=member.guild_permissions.administrator,
                rooms_denied=denied,
            )
        )
    return AuditFacts(
        own_id=me.id,
        own_top_position=me.top_role.position,
        own_top_role_id=me.top_role.id,
        own_guild_permissions=me.guild_permissions.value,
        bot_action=action,
        rooms=rooms,
        roles=roles,
        bots=bots,
        mfa_required=guild.mfa_level == discord.MFALevel.require_2fa,
        verification_level=guild.verification_level.value,
        members_intent=bot.intents.members,
        groups=len(bot.state.groups_of_guild(guild.id)),
        own_is_owner=guild.owner_id == me.id,
        humans=sum(1 for m in guild.members if not m.bot),
        staff_roles=[(label, role_id) for label, role_id in staff if role_id is not None],
    )
