"""Kraken emulator, public side: the pair and asset tables, number formatting, the JSON
envelope, and the ``/0/public/*`` endpoints (Time, SystemStatus, Assets, AssetPairs,
Ticker, OHLC)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from aiohttp import web

from tests.fakes.emulator_base import aggregate_candles

if TYPE_CHECKING:
    from tests.fakes.kraken import KrakenEmulator

INTERVALS = (1, 5, 15, 30, 60, 240, 1440, 10080, 21600)
LOT_DECIMALS = 8
COST_DECIMALS = 5


class KrakenError(Exception):
    """A Kraken API error string, answered as ``{"error": [msg], "result": {}}``."""


@dataclass(frozen=True)
class Pair:
    pair_id: str
    altname: str
    base_id: str
    pair_decimals: int
    ordermin: str
    leverage: tuple[int, ...]
    csv: str
    factor: float  # multiplies candle_scale for USD-like prices


# Kraken asset ids (Assets / Balance keys) per unified code, with asset decimals.
ASSETS: dict[str, tuple[str, int, int]] = {
    "USD": ("ZUSD", 4, 2),
    "BTC": ("XXBT", 10, 5),
    "ETH": ("XETH", 10, 5),
    "SOL": ("SOL", 10, 5),
    "AVAX": ("AVAX", 10, 5),
    "POL": ("POL", 10, 5),
    "DOT": ("DOT", 10, 5),
    "LINK": ("LINK", 10, 5),
    "ADA": ("ADA", 8, 6),
}
ALTNAMES = {"XXBT": "XBT", "ZUSD": "USD", "XETH": "ETH"}

PAIRS: dict[str, Pair] = {
    "BTC/USD": Pair("XXBTZUSD", "XBTUSD", "XXBT", 1, "0.00005", (2, 3, 4, 5), "ETH-BTC-5m.csv", 6),
    "ETH/USD": Pair("XETHZUSD", "ETHUSD", "XETH", 2, "0.002", (2, 3, 4, 5), "LTC-BTC-5m.csv", 2),
    "SOL/USD": Pair("SOLUSD", "SOLUSD", "SOL", 2, "0.02", (2, 3), "ADA-BTC-5m.csv", 30),
    "AVAX/USD": Pair("AVAXUSD", "AVAXUSD", "AVAX", 2, "0.1", (2, 3), "LTC-BTC-5m.csv", 0.02),
    "POL/USD": Pair("POLUSD", "POLUSD", "POL", 4, "10", (), "ADA-BTC-5m.csv", 0.08),
    "DOT/USD": Pair("DOTUSD", "DOTUSD", "DOT", 4, "0.6", (2, 3), "ETH-BTC-5m.csv", 0.0007),
    "LINK/USD": Pair("LINKUSD", "LINKUSD", "LINK", 5, "0.2", (2, 3), "LTC-BTC-5m.csv", 0.01),
    "ADA/USD": Pair("ADAUSD", "ADAUSD", "ADA", 6, "5", (2, 3), "ADA-BTC-5m.csv", 0.1),
}
BY_PAIR_ID = {p.pair_id: s for s, p in PAIRS.items()} | {p.altname: s for s, p in PAIRS.items()}
_CSVS = ("ETH-BTC-5m.csv", "LTC-BTC-5m.csv", "ADA-BTC-5m.csv")


@contextlib.contextmanager
def more_pairs(count: int) -> Iterator[list[str]]:
    """``count`` made-up USD pairs (``QAA/USD``, ``QAB/USD``, ...) listed beside the real
    ones while the block runs (benchmarks and tests of many markets; build the emulator
    inside it). Their candles are the shared CSVs at different scales."""
    added = []
    for i in range(count):
        code = f"Q{chr(65 + i // 26)}{chr(65 + i % 26)}"
        symbol = f"{code}/USD"
        ASSETS[code] = (code, 10, 5)
        csv = _CSVS[i % len(_CSVS)]
        pair = Pair(f"{code}USD", f"{code}USD", code, 2, "0.1", (), csv, 0.5 + i / 10)
        PAIRS[symbol] = pair
        BY_PAIR_ID[pair.pair_id] = symbol
        added.append(symbol)
    try:
        yield added
    finally:
        for symbol in added:
            pair = PAIRS.pop(symbol)
            BY_PAIR_ID.pop(pair.pair_id, None)
            ASSETS.pop(pair.base_id, None)


def fmt(value: Decimal | float | int, places: int) -> str:
    """Fixed-point string with ``places`` decimals, the way Kraken prints numbers."""
    return f"{Decimal(str(value)):.{places}f}"


def ok(result: object) -> web.Response:
    return web.json_response({"error": [], "result": result})


def fail(message: str) -> web.Response:
    return web.json_response({"error": [message], "result": {}})


def symbol_of(pair: str) -> str:
    """The unified symbol of a Kraken pair id or altname."""
    symbol = BY_PAIR_ID.get(pair)
    if symbol is None:
        raise KrakenError("EQuery:Unknown asset pair")
    return symbol


def pairs_param(raw: str | None) -> list[str]:
    """The symbols of a comma-separated ``pair`` parameter (all pairs if absent)."""
    if not raw:
        return list(PAIRS)
    return [symbol_of(p.strip()) for p in raw.split(",") if p.strip()]


class KrakenPublic:
    """Handlers of the public endpoints, reading prices and candles from ``emu``."""

    def __init__(self, emu: KrakenEmulator) -> None:
        self.emu = emu

    def routes(self) -> list[web.RouteDef]:
        public = {
            "Time": self.time,
            "SystemStatus": self.system_status,
            "Assets": self.assets,
            "AssetPairs": self.asset_pairs,
            "Ticker": self.ticker,
            "OHLC": self.ohlc,
        }
        return [web.route("*", f"/0/public/{name}", h) for name, h in public.items()]

    async def time(self, request: web.Request) -> web.Response:
        now = datetime.fromtimestamp(self.emu.clock_ms() / 1000, UTC)
        rfc = now.strftime("%a, %d %b %y %H:%M:%S +0000")
        return ok({"unixtime": int(now.timestamp()), "rfc1123": rfc})

    async def system_status(self, request: web.Request) -> web.Response:
        now = datetime.fromtimestamp(self.emu.clock_ms() / 1000, UTC)
        return ok({"status": "online", "timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ")})

    async def assets(self, request: web.Request) -> web.Response:
        result = {}
        for asset_id, decimals, display in ASSETS.values():
            result[asset_id] = {
                "aclass": "currency",
                "altname": ALTNAMES.get(asset_id, asset_id),
                "decimals": decimals,
                "display_decimals": display,
                "collateral_value": 1.0,
                "status": "enabled",
            }
        return ok(result)

    async def asset_pairs(self, request: web.Request) -> web.Response:
        try:
            symbols = pairs_param(request.query.get("pair"))
        except KrakenError as exc:
            return fail(str(exc))
        pct = float(self.emu.ledger.fee_rate * 100)
        tiers = [[0, pct], [10000, pct * 0.875], [50000, pct * 0.75], [100000, pct * 0.5]]
        result = {}
        for symbol in symbols:
            p = PAIRS[symbol]
            result[p.pair_id] = {
                "altname": p.altname,
                "wsname": f"{ALTNAMES.get(p.base_id, p.base_id)}/USD",
                "aclass_base": "currency",
                "base": p.base_id,
                "aclass_quote": "currency",
                "quote": "ZUSD",
                "lot": "unit",
                "cost_decimals": COST_DECIMALS,
                "pair_decimals": p.pair_decimals,
                "lot_decimals": LOT_DECIMALS,
                "lot_multiplier": 1,
                "leverage_buy": list(p.leverage),
                "leverage_sell": list(p.leverage),
                "fees": tiers,
                "fees_maker": tiers,
                "fee_volume_currency": "ZUSD",
                "margin_call": 80,
                "margin_stop": 40,
                "ordermin": p.ordermin,
                "costmin": "0.5",
                "tick_size": fmt(Decimal(1).scaleb(-p.pair_decimals), p.pair_decimals),
                "status": "online",
            }
        return ok(result)

    async def ticker(self, request: web.Request) -> web.Response:
        try:
            symbols = pairs_param(request.query.get("pair"))
        except KrakenError as exc:
            return fail(str(exc))
        return ok({PAIRS[s].pair_id: self.ticker_of(s) for s in symbols})

    def ticker_of(self, symbol: str) -> dict:
        d = PAIRS[symbol].pair_decimals
        day = self.emu.ohlcv(symbol, None, 288)
        last = self.emu.current_price(symbol) or Decimal(0)
        tick = Decimal(1).scaleb(-d)
        vol = sum(Decimal(str(r[5])) for r in day)
        vwap = sum(Decimal(str(r[4])) * Decimal(str(r[5])) for r in day) / vol if vol else last
        high = max([Decimal(str(r[2])) for r in day] + [last])
        low = min([Decimal(str(r[3])) for r in day] + [last]) if day else last
        opening = Decimal(str(day[0][1])) if day else last
        return {
            "a": [fmt(last + tick, d), "1", "1.000"],
            "b": [fmt(last - tick, d), "1", "1.000"],
            "c": [fmt(last, d), fmt(Decimal("0.01"), LOT_DECIMALS)],
            "v": [fmt(vol, LOT_DECIMALS)] * 2,
            "p": [fmt(vwap, d)] * 2,
            "t": [len(day)] * 2,
            "l": [fmt(low, d)] * 2,
            "h": [fmt(high, d)] * 2,
            "o": fmt(opening, d),
        }

    async def ohlc(self, request: web.Request) -> web.Response:
        """Candles of the interval (5m rows aggregated; 1m requests get the 5m rows)."""
        try:
            symbol = symbol_of(request.query.get("pair", ""))
            interval = int(request.query.get("interval", "1"))
            since = int(request.query["since"]) if "since" in request.query else None
        except KrakenError as exc:
            return fail(str(exc))
        except ValueError:
            return fail("EGeneral:Invalid arguments")
        if interval not in INTERVALS:
            return fail("EGeneral:Invalid arguments")
        width_ms = max(interval, 5) * 60_000
        rows = aggregate_candles(self.emu.ohlcv(symbol, None, None), width_ms)[-720:]
        d = PAIRS[symbol].pair_decimals
        out = []
        for ts, o, h, low, c, v, n in rows:
            if since is not None and ts // 1000 <= since:
                continue
            vwap = (h + low + c) / 3
            prices = [fmt(x, d) for x in (o, h, low, c, vwap)]
            out.append([ts // 1000, *prices, fmt(v, LOT_DECIMALS), n])
        last = rows[-2][0] // 1000 if len(rows) > 1 else (rows[-1][0] // 1000 if rows else 0)
        return ok({PAIRS[symbol].pair_id: out, "last": last})
