"""JSON as the sandbox writes and reads it on the wire: compact, as Discord sends it, with orjson.

The sandbox stands in for Discord in the benchmarks, where it shares the machine with holdspace: a
burst of 100 joins is 100 events out and 100 requests in, each with its JSON, and with the standard
library's encoder that was a fifth of the sandbox's work, time in which a disconnect request waited
for the sandbox to read it. That is the sandbox's cost, not holdspace's, so it is kept small.

The benchmarks find out when each event left the sandbox from its text (``dispatch_fields``), so the
layout of a dispatch frame (``dispatch``) and its reading live here together.
"""

from __future__ import annotations

from typing import Any

import orjson

#: How every dispatch frame (op 0) begins: ``{"op":0,"t":"NAME","s":SEQ,"d":...}``.
DISPATCH_PREFIX = '{"op":0,"t":"'
_SEQ_KEY = ',"s":'


def dispatch(event: str, seq: int, data: Any) -> dict[str, Any]:
    """A dispatch frame (op 0), its keys in the order ``dispatch_fields`` reads them."""
    return {"op": 0, "t": event, "s": seq, "d": data}


def control(op: int, data: Any) -> dict[str, Any]:
    """Any other frame (hello, heartbeat ACK, invalid session): no event name, no sequence number."""
    return {"op": op, "d": data, "s": None, "t": None}


def dumps_bytes(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def dumps(value: Any) -> str:
    return dumps_bytes(value).decode()


def loads(data: str | bytes) -> Any:
    """Raises ``ValueError`` (a ``json.JSONDecodeError``) on text that is not JSON."""
    return orjson.loads(data)


def dispatch_fields(text: str) -> tuple[str, int, int, int] | None:
    """(event name, sequence number, where the number starts, where it ends) of a dispatch frame as
    ``dumps`` writes it; None for any other frame."""
    if not text.startswith(DISPATCH_PREFIX):
        return None
    end = text.index('"', len(DISPATCH_PREFIX))
    start = end + 1 + len(_SEQ_KEY)
    if text[end + 1 : start] != _SEQ_KEY:
        return None
    stop = text.index(",", start)
    return text[len(DISPATCH_PREFIX) : end], int(text[start:stop]), start, stop
