"""``/session history``: a group's past integrity reports, for its facilitators and for moderators
(bot.core.visibility.may_read_session_reports). The asker is checked before the group's name is
looked up, so the answer never tells anyone else whether a group exists."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from bot.app import HoldspaceBot
from bot.core import session_report as words
from bot.core.records import GroupInfo
from bot.core.visibility import may_read_session_reports
from bot.i18n import _
from bot.storage import session_reports
from bot.ui.case_views import viewer_of
from bot.ui.checks import is_facilitator, is_group_facilitator, is_moderator
from bot.ui.group_options import GroupTransformer
from bot.ui.replies import UserError

#: Reports listed in one answer (Discord's message limit); the export has them all.
SHOWN = 15



def _may_ask(interaction: discord.Interaction[Any]) -> bool:
    return is_facilitator(interaction) or is_moderator(interaction)


class HistoryGroupTransformer(GroupTransformer):
    """The group option of /session history: facilitators and moderators, asked before the look-up."""

    def check_asker(self, interaction: discord.Interaction[Any]) -> None:
        if not _may_ask(interaction):
            raise UserError(_(words.HISTORY_REFUSED))

    def offered(self, interaction: discord.Interaction[Any], group: GroupInfo) -> bool:
        return is_moderator(interaction) or is_group_facilitator(interaction, group)


HistoryGroup = app_commands.Transform[GroupInfo, HistoryGroupTransformer]


async def answer(
    bot: HoldspaceBot, interaction: discord.Interaction[HoldspaceBot], group: GroupInfo, report: str | None
) -> str:
    """The list of ``group``'s reports, or the one whose id is ``report``."""
    if not may_read_session_reports(viewer_of(bot, interaction), group.id):
        raise UserError(_(words.HISTORY_REFUSED))
    reports = await session_reports.of_group(bot.db, bot.ring, group.id)
    if report is None or not report.strip():
        return words.history_text(group.name, reports, shown=SHOWN)
    wanted = report.strip().strip("`").lower()
    for item in reports:
        if wanted and words.report_id(item).startswith(wanted):
            return words.facilitator_text(item)
    raise UserError(words.unknown_report(group.name))
