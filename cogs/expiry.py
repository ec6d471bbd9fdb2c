"""Messages that expire: per-group ttl, deletion at session end, pinned kept, purge on request.

The cog turns gateway events and slash commands into calls of :class:`bot.services.expiry.
ExpiryService` (recording, the scheduler's expiry source, catch-up) and its answers into replies.
The bot owns the service as ``bot.expiry``; other features call it directly:

- ``await bot.expiry.expire_session(group_id, start_id, end_id) -> ExpiryReport`` (sessions; ids on
  Discord's clock; ``report.text`` is "N removed, M could not be (why)");
- ``await bot.expiry.session_reminders_done(group_id, messages)`` when a session ended: its
  ground-rules reminders go now, whatever the ttl;
- ``await bot.expiry.retime(group)`` after a group's ttl, expire_at_session_end or keep_pinned
  changed elsewhere (re-times pending deletions);
- ``await bot.expiry.track_group(group)`` when a group is created or adopts rooms (starts watching
  them from their current last message).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import HoldspaceBot
from bot.core.durations import DurationError, format_duration, parse_duration
from bot.core.expiry import ExpiryReport, snowflake_floor
from bot.core.records import GroupInfo
from bot.i18n import _
from bot.services.expiry import ExpiryService
from bot.services.expiry.endings import REPORT_WAIT
from bot.services.outbox import is_database_error
from bot.ui.checks import facilitators_only, require_facilitator
from bot.ui.group_options import FacilitatedGroup
from bot.ui.panels import Panel
from bot.ui.replies import UserError, reply_error, send_ephemeral

log = logging.getLogger(__name__)

TTL_MIN = timedelta(minutes=1)
TTL_MAX = timedelta(days=365)
OFF_WORDS = ("off", "none", "never", "no")


def parse_ttl(text: str) -> timedelta | None:
    """A facilitator's ttl: a duration from 1m to 365d, or off; anything else is a UserError."""
    cleaned = text.strip().lower()
    if cleaned in OFF_WORDS:
        return None
    try:
        return parse_duration(cleaned, minimum=TTL_MIN, maximum=TTL_MAX)
    except DurationError as exc:
        raise UserError(
            _(
                "That ttl cannot be used: {exc}. Give a duration from 1m to 365d (such as "
                "30m, 12h or 7d), or `off` to keep messages. Nothing was changed."
            ).format(exc=exc)
        ) from None


def _ttl_text(ttl: timedelta | None) -> str:
    return "off" if ttl is None else format_duration(ttl)


def _when(when: datetime | None) -> str:
    if when is None:
        return _("nothing is due")
    stamp = int(when.timestamp())
    return f"<t:{stamp}:f> (<t:{stamp}:R>)"


def settings_text(group: GroupInfo) -> str:
    return _("**ttl**: {ttl_text}\n**expire_at_session_end**: {value}\n**keep_pinned**: {value2}").format(
        ttl_text=_ttl_text(group.ttl),
        value="true" if group.expire_at_session_end else "false",
        value2="true" if group.keep_pinned else "false",
    )


class PurgeConfirm(Panel):
    """Confirm or cancel /expiry purge-now; only the person who asked can press the buttons."""

    def __init__(self, cog: Expiry, group: GroupInfo, user_id: int) -> None:
        super().__init__(cog.bot, timeout=120)
        self.cog = cog
        self.group = group
        self.user_id = user_id

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        await super().interaction_check(interaction)  # the reader's language first
        if interaction.user.id != self.user_id:
            raise UserError(_("Only the facilitator who asked for the purge can confirm it."))
        return True

    async def on_error(
        self, interaction: discord.Interaction[Any], error: Exception, item: discord.ui.Item[Any]
    ) -> None:
        await reply_error(interaction, error)

    @discord.ui.button(label=_("Delete all messages"), style=discord.ButtonStyle.danger)
    async def confirm(self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]) -> None:
        self.stop()
        await interaction.response.edit_message(
            content=_("Deleting the messages in the rooms of **{name}**…").format(name=self.group.name), view=None
        )
        report = await self.cog.service.purge(self.group.id, actor_id=interaction.user.id)
        await interaction.followup.send(
            _("Purge of **{name}**: {text}").format(name=self.group.name, text=report.text), ephemeral=True
        )

    @discord.ui.button(label=_("Cancel"), style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]) -> None:
        self.stop()
        await interaction.response.edit_message(content=_("Nothing was deleted."), view=None)


class Expiry(commands.Cog):
    expiry = app_commands.Group(
        name="expiry",
        description="Messages that expire in group rooms (facilitators)",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot
        self.service: ExpiryService = bot.expiry

    async def cog_load(self) -> None:
        await self.service.load()
        self.bot.scheduler.add_source(self.service)
        if self.bot.is_ready():
            self.service.request_catch_up()

    async def cog_unload(self) -> None:
        await self.service.stop()

    # -- for other features ---------------------------------------------------------------------

    async def expire_session(
        self, group_id: str, start: datetime | int, end_id: int | None = None, *, wait: float = REPORT_WAIT
    ) -> ExpiryReport:
        """Delete everything posted in the group's rooms from ``start`` (a message id on Discord's clock,
        or a time on it) up to ``end_id`` (None: now); report what is known after at most ``wait`` s."""
        start_id = start if isinstance(start, int) else snowflake_floor(start)
        return await self.service.expire_session(group_id, start_id, end_id, wait=wait)

    async def session_reminders_done(self, group_id: str, messages: list[tuple[int, int]]) -> None:
        """A session ended: its ground-rules reminders go now, whatever the ttl."""
        await self.service.session_reminders_done(group_id, messages)

    async def settings_changed(self, group: GroupInfo) -> None:
        """A group's expiry settings were changed elsewhere: re-time its pending deletions."""
        await self.service.retime(group)

    async def track_group(self, group: GroupInfo) -> None:
        """Start watching a new group's rooms from their current last message."""
        await self.service.track_group(group)

    # -- gateway events -------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        self.service.request_catch_up()

    @commands.Cog.listener()
    async def on_resumed(self) -> None:
        self.service.request_catch_up()

    @commands.Cog.listener()
    async def on_disconnect(self) -> None:
        self.service.disconnected()

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.guild is None:
            return
        parent_id = getattr(message.channel, "parent_id", None)
        try:
            await self.service.message_posted(message.channel.id, message.id, parent_id)
        except Exception as exc:
            if not is_database_error(exc):
                log.exception("could not record an expiring message; the next catch-up reads it again")
            else:  # one ERROR per outage, not a traceback per message; the next catch-up reads it again
                self.bot.outbox.failed(exc)

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        await self.service.messages_deleted(payload.channel_id, [payload.message_id])

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        await self.service.messages_deleted(payload.channel_id, sorted(payload.message_ids))

    @commands.Cog.listener()
    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        pinned = payload.data.get("pinned")
        if isinstance(pinned, bool):
            await self.service.pin_changed(payload.channel_id, payload.message_id, pinned)

    @commands.Cog.listener()
    async def on_thread_create(self, thread: discord.Thread) -> None:
        group = self.service.group_of(thread.id, thread.parent_id)
        if group is not None and thread.id not in self.service.rooms:
            await self.service.track_thread(group, thread, live=True)

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction[HoldspaceBot]) -> None:
        # Discord made this id the moment someone ran the command: a reading of Discord's clock.
        self.service.dclock.observe(interaction.id)

    @commands.Cog.listener()
    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        await self.service.channel_gone(channel.id)

    @commands.Cog.listener()
    async def on_raw_thread_delete(self, payload: discord.RawThreadDeleteEvent) -> None:
        await self.service.channel_gone(payload.thread_id)

    @commands.Cog.listener()
    async def on_holdspace_hold_released(self, channel_id: int, message_id: int) -> None:
        await self.service.hold_released(channel_id, message_id)

    # -- slash commands -------------------------------------------------------------------------

    @expiry.command(name="settings", description="Show or change how long messages stay in a group's rooms")
    @app_commands.describe(
        group="The group",
        ttl="Delete messages this long after they were posted (from 1m to 365d, e.g. 30m, 12h, 7d), or off",
        expire_at_session_end="Delete what was posted during a session when it ends",
        keep_pinned="Keep pinned messages",
    )
    @facilitators_only()
    async def settings(
        self,
        interaction: discord.Interaction[HoldspaceBot],
        group: FacilitatedGroup,
        ttl: str | None = None,
        expire_at_session_end: bool | None = None,
        keep_pinned: bool | None = None,
    ) -> None:
        require_facilitator(interaction)
        info = group
        changes: dict[str, Any] = {}
        if ttl is not None:
            changes["ttl"] = parse_ttl(ttl)
        if expire_at_session_end is not None:
            changes["expire_at_session_end"] = expire_at_session_end
        if keep_pinned is not None:
            changes["keep_pinned"] = keep_pinned
        changes = {k: v for k, v in changes.items() if getattr(info, k) != v}
        if not changes:
            await send_ephemeral(
                interaction,
                embed=discord.Embed(
                    title=_("Expiry in {name}").format(name=info.name), description=settings_text(info)
                ),
            )
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        new = await self.service.change_settings(info, actor_id=interaction.user.id, **changes)
        status = await self.service.status(new.id)
        await send_ephemeral(
            interaction,
            embed=discord.Embed(
                title=_("Expiry in {name} changed").format(name=new.name),
                description=settings_text(new)
                + _("\n\n{pending} pending deletions now follow these settings; next: {when}.").format(
                    pending=status.pending, when=_when(status.next_due)
                ),
            ),
        )

    @expiry.command(name="status", description="Pending deletions, the next due time and failures")
    @app_commands.describe(group="The group")
    @facilitators_only()
    async def status(self, interaction: discord.Interaction[HoldspaceBot], group: FacilitatedGroup) -> None:
        require_facilitator(interaction)
        info = group
        status = await self.service.status(info.id)
        lines = [
            settings_text(info),
            "",
            _("**Pending deletions**: {pending}").format(pending=status.pending),
            _("**Next due**: {when}").format(when=_when(status.next_due)),
        ]
        if status.waiting:
            lines.append(
                _("**Kept without a due time** (pinned, or ttl off): {waiting}").format(waiting=status.waiting)
            )
        if status.held:
            lines.append(_("**Held for an open report**: {held}").format(held=status.held))
        if status.session_kept:
            lines.append(
                _("**Ground-rules reminders kept until the session ends**: {session_kept}").format(
                    session_kept=status.session_kept
                )
            )
        failures = dict(status.failures)
        if failures:
            named = {"blocked": _("missing permission (Manage Messages)"), "retry": _("Discord did not answer")}
            text = ", ".join(f"{count} × {named.get(kind, kind)}" for kind, count in sorted(failures.items()))
            lines.append(_("**Failed at least once, will be retried**: {text}").format(text=text))
        else:
            lines.append(_("**Failures**: none"))
        await send_ephemeral(
            interaction,
            embed=discord.Embed(title=_("Expiry in {name}").format(name=info.name), description="\n".join(lines)),
        )

    @expiry.command(name="purge-now", description="Delete every message in a group's rooms now (asks first)")
    @app_commands.describe(group="The group")
    @facilitators_only()
    async def purge_now(self, interaction: discord.Interaction[HoldspaceBot], group: FacilitatedGroup) -> None:
        require_facilitator(interaction)
        info = group
        keep = _(" Pinned messages are kept (keep_pinned is on).") if info.keep_pinned else ""
        await send_ephemeral(
            interaction,
            _(
                "Delete **every** message in the rooms of **{name}** (text room, the voice "
                "room's chat and threads), also those from before they became group rooms? "
                "This cannot be undone.{keep}"
            ).format(name=info.name, keep=keep),
            view=PurgeConfirm(self, info, interaction.user.id),
        )


async def setup(bot: HoldspaceBot) -> None:
    await bot.add_cog(Expiry(bot))
