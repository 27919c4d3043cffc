"""Coinbase emulator, public side: the product table, Coinbase's number and time
formats, the error body, and the market data endpoints (v2 time/currencies/exchange
rates, v3 time/products/candles/ticker/best_bid_ask)."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.emulator_base import aggregate_candles

if TYPE_CHECKING:
    from tests.fakes.coinbase import CoinbaseEmulator

V3 = "/api/v3/brokerage"
GRANULARITY_S = {
    "ONE_MINUTE": 60,
    "FIVE_MINUTE": 300,
    "FIFTEEN_MINUTE": 900,
    "THIRTY_MINUTE": 1800,
    "ONE_HOUR": 3600,
    "TWO_HOUR": 7200,
    "FOUR_HOUR": 14400,
    "SIX_HOUR": 21600,
    "ONE_DAY": 86400,
}


@dataclass(frozen=True)
class Product:
    """One spot product: candle source (BTC-quoted CSV times a multiplier) and limits."""

    csv: str
    mult: float
    base_increment: str
    quote_increment: str
    base_name: str


PRODUCTS: dict[str, Product] = {
    "BTC/USD": Product("ETH-BTC-5m.csv", 6.0, "0.00000001", "0.01", "Bitcoin"),
    "ETH/USD": Product("LTC-BTC-5m.csv", 2.0, "0.00000001", "0.01", "Ethereum"),
    "SOL/USD": Product("ADA-BTC-5m.csv", 30.0, "0.00000001", "0.01", "Solana"),
    "AVAX/USD": Product("LTC-BTC-5m.csv", 0.02, "0.00000001", "0.01", "Avalanche"),
    "POL/USD": Product("ADA-BTC-5m.csv", 0.08, "0.1", "0.0001", "POL (ex-MATIC)"),
    "DOT/USD": Product("ETH-BTC-5m.csv", 0.0007, "0.00000001", "0.001", "Polkadot"),
    "LINK/USD": Product("ADA-BTC-5m.csv", 3.0, "0.01", "0.001", "Chainlink"),
    "ADA/USD": Product("ADA-BTC-5m.csv", 0.1, "0.00000001", "0.0001", "Cardano"),
}
QUOTE_MIN_SIZE = Decimal("1")


def s(value: Decimal | float | int) -> str:
    """Plain decimal string (no exponent), as Coinbase prints numbers."""
    d = value if isinstance(value, Decimal) else Decimal(str(value))
    text = format(d.normalize(), "f")
    return "0" if text in ("-0", "") else text


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def native(symbol: str) -> str:
    return symbol.replace("/", "-")


def error_body(error: str, message: str, status: int) -> web.Response:
    """The gRPC-gateway style error body of the v3 API."""
    body = {"error": error, "error_details": message, "message": message}
    return web.json_response(body, status=status)


def product_json(emu: CoinbaseEmulator, symbol: str) -> dict[str, Any]:
    spec = PRODUCTS[symbol]
    base, quote = emu.split_symbol(symbol)
    px = emu.price(symbol) or Decimal(0)
    return {
        "product_id": native(symbol),
        "price": s(px),
        "price_percentage_change_24h": "0.5",
        "volume_24h": "12345.678",
        "volume_percentage_change_24h": "-3.2",
        "base_increment": spec.base_increment,
        "quote_increment": spec.quote_increment,
        "quote_min_size": s(QUOTE_MIN_SIZE),
        "quote_max_size": "150000000",
        "base_min_size": spec.base_increment,
        "base_max_size": "1000000000",
        "base_name": spec.base_name,
        "quote_name": "US Dollar",
        "watched": False,
        "is_disabled": False,
        "new": False,
        "status": "online",
        "cancel_only": False,
        "limit_only": False,
        "post_only": False,
        "trading_disabled": False,
        "auction_mode": False,
        "product_type": "SPOT",
        "quote_currency_id": quote,
        "base_currency_id": base,
        "fcm_trading_session_details": None,
        "mid_market_price": "",
        "alias": "",
        "alias_to": [],
        "base_display_symbol": base,
        "quote_display_symbol": quote,
        "view_only": False,
        "price_increment": spec.quote_increment,
        "display_name": native(symbol),
        "product_venue": "CBE",
        "approximate_quote_24h_volume": "98765432.10",
    }


def candles_json(
    emu: CoinbaseEmulator, symbol: str, granularity: str, start_s: int, end_s: int
) -> list[dict[str, str]] | str:
    """Candles newest first, or an error message for a request Coinbase would refuse."""
    step = GRANULARITY_S.get(granularity)
    if step is None or step < 300:
        return f"unsupported granularity {granularity}"
    if (end_s - start_s) / step > 350:
        return "number of candles requested should be less than 350"
    rows = aggregate_candles(emu.ohlcv(symbol, None, None), step * 1000)
    picked = [r for r in rows if start_s * 1000 <= r[0] < end_s * 1000]
    if not picked and rows and start_s * 1000 > rows[-1][0]:
        # A "latest candles" request: ccxt derives the window from the wall clock, so
        # anchor it at the newest candle up to the emulator's clock (replayed history).
        picked = rows[-max(1, math.ceil((end_s - start_s) / step)) :]
    return [
        {
            "start": str(ts // 1000),
            "low": s(low),
            "high": s(high),
            "open": s(open_),
            "close": s(close),
            "volume": s(volume),
        }
        for ts, open_, high, low, close, volume, _ in reversed(picked)
    ]


class CoinbaseMarkets:
    """Public handlers, reading prices and candles from ``emu``."""

    def __init__(self, emu: CoinbaseEmulator) -> None:
        self.emu = emu

    async def v2_time(self, request: web.Request) -> web.Response:
        ms = self.emu.clock_ms()
        return web.json_response({"data": {"iso": iso(ms)[:19] + "Z", "epoch": ms // 1000}})

    async def v2_currencies(self, request: web.Request) -> web.Response:
        fiat = [("USD", "US Dollar"), ("EUR", "Euro"), ("GBP", "British Pound")]
        data = [{"id": c, "name": n, "min_size": "0.01"} for c, n in fiat]
        return web.json_response({"data": data})

    async def v2_crypto(self, request: web.Request) -> web.Response:
        data = [
            {
                "asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"coinbase-asset-{sym}")),
                "code": sym.split("/")[0],
                "name": spec.base_name,
                "color": "#0052FF",
                "sort_index": 100 + i,
                "exponent": 8,
                "type": "crypto",
                "address_regex": "^[0-9a-zA-Z]{20,64}$",
            }
            for i, (sym, spec) in enumerate(PRODUCTS.items())
        ]
        return web.json_response({"data": data})

    async def v2_rates(self, request: web.Request) -> web.Response:
        rates = {"USD": "1.0", "EUR": "0.92", "GBP": "0.79"}
        for sym in PRODUCTS:
            px = self.emu.price(sym)
            if px:
                rates[sym.split("/")[0]] = s((1 / px).quantize(Decimal("1e-12")))
        return web.json_response({"data": {"currency": "USD", "rates": rates}})

    # --- v3 public market data --------------------------------------------------------

    async def v3_time(self, request: web.Request) -> web.Response:
        ms = self.emu.clock_ms()
        return web.json_response(
            {"iso": iso(ms), "epochSeconds": str(ms // 1000), "epochMillis": str(ms)}
        )

    def symbol_of(self, request: web.Request) -> str | None:
        symbol = request.match_info.get("product_id", "").replace("-", "/")
        return symbol if symbol in PRODUCTS else None

    async def products(self, request: web.Request) -> web.Response:
        if request.query.get("product_type", "SPOT") != "SPOT":
            return web.json_response({"products": [], "num_products": 0})
        wanted = set(request.query.getall("product_ids", []))
        rows = [
            product_json(self.emu, sym) for sym in PRODUCTS if not wanted or native(sym) in wanted
        ]
        return web.json_response({"products": rows, "num_products": len(rows)})

    async def product(self, request: web.Request) -> web.Response:
        symbol = self.symbol_of(request)
        if symbol is None:
            return error_body("NOT_FOUND", "ProductID is invalid", 404)
        return web.json_response(product_json(self.emu, symbol))

    async def candles(self, request: web.Request) -> web.Response:
        symbol = self.symbol_of(request)
        if symbol is None:
            return error_body("NOT_FOUND", "ProductID is invalid", 404)
        q = request.query
        try:
            start, end = int(q["start"]), int(q["end"])
        except (KeyError, ValueError):
            return error_body("INVALID_ARGUMENT", "start and end are required", 400)
        rows = candles_json(self.emu, symbol, q.get("granularity", ""), start, end)
        if isinstance(rows, str):
            return error_body("INVALID_ARGUMENT", rows, 400)
        return web.json_response({"candles": rows})

    def bid_ask(self, symbol: str) -> tuple[Decimal, Decimal, Decimal]:
        tick = Decimal(PRODUCTS[symbol].quote_increment)
        px = self.emu.price(symbol) or Decimal(0)
        return px, max(px - tick, Decimal(0)), px + tick

    async def ticker(self, request: web.Request) -> web.Response:
        symbol = self.symbol_of(request)
        if symbol is None:
            return error_body("NOT_FOUND", "ProductID is invalid", 404)
        px, bid, ask = self.bid_ask(symbol)
        ms = self.emu.clock_ms()
        count = max(1, min(int(request.query.get("limit", 1) or 1), 100))
        trades = [
            {
                "trade_id": str(ms // 1000 * 100 + i),
                "product_id": native(symbol),
                "price": s(px),
                "size": "0.01",
                "time": iso(ms - i * 1000),
                "side": "BUY" if i % 2 == 0 else "SELL",
                "bid": "",
                "ask": "",
            }
            for i in range(count)
        ]
        return web.json_response({"trades": trades, "best_bid": s(bid), "best_ask": s(ask)})

    async def best_bid_ask(self, request: web.Request) -> web.Response:
        wanted = request.query.getall("product_ids", []) or [native(x) for x in PRODUCTS]
        books = []
        for pid in wanted:
            symbol = pid.replace("-", "/")
            if symbol in PRODUCTS:
                _, bid, ask = self.bid_ask(symbol)
                books.append(
                    {
                        "product_id": pid,
                        "bids": [{"price": s(bid), "size": "1.5"}],
                        "asks": [{"price": s(ask), "size": "1.5"}],
                        "time": iso(self.emu.clock_ms()),
                    }
                )
        return web.json_response({"pricebooks": books})
