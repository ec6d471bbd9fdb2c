"""bot/runner.py's settle_heap, run at every READY: what holdspace holds by then is left out of the
garbage collector's full passes, and what an earlier connection held is collected first."""

from __future__ import annotations

import gc
import weakref


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_settle_heap_freezes_what_is_held_and_collects_what_an_earlier_ready_left() -> None:
    from bot.runner import settle_heap

    try:
        left = _Cycle()
        gone = weakref.ref(left)
        settle_heap()  # a READY while ``left`` is still held: frozen with the rest
        assert gc.get_freeze_count() > 0
        del left
        gc.collect()
        assert gone() is not None  # frozen objects are left alone by full passes
        settle_heap()  # the next READY: unfrozen, collected, the rest frozen again
        assert gone() is None
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
