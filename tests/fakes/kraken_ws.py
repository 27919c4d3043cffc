"""Kraken spot WebSocket v2, public ``ohlc`` channel, for the Kraken emulator (path
``/v2``, as ``wss://ws.kraken.com/v2``; ccxt.pro ``kraken.watch_ohlcv`` talks to it
through ``urls['api']['ws']['publicV2']``).

Wire format from Kraken's documentation (docs.kraken.com, Spot WebSocket v2, "Candles
(OHLC)", "Heartbeat", "Ping", "Status"):

- on connect: ``{"channel": "status", "type": "update", "data": [{"api_version": "v2",
  "connection_id": n, "system": "online", "version": "2.0.0"}]}``;
- request ``{"method": "subscribe", "params": {"channel": "ohlc", "symbol": [...],
  "interval": 5}, "req_id": n}``; one acknowledgement per symbol: ``{"method":
  "subscribe", "result": {"channel": "ohlc", "symbol": s, "interval": 5, "snapshot":
  true}, "success": true, "time_in": t, "time_out": t, "req_id": n}``; an unknown
  pair or interval: ``"success": false`` with ``"error"``;
- candles: ``{"channel": "ohlc", "type": "snapshot"|"update", "timestamp": t, "data":
  [{"symbol", "open", "high", "low", "close", "trades", "volume", "vwap",
  "interval_begin", "interval", "timestamp"}]}``, times RFC 3339 with nanoseconds;
  updates are generated on trade events (emulator_ws.py says when that is here);
- ``{"channel": "heartbeat"}`` about once a second; ``{"method": "ping", "req_id": n}``
  answered ``{"method": "pong", "req_id": n, "time_in": t, "time_out": t}``.

A subscribe over the feed's ``max_subscribes_per_s`` (emulator_ws.py) is refused per
symbol: ``"success": false``, ``"error": "Exceeded msg rate"`` (Kraken's wording; its
message rate has no published figure). ``refuse_subscribes = text`` refuses every
subscribe the same way with that error (Kraken's documented subscribe answer: ``method``,
``success`` false, ``error``, ``symbol``, ``time_in``/``time_out``, the ``req_id`` echoed);
``mute_subscribes`` answers nothing.

A subscribe for a (symbol, interval) the connection already has is refused per symbol
with ``"error": "Already subscribed"`` (nothing re-subscribed, no second snapshot). Kraken's
v2 pages we read document the refusal's shape, not this text; the text is the one ccxt
4.5.90's Kraken client maps (``exceptions['ws']['broad']['Already subscribed']``:
``BadRequest``). ``subscribe_delay_s`` (opt-in, default 0) answers a subscribe that
many seconds late: the connection's later messages wait behind it (its requests are
answered in order), as a venue under load takes a subscribe late.

Not covered: ``unsubscribe``, ``snapshot: false``, the other channels, and more than the
last candle in the snapshot.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import UTC, datetime
from typing import Any

from tests.fakes.emulator_ws import CandleFeed, Conn, Sub
from tests.fakes.kraken_markets import INTERVALS, LOT_DECIMALS, PAIRS, fmt

_connection_ids = itertools.count(7_000_000_001)
ALREADY_SUBSCRIBED = "Already subscribed"  # a duplicate subscribe's refusal (docstring)


def rfc3339(ms: int, nanos: bool = True) -> str:
    t = datetime.fromtimestamp(ms / 1000, UTC)
    frac = f"{t.microsecond:06d}" + ("000" if nanos else "")
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + frac + "Z"


class KrakenOhlcFeed(CandleFeed):
    path = "/v2"
    ping_every_s = 1.0  # the heartbeat

    def welcome(self) -> list[Any]:
        status = {
            "api_version": "v2",
            "connection_id": next(_connection_ids),
            "system": "online",
            "version": "2.0.0",
        }
        return [{"channel": "status", "type": "update", "data": [status]}]

    def ping_message(self) -> Any:
        return {"channel": "heartbeat"}

    async def on_message(self, conn: Conn, text: str) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            return
        now = rfc3339(self.emu.clock_ms(), nanos=False)
        method, req_id = msg.get("method"), msg.get("req_id")
        if method == "ping":
            await self.send(
                conn, {"method": "pong", "req_id": req_id, "time_in": now, "time_out": now}
            )
            return
        if method != "subscribe":
            return
        params = msg.get("params") or {}
        interval = params.get("interval", 1)
        flooded = self.flooded(conn)
        if self.mute_subscribes:
            return
        if self.subscribe_delay_s > 0:
            await asyncio.sleep(self.subscribe_delay_s)
            now = rfc3339(self.emu.clock_ms(), nanos=False)
        refused = self.refuse_subscribes
        for symbol in params.get("symbol") or []:
            reply: dict[str, Any] = {"method": "subscribe", "time_in": now, "time_out": now}
            if req_id is not None:
                reply["req_id"] = req_id
            if flooded:
                reply |= {"success": False, "error": "Exceeded msg rate"}
            elif refused is not None:
                self.refused_subscribes += 1
                reply |= {"success": False, "error": refused}
            elif params.get("channel") != "ohlc":
                reply |= {"success": False, "error": "Channel not supported"}
            elif symbol not in PAIRS:
                reply |= {"success": False, "error": f"Currency pair not supported {symbol}"}
            elif interval not in INTERVALS or interval < 5:
                reply |= {"success": False, "error": "Subscription ohlc interval not supported"}
            elif (symbol, interval) in conn.subs:
                self.duplicate_subscribes += 1
                reply |= {"success": False, "error": ALREADY_SUBSCRIBED}
            else:
                result = {
                    "channel": "ohlc",
                    "symbol": symbol,
                    "interval": interval,
                    "snapshot": True,
                }
                reply |= {"success": True, "result": result}
                async with conn.lock:
                    await self.send(conn, reply)
                    await self._push_sub(conn, self.subscribe(conn, symbol, interval))
                continue
            if "error" in reply:
                reply["symbol"] = symbol
            await self.send(conn, reply)

    def candle_message(self, sub: Sub, row: list, snapshot: bool) -> Any:
        ts, o, h, low, c, v = row[:6]
        d = PAIRS[sub.symbol].pair_decimals
        now = self.emu.clock_ms()
        candle = {  # numbers, rounded as the REST OHLC prints them
            "symbol": sub.symbol,
            "open": float(fmt(o, d)),
            "high": float(fmt(h, d)),
            "low": float(fmt(low, d)),
            "close": float(fmt(c, d)),
            "trades": max(1, int(v) % 97),
            "volume": float(fmt(v, LOT_DECIMALS)),
            "vwap": float(fmt((h + low + c) / 3, d)),
            "interval_begin": rfc3339(int(ts)),
            "interval": sub.minutes,
            "timestamp": rfc3339(min(now, int(ts) + sub.minutes * 60_000), nanos=False),
        }
        kind = "snapshot" if snapshot else "update"
        return {
            "channel": "ohlc",
            "type": kind,
            "timestamp": rfc3339(now, nanos=False),
            "data": [candle],
        }
