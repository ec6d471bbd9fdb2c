"""Every group in its own language: the synced commands carry German names and descriptions, a
group set to German posts German ground rules, and a member whose Discord speaks German gets German
answers in an English group."""

from __future__ import annotations

from bot.core.records import GroupInfo
from bot.i18n import COMMAND_NAME, using
from tests.e2e.conftest import Holdspace
from tests.e2e.test_setup import Staff, add_staff, configure, create_group, final


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


async def _german_group(hs: Holdspace) -> tuple[Staff, GroupInfo]:
    staff = add_staff(hs)
    await hs.start()
    await final(await configure(hs, staff))
    group = await create_group(hs, staff, "Dienstagskreis")
    await final(await hs.command(staff.facilitator, None, "group settings", group="Dienstagskreis", language="de"))
    assert hs.bot is not None
    return staff, hs.bot.state.groups[group.id]


async def test_a_group_set_to_german_posts_german_ground_rules(holdspace: Holdspace) -> None:
    hs = holdspace
    staff, group = await _german_group(hs)
    text_room = hs.sb.world.channels[group.text_channel_id]
    # the facilitator's own Discord speaks English: the answer is theirs, the room post the group's
    handle = await hs.command(staff.facilitator, text_room, "session start", group="Dienstagskreis")
    answer = await final(handle)
    assert "started" in answer.lower() or "session" in answer.lower()
    await hs.settle()
    posted = [m for m in text_room.messages if m.embeds]
    embed = next(e for m in posted for e in m.embeds if e["title"].endswith("Die Sitzung hat begonnen"))
    assert embed["title"] == "Dienstagskreis: Die Sitzung hat begonnen"
    assert [f["name"] for f in embed["fields"]] == [
        "Was hier gesagt wird, bleibt hier",
        "Keine Aufnahmen, keine Screenshots",
        "Ein geschützter Raum",
        "Die Grenzen der Vertraulichkeit",
        "Ein Anliegen melden",
    ]
    assert "Alle hier haben diesen Grundregeln zugestimmt" in embed["description"]
    assert "Stunden" in embed["fields"][2]["value"] or "Sitzung" in embed["fields"][2]["value"]
    message = next(m for m in posted if any(e["title"] == embed["title"] for e in m.embeds))
    labels = [c.get("label") for row in message.components for c in row.get("components", [])]
    assert labels == ["Grenzen der Vertraulichkeit vollständig"]
    # the group's first agreement was written in German too
    assert hs.bot is not None
    from bot.storage import groups as group_store

    agreement = await group_store.get_agreement(hs.bot.db, hs.bot.ring, group.id)
    assert agreement is not None and "Willkommen" not in agreement.text  # made before the switch: English
    # the closing post is in the group's language as well
    await final(await hs.command(staff.facilitator, text_room, "session end", group="Dienstagskreis"))
    await hs.settle()
    closing = [e["title"] for m in text_room.messages for e in m.embeds]
    assert "Dienstagskreis: Die Sitzung ist beendet" in closing


async def test_a_german_speaking_member_gets_german_answers_in_an_english_group(holdspace: Holdspace) -> None:
    hs = holdspace
    staff = add_staff(hs)
    await hs.start()
    await final(await configure(hs, staff))
    group = await create_group(hs, staff, "Tuesday circle")
    assert group.language is None  # the server's: English
    alice, bob = hs.member("alice"), hs.member("bob")
    alice.user.locale = "de"
    text_room = hs.sb.world.channels[group.text_channel_id]
    assert hs.bot is not None
    for member in (alice, bob):  # both agreed and are let into the group's rooms
        await hs.seed_consent(group, member.id)
    await hs.bot.access.reconcile_group(group)
    await hs.settle()

    german = await hs.command(alice, text_room, "help")
    assert german.ephemeral
    assert "Was Sie mit holdspace tun können" in (await final(german))
    assert "/einwilligung geben" in (await final(german))
    english = await hs.command(bob, text_room, "help")
    assert "What you can do with holdspace" in (await final(english))

    # an error answer too: a member may not change a group's settings
    refused = await hs.command(alice, text_room, "group settings", group="Tuesday circle")
    assert refused.ephemeral
    assert "Nur die Gruppenleitung kann diesen Befehl nutzen" in (await final(refused))

    # a Discord language holdspace lacks falls back to the group's (here the server's: English)
    alice.user.locale = "ja"
    other = await hs.command(alice, text_room, "help")
    assert "What you can do with holdspace" in (await final(other))


async def test_a_new_group_of_a_german_server_gets_the_german_default_agreement(holdspace: Holdspace) -> None:
    hs = holdspace
    staff = add_staff(hs)
    await hs.start()
    await final(await configure(hs, staff, language="de"))
    assert hs.bot is not None and hs.bot.state.guild(hs.guild.id).language == "de"
    group = await create_group(hs, staff, "Mittwochsrunde")
    from bot.storage import groups as group_store

    agreement = await group_store.get_agreement(hs.bot.db, hs.bot.ring, group.id)
    assert agreement is not None
    assert agreement.text.startswith("**Willkommen in Mittwochsrunde.**")
    assert "**Grenzen der Vertraulichkeit**" in agreement.text
    assert "{" not in agreement.text  # every value written in


async def _administrator_joins_voice(hs: Holdspace, group: GroupInfo, name: str) -> str:
    """An administrator (who passes every overwrite) joins without consent; their consent prompt."""
    from bot.sandbox import permissions as P

    admin_role = hs.guild.create_role("Admin", P.ADMINISTRATOR)
    member = hs.member(name)
    hs.guild.set_member_roles(member, [admin_role.id, hs.world.member_role.id])
    hs.guild.join_voice(member, hs.sb.world.channels[group.voice_channel_id])
    await hs.sb.wait_until(lambda: hs.guild.voice_channel_of(member) is None)
    await hs.sb.wait_until(lambda: any(m.components for m in member.user.dms))
    return next(m.content or "" for m in member.user.dms if m.components)


async def test_a_german_groups_disconnect_prompt_is_german_and_its_case_notice_is_the_servers(
    holdspace: Holdspace,
) -> None:
    hs = holdspace
    staff, group = await _german_group(hs)  # on an English server
    prompt = await _administrator_joins_voice(hs, group, "bob")  # bob's own Discord speaks English
    assert prompt.startswith("Sie wurden vom Sprachraum von **Dienstagskreis** auf ")
    assert "keine Einwilligung von Ihnen" in prompt
    assert "Drücken Sie die Schaltfläche" in prompt
    await hs.sb.wait_until(lambda: any("Case #" in (m.content or "") for m in staff.log.messages))
    notice = next(m.content or "" for m in staff.log.messages if "Case #" in (m.content or ""))
    assert notice.startswith("**Case #") and "in group **Dienstagskreis**" in notice and "Status: open." in notice


async def test_case_notices_on_a_german_server_are_german(holdspace: Holdspace) -> None:
    hs = holdspace
    staff = add_staff(hs)
    await hs.start()
    await final(await configure(hs, staff, language="de"))
    group = await create_group(hs, staff, "Mittwochsrunde")
    prompt = await _administrator_joins_voice(hs, group, "bob")
    assert prompt.startswith("Sie wurden vom Sprachraum von **Mittwochsrunde** auf ")
    await hs.sb.wait_until(lambda: any("Fall #" in (m.content or "") for m in staff.log.messages))
    notice = next(m.content or "" for m in staff.log.messages if "Fall #" in (m.content or ""))
    assert notice.startswith("**Fall #") and "in der Gruppe **Mittwochsrunde**" in notice
    assert notice.endswith("Status: offen.")
