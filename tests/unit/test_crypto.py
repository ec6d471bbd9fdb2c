from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.crypto import (
    BLOB_VERSION,
    DecryptionError,
    KeyRing,
    UnknownKeyError,
    blob_kid,
    generate_key,
    hash_text,
)
from bot.errors import HoldspaceError

WHERE = {"table": "consents", "column": "member", "row": "abc123"}


def test_generate_key_format() -> None:
    key = generate_key()
    kid, material = key.split(":")
    assert re.fullmatch(r"[0-9a-f]{8}", kid)
    assert len(base64.urlsafe_b64decode(material + "=")) == 32
    assert "=" not in material
    assert generate_key() != key


def test_round_trip_bytes_str_and_json() -> None:
    ring = KeyRing.generate()
    blob = ring.encrypt(b"\x00secret", **WHERE)
    assert blob[0] == BLOB_VERSION
    assert blob_kid(blob) == ring.current_kid
    assert ring.decrypt(blob, **WHERE) == b"\x00secret"
    assert ring.decrypt_str(ring.encrypt("héllo", **WHERE), **WHERE) == "héllo"
    data = {"a": 1, "b": ["x", None]}
    assert ring.decrypt_json(ring.encrypt_json(data, **WHERE), **WHERE) == data


def test_nonce_is_random() -> None:
    ring = KeyRing.generate()
    assert ring.encrypt("same", **WHERE) != ring.encrypt("same", **WHERE)


def test_tampering_fails() -> None:
    ring = KeyRing.generate()
    blob = bytearray(ring.encrypt("secret", **WHERE))
    for position in (0, 9, 15, len(blob) - 1):
        changed = bytearray(blob)
        changed[position] ^= 0x01
        with pytest.raises(DecryptionError):
            ring.decrypt(bytes(changed), **WHERE)
    with pytest.raises(DecryptionError):
        ring.decrypt(bytes(blob[:-1]), **WHERE)
    with pytest.raises(DecryptionError):
        ring.decrypt(b"", **WHERE)


def test_wrong_key_with_same_kid_fails() -> None:
    ring = KeyRing.generate()
    blob = ring.encrypt("secret", **WHERE)
    other_material = base64.urlsafe_b64encode(b"\x07" * 32).rstrip(b"=").decode()
    impostor = KeyRing.parse(f"{ring.current_kid}:{other_material}")
    with pytest.raises(DecryptionError):
        impostor.decrypt(blob, **WHERE)


def test_unknown_kid_is_named() -> None:
    ring = KeyRing.generate()
    blob = ring.encrypt("secret", **WHERE)
    other = KeyRing.generate()
    with pytest.raises(UnknownKeyError) as info:
        other.decrypt(blob, **WHERE)
    assert ring.current_kid in str(info.value)
    assert info.value.kid == ring.current_kid
    assert isinstance(info.value, HoldspaceError)


@pytest.mark.parametrize(
    "moved",
    [
        {"table": "cases", "column": "member", "row": "abc123"},
        {"table": "consents", "column": "note", "row": "abc123"},
        {"table": "consents", "column": "member", "row": "abc124"},
        # unambiguous AAD: shifting text between parts must not collide
        {"table": "consentsm", "column": "ember", "row": "abc123"},
    ],
)
def test_blob_is_bound_to_its_row(moved: dict[str, str]) -> None:
    ring = KeyRing.generate()
    blob = ring.encrypt("secret", **WHERE)
    with pytest.raises(DecryptionError):
        ring.decrypt(blob, **moved)


def test_older_keys_decrypt_and_current_writes() -> None:
    old_key, new_key = generate_key(), generate_key()
    old = KeyRing.parse(old_key)
    both = KeyRing.parse(f"{new_key}, {old_key}")
    blob = old.encrypt("secret", **WHERE)
    assert both.decrypt_str(blob, **WHERE) == "secret"
    assert blob_kid(both.encrypt("x", **WHERE)) == both.current_kid == new_key.split(":")[0]
    assert both.kids == (new_key.split(":")[0], old_key.split(":")[0])
    assert both.has(old.current_kid)


def test_blind_index_keyed_stable_and_per_purpose() -> None:
    key = generate_key()
    ring, same = KeyRing.parse(key), KeyRing.parse(key)
    other = KeyRing.generate()
    member = 123456789012345678
    index = ring.blind_index(member, purpose="member")
    assert len(index) == 32
    assert index == same.blind_index(member, purpose="member")
    assert index == ring.blind_index(str(member), purpose="member")
    assert index != other.blind_index(member, purpose="member")
    assert index != ring.blind_index(member, purpose="guild")
    assert index != ring.blind_index(member + 1, purpose="member")
    assert str(member).encode() not in index


def test_blind_indexes_cover_every_key_current_first() -> None:
    old_key, new_key = generate_key(), generate_key()
    both = KeyRing.parse(f"{new_key}\n{old_key}")
    old = KeyRing.parse(old_key)
    indexes = both.blind_indexes(42, purpose="member")
    assert indexes == [both.blind_index(42, purpose="member"), old.blind_index(42, purpose="member")]


def test_check_value_is_derived_not_the_key() -> None:
    key = generate_key()
    ring = KeyRing.parse(key)
    material = base64.urlsafe_b64decode(key.split(":")[1] + "=")
    check = ring.check_value(ring.current_kid)
    assert len(check) == 32 and check != material
    assert ring.matches_check(ring.current_kid, check)
    assert not KeyRing.generate().matches_check(ring.current_kid, check)
    assert check not in (ring.blind_index("x", purpose="p"),)


BAD_INPUTS = [
    "",
    "   ",
    "nonsense-secret-value",
    "ABCDEF12:" + "A" * 43,
    "abcdef12:" + "A" * 42,
    "abcdef12:" + "A" * 44,
    "abcdef12:" + "!" * 43,
    "abcdef12" + "A" * 43,
    generate_key() + ",garbage-topsecret",
]


@pytest.mark.parametrize("text", BAD_INPUTS)
def test_parse_errors_never_echo_input(text: str) -> None:
    with pytest.raises(HoldspaceError) as info:
        KeyRing.parse(text)
    message = str(info.value)
    assert "\n" not in message
    assert "HOLDSPACE_KEY" in message
    for piece in re.split(r"[,:\s]+", text):
        if len(piece) >= 6:
            assert piece not in message


def test_duplicate_kids_refused() -> None:
    key = generate_key()
    other_material = generate_key().split(":")[1]
    with pytest.raises(HoldspaceError, match="twice"):
        KeyRing.parse(f"{key},{key.split(':')[0]}:{other_material}")


def test_repr_hides_material() -> None:
    key = generate_key()
    ring = KeyRing.parse(key)
    assert key.split(":")[1] not in repr(ring)


def test_hash_text() -> None:
    assert hash_text("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@settings(max_examples=60, deadline=None)
@given(
    plaintext=st.binary(max_size=512),
    table=st.text(min_size=1, max_size=20),
    column=st.text(min_size=1, max_size=20),
    row=st.text(min_size=1, max_size=40),
)
def test_round_trip_property(plaintext: bytes, table: str, column: str, row: str) -> None:
    ring = _PROPERTY_RING
    blob = ring.encrypt(plaintext, table=table, column=column, row=row)
    assert ring.decrypt(blob, table=table, column=column, row=row) == plaintext


_PROPERTY_RING = KeyRing.generate()
