"""Every catalogue holds every text the code uses, translated, with the same placeholders; command
names follow Discord's rules in every language; a broken catalogue is refused loudly."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest

from bot.i18n import COMMAND_NAME, SOURCE, _, available, choose, ngettext, pgettext, supported, using
from bot.i18n.catalogues import CatalogueError, catalogue_path, check_message, placeholders, read, translations
from bot.i18n.commands import command_texts
from bot.i18n.extract import template
from bot.i18n.formats import duration, language_name

LANGUAGES = [code for code in available() if code != SOURCE]
#: Discord's rule for command and option names (lowercase where the script has case).
NAME_RULE = re.compile(r"^[-_\w]{1,32}$")


@pytest.fixture(scope="module")
def code_texts() -> dict[tuple[str | None, str], object]:
    catalog = template()
    return {(m.context, m.id if isinstance(m.id, str) else m.id[0]): m for m in catalog if m.id}


def test_german_is_a_language_holdspace_speaks() -> None:
    assert "de" in LANGUAGES


def test_every_english_text_has_named_placeholders_only(code_texts: dict) -> None:
    wrong = []
    for message in code_texts.values():
        ids = (message.id,) if isinstance(message.id, str) else message.id  # type: ignore[attr-defined]
        for text in ids:
            try:
                placeholders(text)
            except CatalogueError as exc:
                wrong.append(str(exc))
    assert wrong == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_catalogue_holds_every_text_translated_with_the_same_placeholders(
    language: str, code_texts: dict
) -> None:
    catalog = read(catalogue_path(language))  # raises on a broken file or differing placeholders
    held = {(m.context, m.id if isinstance(m.id, str) else m.id[0]): m for m in catalog if m.id}  # type: ignore[attr-defined]
    missing = sorted(str(key) for key in code_texts if key not in held)
    assert missing == [], f"run `make messages` and translate these in {catalogue_path(language)}"
    unused = sorted(str(key) for key in held if key not in code_texts)
    assert unused == [], "texts the code no longer uses: run `make messages`"
    untranslated = []
    for key, message in held.items():
        strings = (message.string,) if isinstance(message.string, str) else message.string
        if message.fuzzy or not all(s.strip() for s in strings):
            untranslated.append(str(key))
        else:
            check_message(message.id, message.string, language)
    assert untranslated == [], f"untranslated or fuzzy in {catalogue_path(language)}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_command_names_follow_discords_rules_and_siblings_stay_apart(language: str) -> None:
    catalogue = translations(language)
    names = {m for m, context, _ in command_texts() if context == COMMAND_NAME}
    for name in names:
        translated = catalogue.pgettext(COMMAND_NAME, name)
        assert NAME_RULE.match(translated) and translated == translated.lower(), (name, translated)
    from bot.i18n.commands import command_paths

    siblings: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for path in command_paths():
        parent = tuple(catalogue.pgettext(COMMAND_NAME, p) for p in path[:-1])
        siblings[parent].append(catalogue.pgettext(COMMAND_NAME, path[-1]))
    clashes = {parent: names for parent, names in siblings.items() if len(names) != len(set(names))}
    assert clashes == {}


@pytest.mark.parametrize("language", LANGUAGES)
def test_command_descriptions_fit_discords_limit(language: str) -> None:
    catalogue = translations(language)
    too_long = [catalogue.gettext(m) for m, context, _ in command_texts() if context is None]
    assert [text for text in too_long if not 1 <= len(text) <= 100] == []


def test_a_broken_catalogue_is_refused_loudly(tmp_path: Path) -> None:
    broken = tmp_path / "broken.po"
    broken.write_text('msgid ""\nmsgstr ""\n\nmsgid "a"\nbanana\nmsgstr "b"\n')
    with pytest.raises(CatalogueError):
        read(broken)
    unanswered = tmp_path / "unanswered.po"
    unanswered.write_text('msgid ""\nmsgstr ""\n\nmsgid "a"\n')
    with pytest.raises(CatalogueError):
        read(unanswered)
    wrong = tmp_path / "wrong.po"
    wrong.write_text(
        'msgid ""\nmsgstr ""\n"Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n\n'
        'msgid "Hello {name}"\nmsgstr "Hallo {nom}"\n'
    )
    with pytest.raises(CatalogueError, match="placeholders"):
        read(wrong)
    other = tmp_path / "de" / "LC_MESSAGES" / "holdspace.po"
    other.parent.mkdir(parents=True)
    other.write_text('msgid ""\nmsgstr ""\n"Language: fr\\n"\n\nmsgid "a"\nmsgstr "b"\n')
    with pytest.raises(CatalogueError, match="Language"):
        read(other)


def test_placeholders_must_be_named() -> None:
    with pytest.raises(CatalogueError):
        placeholders("{} members")
    assert placeholders("{count} members in {group}") == {"count", "group"}
    with pytest.raises(CatalogueError):
        check_message("{count} members", "{n} Mitglieder", "test")
    check_message(("one member", "{count} members"), ("ein Mitglied", "{count} Mitglieder"), "test")


def test_discord_locales_map_to_catalogues_and_the_first_spoken_language_wins() -> None:
    assert supported("de") == "de"
    assert supported("en-US") == "en" and supported("en-GB") == "en"
    assert supported("xx-YY") is None and supported(None) is None and supported("../etc") is None
    assert choose("xx", None, "de") == "de"
    assert choose("en-US", "de") == "en"
    assert choose(None, None) == SOURCE


def test_the_language_is_per_context_and_restored_after_a_block() -> None:
    assert _("The server's language") == "The server's language"
    with using("de"):
        assert _("The server's language") == "Die Sprache des Servers"
        assert pgettext(COMMAND_NAME, "group") == "gruppe"
        assert duration(timedelta(minutes=90)) == "1 Stunde 30 Minuten"
        assert ngettext("{n} day", "{n} days", 2) == "{n} days"  # not in the catalogue: the English form
    assert _("The server's language") == "The server's language"
    assert duration(timedelta(minutes=90)) == "1 hour 30 minutes"
    assert language_name("de") == "Deutsch"
