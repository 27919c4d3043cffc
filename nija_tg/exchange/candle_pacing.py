"""Public candle requests (REST OHLC) of different pairs sent concurrently, within the
venue's documented limit, instead of one by one behind ccxt's single rate limiter
(Kraken: 1.2 s per OHLC call whatever the pair, so 8 pairs took 10 s).

The documented limits (what ``PUBLIC_CANDLE_LIMITS`` encodes):

- Kraken: "The Spot public endpoints are rate limited by IP address and currency pair
  for calls to Trades and OHLC ... Calling the public endpoints at a frequency of 1 per
  second (or less) would remain within the rate limits" (support.kraken.com, "What are
  the API rate limits?", article 206548367): OHLC calls of different pairs do not share
  a budget, so each pair gets one call per second and pairs go in parallel.
- BingX: "All spot and futures market data interfaces share a limit of 500 requests per
  10 seconds per IP" (bingx.com support article 31103871611289, the API rate-limit
  upgrade notice): candles take at most 30 per second, 60 % of it, so the other public
  calls (tickers, markets, through ccxt's own limiter at 10 per second) keep their share.

Coinbase and every other exchange keep ccxt's limiter (no per-pair budget documented).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CandleLimit:
    """How often public candle requests may go to one venue from one IP."""

    per_pair_interval_s: float | None = None  # two calls of one pair at least this apart
    per_ip_rate: float | None = None  # calls per second, all pairs together


PUBLIC_CANDLE_LIMITS: dict[str, CandleLimit] = {
    "kraken": CandleLimit(per_pair_interval_s=1.0),
    "bingx": CandleLimit(per_ip_rate=30.0),
}


class CandlePacer:
    """Gives each candle request its slot: requests of different pairs run at once, a
    pair's next request waits ``per_pair_interval_s``, and all of a venue's requests
    together stay under ``per_ip_rate``. Slots are reserved when asked (no lock): the
    n-th waiter of a pair or of a venue knows its time at once."""

    def __init__(
        self,
        limits: dict[str, CandleLimit] | None = None,
        *,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.limits = dict(PUBLIC_CANDLE_LIMITS if limits is None else limits)
        self._now = now
        self._sleep = sleep
        self._pair_next: dict[tuple[str, str], float] = {}
        self._venue_next: dict[str, float] = {}

    def paces(self, exchange_id: str) -> bool:
        return exchange_id in self.limits

    def reserve(self, exchange_id: str, symbol: str) -> float:
        """The time (``now()`` clock) at which this request may go; reserves it."""
        limit = self.limits[exchange_id]
        key = (exchange_id, symbol)
        slot = self._now()
        if limit.per_pair_interval_s is not None:
            slot = max(slot, self._pair_next.get(key, slot))
        if limit.per_ip_rate is not None:
            slot = max(slot, self._venue_next.get(exchange_id, slot))
            self._venue_next[exchange_id] = slot + 1.0 / limit.per_ip_rate
        if limit.per_pair_interval_s is not None:
            self._pair_next[key] = slot + limit.per_pair_interval_s
        return slot

    async def wait(self, exchange_id: str, symbol: str) -> None:
        """Wait for this request's slot."""
        delay = self.reserve(exchange_id, symbol) - self._now()
        if delay > 0:
            await self._sleep(delay)
