"""One ticker request per (exchange, symbol) however many callers ask at once.

Every paper market order prices its fill with a fresh ticker; when a candle closes,
hundreds of paper users may enter the same market in the same second. Without sharing,
each would send its own public request, and the exchange's public rate limit (Kraken:
about one request per second per IP) would queue them for minutes. Here callers asking
while a request is in flight wait for that request, and an answer younger than
``ttl_s`` is reused. Failures are not cached: every waiter gets the exception, the
next caller tries again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from nija_tg.core.models import Ticker

Fetch = Callable[[str, str], Awaitable[Ticker]]


class TickerCache:
    def __init__(
        self, fetch: Fetch, *, ttl_s: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._fetch = fetch
        self.ttl_s = ttl_s
        self._clock = clock
        self._fresh: dict[tuple[str, str], tuple[float, Ticker]] = {}
        self._inflight: dict[tuple[str, str], asyncio.Task[Ticker]] = {}
        self.requests = 0  # fetches actually sent (for tests and benchmarks)

    async def get(self, exchange_id: str, symbol: str) -> Ticker:
        key = (exchange_id, symbol)
        hit = self._fresh.get(key)
        if hit is not None and self._clock() - hit[0] < self.ttl_s:
            return hit[1]
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._load(key))
            task.add_done_callback(_retrieve)  # no "exception never retrieved" if all left
            self._inflight[key] = task
        # shielded: a caller that is cancelled does not cancel the others' request
        return await asyncio.shield(task)

    async def _load(self, key: tuple[str, str]) -> Ticker:
        self.requests += 1
        started = self._clock()
        try:
            ticker = await self._fetch(*key)
        finally:
            self._inflight.pop(key, None)
        self._fresh[key] = (started, ticker)
        return ticker

    def clear(self) -> None:
        self._fresh.clear()


def _retrieve(task: asyncio.Task[Ticker]) -> None:
    if not task.cancelled():
        task.exception()
