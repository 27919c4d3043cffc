"""A thin wrapper around one ccxt client: error mapping, read retries, markets.

Both the shared public client (:class:`CcxtMarketData`) and each user's account client
are built on :class:`CcxtClient`. Reads may be retried here a few times on retryable
errors; the order submit is never retried (see ``submit``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

from nija_tg.core.errors import RateLimitedError, RetryableError
from nija_tg.core.models import Candle, MarketInfo, Ticker
from nija_tg.exchange.ccxt_convert import to_candles, to_market, to_ticker
from nija_tg.exchange.ccxt_errors import map_error
from nija_tg.exchange.venue_health import VenueHealth

log = logging.getLogger(__name__)
T = TypeVar("T")


class CcxtClient:
    """One ccxt client plus the policy around its calls."""

    def __init__(
        self,
        exchange_id: str,
        client: Any,
        *,
        read_retries: int = 2,
        retry_delay_s: float = 0.5,
        health: VenueHealth | None = None,
        private: bool = False,
    ) -> None:
        self.exchange_id = exchange_id
        self.client = client
        self.read_retries = read_retries
        self.retry_delay_s = retry_delay_s
        self.health = health
        self.private = private  # a user's keyed client (not the shared public one)
        self._markets_lock = asyncio.Lock()

    def _ok(self) -> None:
        if self.health is not None:
            self.health.ok(self.exchange_id, private=self.private)

    def _failed(self, err: BaseException) -> None:
        if self.health is not None:
            self.health.failed(self.exchange_id, err)

    async def read(self, action: str, call: Callable[[], Awaitable[T]]) -> T:
        """Run a read, mapping errors; retry retryable ones ``read_retries`` times."""
        attempt = 0
        while True:
            try:
                result = await call()
                self._ok()
                return result
            except Exception as exc:  # mapped below; nothing escapes unmapped
                err = map_error(exc, exchange_id=self.exchange_id, action=action, op="read")
                self._failed(err)
                if not isinstance(err, RetryableError) or attempt >= self.read_retries:
                    raise err from None
            attempt += 1
            delay = self.retry_delay_s * attempt * (2 if isinstance(err, RateLimitedError) else 1)
            log.info("%s %s: retry %d after %s", self.exchange_id, action, attempt, type(err))
            await asyncio.sleep(delay)

    async def submit(self, action: str, call: Callable[[], Awaitable[T]]) -> T:
        """Run an order-placing call exactly once; errors mapped with ``op="submit"``."""
        try:
            result = await call()
        except Exception as exc:
            err = map_error(exc, exchange_id=self.exchange_id, action=action, op="submit")
            self._failed(err)
            raise err from None
        self._ok()
        return result

    async def load_markets(self) -> dict[str, Any]:
        if self.client.markets:
            return self.client.markets
        async with self._markets_lock:
            if not self.client.markets:
                await self.read("load_markets", self.client.load_markets)
        return self.client.markets

    async def raw_market(self, symbol: str) -> dict[str, Any]:
        await self.load_markets()
        return await self.read("market", _sync(lambda: self.client.market(symbol)))

    async def market(self, symbol: str) -> MarketInfo:
        return to_market(await self.raw_market(symbol), self.client.precisionMode)

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str, since: int | None = None, limit: int | None = None
    ) -> list[Candle]:
        await self.load_markets()
        rows = await self.read(
            "fetch_ohlcv", lambda: self.client.fetch_ohlcv(symbol, timeframe, since, limit)
        )
        return to_candles(rows or [])

    async def fetch_ticker(self, symbol: str) -> Ticker:
        await self.load_markets()
        raw = await self.read("fetch_ticker", lambda: self.client.fetch_ticker(symbol))
        return to_ticker(raw or {}, symbol)

    async def last_price(self, symbol: str) -> Decimal | None:
        t = await self.fetch_ticker(symbol)
        if t.last:
            return t.last
        return t.ask or t.bid

    async def close(self) -> None:
        try:
            await self.client.close()
        except Exception as exc:  # closing must never raise into shutdown paths
            log.debug("%s close: %s", self.exchange_id, type(exc).__name__)


def _sync[T](fn: Callable[[], T]) -> Callable[[], Awaitable[T]]:
    async def run() -> T:
        return fn()

    return run


class CcxtMarketData(CcxtClient):
    """The shared keyless client of one exchange (public market data only)."""
