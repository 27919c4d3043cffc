"""A MarketDataSource replaying real candles (tests/data) by a clock: what an exchange's
public API would answer at that time, including the still-forming candle."""

from __future__ import annotations

import bisect
from collections import Counter
from decimal import Decimal

from nija_tg.core.errors import NotFoundError
from nija_tg.core.models import Candle, Ticker
from nija_tg.engine.backtest import replay_market
from tests.fakes.emulator_base import load_candles

SCALE = 100_000.0


def real_candles(name: str, scale: float = SCALE, limit: int | None = None) -> list[Candle]:
    rows = load_candles(name, scale)
    if limit is not None:
        rows = rows[:limit]
    return [Candle(int(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in rows]


class ReplaySource:
    """``series[(exchange, symbol, timeframe)] = candles``; time comes from ``clock``."""

    def __init__(self, clock, series: dict[tuple[str, str, str], list[Candle]], tf_ms=300_000):
        self.clock = clock
        self.series = {k: sorted(v, key=lambda c: c.ts) for k, v in series.items()}
        self.ts = {k: [c.ts for c in v] for k, v in self.series.items()}
        self.tf_ms = tf_ms
        self.ohlcv_calls: Counter[tuple[str, str, str]] = Counter()
        self.ticker_calls = 0
        self.fail_next = 0  # raise this many RetryableErrors on fetch_ohlcv

    def _key(self, exchange, symbol, timeframe):
        key = (exchange, symbol, timeframe)
        if key not in self.series:
            raise NotFoundError(f"no candles for {key}")
        return key

    async def fetch_ohlcv(self, exchange_id, symbol, timeframe, since=None, limit=None):
        key = self._key(exchange_id, symbol, timeframe)
        self.ohlcv_calls[key] += 1
        if self.fail_next:
            from nija_tg.core.errors import RetryableError

            self.fail_next -= 1
            raise RetryableError("replay: armed failure")
        now = self.clock.now_ms()
        ts = self.ts[key]
        end = bisect.bisect_right(ts, now)  # candles opened at or before now
        if since is None:
            start = max(0, end - (limit or 500))
            return self.series[key][start:end]
        start = bisect.bisect_left(ts, since)
        stop = end if limit is None else min(end, start + limit)
        return self.series[key][start:stop]

    def last_close(self, exchange_id, symbol) -> float:
        for (ex, sym, _tf), candles in self.series.items():
            if ex == exchange_id and sym == symbol:
                ts = self.ts[(ex, sym, _tf)]
                i = bisect.bisect_right(ts, self.clock.now_ms() - self.tf_ms) - 1
                return candles[max(i, 0)].close
        raise NotFoundError(symbol)

    async def fetch_ticker(self, exchange_id, symbol):
        self.ticker_calls += 1
        return Ticker(symbol, Decimal(str(self.last_close(exchange_id, symbol))))

    async def market(self, exchange_id, symbol):
        return replay_market(symbol)  # the backtest's market: same sizing both ways
