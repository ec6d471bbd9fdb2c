"""``make messages``: gather every marked text from the code and bring each catalogue up to date.

``python -m bot.i18n`` adds new texts (untranslated) to every catalogue and drops texts the
code no longer uses; ``--new de`` starts the catalogue of a new language. The same extraction runs
in memory in tests/unit/test_catalogues.py, which fails while a catalogue lacks a text.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bot.i18n.catalogues import DOMAIN, LOCALE_DIR, SOURCE, available, catalogue_path

ROOT = Path(__file__).resolve().parents[2]
MAPPING = ROOT / "babel.cfg"
KEYWORDS: dict[str, Any] = {"_": None, "N_": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2)}

def template() -> Any:
    """Every text the code marks, as a Babel catalogue (msgid, plural, context, where it is used)."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with MAPPING.open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle, str(MAPPING))
    catalog = Catalog(domain=DOMAIN, project="holdspace", charset="utf-8", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS, comment_tags=("Translators:",), strip_comment_tags=True
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    from bot.i18n.commands import command_texts  # the command tree's names and descriptions

    for message, context, where in command_texts():
        catalog.add(message, None, [(where, 0)], context=context)
    return catalog


def update(locale: str, *, new: bool = False, root: Path = LOCALE_DIR) -> Path:
    """Bring the catalogue of ``locale`` up to date with the code (create it with ``new``)."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    from bot.i18n.catalogues import read

    path = catalogue_path(locale, root)
    fresh = template()
    if new:
        if path.exists():
            raise SystemExit(f"{path} exists already")
        catalog = Catalog(
            locale=locale,
            domain=DOMAIN,
            project="holdspace",
            version="",
            copyright_holder="the holdspace authors",
            msgid_bugs_address="",
            last_translator="",
            language_team="",
            charset="utf-8",
            fuzzy=False,
        )
    else:
        catalog = read(path)  # type: ignore[assignment]
    # A text that changed comes back untranslated, never as a guessed ("fuzzy") translation.
    catalog.update(fresh, no_fuzzy_matching=True, update_creation_date=False)
    catalog.obsolete.clear()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalog, width=100, omit_header=False, sort_output=False, include_lineno=False)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make messages", description=__doc__)
    parser.add_argument("--new", metavar="LANGUAGE", help="start the catalogue of a new language, e.g. fr")
    args = parser.parse_args(argv)
    if args.new:
        print(update(args.new, new=True))
        return 0
    for locale in available():
        if locale != SOURCE:
            print(update(locale))
    return 0
