"""Every group in its own language: the synced commands carry German names and descriptions, a
group set to German posts German ground rules, and a member whose Discord speaks German gets German
answers in an English group."""

from __future__ import annotations

from bot.i18n import using
from bot.i18n.translator import COMMAND_NAME
from tests.e2e.conftest import Holdspace
from tests.e2e.test_setup import add_staff, configure, create_group, final


def _command(hs: Holdspace, name: str) -> dict:
    commands = hs.world.app.commands_for(hs.guild.id)
    return next(c for c in commands if c["name"] == name)


async def test_the_synced_commands_carry_german_names_and_descriptions(holdspace: Holdspace) -> None:
    hs = holdspace
    await hs.start(sync=True)
    group = _command(hs, "group")
    assert group["name_localizations"]["de"] == "gruppe"
    assert group["description_localizations"]["de"] == "Vertrauliche Gruppen einrichten und leiten (Gruppenleitung)"
    settings = next(o for o in group["options"] if o["name"] == "settings")
    assert settings["name_localizations"]["de"] == "einstellungen"
    language = next(o for o in settings["options"] if o["name"] == "language")
    assert language["name"] == "language" and "de" not in (language.get("name_localizations") or {})
    assert language["description_localizations"]["de"].startswith("Die Sprache")
    follow = next(c for c in language["choices"] if c["value"] == "server")
    assert follow["name_localizations"]["de"] == "Die Sprache des Servers"
    assert "name_localizations" not in next(c for c in language["choices"] if c["value"] == "de") or not next(
        c for c in language["choices"] if c["value"] == "de"
    ).get("name_localizations")
    # English readers keep the English; only languages with a catalogue are sent
    assert set(group["name_localizations"]) == {"de"}
    menu = next(c for c in hs.world.app.commands_for(hs.guild.id) if c["type"] == 3)
    assert menu["name_localizations"]["de"] == "An die Moderation melden"
    # every German command name follows Discord's rules (the sandbox refuses the sync otherwise)
    with using("de"):
        from bot.i18n import pgettext

        assert pgettext(COMMAND_NAME, "purge-now") == "jetzt-löschen"


async def test_a_translation_change_alone_syncs_the_commands_again(holdspace: Holdspace) -> None:
    hs = holdspace
    bot = await hs.start(sync=True)
    digest = await bot.command_set_hash()
    await hs.stop()
    bot = await hs.start()
    assert await bot.command_set_hash() == digest  # unchanged: no sync at this start
    from bot.i18n import catalogues

    german = catalogues.translations("de")
    original = german.pgettext
    german.pgettext = lambda context, message: "gruppen" if message == "group" else original(context, message)  # type: ignore[method-assign]
    try:
        assert await bot.command_set_hash() != digest
    finally:
        german.pgettext = original  # type: ignore[method-assign]


async def test_a_group_set_to_german_keeps_its_language_and_answers_its_facilitator_in_it(
    holdspace: Holdspace,
) -> None:
    hs = holdspace
    staff = add_staff(hs)
    await hs.start()
    await final(await configure(hs, staff))
    group = await create_group(hs, staff, "Dienstagskreis")
    handle = await hs.command(staff.facilitator, None, "group settings", group="Dienstagskreis", language="de")
    text = await final(handle)
    assert "Deutsch" in text
    assert hs.bot is not None
    assert hs.bot.state.groups[group.id].language == "de"
    await hs.restart()
    assert hs.bot.state.groups[group.id].language == "de"
    handle = await hs.command(staff.facilitator, None, "group settings", group="Dienstagskreis", language="server")
    await final(handle)
    assert hs.bot.state.groups[group.id].language is None
