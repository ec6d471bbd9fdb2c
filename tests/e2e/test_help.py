"""/help shows each person the commands they may use: a member, a facilitator and a moderator each
see a different answer, and every command it names exists."""

from __future__ import annotations

from bot.core.help import FACILITATOR, MEMBER, MODERATOR, help_text
from tests.e2e.conftest import Holdspace
from tests.e2e.test_setup import final, started_with_group


async def test_help_differs_for_a_member_a_facilitator_and_a_moderator(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, _ = await started_with_group(hs)
    mona = hs.guild.add_member(hs.sb.create_user("mona"), roles=[staff.mod_role, hs.world.member_role])
    answers = {}
    for name, who in (("member", hs.member("alice")), ("facilitator", staff.facilitator), ("moderator", mona)):
        handle = await hs.command(who, None, "help")
        answers[name] = await final(handle)
        assert handle.ephemeral
    assert len(set(answers.values())) == 3
    assert answers["member"] == help_text(facilitator=False, moderator=False)
    assert answers["facilitator"] == help_text(facilitator=True, moderator=False)
    assert answers["moderator"] == help_text(facilitator=False, moderator=True)
    assert "/cases" not in answers["member"] and "/group" not in answers["member"]
    assert "/session start" in answers["facilitator"] and "/cases" not in answers["facilitator"]
    assert "/cases show" in answers["moderator"] and "/session start" not in answers["moderator"]

    # every command /help names is one holdspace has
    assert hs.bot is not None
    known = {f"/{c.qualified_name}" for c in hs.bot.tree.walk_commands()}
    for section in (MEMBER, FACILITATOR, MODERATOR):
        for command, _ in section.lines:
            assert command in known, command
