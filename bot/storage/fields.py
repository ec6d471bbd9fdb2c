"""Registry of encrypted columns and blind-index columns, so key rotation can find them.

Convention for every table with encrypted fields:

- The table is an ordinary rowid table (not WITHOUT ROWID) and has a row key known *before* the
  insert: normally ``id TEXT PRIMARY KEY`` holding ``uuid.uuid4().hex``. The row key columns never
  change after the insert.
- A field is encrypted with ``ring.encrypt(value, table=T, column=C, row=row_key(values))`` where
  ``values`` are the row's values of the registered ``row_key`` columns, in order. The same string is
  used to decrypt. ``row_key`` is the only place where that string is built.
- A blind index column holds ``ring.blind_index(plaintext, purpose=P)`` where ``plaintext`` is the
  decrypted text of its ``source_column`` (an encrypted column of the same table), e.g. a member id
  encrypted as ``str(member_id)`` and indexed as the same string. Look-ups use
  ``ring.blind_indexes(value, purpose=P)`` with ``WHERE col IN (...)`` so they keep working while a
  rotation is half done. (A UNIQUE constraint on a blind index can therefore see two indexes for one
  value during a rotation; prefer look-up-then-update over relying on it.)
- Storage modules call ``register_encrypted`` / ``register_blind_index`` at import time; whatever
  runs a key rotation must import every storage module first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = [
    "REGISTRY",
    "BlindIndexColumn",
    "EncryptedColumn",
    "Registry",
    "blind_index_columns",
    "encrypted_columns",
    "fold_text",
    "register_blind_index",
    "register_encrypted",
    "row_key",
]

_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _ident(name: str, what: str) -> str:
    if not isinstance(name, str) or not _IDENT_RE.match(name):
        raise ValueError(f"{what} must be a plain SQL identifier, got {name!r}")
    return name


@dataclass(frozen=True)
class EncryptedColumn:
    table: str
    column: str
    row_key: tuple[str, ...] = ("id",)  # columns whose values form the AAD row key


@dataclass(frozen=True)
class BlindIndexColumn:
    table: str
    column: str
    source_column: str  # the encrypted column (same table) whose plaintext is indexed
    purpose: str
    #: index the folded text (fold_text) rather than the text itself, e.g. names matched loosely
    fold: bool = False

    def indexed(self, plaintext: str) -> str:
        """What this column indexes of its source column's plaintext."""
        return fold_text(plaintext) if self.fold else plaintext


def fold_text(text: str) -> str:
    """Text as it is matched: runs of white space made one space, case folded."""
    return " ".join(text.split()).casefold()


def row_key(values: Sequence[object]) -> str:
    """The AAD row string for a row whose row-key columns hold ``values`` (in registered order).

    One value gives its text (``str`` as is, ``int`` in decimal); several are length-prefixed and
    joined so that no two different tuples give the same string. Among several, ``None`` (a row
    bound to no group, say) is written ``-``, which no length-prefixed value can be.
    """
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise TypeError("row_key takes a sequence of values, e.g. row_key((row_id,))")
    parts: list[str | None] = []
    for value in values:
        if value is None and len(values) > 1:
            parts.append(None)
            continue
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise TypeError(f"row key values are str or int, got {type(value).__name__}")
        parts.append(str(value))
    if not parts or any(p == "" for p in parts) or parts[0] is None:
        raise ValueError("a row key needs at least one non-empty value")
    if len(parts) == 1:
        return str(parts[0])
    return "|".join("-" if p is None else f"{len(p)}:{p}" for p in parts)


@dataclass
class Registry:
    """A set of registered columns; the module-level functions use :data:`REGISTRY`."""

    _encrypted: dict[tuple[str, str], EncryptedColumn] = field(default_factory=dict)
    _indexes: dict[tuple[str, str], BlindIndexColumn] = field(default_factory=dict)

    def register_encrypted(
        self, table: str, column: str, row_key: Sequence[str] = ("id",)
    ) -> EncryptedColumn:
        keys = tuple(_ident(c, "a row key column") for c in row_key)
        if not keys:
            raise ValueError("row_key needs at least one column")
        entry = EncryptedColumn(_ident(table, "table"), _ident(column, "column"), keys)
        existing = self._encrypted.get((table, column))
        if existing is not None and existing != entry:
            raise ValueError(f"{table}.{column} is already registered with a different row key")
        if column in keys:
            raise ValueError(f"{table}.{column} cannot be part of its own row key")
        self._encrypted[(table, column)] = entry
        return entry

    def register_blind_index(
        self, table: str, column: str, source_column: str, purpose: str, *, fold: bool = False
    ) -> BlindIndexColumn:
        if not isinstance(purpose, str) or not purpose:
            raise ValueError("purpose must be a non-empty str")
        entry = BlindIndexColumn(
            _ident(table, "table"),
            _ident(column, "column"),
            _ident(source_column, "source column"),
            purpose,
            fold,
        )
        existing = self._indexes.get((table, column))
        if existing is not None and existing != entry:
            raise ValueError(f"{table}.{column} is already registered as a different blind index")
        self._indexes[(table, column)] = entry
        return entry

    def encrypted_columns(self) -> list[EncryptedColumn]:
        return sorted(self._encrypted.values(), key=lambda c: (c.table, c.column))

    def blind_index_columns(self) -> list[BlindIndexColumn]:
        return sorted(self._indexes.values(), key=lambda c: (c.table, c.column))

    def tables(self) -> list[str]:
        return sorted({c.table for c in self._encrypted.values()} | {c.table for c in self._indexes.values()})


REGISTRY = Registry()


def register_encrypted(table: str, column: str, row_key: Sequence[str] = ("id",)) -> EncryptedColumn:
    """Declare ``table.column`` as an encrypted field bound to the ``row_key`` columns."""
    return REGISTRY.register_encrypted(table, column, row_key)


def register_blind_index(
    table: str, column: str, source_column: str, purpose: str, *, fold: bool = False
) -> BlindIndexColumn:
    """Declare ``table.column`` as the blind index (for ``purpose``) of encrypted ``source_column``
    (of its folded text with ``fold``)."""
    return REGISTRY.register_blind_index(table, column, source_column, purpose, fold=fold)


def encrypted_columns() -> list[EncryptedColumn]:
    return REGISTRY.encrypted_columns()


def blind_index_columns() -> list[BlindIndexColumn]:
    return REGISTRY.blind_index_columns()
