"""The consent feature as the rest of holdspace sees it (``bot.consent``, typed by
:class:`bot.services.features.ConsentGate`): the buttons' flow, the backstop and consent over time,
built from the feature's parts."""

from __future__ import annotations

from bot.app import HoldspaceBot
from cogs.consent.answers import Answers
from cogs.consent.backstop import Backstop
from cogs.consent.over_time import OverTime


class ConsentService:
    def __init__(self, bot: HoldspaceBot) -> None:
        self.bot = bot
        self.over_time = OverTime(bot)
        self.answers = Answers(bot, self.over_time)
        self.backstop = Backstop(bot)
        # What other features call is each part's own method, so its signature has one home.
        self.lobby_pressed = self.answers.lobby_pressed
        self.group_picked = self.answers.group_picked
        self.review_pressed = self.answers.review_pressed
        self.answer_pressed = self.answers.answer_pressed
        self.end_consent = self.answers.end_consent
        self.enforce = self.backstop.enforce
        self.revalidate_group = self.over_time.revalidate_group
        self.reschedule_expiry = self.over_time.reschedule_expiry
