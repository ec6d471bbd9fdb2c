"""Every text a person reads, in their language: the standard gettext machinery.

English is the source language: the texts are written in English in the code and each other
language is one catalogue, ``bot/locale/<language>/LC_MESSAGES/holdspace.po`` (see
docs/languages.md). The language of the moment lives in a context variable, so each interaction,
room post and notice is translated for its own readers even while others run at the same time.

How to write a text a person reads
----------------------------------
- Pass it through ``_()`` where it is used::

      from bot.i18n import _, ngettext
      raise UserError(_("No group is called {name}; /group list shows them.").format(name=echo(raw)))
      ngettext("{count} member agreed", "{count} members agreed", count).format(count=count)

- Placeholders are named and filled by ``.format(...)`` *after* ``_()``: never an f-string or ``%``
  inside ``_()`` (the catalogue must hold the text with its placeholders, not one filled in).
- A text kept in a constant at import time is marked with ``N_()`` (it stays English there) and
  translated where it is shown: ``LABEL = N_("Agree")`` ... ``button.label = _(LABEL)``.
- A short word whose meaning depends on where it stands takes a context: ``pgettext("button", "Close")``.
- Then run ``make messages`` (adds the new text to every catalogue) and translate it in each
  ``.po`` file; ``make test`` fails while a catalogue lacks a text or its placeholders differ
  (tests/unit/test_catalogues.py), and when a cog hands a person a text literal that skipped
  ``_()`` (tests/unit/test_marked_texts.py).
- Texts that are records, not words for a reader (audit details, case details stored for later,
  log lines), stay English: they are translated where they are shown, never stored translated.
- Command names, descriptions and option descriptions need no marking: the command tree's
  translator (bot/i18n/commands.py) finds them and ``make messages`` extracts them.

Who reads in which language
---------------------------
The interaction's language is set once per interaction (bot/ui/locale.py): the person's Discord
language when a catalogue has it, else the group's, else the server's. Room posts use
``using(group_language)``, moderator notices ``using(server_language)``. Times and durations are
written for the current language by :mod:`bot.i18n.formats`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from bot.i18n.catalogues import SOURCE, CatalogueError, available, supported, translations

__all__ = [
    "COMMAND_NAME",
    "N_",
    "SOURCE",
    "CatalogueError",
    "_",
    "available",
    "choose",
    "current",
    "ngettext",
    "pgettext",
    "set_locale",
    "slash",
    "supported",
    "using",
]

_current: ContextVar[str] = ContextVar("holdspace_locale", default=SOURCE)


def current() -> str:
    """The language texts are translated into right now (a catalogue's name such as "de")."""
    return _current.get()


def set_locale(locale: str | None) -> None:
    """Translate into ``locale`` from here on in this task (an unknown one means English)."""
    _current.set(supported(locale) or SOURCE)


@contextmanager
def using(locale: str | None) -> Iterator[str]:
    """Translate into ``locale`` inside the block (a room post, a moderator notice), then as before."""
    token = _current.set(supported(locale) or SOURCE)
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def choose(*candidates: str | None) -> str:
    """The first of ``candidates`` (a person's, a group's, a server's language) a catalogue has."""
    for candidate in candidates:
        found = supported(candidate)
        if found is not None:
            return found
    return SOURCE


def _(message: str) -> str:
    """``message`` in the current language (itself when the catalogue lacks it)."""
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form of a text for ``n``, by the current language's plural rule."""
    return translations(_current.get()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """``message`` in the current language, told apart from the same words elsewhere by ``context``."""
    return translations(_current.get()).pgettext(context, message)


#: The context of command and command-group names in the catalogues (bot/i18n/translator.py).
COMMAND_NAME = "command name"


def slash(command: str) -> str:
    """A command as the reader's Discord shows it: "/group settings" -> "/gruppe einstellungen"."""
    return "/" + " ".join(pgettext(COMMAND_NAME, word) for word in command.lstrip("/").split())


def N_(message: str) -> str:
    """Marks ``message`` for the catalogues without translating it (a constant made at import)."""
    return message
