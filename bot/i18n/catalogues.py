"""Loading the catalogues: each ``.po`` file is read and compiled in memory when first needed.

No compiled files are kept, so a fresh clone needs no build step. A broken catalogue (bad syntax,
a translation whose placeholders differ from its English text, a wrong plural rule) raises
:class:`CatalogueError` naming the file and the text: a language is never silently half English.
"""

from __future__ import annotations

import gettext
import io
import re
import string
from collections.abc import Sequence
from functools import cache
from pathlib import Path

SOURCE = "en"
DOMAIN = "holdspace"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


class CatalogueError(Exception):
    """A catalogue holdspace cannot use; the message names the file and what is wrong."""


def catalogue_path(locale: str, root: Path = LOCALE_DIR) -> Path:
    return root / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def available(root: Path = LOCALE_DIR) -> tuple[str, ...]:
    """English and every language with a catalogue, English first."""
    found = sorted(p.parent.parent.name for p in root.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return (SOURCE, *(name for name in found if name != SOURCE))


_CODE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})?$")


def supported(code: str | None) -> str | None:
    """The catalogue for a language code ("de", Discord's "en-US", "pt-BR"), or None without one.

    The exact region first ("pt_BR"), then the language ("pt")."""
    if code is None:
        return None
    text = str(getattr(code, "value", code))
    if not _CODE.match(text):
        return None
    exact = text.replace("-", "_")
    language, _, region = exact.partition("_")
    names = available()
    for candidate in (f"{language.lower()}_{region.upper()}" if region else "", language.lower()):
        if candidate and candidate in names:
            return candidate
    return None


def placeholders(text: str) -> frozenset[str]:
    """The named placeholders of a text ("{group}"); a positional one ("{}") is an error."""
    names = set()
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise CatalogueError(f"unbalanced braces in {text!r}: {exc}") from None
    for _, field, _spec, _conversion in parsed:
        if field is None:
            continue
        name = re.split(r"[.\[]", field, maxsplit=1)[0]
        if not name or name.isdigit():
            raise CatalogueError(f"placeholders must be named: {text!r}")
        names.add(name)
    return frozenset(names)


def check_message(msgid: str | Sequence[str], msgstr: str | Sequence[str], where: str) -> None:
    """Raise when a translation's placeholders differ from its English text's."""
    ids = (msgid,) if isinstance(msgid, str) else tuple(msgid)
    strs = (msgstr,) if isinstance(msgstr, str) else tuple(msgstr)
    expected = frozenset().union(*(placeholders(i) for i in ids))
    for translated in strs:
        if not translated:
            continue
        got = placeholders(translated)
        # A plural form may leave out the count ("one member" for n=1), never add or rename one.
        allowed = got <= expected if len(ids) > 1 else got == expected
        if not allowed:
            raise CatalogueError(
                f"{where}: the placeholders of {translated!r} ({sorted(got)}) "
                f"differ from those of {ids[0]!r} ({sorted(expected)})"
            )


def read(path: Path) -> object:
    """The catalogue at ``path`` as a Babel catalogue, checked; raises CatalogueError."""
    from babel.messages.pofile import PoFileError, read_po  # deferred: only when a language is used

    try:
        with path.open("rb") as handle:
            catalog = read_po(handle, abort_invalid=True)
    except (OSError, PoFileError, ValueError) as exc:
        raise CatalogueError(f"{path}: {exc}") from None
    language = path.parent.parent.name
    if path.parent.name == "LC_MESSAGES" and str(catalog.locale or "") != language:
        # the plural rule and Babel's formats follow this header: it must name the file's language
        raise CatalogueError(f"{path}: its Language header says {catalog.locale!s}, not {language}")
    for message in catalog:
        if message.id and message.string:
            check_message(message.id, message.string, str(path))
    return catalog


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The compiled translations of ``locale`` (English: the texts as written)."""
    if locale == SOURCE:
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo

    path = catalogue_path(locale)
    if not path.is_file():
        raise CatalogueError(f"no catalogue for {locale!r} at {path}")
    catalog = read(path)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)  # type: ignore[arg-type]
    buffer.seek(0)
    try:
        return gettext.GNUTranslations(buffer)
    except (OSError, ValueError) as exc:
        raise CatalogueError(f"{path}: {exc}") from None


def load_all() -> tuple[str, ...]:
    """Compile every catalogue now (at start), so a broken one stops holdspace before it answers."""
    for locale in available():
        translations(locale)
    return available()
