"""/help's answer fits one Discord message for every combination of roles."""

from __future__ import annotations

import itertools

from bot.core.help import help_text
from bot.ui.replies import CONTENT_LIMIT


def test_every_answer_fits_one_message() -> None:
    for facilitator, moderator, manager in itertools.product((False, True), repeat=3):
        text = help_text(facilitator=facilitator, moderator=moderator, manager=manager)
        assert len(text) <= CONTENT_LIMIT, (facilitator, moderator, manager, len(text))
