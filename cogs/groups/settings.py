"""A group's settings: showing them and changing them (`/group settings`); a change of access mode,
facilitator consent or locking reconciles the rooms, a change of expiry settings re-times deletions."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from typing import Any

import discord

from bot.app import HoldspaceBot
from bot.core.durations import DurationError, format_duration, parse_duration
from bot.core.group_settings import settings_text
from bot.core.records import GroupInfo
from bot.i18n import _, supported
from bot.i18n.formats import language_name
from bot.state import State
from bot.storage import groups as group_store
from bot.ui.group_options import (
    missing_permission_error,
    require_guild_permissions,
)
from bot.ui.locale import FOLLOW_SERVER, group_language
from bot.ui.replies import UserError, send_ephemeral
from cogs.groups.founding import delete_all, tell_expiry

log = logging.getLogger(__name__)


def _settings_text(state: State, group: GroupInfo) -> str:
    return settings_text(group, language_name(group_language(state, group)), group.language or FOLLOW_SERVER)


def _plain(value: Any) -> Any:
    if isinstance(value, timedelta):
        return format_duration(value)
    return value


def _duration_option(
    name: str, raw: str, minimum: timedelta, maximum: timedelta, *, allow_off: bool = False
) -> timedelta | None:
    text = raw.strip().lower()
    if allow_off and text in ("off", "none", "0"):
        return None
    if len(text) > 20:
        raise UserError(_("{name} is too long; use a duration such as 30m, 1.5h, 12h or 7d.").format(name=name))
    try:
        return parse_duration(text, minimum=minimum, maximum=maximum)
    except DurationError as exc:
        hint = _(" or `off`") if allow_off else ""
        raise UserError(f"{name}: {exc}{hint}.") from None


#: The checks behind each option. Discord offers only these choices and ranges, but what arrives is
#: checked again: a refusal is a polite answer, never a half-changed group.
_CHOICES = {"enrolment": ("invite", "open"), "access_mode": ("member", "role")}
_RANGES = {"reconsent_after_days": (1, 3650), "max_hold_days": (1, 90)}
_DURATIONS = {  # shortest, longest, whether `off` is allowed
    "ttl": (timedelta(minutes=1), timedelta(days=365), True),
    "auto_reminder_gap": (timedelta(minutes=1), timedelta(days=7), False),
}


def _setting(name: str, value: Any) -> Any:
    """The setting ``name`` as the option's ``value`` asks for it (UserError when it cannot be)."""
    if name in _CHOICES and value not in _CHOICES[name]:
        first, second = _CHOICES[name]
        raise UserError(_("{name} is `{first}` or `{second}`.").format(name=name, first=first, second=second))
    if name in _RANGES and not _RANGES[name][0] <= value <= _RANGES[name][1]:
        raise UserError(
            _("{name} is a whole number from {RANGES} to {RANGES2}.").format(
                name=name, RANGES=_RANGES[name][0], RANGES2=_RANGES[name][1]
            )
        )
    if name in _DURATIONS:
        shortest, longest, allow_off = _DURATIONS[name]
        return _duration_option(name, value, shortest, longest, allow_off=allow_off)
    if name == "language":
        if value != FOLLOW_SERVER and supported(value) != value:
            raise UserError(_("Please pick a language from the list."))
        return None if value == FOLLOW_SERVER else value
    return value


class GroupSettings:
    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot

    async def change(self, interaction: discord.Interaction[HoldspaceBot], info: GroupInfo, **given: Any) -> None:
        """Show the settings, or change those ``given`` (the options of `/group settings` by name; None:
        not given), checked in the order given."""
        changes = {name: _setting(name, value) for name, value in given.items() if value is not None}
        changes = {k: v for k, v in changes.items() if getattr(info, k) != v}
        if not changes:
            await send_ephemeral(
                interaction,
                embed=discord.Embed(
                    title=_("Settings of {name}").format(name=info.name),
                    description=_settings_text(self.bot.state, info),
                ),
            )
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        guild = interaction.guild
        assert guild is not None
        new = replace(info, **changes)
        created_role: discord.Role | None = None
        if changes.get("access_mode") == "role" and (new.role_id is None or guild.get_role(new.role_id) is None):
            require_guild_permissions(guild, ["manage_roles"], _("create the group's role"))
            try:
                created_role = await guild.create_role(
                    name=f"{info.name}"[:100], permissions=discord.Permissions.none(), reason="holdspace: role access"
                )
            except discord.Forbidden:
                raise missing_permission_error(["manage_roles"], _("create the group's role")) from None
            new = replace(new, role_id=created_role.id)
        try:
            await group_store.update_group(self.bot.db, new)
        except Exception:
            if created_role is not None:
                await delete_all([created_role])
            raise
        self.bot.state.put_group(new)
        if {"access_mode", "facilitators_consent", "lock_between_sessions"} & set(changes):
            report = await self.bot.access.reconcile_group(new, voice="facilitators_consent" in changes)
            if changes.get("access_mode") == "member" and info.role_id is not None:
                old_role = guild.get_role(info.role_id)
                if old_role is not None:
                    await delete_all([old_role])
                new = self.bot.state.update_group(new.id, role_id=None)
                await group_store.update_group(self.bot.db, new)
            if report.failed:
                log.warning("group %s: %d overwrite changes failed after a settings change", new.id, report.failed)
        if {"ttl", "expire_at_session_end", "keep_pinned"} & set(changes):
            await tell_expiry(self.bot, new, new=False)
        if "reconsent_after_days" in changes:
            consent = self.bot.consent
            if consent is not None:
                await consent.reschedule_expiry(new)
        await self.bot.audit.record(
            new.guild_id,
            "group_settings_changed",
            actor_id=interaction.user.id,
            group_id=new.id,
            details={k: _plain(v) for k, v in changes.items()},
        )
        await send_ephemeral(
            interaction,
            embed=discord.Embed(
                title=_("Settings of {name} changed").format(name=new.name),
                description=_("Changed: ") + ", ".join(sorted(changes)) + "\n\n" + _settings_text(self.bot.state, new),
            ),
        )
