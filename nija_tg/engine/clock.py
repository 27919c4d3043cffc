"""Clocks: the wall clock for the daemon, a simulated one for tests and the backtest.

Everything in the engine that needs "now" or "wait until" takes a :class:`Clock`, so the
same loop runs live (real time) and over history (simulated time that jumps instantly).
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

DAY_MS = 86_400_000


class Clock(Protocol):
    def now_ms(self) -> int:
        """Current UTC time in milliseconds."""
        ...

    async def sleep_until(self, ts_ms: int) -> None:
        """Return once ``now_ms() >= ts_ms`` (at once when it already is)."""
        ...


class WallClock:
    """Real time. ``sleep_until`` re-checks after waking, so a coarse timer cannot
    return early."""

    def now_ms(self) -> int:
        return int(time.time() * 1000)

    async def sleep_until(self, ts_ms: int) -> None:
        while True:
            delay = (ts_ms - self.now_ms()) / 1000
            if delay <= 0:
                return
            await asyncio.sleep(delay)


class SimulatedClock:
    """Simulated time: ``sleep_until`` moves time forward at once (never backwards) and
    yields to the event loop once, so a loop over years of candles runs as fast as the
    work it does. Callers that share one simulated clock must keep in step themselves
    (the MarketHub's lockstep mode does)."""

    def __init__(self, start_ms: int = 0) -> None:
        self._now = int(start_ms)

    def now_ms(self) -> int:
        return self._now

    def set(self, ts_ms: int) -> None:
        """Jump to ``ts_ms`` if it is later than now."""
        self._now = max(self._now, int(ts_ms))

    async def sleep_until(self, ts_ms: int) -> None:
        self.set(ts_ms)
        await asyncio.sleep(0)


def utc_day(ts_ms: int) -> str:
    """``YYYY-MM-DD`` of the UTC day holding ``ts_ms``."""
    return time.strftime("%Y-%m-%d", time.gmtime(ts_ms // 1000))
