"""Kraken spot REST emulator for tests; ccxt's ``kraken`` class talks to it unmodified.

Covers (real paths, real JSON envelope ``{"error": [...], "result": ...}``, HTTP 200 for
every API-level error as Kraken does):

- public: ``/0/public/Time``, ``SystemStatus``, ``Assets``, ``AssetPairs``, ``Ticker``,
  ``OHLC`` (5m candles from tests/data, aggregated for 15/30/60/240/1440 intervals; 1m
  requests get the 5m rows).
- private (POST, form or JSON body): ``Balance``, ``BalanceEx`` (what ccxt's
  fetch_balance uses), ``AddOrder`` (market/limit, ``cl_ord_id``, ``userref``, ``viqc``,
  ``validate``), ``QueryOrders`` (by txid, optional integer ``userref`` filter),
  ``OpenOrders`` / ``ClosedOrders`` (``cl_ord_id`` / ``userref`` filters: this is how a
  client id is looked up, QueryOrders takes no ``cl_ord_id``), ``CancelOrder`` (by txid,
  integer userref or ``cl_ord_id``), ``TradesHistory``, ``QueryTrades``.
- auth exactly as Kraken: ``API-Key`` / ``API-Sign`` = base64(HMAC-SHA512(b64decode(secret),
  path + SHA256(nonce + postdata))); nonce strictly increasing per key. Errors:
  ``EAPI:Invalid key`` (unknown or revoked key), ``EAPI:Invalid signature``,
  ``EAPI:Invalid nonce``. ccxt 4.5.90 maps ``EAPI:Invalid key`` to AuthenticationError and
  ``EAPI:Invalid nonce`` to InvalidNonce, but has no entry for ``EAPI:Invalid signature``
  (a wrong secret), which it raises as plain ExchangeError.
- faults: rate limit -> ``EAPI:Rate limit exceeded`` with HTTP 200; ccxt matches that string
  exactly and raises DDoSProtection (a sibling of RateLimitExceeded under NetworkError, not
  a subclass). 500 -> ExchangeNotAvailable; timeout/drop leave the order on the ledger.

ccxt 4.5.90 facts this relies on: ``clientOrderId`` is sent as ``cl_ord_id`` on AddOrder,
CancelOrder, OpenOrders and ClosedOrders; ``fetch_order(id, params={'clientOrderId': x})``
sends ``userref=x`` next to ``txid`` (so it works only with an exchange id; Kraken's userref
is an int32 and a text one is rejected with ``EGeneral:Invalid arguments:userref``).
AddOrder's answer carries only ``descr`` and ``txid``: status and fills need a lookup.

Not covered: order book, public trades, margin/leverage, stop/take-profit/trailing orders,
partial fills, AddOrderBatch/EditOrder/AmendOrder, funding and withdrawals, real rate
limiting (only armed faults), ``costmin`` (published, not enforced). ``cl_ord_id`` accepts
Kraken's three formats (36-char UUID, 32-hex UUID, free text up to 18 chars). The
duplicate-open-``cl_ord_id`` error string (``EOrder:Duplicate order``) and the malformed
``cl_ord_id`` string are not confirmed by Kraken's public docs; ccxt maps both to plain
ExchangeError.

Withdrawal permission: Kraken's Balance/BalanceEx say nothing about a key's permissions and
there is no endpoint that lists them, so ``can_withdraw`` is stored on the account but no
endpoint exposes it.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
import string
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qsl

from aiohttp import web

from tests.fakes.emulator_base import EmuAccount, EmulatorServer, EmuOrder, load_candles

DUPLICATE_CL_ORD_ID = "EOrder:Duplicate order"
INTERVALS = (1, 5, 15, 30, 60, 240, 1440, 10080, 21600)
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")


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
LOT_DECIMALS = 8
COST_DECIMALS = 5


@functools.cache
def _raw_candles(name: str) -> tuple[tuple[float, ...], ...]:
    """Unscaled candles of one CSV, read once per test session."""
    return tuple(tuple(row) for row in load_candles(name))


def fmt(value: Decimal | float | int, places: int) -> str:
    """Fixed-point string with ``places`` decimals, the way Kraken prints numbers."""
    return f"{Decimal(str(value)):.{places}f}"


def kraken_txid(prefix: str) -> str:
    """An id shaped like Kraken's ``OQCLML-BW3P3-BUCMWZ`` (orders O..., trades T...)."""
    alphabet = string.ascii_uppercase + string.digits
    body = "".join(secrets.choice(alphabet) for _ in range(16))
    return f"{prefix}{body[:5]}-{body[5:10]}-{body[10:]}"


def valid_cl_ord_id(value: str) -> bool:
    return bool(_UUID.match(value) or _HEX32.match(value)) or 0 < len(value) <= 18


def sign(secret: str, path: str, nonce: str, body: str) -> str:
    """Kraken's API-Sign for ``path`` and the raw POST ``body`` (which contains the nonce)."""
    digest = hashlib.sha256((nonce + body).encode()).digest()
    mac = hmac.new(base64.b64decode(secret), path.encode() + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


def ok(result: object) -> web.Response:
    return web.json_response({"error": [], "result": result})


def fail(message: str) -> web.Response:
    return web.json_response({"error": [message], "result": {}})


class KrakenEmulator(EmulatorServer):
    """Kraken spot emulator; see the module docstring for what it covers."""

    exchange_id = "kraken"

    def __init__(self, *, candle_scale: float = 100000.0) -> None:
        super().__init__()
        self.symbols = list(PAIRS)
        self.ledger.fee_rate = Decimal("0.0025")
        self._pinned: dict[str, Decimal] = {}
        self._userref: dict[str, int] = {}
        self._closed_ms: dict[str, int] = {}
        self._taker: set[str] = set()
        self._trade_ids: dict[str, str] = {}
        self._tasks: weakref.WeakSet[asyncio.Task] = weakref.WeakSet()
        self._by_pair_id = {p.pair_id: s for s, p in PAIRS.items()}
        self._by_pair_id.update({p.altname: s for s, p in PAIRS.items()})
        for symbol, pair in PAIRS.items():
            k = candle_scale * pair.factor
            rows = _raw_candles(pair.csv)
            self.candles[symbol] = [[r[0], *(x * k for x in r[1:5]), r[5]] for r in rows]

    # --- contract API --------------------------------------------------------------

    def add_account(
        self, balances: dict[str, Decimal] | None = None, *, can_withdraw: bool = False
    ) -> EmuAccount:
        key = base64.b64encode(os.urandom(42)).decode()  # 56 chars, like Kraken keys
        secret = base64.b64encode(os.urandom(64)).decode()  # 88 chars, base64 of 64 bytes
        start = balances if balances is not None else {"USD": Decimal("10000")}
        account = EmuAccount(api_key=key, secret=secret, balances=dict(start))
        account.can_withdraw = can_withdraw
        return self.ledger.add_account(account)

    def credentials(self, account: EmuAccount) -> dict[str, str]:
        return {"apiKey": account.api_key, "secret": account.secret}

    def set_price(self, symbol: str, price: Decimal) -> None:
        self._pinned[symbol] = Decimal(price)
        self.ledger.set_price(symbol, Decimal(price), self.split_symbol, self.clock_ms())

    def revoke(self, account: EmuAccount) -> None:
        account.revoked = True

    def orders_for_client_id(self, account: EmuAccount, client_id: str) -> list[EmuOrder]:
        return [
            o
            for o in self.ledger.orders
            if o.account == account.api_key and o.client_id == client_id
        ]

    @staticmethod
    def split_symbol(symbol: str) -> tuple[str, str]:
        base, quote = symbol.split("/")
        return base, quote

    def current_price(self, symbol: str) -> Decimal | None:
        """The pinned price, else the newest candle close, rounded to the pair's decimals."""
        px = self._pinned.get(symbol)
        if px is None:
            px = self.last_price(symbol)
        if px is None:
            return None
        return px.quantize(Decimal(1).scaleb(-PAIRS[symbol].pair_decimals))

    # --- faults --------------------------------------------------------------------

    def rate_limit_response(self) -> web.Response:
        return fail("EAPI:Rate limit exceeded")

    def auth_error_response(self) -> web.Response:
        return fail("EAPI:Invalid key")

    def stale_nonce_response(self) -> web.Response:
        return fail("EAPI:Invalid nonce")

    # --- routing -------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        public = {
            "Time": self._time,
            "SystemStatus": self._system_status,
            "Assets": self._assets,
            "AssetPairs": self._asset_pairs,
            "Ticker": self._ticker,
            "OHLC": self._ohlc,
        }
        routes = [web.route("*", f"/0/public/{name}", h) for name, h in public.items()]
        routes.append(web.post("/0/private/{method}", self._private))
        return routes

    def _symbol_of(self, pair: str) -> str:
        symbol = self._by_pair_id.get(pair)
        if symbol is None:
            raise KrakenError("EQuery:Unknown asset pair")
        return symbol

    def _pairs_param(self, raw: str | None) -> list[str]:
        if not raw:
            return list(PAIRS)
        return [self._symbol_of(p.strip()) for p in raw.split(",") if p.strip()]

    # --- public --------------------------------------------------------------------

    async def _time(self, request: web.Request) -> web.Response:
        now = datetime.fromtimestamp(self.clock_ms() / 1000, UTC)
        rfc = now.strftime("%a, %d %b %y %H:%M:%S +0000")
        return ok({"unixtime": int(now.timestamp()), "rfc1123": rfc})

    async def _system_status(self, request: web.Request) -> web.Response:
        now = datetime.fromtimestamp(self.clock_ms() / 1000, UTC)
        return ok({"status": "online", "timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ")})

    async def _assets(self, request: web.Request) -> web.Response:
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

    async def _asset_pairs(self, request: web.Request) -> web.Response:
        try:
            symbols = self._pairs_param(request.query.get("pair"))
        except KrakenError as exc:
            return fail(str(exc))
        pct = float(self.ledger.fee_rate * 100)
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

    async def _ticker(self, request: web.Request) -> web.Response:
        try:
            symbols = self._pairs_param(request.query.get("pair"))
        except KrakenError as exc:
            return fail(str(exc))
        return ok({PAIRS[s].pair_id: self._ticker_of(s) for s in symbols})

    def _ticker_of(self, symbol: str) -> dict:
        d = PAIRS[symbol].pair_decimals
        day = self.ohlcv(symbol, None, 288)
        last = self.current_price(symbol) or Decimal(0)
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

    async def _ohlc(self, request: web.Request) -> web.Response:
        try:
            symbol = self._symbol_of(request.query.get("pair", ""))
            interval = int(request.query.get("interval", "1"))
            since = int(request.query["since"]) if "since" in request.query else None
        except KrakenError as exc:
            return fail(str(exc))
        except ValueError:
            return fail("EGeneral:Invalid arguments")
        if interval not in INTERVALS:
            return fail("EGeneral:Invalid arguments")
        rows = self._aggregate(self.ohlcv(symbol, None, None), max(interval, 5) * 60_000)[-720:]
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

    @staticmethod
    def _aggregate(rows: list[list[float]], width_ms: int) -> list[list]:
        """5m rows grouped into ``width_ms`` buckets: [ts, o, h, l, c, volume, count]."""
        out: list[list] = []
        for ts, o, h, low, c, v in rows:
            start = int(ts) - int(ts) % width_ms
            if out and out[-1][0] == start:
                cur = out[-1]
                cur[2], cur[3], cur[4] = max(cur[2], h), min(cur[3], low), c
                cur[5] += v
                cur[6] += 1
            else:
                out.append([start, o, h, low, c, v, 1])
        return out

    # --- private: auth and dispatch ------------------------------------------------

    async def stop(self) -> None:
        """Cancel requests still parked by a ``timeout_after_accept`` fault, then stop;
        otherwise aiohttp waits its 60 s shutdown timeout for them."""
        for task in list(self._tasks):
            if not task.done():
                task.cancel()
        await super().stop()

    async def _private(self, request: web.Request) -> web.Response:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        body = await request.text()
        try:
            if request.content_type == "application/json":
                params = {k: str(v) for k, v in json.loads(body or "{}").items()}
            else:
                params = dict(parse_qsl(body, keep_blank_values=True))
        except ValueError:
            return fail("EGeneral:Invalid arguments")
        account = self.ledger.accounts.get(request.headers.get("API-Key", ""))
        if account is None or account.revoked:
            return fail("EAPI:Invalid key")
        nonce = params.get("nonce", "")
        try:
            expected = sign(account.secret, request.path, nonce, body)
        except (ValueError, TypeError):
            return fail("EAPI:Invalid signature")
        if not hmac.compare_digest(expected, request.headers.get("API-Sign", "")):
            return fail("EAPI:Invalid signature")
        if not nonce.isdigit() or int(nonce) <= account.last_nonce:
            return fail("EAPI:Invalid nonce")
        account.last_nonce = int(nonce)
        handler = {
            "Balance": self._balance,
            "BalanceEx": self._balance_ex,
            "AddOrder": self._add_order,
            "QueryOrders": self._query_orders,
            "OpenOrders": self._open_orders,
            "ClosedOrders": self._closed_orders,
            "CancelOrder": self._cancel_order,
            "TradesHistory": self._trades_history,
            "QueryTrades": self._query_trades,
        }.get(request.match_info["method"])
        if handler is None:
            return fail("EGeneral:Unknown method")
        now = self.clock_ms()
        self._sync_prices(now)
        try:
            return ok(handler(account, params, now))
        except KrakenError as exc:
            return fail(str(exc))

    def _sync_prices(self, now: int) -> None:
        """Replay: move ledger prices to the candle at the clock, filling crossed limits."""
        for symbol in self.symbols:
            px = self.current_price(symbol)
            if px is not None and self.ledger.prices.get(symbol) != px:
                self.ledger.set_price(symbol, px, self.split_symbol, now)

    # --- private: balances ----------------------------------------------------------

    def _holds(self, api_key: str) -> dict[str, Decimal]:
        """Funds reserved by open orders (Kraken's ``hold_trade``), per unified code."""
        holds: dict[str, Decimal] = {}
        for o in self.ledger.orders:
            if o.account != api_key or o.status != "open":
                continue
            base, quote = self.split_symbol(o.symbol)
            left = o.amount - o.filled
            if o.side == "buy":
                assert o.price is not None
                need = left * o.price * (1 + self.ledger.fee_rate)
                holds[quote] = holds.get(quote, Decimal(0)) + need
            else:
                holds[base] = holds.get(base, Decimal(0)) + left
        return holds

    @staticmethod
    def _asset(code: str) -> tuple[str, int]:
        asset_id, decimals, _ = ASSETS.get(code, (code, 8, 8))
        return asset_id, decimals

    def _balance(self, account: EmuAccount, params: dict, now: int) -> dict:
        out = {}
        for code, amount in account.balances.items():
            asset_id, decimals = self._asset(code)
            out[asset_id] = fmt(amount, decimals)
        return out

    def _balance_ex(self, account: EmuAccount, params: dict, now: int) -> dict:
        holds = self._holds(account.api_key)
        out = {}
        for code, amount in account.balances.items():
            asset_id, decimals = self._asset(code)
            hold = holds.get(code, Decimal(0))
            out[asset_id] = {"balance": fmt(amount, decimals), "hold_trade": fmt(hold, decimals)}
        return out

    # --- private: orders ------------------------------------------------------------

    @staticmethod
    def _dec(raw: str | None, error: str) -> Decimal:
        try:
            value = Decimal(raw or "")
        except InvalidOperation:
            raise KrakenError(error) from None
        if not value.is_finite() or value <= 0:
            raise KrakenError(error)
        return value

    @staticmethod
    def _userref_param(raw: str | None) -> int | None:
        if raw is None or raw == "":
            return None
        try:
            value = int(raw)
        except ValueError:
            raise KrakenError("EGeneral:Invalid arguments:userref") from None
        if not -(2**31) <= value < 2**31:
            raise KrakenError("EGeneral:Invalid arguments:userref")
        return value

    @staticmethod
    def _descr_text(side: str, volume: Decimal, pair: Pair, otype: str, price: Decimal | None):
        where = "market" if price is None else f"limit {fmt(price, pair.pair_decimals)}"
        return f"{side} {fmt(volume, LOT_DECIMALS)} {pair.altname} @ {where}"

    def _add_order(self, account: EmuAccount, params: dict, now: int) -> dict:
        symbol = self._symbol_of(params.get("pair", ""))
        pair = PAIRS[symbol]
        side, otype = params.get("type"), params.get("ordertype")
        if side not in ("buy", "sell"):
            raise KrakenError("EGeneral:Invalid arguments:type")
        if otype not in ("market", "limit"):
            raise KrakenError("EGeneral:Invalid arguments:ordertype")
        volume = self._dec(params.get("volume"), "EGeneral:Invalid arguments:volume")
        price = None
        if otype == "limit":
            price = self._dec(params.get("price"), "EGeneral:Invalid arguments:price")
            if -price.as_tuple().exponent > pair.pair_decimals:
                raise KrakenError(
                    f"EOrder:Invalid price:{pair.altname} price can only be specified up to "
                    f"{pair.pair_decimals} decimals."
                )
        market_px = self.current_price(symbol)
        if otype == "market" and market_px is None:
            raise KrakenError("EService:Unavailable")
        if otype == "market" and "viqc" in params.get("oflags", "").split(","):
            assert market_px is not None
            volume = (volume / market_px).quantize(Decimal(1).scaleb(-LOT_DECIMALS))
        elif -volume.as_tuple().exponent > LOT_DECIMALS:
            raise KrakenError("EGeneral:Invalid arguments:volume")
        if volume < Decimal(pair.ordermin):
            raise KrakenError("EOrder:Order minimum not met")
        cl_ord_id = params.get("cl_ord_id")
        userref = self._userref_param(params.get("userref"))
        if cl_ord_id is not None and (userref is not None or not valid_cl_ord_id(cl_ord_id)):
            raise KrakenError("EGeneral:Invalid arguments:cl_ord_id")
        if cl_ord_id and self.ledger.find_open_by_client_id(account.api_key, cl_ord_id):
            raise KrakenError(DUPLICATE_CL_ORD_ID)
        base, quote = self.split_symbol(symbol)
        holds = self._holds(account.api_key)
        if side == "buy":
            px = price if price is not None else market_px
            assert px is not None
            need, code = volume * px * (1 + self.ledger.fee_rate), quote
        else:
            need, code = volume, base
        if need > account.balances.get(code, Decimal(0)) - holds.get(code, Decimal(0)):
            raise KrakenError("EOrder:Insufficient funds")
        descr = {"order": self._descr_text(side, volume, pair, otype, price)}
        if params.get("validate", "").lower() == "true":
            return {"descr": descr}
        order = EmuOrder(
            order_id=kraken_txid("O"),
            client_id=cl_ord_id,
            account=account.api_key,
            symbol=symbol,
            side=side,
            type=otype,
            amount=volume,
            price=price,
        )
        self.ledger.place(order, base, quote, now)
        if order.status == "closed":
            self._taker.add(order.order_id)
        if userref is not None:
            self._userref[order.order_id] = userref
        return {"descr": descr, "txid": [order.order_id]}

    def _fills_of(self, order_id: str) -> list:
        return [f for f in self.ledger.fills if f.order_id == order_id]

    def _order_info(self, o: EmuOrder, with_trades: bool) -> dict:
        pair = PAIRS[o.symbol]
        d = pair.pair_decimals
        avg = o.avg_price or Decimal(0)
        info: dict = {
            "refid": None,
            "userref": self._userref.get(o.order_id),
            "status": o.status,
            "opentm": o.created_ms / 1000,
            "starttm": 0,
            "expiretm": 0,
            "descr": {
                "pair": pair.altname,
                "type": o.side,
                "ordertype": o.type,
                "price": fmt(o.price, d) if o.price is not None else "0",
                "price2": "0",
                "leverage": "none",
                "order": self._descr_text(o.side, o.amount, pair, o.type, o.price),
                "close": "",
            },
            "vol": fmt(o.amount, LOT_DECIMALS),
            "vol_exec": fmt(o.filled, LOT_DECIMALS),
            "cost": fmt(o.filled * avg, COST_DECIMALS),
            "fee": fmt(o.fee, COST_DECIMALS),
            "price": fmt(avg, d),
            "stopprice": "0.00000",
            "limitprice": "0.00000",
            "misc": "",
            "oflags": "fciq",
        }
        if o.client_id is not None:
            info["cl_ord_id"] = o.client_id
        fills = self._fills_of(o.order_id)
        if o.status != "open":
            info["reason"] = "User requested" if o.status == "canceled" else None
            closed = self._closed_ms.get(o.order_id, fills[-1].ts_ms if fills else o.created_ms)
            info["closetm"] = closed / 1000
        if with_trades and fills:
            info["trades"] = [self._trade_ids_of(f)[0] for f in fills]
        return info

    def _select(self, account: EmuAccount, params: dict, now: int, is_open: bool) -> list:
        userref = self._userref_param(params.get("userref"))
        cl_ord_id = params.get("cl_ord_id")
        out = []
        for o in reversed(self.ledger.orders_of(account.api_key, now)):
            if (o.status == "open") != is_open:
                continue
            if userref is not None and self._userref.get(o.order_id) != userref:
                continue
            if cl_ord_id is not None and o.client_id != cl_ord_id:
                continue
            out.append(o)
        return out

    def _open_orders(self, account: EmuAccount, params: dict, now: int) -> dict:
        trades = params.get("trades", "").lower() == "true"
        orders = self._select(account, params, now, is_open=True)
        return {"open": {o.order_id: self._order_info(o, trades) for o in orders}}

    def _closed_orders(self, account: EmuAccount, params: dict, now: int) -> dict:
        trades = params.get("trades", "").lower() == "true"
        orders = self._select(account, params, now, is_open=False)
        orders = self._time_window(orders, params, lambda o: o.created_ms)
        page = orders[int(params.get("ofs") or 0) :][:50]
        closed = {o.order_id: self._order_info(o, trades) for o in page}
        return {"closed": closed, "count": len(orders)}

    @staticmethod
    def _time_window(items: list, params: dict, ts_of) -> list:
        start, end = params.get("start"), params.get("end")
        try:
            if start:
                items = [i for i in items if ts_of(i) / 1000 > float(start)]
            if end:
                items = [i for i in items if ts_of(i) / 1000 <= float(end)]
        except ValueError:
            raise KrakenError("EGeneral:Invalid arguments") from None
        return items

    def _query_orders(self, account: EmuAccount, params: dict, now: int) -> dict:
        userref = self._userref_param(params.get("userref"))
        txids = [t for t in params.get("txid", "").split(",") if t]
        if not txids:
            raise KrakenError("EGeneral:Invalid arguments")
        trades = params.get("trades", "").lower() == "true"
        result = {}
        for txid in txids:
            o = self.ledger.find(account.api_key, txid, now)
            if o is None:
                raise KrakenError("EOrder:Invalid order")
            if userref is None or self._userref.get(txid) == userref:
                result[txid] = self._order_info(o, trades)
        return result

    def _cancel_order(self, account: EmuAccount, params: dict, now: int) -> dict:
        cl_ord_id, txid = params.get("cl_ord_id"), params.get("txid")
        open_orders = [
            o for o in self.ledger.orders if o.account == account.api_key and o.status == "open"
        ]
        if cl_ord_id:
            targets = [o for o in open_orders if o.client_id == cl_ord_id]
        elif txid and txid.lstrip("-").isdigit():
            targets = [o for o in open_orders if self._userref.get(o.order_id) == int(txid)]
        elif txid:
            targets = [o for o in open_orders if o.order_id == txid]
        else:
            raise KrakenError("EGeneral:Invalid arguments")
        if not targets:
            raise KrakenError("EOrder:Unknown order")
        for o in targets:
            o.status = "canceled"
            self._closed_ms[o.order_id] = now
        return {"count": len(targets), "pending": False}

    # --- private: trades ------------------------------------------------------------

    def _trade_ids_of(self, fill) -> tuple[str, str]:
        """(trade txid, postxid) for a ledger fill, stable once handed out."""
        if fill.trade_id not in self._trade_ids:
            self._trade_ids[fill.trade_id] = kraken_txid("T")
            self._trade_ids[fill.trade_id + "/pos"] = kraken_txid("T")
        return self._trade_ids[fill.trade_id], self._trade_ids[fill.trade_id + "/pos"]

    def _visible_fills(self, account: EmuAccount, now: int) -> list:
        visible = {o.order_id: o for o in self.ledger.orders_of(account.api_key, now)}
        return [f for f in self.ledger.fills if f.order_id in visible]

    def _trade_info(self, fill) -> dict:
        order = next(o for o in self.ledger.orders if o.order_id == fill.order_id)
        pair = PAIRS[fill.symbol]
        return {
            "ordertxid": fill.order_id,
            "postxid": self._trade_ids_of(fill)[1],
            "pair": pair.pair_id,
            "time": fill.ts_ms / 1000,
            "type": fill.side,
            "ordertype": order.type,
            "price": fmt(fill.price, pair.pair_decimals),
            "cost": fmt(fill.amount * fill.price, COST_DECIMALS),
            "fee": fmt(fill.fee, COST_DECIMALS),
            "vol": fmt(fill.amount, LOT_DECIMALS),
            "margin": "0.00000",
            "leverage": "0",
            "misc": "",
            "trade_id": int(fill.trade_id.lstrip("T")),
            "maker": fill.order_id not in self._taker,
        }

    def _trades_history(self, account: EmuAccount, params: dict, now: int) -> dict:
        fills = list(reversed(self._visible_fills(account, now)))
        fills = self._time_window(fills, params, lambda f: f.ts_ms)
        page = fills[int(params.get("ofs") or 0) :][:50]
        trades = {self._trade_ids_of(f)[0]: self._trade_info(f) for f in page}
        return {"trades": trades, "count": len(fills)}

    def _query_trades(self, account: EmuAccount, params: dict, now: int) -> dict:
        by_id = {self._trade_ids_of(f)[0]: f for f in self._visible_fills(account, now)}
        txids = [t for t in params.get("txid", "").split(",") if t]
        if not txids or any(t not in by_id for t in txids):
            raise KrakenError("EGeneral:Invalid arguments")
        return {t: self._trade_info(by_id[t]) for t in txids}
