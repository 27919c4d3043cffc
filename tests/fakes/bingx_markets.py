"""BingX emulator, public side: the contract table, BingX's number format and JSON
envelope, symbol conversion, and the market endpoints ``load_markets``, klines and
tickers reach (swap contracts, spot symbols, coin-M contracts, server time)."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import TYPE_CHECKING

from aiohttp import web

from tests.fakes.emulator_base import EmulatorServer, aggregate_candles

if TYPE_CHECKING:
    from tests.fakes.bingx import BingXEmulator

ZERO = Decimal(0)
INTERVAL_MINUTES = {"5m": 5, "15m": 15, "30m": 30, "1h": 60, "2h": 120, "4h": 240, "1d": 1440}

# base -> (csv, factor, scaled by candle_scale?, qty decimals, price decimals, min qty, max lev)
CONTRACTS: dict[str, tuple[str, float, bool, int, int, str, int]] = {
    "BTC": ("ETH-BTC-5m.csv", 6.0, True, 4, 1, "0.0001", 125),
    "ETH": ("LTC-BTC-5m.csv", 2.0, True, 2, 2, "0.01", 100),
    "SOL": ("ADA-BTC-5m.csv", 30.0, True, 2, 3, "0.01", 50),
    "AVAX": ("XRP-USDT-5m-futures.csv", 30.0, False, 1, 3, "0.1", 50),
    "POL": ("XRP-USDT-5m-futures.csv", 0.5, False, 0, 5, "1", 50),
    "DOT": ("LTC-BTC-5m.csv", 0.004, True, 1, 3, "0.1", 50),
    "LINK": ("ADA-BTC-5m.csv", 3.0, True, 1, 3, "0.1", 50),
    "ADA": ("ADA-BTC-5m.csv", 0.1, True, 0, 4, "1", 50),
}
CONTRACT_IDS = {base: 100 + i for i, base in enumerate(CONTRACTS)}


def num(value: Decimal | None, places: int | None = None) -> str:
    """Decimal as BingX prints numbers: a plain string."""
    if value is None:
        return "0"
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places))
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text and places is None else text


def ok(data: object) -> web.Response:
    body = {"code": 0, "msg": "", "timestamp": int(time.time() * 1000), "data": data}
    return web.json_response(body)


def err(code: int, msg: str) -> web.Response:
    body = {"code": code, "msg": msg, "timestamp": int(time.time() * 1000)}
    return web.json_response(body)


def no_symbol(native_id: str | None) -> web.Response:
    return err(109425, f"{native_id} not exist, please verify it")


def native(symbol: str) -> str:
    """``BTC/USDT:USDT`` -> ``BTC-USDT``."""
    base, quote = EmulatorServer.split_symbol(symbol)
    return f"{base}-{quote}"


def unified(native_id: str | None) -> str | None:
    """``BTC-USDT`` -> ``BTC/USDT:USDT``; None for an unknown contract."""
    base = (native_id or "").removesuffix("-USDT")
    return f"{base}/USDT:USDT" if base in CONTRACTS else None


def aggregate(rows: list[list[float]], minutes: int) -> list[list[float]]:
    """Fold 5m candles into ``minutes``-wide buckets aligned to UTC."""
    if minutes == 5:
        return rows
    return [bar[:6] for bar in aggregate_candles(rows, minutes * 60_000)]


class BingXPublic:
    """Handlers of the public endpoints, reading prices and candles from ``emu``."""

    def __init__(self, emu: BingXEmulator) -> None:
        self.emu = emu

    async def server_time(self, request: web.Request) -> web.Response:
        return ok({"serverTime": int(time.time() * 1000)})

    async def contracts(self, request: web.Request) -> web.Response:
        rows = []
        for base, (_, _, _, qty_dp, px_dp, min_qty, max_lev) in CONTRACTS.items():
            rows.append(
                {
                    "contractId": str(CONTRACT_IDS[base]),
                    "symbol": f"{base}-USDT",
                    "size": min_qty,
                    "quantityPrecision": qty_dp,
                    "pricePrecision": px_dp,
                    "feeRate": "0.0005",
                    "makerFeeRate": "0.0002",
                    "takerFeeRate": "0.0005",
                    "tradeMinLimit": 0,
                    "tradeMinQuantity": float(min_qty),
                    "tradeMinUSDT": 2,
                    "maxLongLeverage": max_lev,
                    "maxShortLeverage": max_lev,
                    "currency": "USDT",
                    "asset": base,
                    "status": 1,
                    "apiStateOpen": "true",
                    "apiStateClose": "true",
                    "ensureTrigger": True,
                    "triggerFeeRate": "0.00050000",
                    "brokerState": True,
                    "launchTime": 1586275200000,
                    "maintainTime": 0,
                    "offTime": 0,
                    "displayName": f"{base}-USDT",
                }
            )
        return ok(rows)

    async def spot_symbols(self, request: web.Request) -> web.Response:
        rows = [
            {
                "symbol": f"{base}-USDT",
                "minQty": 0.0001,
                "maxQty": 100,
                "minNotional": 5,
                "maxNotional": 2000000,
                "status": 1,
                "tickSize": tick,
                "stepSize": step,
                "apiStateSell": True,
                "apiStateBuy": True,
                "timeOnline": 0,
                "offTime": 0,
                "maintainTime": 0,
                "displayName": f"{base}-USDT",
            }
            for base, tick, step in (("BTC", 0.01, 0.000001), ("ETH", 0.01, 0.0001))
        ]
        return ok({"symbols": rows})

    async def coin_m_contracts(self, request: web.Request) -> web.Response:
        return ok([])

    async def klines(self, request: web.Request) -> web.Response:
        q = request.query
        symbol = unified(q.get("symbol"))
        minutes = INTERVAL_MINUTES.get(q.get("interval", ""))
        if symbol is None:
            return no_symbol(q.get("symbol"))
        if minutes is None:
            return err(109400, "Invalid parameters, err:interval is not supported")
        rows = aggregate(self.emu.ohlcv(symbol, None, None), minutes)
        start, end = q.get("startTime"), q.get("endTime")
        rows = [
            r for r in rows if (not start or r[0] >= int(start)) and (not end or r[0] <= int(end))
        ]
        limit = min(int(q.get("limit", 500)), 1440)
        rows = rows[:limit] if start else rows[-limit:]
        data = [
            {"open": f"{r[1]:.8g}", "close": f"{r[4]:.8g}", "high": f"{r[2]:.8g}",
             "low": f"{r[3]:.8g}", "volume": f"{r[5]:.2f}", "time": r[0]}
            for r in rows
        ]  # fmt: skip
        return ok(data)

    def ticker_row(self, symbol: str) -> dict[str, object]:
        rows = self.emu.ohlcv(symbol, None, 288)
        last = self.emu.price(symbol) or Decimal(0)
        open_ = Decimal(str(rows[0][1])) if rows else last
        high = max([Decimal(str(r[2])) for r in rows] + [last])
        low = min([Decimal(str(r[3])) for r in rows] + [last])
        volume = sum(Decimal(str(r[5])) for r in rows)
        change = last - open_
        pct = (change / open_ * 100) if open_ else ZERO
        tick = Decimal(1).scaleb(-CONTRACTS[self.emu.split_symbol(symbol)[0]][4])
        now = self.emu.clock_ms()
        return {
            "symbol": native(symbol),
            "priceChange": num(change),
            "priceChangePercent": num(pct, 2),
            "lastPrice": num(last),
            "lastQty": "1",
            "highPrice": num(high),
            "lowPrice": num(low),
            "volume": num(volume, 2),
            "quoteVolume": num(volume * last, 2),
            "openPrice": num(open_),
            "openTime": now - 86_400_000,
            "closeTime": now,
            "bidPrice": num(last - tick),
            "bidQty": "10",
            "askPrice": num(last + tick),
            "askQty": "10",
        }

    async def ticker(self, request: web.Request) -> web.Response:
        native_id = request.query.get("symbol")
        if native_id is None:
            return ok([self.ticker_row(s) for s in self.emu.symbols])
        symbol = unified(native_id)
        if symbol is None:
            return no_symbol(native_id)
        return ok(self.ticker_row(symbol))
