"""Moderation: the case queue (/cases), reports from members (/report, "Report to moderators").

Who may see or change a case is checked at runtime on every command, button and modal, so it holds
even when a server administrator opens the commands to everyone in Discord's integration settings:
moderators (the moderator role, and server managers) see and work every case of the server;
facilitators see the cases of their own groups. Nobody but the reporter sees anything of a report's
reporter. A reported message is recorded by its link (guild, channel and message ids), never by its
content, and is held from expiring while its case is open.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import HoldspaceBot
from bot.core.cases import (
    CLOSED,
    KIND_LABELS,
    MAX_NOTE,
    MAX_REPORT_DETAIL,
    MAX_REPORT_SUMMARY,
    OPEN,
    CaseRuleError,
    Status,
    kind_label,
)
from bot.core.records import GroupInfo
from bot.core.visibility import CaseSight, case_group_scope, case_sight, may_see_any_case
from bot.i18n import N_, _
from bot.services.cases import HeldMessage
from bot.storage import cases as case_store
from bot.ui.case_views import (
    REPORTER_STATUS,
    ClaimButton,
    MessageReportModal,
    ReportModal,
    ResolveButton,
    case_embed,
    case_facts,
    clean,
    list_line,
    open_resolve_modal,
    require_moderator,
    require_viewer,
    status_line,
    viewer_of,
    visible_case,
    when,
    workable_case,
)
from bot.ui.group_options import GroupTransformer, find_group
from bot.ui.panels import Panel
from bot.ui.replies import UserError, echo, send_ephemeral

log = logging.getLogger(__name__)

PAGE_SIZE = 10
#: /cases list reads at most this many of the newest matching cases (retention keeps far fewer).
MAX_LISTED = 5000
#: A member may open this many /report forms per window (a guard against flooding the log channel).
REPORTS_PER_WINDOW = 5
REPORT_WINDOW_SECONDS = 600.0

STATUS_FILTERS: dict[str, frozenset[Status] | None] = {
    "open": OPEN,
    "investigating": frozenset({Status.INVESTIGATING}),
    "actioned": frozenset({Status.ACTIONED}),
    "dismissed": frozenset({Status.DISMISSED}),
    "closed": CLOSED,
    "all": None,
}

Interaction = discord.Interaction[HoldspaceBot]


def _group_of_channel(bot: HoldspaceBot, channel: Any) -> GroupInfo | None:
    """The group whose rooms hold ``channel`` (threads count as their parent room)."""
    if channel is None:
        return None
    group = bot.state.group_of_channel(channel.id)
    parent_id = getattr(channel, "parent_id", None)
    if group is None and parent_id is not None:
        group = bot.state.group_of_channel(parent_id)
    return group


def _rule(exc: CaseRuleError) -> UserError:
    return UserError(str(exc))


class CaseListView(Panel):
    """Previous / next buttons under an ephemeral /cases list; only its viewer can page."""

    def __init__(self, cog: Moderation, viewer_id: int, filters: dict[str, Any], page: int, pages: int) -> None:
        super().__init__(cog.bot, timeout=600)
        self.cog = cog
        self.viewer_id = viewer_id
        self.filters = filters
        self.page = page
        self.previous.disabled = page <= 1
        self.next.disabled = page >= pages

    async def interaction_check(self, interaction: Interaction) -> bool:  # type: ignore[override]
        await super().interaction_check(interaction)  # the reader's language first
        if interaction.user.id != self.viewer_id:
            await send_ephemeral(interaction, _("These buttons belong to someone else's list; run /cases list."))
            return False
        return True

    async def on_error(self, interaction: Interaction, error: Exception, item: Any, /) -> None:  # type: ignore[override]
        from bot.ui.replies import reply_error

        await reply_error(interaction, _rule(error) if isinstance(error, CaseRuleError) else error)

    async def _show(self, interaction: Interaction, page: int) -> None:
        content, view = await self.cog.render_list(interaction, page=page, **self.filters)
        await interaction.response.edit_message(content=content, view=view)

    @discord.ui.button(label=_("Previous"), style=discord.ButtonStyle.secondary)
    async def previous(self, interaction: Interaction, button: discord.ui.Button[Any]) -> None:
        await self._show(interaction, self.page - 1)

    @discord.ui.button(label=_("Next"), style=discord.ButtonStyle.secondary)
    async def next(self, interaction: Interaction, button: discord.ui.Button[Any]) -> None:
        await self._show(interaction, self.page + 1)


NOT_YOUR_GROUP = N_("There is no group of yours by that name. Pick one from the list.")


class CaseGroupTransformer(GroupTransformer):
    """A group as a case viewer names it: only groups whose cases they may see, and names only after
    the permission check, so the choices and answers never hint at other groups."""

    def check_asker(self, interaction: Interaction) -> None:
        require_viewer(interaction.client, interaction)

    def resolve(self, interaction: Interaction, value: str) -> GroupInfo:
        scope = case_group_scope(require_viewer(interaction.client, interaction))
        group = find_group(interaction, value.strip()) if value and len(value) <= 100 else None
        if group is None or (scope is not None and group.id not in scope):
            raise UserError(_(NOT_YOUR_GROUP))
        return group

    def offered(self, interaction: Interaction, group: GroupInfo) -> bool:
        try:
            scope = case_group_scope(require_viewer(interaction.client, interaction))
        except UserError:
            return False  # group names only after the permission check
        return scope is None or group.id in scope


CaseGroup = app_commands.Transform[GroupInfo, CaseGroupTransformer]


class Moderation(commands.Cog):
    cases = app_commands.Group(
        name="cases",
        description="The moderators' case queue",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )
    report = app_commands.Group(
        name="report", description="Tell the moderators about a problem, privately", guild_only=True
    )

    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot
        self.report_menu = app_commands.ContextMenu(name=N_("Report to moderators"), callback=self.report_message)
        self.report_menu.guild_only = True

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(ClaimButton, ResolveButton)
        self.bot.tree.add_command(self.report_menu)
        await self.bot.cases.ensure_retention()

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(ClaimButton, ResolveButton)
        self.bot.tree.remove_command(self.report_menu.name, type=self.report_menu.type)

    # -- /cases --------------------------------------------------------------------------------------

    async def render_list(
        self,
        interaction: Interaction,
        *,
        page: int,
        status: str,
        kind: str | None,
        group: GroupInfo | None,
    ) -> tuple[str, discord.ui.View | None]:
        bot = self.bot
        viewer = require_viewer(bot, interaction)
        assert interaction.guild is not None
        guild = interaction.guild
        scope = case_group_scope(viewer)
        group_ids: set[str] | None = None if scope is None else set(scope)
        if status not in STATUS_FILTERS:
            raise UserError(_("Pick a status from the list: open, investigating, actioned, dismissed, closed or all."))
        if group is not None:
            if scope is not None and group.id not in scope:
                raise UserError(_(NOT_YOUR_GROUP))
            group_ids = {group.id}
        records, _total = await case_store.list_cases(
            bot.db,
            bot.ring,
            guild.id,
            statuses=STATUS_FILTERS[status],
            kind=kind,
            group_ids=group_ids,
            limit=MAX_LISTED,
        )
        # Paging after the visibility rule, so the count never hints at a case someone may not see.
        sights = [(case, case_sight(viewer, case_facts(bot, guild, case))) for case in records]
        visible = [(case, sight) for case, sight in sights if sight is not CaseSight.NONE]
        total = len(visible)
        records_page = visible[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        pages = max(1, math.ceil(total / PAGE_SIZE))
        if page > pages:
            raise UserError(_("There are only {pages} page(s) of cases for these filters.").format(pages=pages))
        described = f"{status} cases" + (
            _(" of kind {kind_label}").format(kind_label=echo(kind_label(kind), 60)) if kind else ""
        )
        if not records_page:
            return _("No {described}.").format(described=described), None
        lines = [
            list_line(bot, case, interaction.user.id) if sight is CaseSight.FULL else status_line(case)
            for case, sight in records_page
        ]
        header = _("**{total} {described}** (page {page} of {pages}, newest first)").format(
            total=total, described=described, page=page, pages=pages
        )
        content = "\n".join([header, *lines])
        if len(content) > 2000:
            content = content[:1990] + "…"
        view = None
        if pages > 1:
            filters = {"status": status, "kind": kind, "group": group}
            view = CaseListView(self, interaction.user.id, filters, page, pages)
        return content, view

    @cases.command(name="list", description="The server's cases, newest first")
    @app_commands.describe(
        status="Which cases (default: open ones)",
        kind="Only cases of this kind",
        group="Only cases of this group",
        page="Page number (10 cases per page)",
    )
    @app_commands.choices(status=[app_commands.Choice(name=name, value=name) for name in STATUS_FILTERS])
    async def cases_list(
        self,
        interaction: Interaction,
        status: str = "open",
        kind: str | None = None,
        group: CaseGroup | None = None,
        page: app_commands.Range[int, 1, 10000] = 1,
    ) -> None:
        content, view = await self.render_list(interaction, page=page, status=status, kind=kind, group=group)
        await send_ephemeral(interaction, content, view=view)

    @cases_list.autocomplete("kind")
    async def _kind_autocomplete(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        if interaction.guild is None or not isinstance(interaction.user, discord.Member):
            return []
        if not may_see_any_case(viewer_of(self.bot, interaction)):
            return []  # autocomplete answers only those who may run the command
        needle = current.lower()
        return [
            app_commands.Choice(name=f"{label} ({kind})"[:100], value=kind)
            for kind, label in ((kind, kind_label(kind)) for kind in KIND_LABELS)
            if needle in kind or needle in label.lower()
        ][:25]

    @cases.command(name="show", description="One case with its history")
    @app_commands.describe(number="The case number")
    async def cases_show(self, interaction: Interaction, number: app_commands.Range[int, 1, 999_999_999]) -> None:
        viewer = require_viewer(self.bot, interaction)
        case, sight = await visible_case(self.bot, interaction, viewer, number)
        if sight is CaseSight.STATUS:
            await send_ephemeral(interaction, status_line(case))
            return
        history = await case_store.events(self.bot.db, self.bot.ring, case.id)
        await send_ephemeral(interaction, embed=case_embed(self.bot, case, history, interaction.user.id))

    @cases.command(name="claim", description="Take a case: other moderators see that someone has it")
    @app_commands.describe(number="The case number")
    async def cases_claim(self, interaction: Interaction, number: app_commands.Range[int, 1, 999_999_999]) -> None:
        guild_id = require_moderator(self.bot, interaction)
        await workable_case(self.bot, interaction, number)
        try:
            case = await self.bot.cases.claim(guild_id, number, interaction.user.id, notify=False)
        except CaseRuleError as exc:
            raise _rule(exc) from None
        await send_ephemeral(interaction, _("You claimed case #{number}.").format(number=case.number))
        await self.bot.cases.refresh_notice(case)

    @cases.command(name="note", description="Add a note to a case (only moderators read notes)")
    @app_commands.describe(number="The case number", note="The note")
    async def cases_note(
        self,
        interaction: Interaction,
        number: app_commands.Range[int, 1, 999_999_999],
        note: app_commands.Range[str, 1, MAX_NOTE],
    ) -> None:
        guild_id = require_moderator(self.bot, interaction)
        await workable_case(self.bot, interaction, number)
        try:
            await self.bot.cases.note(guild_id, number, interaction.user.id, note)
        except CaseRuleError as exc:
            raise _rule(exc) from None
        await send_ephemeral(interaction, _("Your note was added to case #{number}.").format(number=number))

    @cases.command(name="resolve", description="Close a case as actioned or dismissed, with a note")
    @app_commands.describe(
        number="The case number",
        outcome="Actioned: something was done. Dismissed: nothing needed doing.",
        note="What was done or why it was dismissed (leave out to write it in a form)",
    )
    @app_commands.choices(
        outcome=[
            app_commands.Choice(name="actioned", value=Status.ACTIONED.value),
            app_commands.Choice(name="dismissed", value=Status.DISMISSED.value),
        ]
    )
    async def cases_resolve(
        self,
        interaction: Interaction,
        number: app_commands.Range[int, 1, 999_999_999],
        outcome: str,
        note: app_commands.Range[str, 1, MAX_NOTE] | None = None,
    ) -> None:
        guild_id = require_moderator(self.bot, interaction)
        await workable_case(self.bot, interaction, number)
        if note is None:
            await open_resolve_modal(self.bot, interaction, guild_id, number, outcome)
            return
        try:
            case = await self.bot.cases.resolve(guild_id, number, interaction.user.id, outcome, note, notify=False)
        except CaseRuleError as exc:
            raise _rule(exc) from None
        await send_ephemeral(
            interaction, _("Case #{number} is closed as {value}.").format(number=case.number, value=case.status.value)
        )
        await self.bot.cases.refresh_notice(case)

    # -- reports from members -------------------------------------------------------------------------

    @report.command(name="new", description="Tell the moderators about a problem; only they read it")
    @app_commands.checks.cooldown(REPORTS_PER_WINDOW, REPORT_WINDOW_SECONDS, key=lambda i: (i.guild_id, i.user.id))
    async def report_new(self, interaction: Interaction) -> None:
        if interaction.guild is None:
            raise UserError(_("Reports go to a server's moderators; run this inside the server."))
        await interaction.response.send_modal(ReportModal(self._submit_report))

    async def _submit_report(self, interaction: Interaction, summary: str | None, detail: str | None) -> None:
        if interaction.guild is None:
            raise UserError(_("Reports go to a server's moderators; run this inside the server."))
        what = clean(summary, what=_("What happened"), limit=MAX_REPORT_SUMMARY, required=True)
        more = clean(detail, what=_("The detail"), limit=MAX_REPORT_DETAIL, required=False)
        group = _group_of_channel(self.bot, interaction.channel)
        details: dict[str, Any] = {"via": "report", "summary": what}
        if more:
            details["detail"] = more
        result = await self.bot.cases.open_case(
            interaction.guild.id,
            "breach_report",
            group_id=group.id if group else None,
            reporter_id=interaction.user.id,
            details=details,
            notify=False,
        )
        await send_ephemeral(
            interaction,
            _(
                "Thank you. Your report reached the moderators as case #{number}. Only they "
                "can read it, and nobody else learns who reported. See how it goes with "
                "/report status."
            ).format(number=result.number),
        )
        await self.bot.cases.post_notice(interaction.guild.id, result)

    @report.command(name="status", description="How your reports in this server are going")
    async def report_status(self, interaction: Interaction) -> None:
        if interaction.guild is None:
            raise UserError(_("Reports belong to a server; run this inside the server."))
        mine = await case_store.list_for_reporter(self.bot.db, self.bot.ring, interaction.guild.id, interaction.user.id)
        if not mine:
            await send_ephemeral(interaction, _("You have not reported anything in this server."))
            return
        lines = [
            _("**#{number}** · sent {when} · {REPORTER_STATUS}").format(
                number=c.number, when=when(c.opened_at), REPORTER_STATUS=_(REPORTER_STATUS[c.status])
            )
            for c in mine
        ]
        await send_ephemeral(interaction, "\n".join([_("**Your reports** (only you see this)"), *lines]))

    async def report_message(self, interaction: Interaction, message: discord.Message) -> None:
        """The message context menu: refuses messages outside group rooms before asking anything."""
        if interaction.guild is None or message.guild is None:
            raise UserError(_("Only messages in a server's group rooms can be reported."))
        group = _group_of_channel(self.bot, message.channel)
        if group is None or group.guild_id != interaction.guild.id:
            raise UserError(
                _("Only messages in a group's rooms can be reported this way. For anything else, use /report new.")
            )
        channel_id, message_id, author_id = message.channel.id, message.id, message.author.id

        async def submit(inner: Interaction, reason: str | None, _: str | None) -> None:
            await self._submit_message_report(inner, group, channel_id, message_id, author_id, reason)

        await interaction.response.send_modal(MessageReportModal(submit))

    async def _submit_message_report(
        self,
        interaction: Interaction,
        group: GroupInfo,
        channel_id: int,
        message_id: int,
        author_id: int,
        reason: str | None,
    ) -> None:
        assert interaction.guild is not None
        why = clean(reason, what=_("The reason"), limit=MAX_REPORT_DETAIL, required=False)
        details: dict[str, Any] = {
            "via": "message",
            "message": {
                "guild_id": str(interaction.guild.id),
                "channel_id": str(channel_id),
                "message_id": str(message_id),
            },
        }
        if why:
            details["reason"] = why
        result = await self.bot.cases.open_case(
            interaction.guild.id,
            "breach_report",
            group_id=group.id,
            subject_id=author_id,
            reporter_id=interaction.user.id,
            details=details,
            dedupe_key=f"report:{interaction.user.id}:{channel_id}:{message_id}",
            held=HeldMessage(channel_id, message_id),
            notify=False,
        )
        if not result.created:
            await send_ephemeral(
                interaction,
                _("You already reported this message; it is case #{number}. See /report status.").format(
                    number=result.number
                ),
            )
            return
        await send_ephemeral(
            interaction,
            _(
                "Thank you. The moderators have the link to that message as case #{number}; "
                "it will not expire while they look at it. Only they can see the report, "
                "and nobody else learns who reported. See how it goes with /report status."
            ).format(number=result.number),
        )
        await self.bot.cases.post_notice(interaction.guild.id, result)


async def setup(bot: HoldspaceBot) -> None:
    await bot.add_cog(Moderation(bot))
