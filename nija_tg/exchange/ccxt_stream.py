"""Candles pushed by WebSocket: one keyless ccxt.pro client per exchange whose ccxt.pro
class watches candles (``has['watchOHLCV']``: Kraken spot WebSocket v2 ``ohlc``, BingX
swap K-lines; not Coinbase in ccxt 4.5). Its URLs follow the same base-URL override as
REST (``urls['api']['ws']`` rebased, ``ws://`` for an ``http://`` base); it shares the
markets the gateway's public REST client loaded.

``watch_ohlcv`` returns the candles the venue pushed since the previous call for that
market (the forming one included, possibly several states of it), as ccxt's
``newUpdates`` gives them; errors are mapped like every other read (a lost socket is a
``RetryableError``); the next call reconnects and subscribes again.

A subscribe the venue refuses, or leaves unanswered. Kraken's WebSocket v2 answers a
subscribe it does not take with ``{"method": "subscribe", "success": false, "error":
"...", "req_id": n, ...}``; ccxt 4.5.90's Kraken client (``pro/kraken.py``
``handle_error_message``) rejects the future keyed by that ``req_id``, which nobody
awaits (``watch_ohlcv`` waits on the candles' message hash), and keeps the market in
its socket's ``subscriptions``, so it never sends the subscribe again on that socket:
the watch hangs silently and the market stays on REST until a reconnect. So where
``SUBSCRIBE_CHECKS`` knows the venue's subscription (Kraken), a call that sends a
subscribe gives it our own ``req_id``, waits for that request's refusal next to the
first candles, and raises ``SubscribeRefusedError`` (the venue's error text) or
``SubscribeUnansweredError`` when neither came within ``subscribe_answer_s`` (plus the
time the subscribe waits for its turn at ``SUBSCRIBE_RATES``). Both are
``RetryableError``s: the market hub keeps the market on REST and calls again after its
growing pause (``MarketHub._watch``: 0.5 s doubling to 30 s); the market was dropped from
the socket's ``subscriptions`` first, so that call sends the subscribe again. Counted in
``CandleStreams.refused`` / ``unanswered`` and logged (the market and the venue's public
error text; the stream clients hold no key).

A subscribe the venue took but answered after the bound is on the venue's side while
the market was dropped from ours: the next subscribe is a duplicate, which Kraken
refuses with "Already subscribed" (ccxt: ``BadRequest``). That answer is no refusal:
the market stays in the socket's ``subscriptions`` and the call waits for its candles
as an ordinary watch does (counted in ``CandleStreams.already``); counted as a refusal,
the market stayed on REST for good, a subscribe sent and refused every pause.

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

import asyncio
import dataclasses
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

import ccxt

from nija_tg.core.errors import NijaError, RetryableError, UnknownExchangeError
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


# How long a subscribe may go without its first candles or an answer (then it is sent
# again, after the hub's pause). Kraken sends the ohlc snapshot right after its
# acknowledgement; 10 s is generous for that round trip.
SUBSCRIBE_ANSWER_S = 10.0
# The venue's refusal of a subscribe for a market the socket has already (Kraken's text,
# as ccxt 4.5.90 files it: ``exceptions['ws']['broad']['Already subscribed']``), lowered.
ALREADY_SUBSCRIBED = "already subscribed"
# Our subscribe request ids: int32 (Kraken's), apart from ccxt's own counter.
_FIRST_REQ_ID = 1 << 30


class SubscribeRefusedError(RetryableError):
    """The venue answered a candle subscribe with a refusal (its error text)."""


class SubscribeUnansweredError(RetryableError):
    """A candle subscribe got neither candles nor an answer in time."""


def _kraken_subscription(client: Any, symbol: str) -> tuple[str, str]:
    """(socket URL, subscription key in that socket's ``subscriptions``) of ``symbol``'s
    candles, as ccxt 4.5.90's Kraken client files them (``watch_ohlcv``: the v2 public
    URL; the message hash ``ohlcv@<symbol>``, one per symbol whatever the timeframe)."""
    market = client.market(symbol)
    return client.urls["api"]["ws"]["publicV2"], client.get_message_hash(
        "ohlcv", None, market["symbol"]
    )


# Venues whose subscribe answers are checked (see the module's docstring): how to find a
# market's subscription in ccxt's client. The subscribe's ``req_id`` goes in the
# request's params. BingX is not checked: its refusals carry no request id ccxt files
# them under, and a quiet market may push nothing for a while after subscribing.
SUBSCRIBE_CHECKS: dict[str, Callable[[Any, str], tuple[str, str]]] = {
    "kraken": _kraken_subscription,
}


class CandleStreams:
    """The gateway's WebSocket side: ``supports`` and ``watch_ohlcv`` per exchange."""

    def __init__(
        self,
        settings: ClientSettings,
        public: Callable[[str], CcxtMarketData],
        *,
        enabled: bool = True,
        subscribe_answer_s: float = SUBSCRIBE_ANSWER_S,
    ) -> None:
        self.settings = settings
        self.public = public  # the REST client whose markets the stream shares
        self.enabled = enabled
        self.subscribe_answer_s = subscribe_answer_s
        self._clients: dict[str, Any] = {}
        self._support: dict[str, bool] = {}
        self._req_id = _FIRST_REQ_ID
        self._subscribing: Counter[str] = Counter()  # subscribes waiting, per exchange
        # per (exchange, symbol, timeframe): subscribes refused, and left unanswered
        self.refused: Counter[tuple[str, str, str]] = Counter()
        self.unanswered: Counter[tuple[str, str, str]] = Counter()
        # subscribes answered "already subscribed" (kept: see ``_subscribe``)
        self.already: Counter[tuple[str, str, str]] = Counter()

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
        push). Raises only ``nija_tg.core.errors`` classes; a refused or unanswered
        subscribe raises ``SubscribeRefusedError`` / ``SubscribeUnansweredError``."""
        try:
            client = await self._client(exchange_id)
            check = SUBSCRIBE_CHECKS.get(exchange_id)
            if check is not None:
                url, key = check(client, symbol)
                socket = client.client(url)
                if key not in socket.subscriptions:  # this call sends the subscribe
                    rows = await self._subscribe(client, socket, key, symbol, timeframe)
                    return to_candles(rows or [])
            rows = await client.watch_ohlcv(symbol, timeframe)
        except NijaError:
            raise
        except Exception as exc:  # mapped: nothing escapes unmapped
            raise map_error(exc, exchange_id=exchange_id, action="watch_ohlcv") from None
        return to_candles(rows or [])

    def _answer_within_s(self, exchange_id: str) -> float:
        """The bound for a subscribe's answer: ``subscribe_answer_s`` after its turn at
        the subscribe pace (the subscribes waiting before it go first)."""
        rate = SUBSCRIBE_RATES.get(exchange_id)
        queued = self._subscribing[exchange_id]
        wait = queued / rate if rate and self.settings.enable_rate_limit else 0.0
        return self.subscribe_answer_s + wait

    async def _subscribe(
        self, client: Any, socket: Any, key: str, symbol: str, timeframe: str
    ) -> list:
        """``watch_ohlcv`` that sends the market's subscribe with our ``req_id`` and
        returns its first candles, or raises when the venue refuses it (an error answer
        to that ``req_id``) or nothing came in time; then the market is dropped from the
        socket's subscriptions, so that the next call subscribes again."""
        exchange_id = client.id
        self._req_id = self._req_id + 1 if self._req_id < 2**31 - 1 else _FIRST_REQ_ID
        req_id = self._req_id
        refusal = socket.future(str(req_id))  # ccxt rejects it with the venue's error
        within = self._answer_within_s(exchange_id)
        market = (exchange_id, symbol, timeframe)
        self._subscribing[exchange_id] += 1
        watch = asyncio.ensure_future(
            client.watch_ohlcv(symbol, timeframe, params={"req_id": req_id})
        )
        try:
            try:
                await asyncio.wait(
                    {watch, refusal}, timeout=within, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                self._subscribing[exchange_id] -= 1
            if not watch.done() and _already_subscribed(refusal):
                # the venue has this market on the socket already (an earlier subscribe
                # it answered after our bound): kept, and its candles awaited as usual
                self.already[market] += 1
                log.info(
                    "candle socket %s %s %s: already subscribed; waiting for its candles",
                    *market,
                )
                await asyncio.wait({watch})
        finally:
            if not watch.done() or not refusal.done():
                pending = [f for f in (watch, refusal) if not f.done()]
                for future in pending:
                    future.cancel()
                await asyncio.wait(pending)
            socket.futures.pop(str(req_id), None)
            socket.rejections.pop(str(req_id), None)
        if watch.done() and not watch.cancelled():
            if not refusal.cancelled() and refusal.exception() is not None:
                if not _already_subscribed(refusal):
                    log.info("candle socket %s %s %s: refused after data", *market)
            return watch.result()  # the candles, or the socket's own error (mapped)
        socket.subscriptions.pop(key, None)  # the next call sends the subscribe again
        if not refusal.cancelled() and (error := refusal.exception()) is not None:
            if isinstance(error, ccxt.NetworkError):  # the socket failed, nothing refused
                raise map_error(error, exchange_id=exchange_id, action="watch_ohlcv")
            self.refused[market] += 1
            text = _public_text(error)
            log.warning(
                "candle socket %s %s %s: subscribe refused (%s); REST meanwhile, "
                "subscribing again after a pause",
                *market,
                text,
            )
            raise SubscribeRefusedError(f"{exchange_id}: candle subscribe refused ({text})")
        self.unanswered[market] += 1
        log.warning(
            "candle socket %s %s %s: no answer to the subscribe within %.1f s; REST "
            "meanwhile, subscribing again after a pause",
            *market,
            within,
        )
        raise SubscribeUnansweredError(f"{exchange_id}: candle subscribe unanswered")

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            try:
                await client.close()
            except Exception as exc:  # closing must never raise into shutdown paths
                log.debug("stream close: %s", type(exc).__name__)


def _already_subscribed(refusal: asyncio.Future) -> bool:
    """Whether the venue answered the subscribe "already subscribed" (Kraken's refusal of
    a duplicate subscribe; ccxt 4.5.90 maps it to ``BadRequest``): the market is on the
    socket, so the subscribe succeeded in effect."""
    if not refusal.done() or refusal.cancelled():
        return False
    error = refusal.exception()
    return error is not None and ALREADY_SUBSCRIBED in str(error).lower()


def _public_text(error: BaseException) -> str:
    """The venue's error text for a log line: printable, at most 120 characters (the
    stream clients are keyless; this is the venue's public answer)."""
    text = "".join(ch for ch in str(error) if ch.isprintable())
    return text[:120] or type(error).__name__
