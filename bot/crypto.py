"""Key ring, field encryption and blind indexes for holdspace.

Textual key form (``HOLDSPACE_KEY``, key files): ``<kid>:<base64url without padding of 32 bytes>``,
where ``kid`` is 8 lowercase hex characters. A key ring string holds one or more keys separated by
commas or whitespace; the first is the current (writing) key, the others are older keys kept so
fields written under them can still be read (during and before a key rotation).

From every master key three independent values are derived with HKDF-SHA256 (distinct info strings):
the AES-256-GCM key for fields, the HMAC-SHA256 key for blind indexes, and a key-check value the
database stores to recognise the key without storing it.

Encrypted field layout: ``VERSION (1 byte) | kid (8 ASCII bytes) | nonce (12 bytes) | ciphertext+tag``.
The associated data binds the header, the table, the column and the row key (length-prefixed), so a
blob copied into another row, column or table does not decrypt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.errors import HoldspaceError

__all__ = [
    "BLOB_VERSION",
    "DecryptionError",
    "KeyRing",
    "UnknownKeyError",
    "blob_kid",
    "generate_key",
    "hash_text",
]

BLOB_VERSION = 1
_VERSION_BYTE = bytes([BLOB_VERSION])
KID_LEN = 8
NONCE_LEN = 12
TAG_LEN = 16
HEADER_LEN = 1 + KID_LEN
MIN_BLOB_LEN = HEADER_LEN + NONCE_LEN + TAG_LEN
MASTER_KEY_LEN = 32

_KID_RE = re.compile(r"^[0-9a-f]{8}$")
_KEY_RE = re.compile(r"^([0-9a-f]{8}):([A-Za-z0-9_-]{43})$")
_SPLIT_RE = re.compile(r"[,\s]+")

_INFO_FIELD = b"holdspace/v1/field-encryption/aes-256-gcm"
_INFO_INDEX = b"holdspace/v1/blind-index/hmac-sha256"
_INFO_CHECK = b"holdspace/v1/key-check"
_AAD_LABEL = b"holdspace/v1/field"
_INDEX_LABEL = b"holdspace/v1/blind-index"


class DecryptionError(HoldspaceError):
    """A field could not be decrypted: tampered, moved, malformed or under a key not in the ring."""


class UnknownKeyError(DecryptionError):
    """A field or check refers to a key id that the key ring does not hold."""

    def __init__(self, message: str, kid: str) -> None:
        super().__init__(message)
        self.kid = kid


def _lp(*parts: bytes) -> bytes:
    """Unambiguous concatenation: every part prefixed with its 4-byte big-endian length."""
    return b"".join(len(p).to_bytes(4, "big") + p for p in parts)


def _hkdf(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


def _encode_key(kid: str, material: bytes) -> str:
    return f"{kid}:{base64.urlsafe_b64encode(material).rstrip(b'=').decode('ascii')}"


def generate_key() -> str:
    """A new master key in textual form ``kid:base64url`` with a random key id."""
    return _encode_key(secrets.token_hex(KID_LEN // 2), os.urandom(MASTER_KEY_LEN))


def hash_text(text: str) -> str:
    """Hex SHA-256 of the UTF-8 text (for versions of agreements and command sets, not for secrets)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def blob_kid(blob: bytes) -> str:
    """The key id an encrypted field was written under."""
    blob = bytes(blob)
    if len(blob) < MIN_BLOB_LEN or blob[:1] != _VERSION_BYTE:
        raise DecryptionError("an encrypted field is malformed (wrong version or too short)")
    kid_bytes = blob[1:HEADER_LEN]
    try:
        kid = kid_bytes.decode("ascii")
    except UnicodeDecodeError:
        raise DecryptionError("an encrypted field is malformed (bad key id)") from None
    if not _KID_RE.match(kid):
        raise DecryptionError("an encrypted field is malformed (bad key id)")
    return kid


def _to_bytes(value: bytes | bytearray | memoryview | str) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"expected bytes or str, got {type(value).__name__}")


def _index_value(value: str | int) -> bytes:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError(f"blind index values are str or int, got {type(value).__name__}")
    return str(value).encode("utf-8")


@dataclass(frozen=True, repr=False)
class _Key:
    kid: str
    aead: AESGCM
    index_key: bytes
    check: bytes

    def __repr__(self) -> str:  # never show derived key material
        return f"<key {self.kid}>"


class KeyRing:
    """An ordered set of master keys: the first encrypts and indexes, all of them decrypt."""

    __slots__ = ("_keys", "_order", "source")

    def __init__(self, keys: Iterable[tuple[str, bytes]]) -> None:
        order: list[str] = []
        derived: dict[str, _Key] = {}
        for kid, material in keys:
            if not _KID_RE.match(kid):
                raise HoldspaceError("a key id must be 8 lowercase hex characters")
            if len(material) != MASTER_KEY_LEN:
                raise HoldspaceError(f"key {kid} must be {MASTER_KEY_LEN} bytes long")
            if kid in derived:
                raise HoldspaceError(f"the key ring lists key id {kid} twice; keep one of them")
            derived[kid] = _Key(
                kid=kid,
                aead=AESGCM(_hkdf(material, _INFO_FIELD)),
                index_key=_hkdf(material, _INFO_INDEX),
                check=_hkdf(material, _INFO_CHECK),
            )
            order.append(kid)
        if not order:
            raise HoldspaceError("the key ring is empty; create a key with `holdspace keygen`")
        self._keys = derived
        self._order = tuple(order)
        # Where the ring was read from (HOLDSPACE_KEY or a key file), named in every key error.
        self.source = "HOLDSPACE_KEY"

    @classmethod
    def parse(cls, text: str, *, source: str = "HOLDSPACE_KEY") -> KeyRing:
        """Parse ``kid:base64`` keys separated by commas/whitespace; the first is current.

        Error messages name ``source`` and the position of a bad entry but never echo the input.
        """
        if not isinstance(text, str):
            raise HoldspaceError(f"{source} must be text as printed by `holdspace keygen`")
        entries = [e for e in _SPLIT_RE.split(text.strip()) if e]
        if not entries:
            raise HoldspaceError(f"{source} is empty: set it to a key printed by `holdspace keygen`")
        keys: list[tuple[str, bytes]] = []
        seen: set[str] = set()
        for position, entry in enumerate(entries, start=1):
            where = f" (entry {position})" if len(entries) > 1 else ""
            match = _KEY_RE.match(entry)
            material = b""
            if match:
                try:
                    material = base64.urlsafe_b64decode(match.group(2) + "=")
                except (binascii.Error, ValueError):
                    material = b""
            if not match or len(material) != MASTER_KEY_LEN:
                raise HoldspaceError(
                    f"{source} is not a valid holdspace key{where}: expected 'kid:base64' "
                    "as printed by `holdspace keygen`"
                )
            kid = match.group(1)
            if kid in seen:
                raise HoldspaceError(f"{source} lists key id {kid} twice; keep only one of them")
            seen.add(kid)
            keys.append((kid, material))
        ring = cls(keys)
        ring.source = source
        return ring

    @classmethod
    def generate(cls) -> KeyRing:
        """A ring with one fresh key (tests, demo)."""
        return cls.parse(generate_key(), source="generated key")

    # -- introspection -------------------------------------------------------------------------

    @property
    def current_kid(self) -> str:
        return self._order[0]

    @property
    def kids(self) -> tuple[str, ...]:
        """All key ids, current first."""
        return self._order

    def has(self, kid: str) -> bool:
        return kid in self._keys

    def __contains__(self, kid: object) -> bool:
        return kid in self._keys

    def __repr__(self) -> str:
        return f"KeyRing(kids={list(self._order)!r})"

    def _key(self, kid: str) -> _Key:
        try:
            return self._keys[kid]
        except KeyError:
            raise UnknownKeyError(
                f"data was encrypted with key {kid}, which the key ring ({self.source}) does not hold "
                f"(it holds {', '.join(self._order)}); add the key with id {kid}",
                kid,
            ) from None

    # -- key check -----------------------------------------------------------------------------

    def check_value(self, kid: str | None = None) -> bytes:
        """The key-check value of ``kid`` (default: the current key), derived, not the key itself."""
        return self._key(kid or self.current_kid).check

    def matches_check(self, kid: str, value: bytes) -> bool:
        """True if the ring holds ``kid`` and its check value equals ``value`` (constant time)."""
        key = self._keys.get(kid)
        return key is not None and hmac.compare_digest(key.check, bytes(value))

    # -- field encryption ----------------------------------------------------------------------

    @staticmethod
    def _aad(header: bytes, table: str, column: str, row: str) -> bytes:
        for name, part in (("table", table), ("column", column), ("row", row)):
            if not isinstance(part, str) or not part:
                raise TypeError(f"{name} must be a non-empty str")
        return _lp(_AAD_LABEL, header, table.encode(), column.encode(), row.encode())

    def encrypt(
        self, plaintext: bytes | bytearray | memoryview | str, *, table: str, column: str, row: str
    ) -> bytes:
        """Encrypt under the current key, bound to (table, column, row)."""
        key = self._keys[self.current_kid]
        header = _VERSION_BYTE + key.kid.encode("ascii")
        nonce = os.urandom(NONCE_LEN)
        sealed = key.aead.encrypt(nonce, _to_bytes(plaintext), self._aad(header, table, column, row))
        return header + nonce + sealed

    def decrypt(self, blob: bytes | bytearray | memoryview, *, table: str, column: str, row: str) -> bytes:
        """Decrypt a field written by :meth:`encrypt` for the same (table, column, row)."""
        blob = bytes(blob)
        kid = blob_kid(blob)
        key = self._key(kid)
        header = blob[:HEADER_LEN]
        nonce = blob[HEADER_LEN : HEADER_LEN + NONCE_LEN]
        try:
            return key.aead.decrypt(
                nonce, blob[HEADER_LEN + NONCE_LEN :], self._aad(header, table, column, row)
            )
        except InvalidTag:
            raise DecryptionError(
                f"a field in {table}.{column} (key {kid}) failed authentication: it was altered, "
                "moved from another row, or written with a different key of the same id"
            ) from None

    def decrypt_str(self, blob: bytes | bytearray | memoryview, *, table: str, column: str, row: str) -> str:
        return self.decrypt(blob, table=table, column=column, row=row).decode("utf-8")

    def encrypt_json(self, value: Any, *, table: str, column: str, row: str) -> bytes:
        """Encrypt a JSON-serialisable value (normally a dict)."""
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return self.encrypt(text, table=table, column=column, row=row)

    def decrypt_json(self, blob: bytes | bytearray | memoryview, *, table: str, column: str, row: str) -> Any:
        return json.loads(self.decrypt(blob, table=table, column=column, row=row))

    # -- blind index ---------------------------------------------------------------------------

    @staticmethod
    def _index(key: _Key, value: str | int, purpose: str) -> bytes:
        if not isinstance(purpose, str) or not purpose:
            raise TypeError("purpose must be a non-empty str")
        message = _lp(_INDEX_LABEL, purpose.encode("utf-8"), _index_value(value))
        return hmac.new(key.index_key, message, hashlib.sha256).digest()

    def blind_index(self, value: str | int, *, purpose: str) -> bytes:
        """Keyed HMAC-SHA256 of ``value`` for ``purpose`` under the current key (ints as decimal)."""
        return self._index(self._keys[self.current_kid], value, purpose)

    def blind_indexes(self, value: str | int, *, purpose: str) -> list[bytes]:
        """The blind index under every key in the ring, current first (look-ups during rotation)."""
        return [self._index(self._keys[kid], value, purpose) for kid in self._order]
