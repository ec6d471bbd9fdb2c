"""Case buttons, modals and messages shared by the moderation cog and the case service.

The Claim and Resolve buttons on a case notice carry fixed custom ids
(``holdspace:case:claim:<number>``, ``holdspace:case:resolve:<number>``) and are parsed by
DynamicItems registered at start, so they keep working after a restart. Who may press them is
checked when they are pressed, never assumed from who can see the channel.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any, Protocol

import discord

from bot.core.case_details import describe_details
from bot.core.cases import (
    MAX_NOTE,
    MAX_REPORT_DETAIL,
    MAX_REPORT_SUMMARY,
    CaseRuleError,
    Status,
    kind_label,
    normalise_text,
)
from bot.core.visibility import CaseFacts, CaseSight, Viewer, case_sight, may_see_any_case
from bot.i18n import N_, _
from bot.state import State
from bot.storage.cases import CaseEvent, CaseRecord
from bot.ui import checks
from bot.ui.base import Localised, Modal
from bot.ui.replies import UserError, reply_error, send_ephemeral

log = logging.getLogger(__name__)


class CaseDesk(Protocol):
    """The case actions the buttons and lists use (``bot.services.cases.CaseService``)."""

    async def get(self, guild_id: int, number: int) -> CaseRecord | None: ...
    async def claim(self, guild_id: int, number: int, actor_id: int, *, notify: bool = True) -> CaseRecord: ...
    async def resolve(
        self, guild_id: int, number: int, actor_id: int, outcome: str, note: str | None, *, notify: bool = True
    ) -> CaseRecord: ...
    async def refresh_notice(self, case: CaseRecord) -> None: ...
    def group_name(self, group_id: str | None) -> str | None: ...


class CaseViewsHost(Protocol):
    """What the case views need of the bot (``CaseViewsHost`` provides it)."""

    @property
    def state(self) -> State: ...
    @property
    def cases(self) -> CaseDesk: ...
    @property
    def user(self) -> discord.ClientUser | None: ...


CLAIM_ID = "holdspace:case:claim:{number}"
RESOLVE_ID = "holdspace:case:resolve:{number}"
_MAX_NUMBER = r"[0-9]{1,9}"

NOT_ALLOWED = N_(
    "Only moderators can work on cases. If you should be one, ask a server "
    "manager to give you the moderator role set up in /setup."
)
NOT_ALLOWED_TO_SEE = N_(
    "Only moderators (and facilitators, for their own groups) can see cases. If "
    "you should be one, ask a server manager to give you the moderator role set "
    "up in /setup."
)
ABOUT_YOU = N_("This case is about you, so another moderator looks after it; you can see its status with /cases show.")


# -- who may do what (checked at runtime, whatever Discord's integration settings allow) ------------


def viewer_of(bot: CaseViewsHost, interaction: discord.Interaction[Any]) -> Viewer:
    """The facts bot.core.visibility needs about the person looking (memory only)."""
    if interaction.guild is None or not isinstance(interaction.user, discord.Member):
        raise UserError(_("Cases live in a server; run this inside the server."))
    member = interaction.user
    role_ids = [r.id for r in member.roles]
    facilitates = frozenset(
        g.id for g in bot.state.groups_of_guild(member.guild.id) if bot.state.facilitates(g, member.id, role_ids)
    )
    return Viewer(
        member.id,
        is_moderator=checks.is_moderator(interaction),
        is_server_manager=checks.is_server_manager(interaction),
        facilitates=facilitates,
    )


def case_facts(bot: CaseViewsHost, guild: discord.Guild, case: CaseRecord) -> CaseFacts:
    """A case's facts for bot.core.visibility: whether its subject facilitates its group counts the
    facilitator role, naming, and someone holdspace cannot see any more (fail closed)."""
    subject_facilitates = False
    if case.subject_id is not None and case.group_id is not None:
        group = bot.state.groups.get(case.group_id)
        cfg = bot.state.guilds.get(guild.id)
        subject = guild.get_member(case.subject_id)
        subject_facilitates = (
            group is None
            or subject is None
            or case.subject_id in bot.state.facilitators_of(case.group_id)
            or checks.has_role(subject, cfg.facilitator_role_id if cfg else None)
        )
    return CaseFacts(case.kind, case.group_id, case.subject_id, subject_facilitates)


def require_viewer(bot: CaseViewsHost, interaction: discord.Interaction[Any]) -> Viewer:
    """The viewer, when /cases is for them at all; UserError otherwise (before any case is read)."""
    viewer = viewer_of(bot, interaction)
    if not may_see_any_case(viewer):
        raise UserError(_(NOT_ALLOWED_TO_SEE))
    return viewer


async def visible_case(
    bot: CaseViewsHost, interaction: discord.Interaction[Any], viewer: Viewer, number: int
) -> tuple[CaseRecord, CaseSight]:
    """The case and how much of it the viewer may see; a case they may not see does not exist."""
    assert interaction.guild is not None
    case = await bot.cases.get(interaction.guild.id, number)
    sight = CaseSight.NONE if case is None else case_sight(viewer, case_facts(bot, interaction.guild, case))
    if case is None or sight is CaseSight.NONE:
        raise UserError(
            _("There is no case #{number} in this server. Use /cases list to see the case numbers.").format(
                number=number
            )
        )
    return case, sight


async def workable_case(bot: CaseViewsHost, interaction: discord.Interaction[Any], number: int) -> CaseRecord:
    """The case, when the person may claim, note or resolve it (moderators; not about themselves)."""
    viewer = viewer_of(bot, interaction)
    if not viewer.works_cases:
        raise UserError(_(NOT_ALLOWED))
    case, sight = await visible_case(bot, interaction, viewer, number)
    if sight is not CaseSight.FULL:
        raise UserError(_(ABOUT_YOU))
    return case


def require_moderator(bot: CaseViewsHost, interaction: discord.Interaction[Any]) -> int:
    """The guild id, when the person may work on cases; UserError otherwise."""
    if interaction.guild is None or not isinstance(interaction.user, discord.Member):
        raise UserError(_("Cases live in a server; run this inside the server."))
    if not checks.is_moderator(interaction):
        raise UserError(_(NOT_ALLOWED))
    return interaction.guild.id


async def guarded(interaction: discord.Interaction[Any], action: Callable[[], Awaitable[None]]) -> None:
    """Run a button's or modal's work; every failure becomes the one polite ephemeral answer."""
    try:
        await action()
    except CaseRuleError as exc:
        await reply_error(interaction, UserError(str(exc)))
    except Exception as exc:
        await reply_error(interaction, exc)


def clean(value: str | None, *, what: str, limit: int, required: bool) -> str | None:
    """``normalise_text`` with its refusal turned into an answer for the person."""
    try:
        return normalise_text(value, what=what, limit=limit, required=required)
    except CaseRuleError as exc:
        raise UserError(str(exc)) from None


# -- the notice buttons ---------------------------------------------------------------------------


def _bot(interaction: discord.Interaction[Any]) -> CaseViewsHost:
    client: CaseViewsHost = interaction.client
    return client


class ClaimButton(
    Localised,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"holdspace:case:claim:(?P<number>{_MAX_NUMBER})",
):
    def __init__(self, number: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=_("Claim"), style=discord.ButtonStyle.primary, custom_id=CLAIM_ID.format(number=number)
            )
        )
        self.number = number

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ClaimButton:
        return cls(int(match["number"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        async def work() -> None:
            bot = _bot(interaction)
            guild_id = require_moderator(bot, interaction)
            await workable_case(bot, interaction, self.number)
            case = await bot.cases.claim(guild_id, self.number, interaction.user.id, notify=False)
            await send_ephemeral(
                interaction,
                _(
                    "You claimed case #{number}. Add notes with /cases note and close it with "
                    "Resolve or /cases resolve."
                ).format(number=self.number),
            )
            await bot.cases.refresh_notice(case)

        await guarded(interaction, work)


class ResolveButton(
    Localised,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"holdspace:case:resolve:(?P<number>{_MAX_NUMBER})",
):
    def __init__(self, number: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=_("Resolve"), style=discord.ButtonStyle.secondary, custom_id=RESOLVE_ID.format(number=number)
            )
        )
        self.number = number

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ResolveButton:
        return cls(int(match["number"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        async def work() -> None:
            bot = _bot(interaction)
            guild_id = require_moderator(bot, interaction)
            await open_resolve_modal(bot, interaction, guild_id, self.number)

        await guarded(interaction, work)


def notice_view(number: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(ClaimButton(number))
    view.add_item(ResolveButton(number))
    return view


# -- resolving -------------------------------------------------------------------------------------


async def open_resolve_modal(
    bot: CaseViewsHost, interaction: discord.Interaction[Any], guild_id: int, number: int, outcome: str | None = None
) -> None:
    """Show the modal that asks for the outcome and the note (refuses unknown or closed cases first)."""
    case = await workable_case(bot, interaction, number)
    if case.closed:
        raise UserError(
            _("Case #{number} is already closed ({value}); it cannot be resolved twice.").format(
                number=number, value=case.status.value
            )
        )
    await interaction.response.send_modal(ResolveModal(number, outcome))


class ResolveModal(Modal):
    def __init__(self, number: int, outcome: str | None = None) -> None:
        super().__init__(title=f"Resolve case #{number}"[:45], timeout=900)
        self.number = number
        self.preset = outcome
        self.outcome: discord.ui.Select[Any] = discord.ui.Select(
            custom_id="outcome",
            placeholder=_("Choose the outcome"),
            options=[
                discord.SelectOption(
                    label=_("Actioned"),
                    value=Status.ACTIONED.value,
                    description=_("Something was done about it"),
                    default=outcome == Status.ACTIONED.value,
                ),
                discord.SelectOption(
                    label=_("Dismissed"),
                    value=Status.DISMISSED.value,
                    description=_("Nothing needed doing"),
                    default=outcome == Status.DISMISSED.value,
                ),
            ],
        )
        self.note: discord.ui.TextInput[Any] = discord.ui.TextInput(
            custom_id="note",
            style=discord.TextStyle.paragraph,
            placeholder=_("What was done, or why it was dismissed (required)"),
            max_length=MAX_NOTE,
            required=True,
        )
        self.add_item(discord.ui.Label(text=_("Outcome"), component=self.outcome))
        self.add_item(discord.ui.Label(text=_("Note"), component=self.note))

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        async def work() -> None:
            bot = _bot(interaction)
            guild_id = require_moderator(bot, interaction)
            await workable_case(bot, interaction, self.number)
            outcome = self.outcome.values[0] if self.outcome.values else (self.preset or "")
            case = await bot.cases.resolve(
                guild_id, self.number, interaction.user.id, outcome, self.note.value, notify=False
            )
            await send_ephemeral(
                interaction,
                _("Case #{number} is closed as {value}.").format(number=case.number, value=case.status.value),
            )
            await bot.cases.refresh_notice(case)

        await guarded(interaction, work)

    async def on_error(self, interaction: discord.Interaction[Any], error: Exception, /) -> None:  # type: ignore[override]
        await reply_error(interaction, error)


# -- reports from members --------------------------------------------------------------------------

ReportHandler = Callable[[discord.Interaction[Any], str | None, str | None], Awaitable[None]]


class ReportModal(Modal):
    """``/report new``: what happened (required) and optional detail."""

    def __init__(self, handler: ReportHandler) -> None:
        super().__init__(title=_("Report to the moderators"), timeout=900)
        self.handler = handler
        self.summary: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label=_("What happened?"),
            custom_id="summary",
            style=discord.TextStyle.paragraph,
            placeholder=_("Only the moderators read this. Nobody else learns who reported."),
            max_length=MAX_REPORT_SUMMARY,
            required=True,
        )
        self.detail: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label=_("Anything else they should know? (optional)"),
            custom_id="detail",
            style=discord.TextStyle.paragraph,
            max_length=MAX_REPORT_DETAIL,
            required=False,
        )
        self.add_item(self.summary)
        self.add_item(self.detail)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await guarded(interaction, lambda: self.handler(interaction, self.summary.value, self.detail.value))

    async def on_error(self, interaction: discord.Interaction[Any], error: Exception, /) -> None:  # type: ignore[override]
        await reply_error(interaction, error)


class MessageReportModal(Modal):
    """ "Report to moderators" on a message: an optional reason; the message itself is never read."""

    def __init__(self, handler: ReportHandler) -> None:
        super().__init__(title=_("Report this message"), timeout=900)
        self.handler = handler
        self.reason: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label=_("What is wrong with it? (optional)"),
            custom_id="reason",
            style=discord.TextStyle.paragraph,
            placeholder=_("Only the moderators read this. Nobody else learns who reported."),
            max_length=MAX_REPORT_DETAIL,
            required=False,
        )
        self.add_item(self.reason)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await guarded(interaction, lambda: self.handler(interaction, self.reason.value, None))

    async def on_error(self, interaction: discord.Interaction[Any], error: Exception, /) -> None:  # type: ignore[override]
        await reply_error(interaction, error)


# -- showing cases ---------------------------------------------------------------------------------

REPORTER_STATUS = {
    Status.OPEN: N_("received; waiting for a moderator"),
    Status.INVESTIGATING: N_("a moderator is looking at it"),
    Status.ACTIONED: N_("closed; action was taken"),
    Status.DISMISSED: N_("closed; no action was needed"),
}


def when(moment: datetime | None) -> str:
    return "-" if moment is None else f"<t:{int(moment.timestamp())}:f>"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def group_label(bot: CaseViewsHost, group_id: str | None) -> str:
    name = bot.cases.group_name(group_id)
    return _("no group") if name is None else _short(discord.utils.escape_markdown(name), 60)


def status_for(case: CaseRecord, viewer_id: int) -> str:
    if case.closed:
        return case.status.value
    if case.assignee_id is None:
        return "open"
    return _("claimed by you") if case.assignee_id == viewer_id else _("claimed by a moderator")


def list_line(bot: CaseViewsHost, case: CaseRecord, viewer_id: int) -> str:
    return _("**#{number}** · {status_for} · {kind_label} · {group_label} · opened {when}").format(
        number=case.number,
        status_for=status_for(case, viewer_id),
        kind_label=kind_label(case.kind),
        group_label=group_label(bot, case.group_id),
        when=when(case.opened_at),
    )


def status_line(case: CaseRecord) -> str:
    """All a person sees of a case about themselves: its number and status."""
    return _("**#{number}** · {value} · a case about you (only its status is shown to you)").format(
        number=case.number, value=case.status.value
    )


def message_link(details: dict[str, Any]) -> str | None:
    message = details.get("message")
    if not isinstance(message, dict):
        return None
    try:
        guild_id, channel_id, message_id = (int(message[k]) for k in ("guild_id", "channel_id", "message_id"))
    except (KeyError, TypeError, ValueError):
        return None
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


_TEXT_KEYS = ("summary", "detail", "reason")
_TEXT_HEADINGS = {"summary": N_("Summary"), "detail": N_("Detail"), "reason": N_("Reason")}


def case_embed(bot: CaseViewsHost, case: CaseRecord, history: Iterable[CaseEvent], viewer_id: int) -> discord.Embed:
    """One case for a moderator or facilitator: never the reporter."""
    embed = discord.Embed(
        title=_("Case #{number}: {kind_label}").format(number=case.number, kind_label=kind_label(case.kind))
    )
    text_parts = []
    for key in _TEXT_KEYS:
        value = case.details.get(key)
        if isinstance(value, str) and value:
            # a reason holdspace wrote (the guard's) is an English record, translated here; a
            # moderator's or member's own words match no catalogue text and are shown as they are
            text_parts.append(f"**{_(_TEXT_HEADINGS[key])}**\n{_(value)}")
    if text_parts:
        embed.description = _short("\n\n".join(text_parts), 3000)
    embed.add_field(name=_("Status"), value=status_for(case, viewer_id))
    embed.add_field(name=_("Group"), value=group_label(bot, case.group_id))
    embed.add_field(name=_("Opened"), value=when(case.opened_at))
    if case.subject_id is not None:
        embed.add_field(name=_("About"), value=f"<@{case.subject_id}> ({case.subject_id})")
    link = message_link(case.details)
    if link:
        embed.add_field(name=_("Reported message"), value=link, inline=False)
    other = [
        _short(line, 200)
        for line in describe_details({k: v for k, v in case.details.items() if k not in (*_TEXT_KEYS, "message")})
    ]
    if other:
        embed.add_field(name=_("Details"), value=_short("\n".join(other), 1000), inline=False)
    lines = []
    for event in history:
        if event.actor_id is None:
            # Only holdspace opens cases; any other step without an actor was a moderator who asked
            # to be forgotten.
            who = "holdspace" if event.action == "opened" else _("a moderator")
        else:
            who = "you" if event.actor_id == viewer_id else _("a moderator")
        line = _("{when} · {action} by {who}").format(when=when(event.at), action=event.action, who=who)
        if event.status is not None and event.action == "resolved":
            line += f" ({event.status.value})"
        if event.note:
            line += f": {_short(event.note, 180)}"
        lines.append(line)
    if lines:
        value = ""
        for line in reversed(lines):  # newest kept when it does not all fit
            candidate = line + ("\n" + value if value else "")
            if len(candidate) > 1000:
                value = "…\n" + value
                break
            value = candidate
        embed.add_field(name=_("History"), value=value, inline=False)
    if case.closed_at is not None:
        embed.set_footer(text=_("Closed"))
    return embed
