"""Time zones in /setup configure: only Region/City names and UTC; abbreviations refused with a
suggestion and nothing changed (EST has no daylight saving: a New York group would meet an hour off
all summer)."""

from __future__ import annotations

import dataclasses

import pytest

from bot.config import GroupDefaults
from tests.e2e.conftest import Holdspace
from tests.e2e.test_setup import add_staff, configure, final


@pytest.mark.parametrize(("typed", "suggested"), [("CET", "Europe/Berlin"), ("EST", "America/New_York")])
async def test_abbreviations_are_refused_with_a_suggestion(holdspace: Holdspace, typed: str, suggested: str) -> None:
    hs = holdspace
    staff = add_staff(hs)
    await hs.start()
    handle = await configure(hs, staff, timezone=typed)
    text = handle.content or ""
    assert handle.ephemeral and "abbreviation" in text and suggested in text, text
    assert hs.bot is not None
    assert not hs.bot.state.guild(hs.guild.id).configured
    assert not staff.lobby.messages, "nothing was changed"


async def test_region_city_names_are_stored_in_their_proper_spelling(holdspace: Holdspace) -> None:
    hs = holdspace
    staff = add_staff(hs)
    await hs.start()
    await final(await configure(hs, staff, timezone="america/new_york"))
    assert hs.bot is not None
    assert hs.bot.state.guilds[hs.guild.id].timezone == "America/New_York"


async def test_a_first_set_up_without_a_zone_uses_the_configured_default(holdspace: Holdspace) -> None:
    hs = holdspace
    hs.settings = dataclasses.replace(hs.settings, defaults=GroupDefaults(timezone="Europe/Vienna"))
    staff = add_staff(hs)
    await hs.start()
    handle = await hs.command(
        hs.member("owner"), None, "setup configure", facilitator_role=staff.fac_role,
        moderator_role=staff.mod_role, log_channel=staff.log, lobby_channel=staff.lobby,
    )
    await final(handle)
    assert hs.bot is not None
    assert hs.bot.state.guilds[hs.guild.id].timezone == "Europe/Vienna"


async def test_the_autocomplete_offers_no_abbreviations(holdspace: Holdspace) -> None:
    from bot.core.zones import suggest_zones, zone_names

    assert "CET" not in zone_names() and "EST" not in zone_names() and "UTC" in zone_names()
    assert suggest_zones("new_y") == ["America/New_York"]
