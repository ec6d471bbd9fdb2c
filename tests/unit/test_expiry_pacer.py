"""The pacer of expiry's reads: a first burst at once, then at most ``rate`` a second, in order."""

from __future__ import annotations

import asyncio

import pytest

from bot.services.expiry import pacer as pacer_module
from bot.services.expiry.pacer import Pacer


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Time stands still unless a wait moves it; every wait asked for is noted."""
    now = [100.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(pacer_module.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(pacer_module.asyncio, "sleep", sleep)
    return waits


def test_a_burst_goes_at_once_then_each_read_waits_its_turn(fake_time: list[float]) -> None:
    pacer = Pacer(40.0, burst=20)

    async def main() -> None:
        for _ in range(23):
            await pacer.wait()

    asyncio.run(main())
    # 20 at once; the 21st, 22nd and 23rd are booked 1/40 s apart behind each other.
    assert fake_time == pytest.approx([1 / 40, 2 / 40, 3 / 40])


def test_time_refills_the_burst_up_to_its_size(fake_time: list[float], monkeypatch: pytest.MonkeyPatch) -> None:
    pacer = Pacer(10.0, burst=5)
    now = [100.0]
    monkeypatch.setattr(pacer_module.time, "monotonic", lambda: now[0])

    async def main() -> None:
        for _ in range(5):
            await pacer.wait()
        now[0] += 60.0  # a long pause refills no more than the burst
        for _ in range(6):
            await pacer.wait()

    asyncio.run(main())
    assert fake_time == pytest.approx([1 / 10])
