"""BingX USDT-M perpetual swap market WebSocket (``wss://open-api-swap.bingx.com/swap-market``,
here path ``/swap-market``), K-line channel, for the BingX emulator; ccxt.pro
``bingx.watch_ohlcv`` reaches it through ``urls['api']['ws']['linear']``.

Wire format from BingX's swap WebSocket documentation ("Websocket Market Data",
"Subscribe K-Line Data") and ccxt's recorded messages (python/ccxt/pro/bingx.py):

- every frame the server sends is GZIP-compressed (binary frames);
- the server sends ``Ping`` every 5 s; the client answers ``Pong``;
- request ``{"id": uuid, "reqType": "sub", "dataType": "BTC-USDT@kline_5m"}``, answered
  ``{"id": uuid, "code": 0, "msg": "", "dataType": "", "data": null}``; an unknown
  contract or interval: ``code`` 80015 (our pick of a non-zero code; BingX does not list
  this one), no pushes;
- pushes ``{"code": 0, "dataType": "BTC-USDT@kline_5m", "s": "BTC-USDT", "data": [{"c",
  "o", "h", "l", "v", "T"}]}``, prices and volume as strings, ``T`` the candle's open
  time in ms (ccxt reads it so for linear swaps);
- a subscribe over the feed's ``max_subscribes_per_s`` (emulator_ws.py): code 100410,
  ``FREQUENCY_LIMIT`` (BingX's documented frequency-limit code), no pushes.

Not covered: ``unsub``, the other channels, listen keys (account streams), the spot
and coin-M sockets.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

from tests.fakes.bingx_markets import INTERVAL_MINUTES, native, unified
from tests.fakes.emulator_ws import CandleFeed, Conn, Sub


class BingXKlineFeed(CandleFeed):
    path = "/swap-market"
    ping_every_s = 5.0

    def encode(self, message: Any) -> tuple[str, bytes]:
        text = message if isinstance(message, str) else json.dumps(message)
        return "bytes", gzip.compress(text.encode())

    def ping_message(self) -> Any:
        return "Ping"

    async def on_message(self, conn: Conn, text: str) -> None:
        if text == "Pong":
            return
        try:
            msg = json.loads(text)
        except ValueError:
            return
        data_type = str(msg.get("dataType", ""))
        reply = {"id": msg.get("id"), "code": 0, "msg": "", "dataType": "", "data": None}
        if msg.get("reqType") != "sub":
            await self.send(conn, reply)
            return
        if self.flooded(conn):
            await self.send(conn, reply | {"code": 100410, "msg": "FREQUENCY_LIMIT"})
            return
        market_id, _, channel = data_type.partition("@")
        symbol = unified(market_id)
        interval = channel.removeprefix("kline_")
        minutes = INTERVAL_MINUTES.get(interval)
        if symbol is None or not channel.startswith("kline_") or minutes is None:
            await self.send(
                conn, reply | {"code": 80015, "msg": f"dataType not support {data_type}"}
            )
            return
        async with conn.lock:
            await self.send(conn, reply)
            await self._push_sub(conn, self.subscribe(conn, symbol, minutes))

    def candle_message(self, sub: Sub, row: list, snapshot: bool) -> Any:
        ts, o, h, low, c, v = row[:6]
        interval = next(k for k, m in INTERVAL_MINUTES.items() if m == sub.minutes)
        candle = {
            "c": f"{c:.8g}",
            "o": f"{o:.8g}",
            "h": f"{h:.8g}",
            "l": f"{low:.8g}",
            "v": f"{v:.2f}",
            "T": int(ts),
        }
        market_id = native(sub.symbol)
        return {
            "code": 0,
            "dataType": f"{market_id}@kline_{interval}",
            "s": market_id,
            "data": [candle],
        }
