"""The sandbox's JSON on the wire: compact like Discord's, and its dispatch frames readable by the
benchmarks (when each event left) without decoding them whole."""

from __future__ import annotations

import json

import pytest

from bot.sandbox import wire


def test_frames_are_compact_json_that_any_reader_decodes() -> None:
    frame = {"op": 0, "t": "VOICE_STATE_UPDATE", "s": 41, "d": {"user_id": "1", "channel_id": None, 7: "x"}}
    text = wire.dumps(frame)
    assert ", " not in text and ": " not in text
    assert json.loads(text) == {
        "op": 0,
        "t": "VOICE_STATE_UPDATE",
        "s": 41,
        "d": {"user_id": "1", "channel_id": None, "7": "x"},
    }
    assert wire.dumps_bytes(frame) == text.encode()
    assert wire.loads(text.encode()) == wire.loads(text)


def test_invalid_json_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        wire.loads(b"{not json")


def test_dispatch_fields_name_the_event_and_where_its_sequence_number_is() -> None:
    text = wire.dumps(wire.dispatch("MESSAGE_CREATE", 1234, {"s": 5, "content": ""}))
    fields = wire.dispatch_fields(text)
    assert fields is not None
    name, seq, start, stop = fields
    assert (name, seq) == ("MESSAGE_CREATE", 1234)
    renumbered = text[:start] + "77" + text[stop:]
    assert json.loads(renumbered)["s"] == 77
    assert json.loads(renumbered)["d"] == {"s": 5, "content": ""}


@pytest.mark.parametrize(
    "frame",
    [
        {"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None},
        {"op": 11, "d": None, "s": None, "t": None},
        {"op": 9, "d": False, "s": None, "t": None},
    ],
)
def test_other_frames_have_no_dispatch_fields(frame: dict[str, object]) -> None:
    assert wire.dispatch_fields(wire.dumps(frame)) is None
