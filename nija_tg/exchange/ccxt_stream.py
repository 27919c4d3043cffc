"""Candles pushed by WebSocket: one keyless ccxt.pro client per exchange whose ccxt.pro
class watches candles (``has['watchOHLCV']``: Kraken spot WebSocket v2 ``ohlc``, BingX
swap K-lines; not Coinbase in ccxt 4.5). Its URLs follow the same base-URL override as
REST (``urls['api']['ws']`` rebased, ``ws://`` for an ``http://`` base); it shares the
markets the gateway's public REST client loaded.

``watch_ohlcv`` returns the candles the venue pushed since the previous call for that
market (the forming one included, possibly several states of it), as ccxt's
``newUpdates`` gives them; errors are mapped like every other read (a lost socket is a
``RetryableError``); the next call reconnects and subscribes again.

How fast subscriptions go out. ccxt.pro sends every subscribe message through a throttler
per socket built from the client's REST ``tokenBucket`` (one message per ``rateLimit`` ms
times ``options['ws']['cost']``, default cost 1; ccxt 4.5.90
``async_support/base/exchange.py`` ``client()``/``watch()``) whenever ``enableRateLimit``
is on. Kraken's ``rateLimit`` is 1000 ms: with the limiter on, 50 pairs took 50 s to
subscribe, one ``watch_ohlcv`` per pair (neither ccxt.pro class has
``watchOHLCVForSymbols`` in 4.5.90: Kraken's lacks it, BingX's says "no longer
supported"). ``SUBSCRIBE_RATES`` sets the pace of the stream clients' subscribe messages
through ccxt's own ``options['ws']['cost']`` (what ccxt.pro itself does for Binance).

What the venues document for the pace of subscribe messages, as far as we found:
Kraken Spot WebSocket: no fixed message rate (it varies with load; a client going too
fast is answered "Exceeded msg rate"; Kraken's spot rate-limits guide as summarised by
third parties; we did not read a figure in Kraken's own pages); BingX's WebSocket
documentation lists a frequency-limit code (100410 ``FREQUENCY_LIMIT``) without a
figure. With no number to keep under, both get 10 subscribe messages a second per
socket: BingX's pace under ccxt's own default (``rateLimit`` 100 ms), and the ceiling
that venues publishing one state (Binance futures: 10 incoming messages a second per
connection). 50 pairs subscribe in about 5 s.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from nija_tg.core.errors import NijaError, UnknownExchangeError
from nija_tg.core.models import Candle
from nija_tg.exchange.ccxt_client import CcxtMarketData
from nija_tg.exchange.ccxt_convert import to_candles
from nija_tg.exchange.ccxt_errors import map_error
from nija_tg.exchange.ccxt_factory import ClientSettings, build_client, stream_class

log = logging.getLogger(__name__)

# Subscribe messages per second on one socket (see the module's docstring).
SUBSCRIBE_RATES: dict[str, float] = {"kraken": 10.0, "bingx": 10.0}


def stream_settings(exchange_id: str, settings: ClientSettings, klass: type) -> ClientSettings:
    """``settings`` with the ``options['ws']['cost']`` that paces the stream client's
    subscribe messages at ``SUBSCRIBE_RATES`` (ccxt spaces them ``cost * rateLimit`` ms
    apart). Options already given for the exchange's ``ws`` win."""
    rate = SUBSCRIBE_RATES.get(exchange_id)
    if rate is None:
        return settings
    rate_limit_ms = float(klass().rateLimit)
    ws = {"cost": 1000.0 / rate / rate_limit_ms}
    given = dict(settings.exchange_options.get(exchange_id, {}))
    given["ws"] = ws | dict(given.get("ws") or {})
    options = dict(settings.exchange_options) | {exchange_id: given}
    return dataclasses.replace(settings, exchange_options=options)


class CandleStreams:
    """The gateway's WebSocket side: ``supports`` and ``watch_ohlcv`` per exchange."""

    def __init__(
        self,
        settings: ClientSettings,
        public: Callable[[str], CcxtMarketData],
        *,
        enabled: bool = True,
    ) -> None:
        self.settings = settings
        self.public = public  # the REST client whose markets the stream shares
        self.enabled = enabled
        self._clients: dict[str, Any] = {}
        self._support: dict[str, bool] = {}

    def supports(self, exchange_id: str) -> bool:
        """Whether candles of ``exchange_id`` can come by WebSocket."""
        if not self.enabled:
            return False
        found = self._support.get(exchange_id)
        if found is None:
            try:
                found = stream_class(exchange_id) is not None
            except UnknownExchangeError:
                found = False
            self._support[exchange_id] = found
        return found

    async def _client(self, exchange_id: str) -> Any:
        client = self._clients.get(exchange_id)
        if client is None:
            klass = stream_class(exchange_id)
            if klass is None:
                raise UnknownExchangeError(f"{exchange_id} pushes no candles")
            settings = stream_settings(exchange_id, self.settings, klass)
            client = build_client(exchange_id, settings, klass=klass)
            self._clients[exchange_id] = client
        if not client.markets:
            shared = self.public(exchange_id)
            await shared.load_markets()
            if not client.markets:
                client.set_markets_from_exchange(shared.client)
        return client

    async def watch_ohlcv(self, exchange_id: str, symbol: str, timeframe: str) -> list[Candle]:
        """The candles pushed since the last call for this market (waits for the next
        push). Raises only ``nija_tg.core.errors`` classes."""
        try:
            client = await self._client(exchange_id)
            rows = await client.watch_ohlcv(symbol, timeframe)
        except NijaError:
            raise
        except Exception as exc:  # mapped: nothing escapes unmapped
            raise map_error(exc, exchange_id=exchange_id, action="watch_ohlcv") from None
        return to_candles(rows or [])

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            try:
                await client.close()
            except Exception as exc:  # closing must never raise into shutdown paths
                log.debug("stream close: %s", type(exc).__name__)
