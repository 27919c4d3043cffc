"""Shared machinery for the exchange emulators: an aiohttp server on 127.0.0.1, a fault
plan, and a ledger of accounts, orders and fills.

Each emulator module (kraken.py, bingx.py, coinbase.py) adds only what is its own: the
routes, the JSON shapes and the signature check of its exchange. ccxt talks to them
unmodified through the base-URL override.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import time
import weakref
from dataclasses import dataclass, field
from decimal import Decimal

from aiohttp import web

from tests.fakes.emulator_candles import DATA_DIR as DATA_DIR
from tests.fakes.emulator_candles import aggregate_candles as aggregate_candles
from tests.fakes.emulator_candles import load_candles as load_candles
from tests.fakes.emulator_candles import scaled_candles as scaled_candles
from tests.fakes.emulator_triggers import stop_crossed
from tests.fakes.emulator_ws import CandleFeed
from tests.fakes.sell_audit import SellAudit
from tests.fakes.sell_audit import register as register_audit


def _open_time(row: list[float]) -> float:
    return row[0]


@dataclass
class FaultPlan:
    """Faults armed by a test. ``arm(kind, times)`` makes the next ``times`` matching
    requests misbehave. Kinds:

    - ``latency``: sleep ``latency_s`` before answering every request (not counted).
    - ``http_500``: answer 500 without doing anything.
    - ``http_429``: answer the exchange's rate-limit error without doing anything.
    - ``auth``: answer the exchange's invalid-key error.
    - ``stale_nonce``: answer the exchange's invalid-nonce error (Kraken).
    - ``timeout_after_accept``: do the work (place the order), then hang until the
      client gives up (the response never arrives).
    - ``drop_response``: do the work, then close the connection without answering.
    - ``malformed``: answer HTTP 200 with well-formed JSON of an unexpected shape (the
      exchange's ``malformed_response``) without doing anything.

    ``only_paths``: if set, faults fire only on requests whose path contains one of
    these substrings (e.g. the order-placement path).
    """

    latency_s: float = 0.0
    armed: dict[str, int] = field(default_factory=dict)
    only_paths: tuple[str, ...] = ()
    fired: list[tuple[str, str]] = field(default_factory=list)

    def arm(self, kind: str, times: int = 1, only_paths: tuple[str, ...] = ()) -> None:
        self.armed[kind] = self.armed.get(kind, 0) + times
        self.only_paths = only_paths

    def clear(self) -> None:
        self.armed.clear()
        self.only_paths = ()
        self.latency_s = 0.0

    def take(self, path: str) -> str | None:
        """The fault to apply to this request, if any (consumes one shot)."""
        if self.only_paths and not any(p in path for p in self.only_paths):
            return None
        for kind, left in list(self.armed.items()):
            if left > 0:
                self.armed[kind] = left - 1
                self.fired.append((kind, path))
                return kind
        return None


@dataclass
class EmuOrder:
    order_id: str
    client_id: str | None
    account: str  # api key
    symbol: str  # unified ccxt symbol; each emulator converts native <-> unified at its edge
    side: str  # "buy" | "sell"
    type: str  # "market" | "limit"
    amount: Decimal
    price: Decimal | None
    status: str = "open"  # open | closed | canceled
    filled: Decimal = Decimal(0)
    avg_price: Decimal | None = None
    fee: Decimal = Decimal(0)
    created_ms: int = 0
    visible_after_ms: int = 0  # hidden from lookups until then (eventual consistency)
    reduce_only: bool = False
    position_side: str | None = None
    # Stop-market: rests until the price reaches it (sell: <=, buy: >=), then fills as market.
    trigger_price: Decimal | None = None
    triggered_ms: int | None = None  # when the stop triggered (None: not yet / not a stop)
    # The price a stop watches: "last" (the traded price; Kraken ``trigger=last``, BingX
    # ``workingType=CONTRACT_PRICE``) or "mark" (BingX's default ``MARK_PRICE``).
    trigger_source: str = "last"


@dataclass
class EmuFill:
    trade_id: str
    order_id: str
    account: str
    symbol: str
    side: str
    amount: Decimal
    price: Decimal
    fee: Decimal
    ts_ms: int


@dataclass
class EmuAccount:
    api_key: str
    secret: str
    balances: dict[str, Decimal]
    can_withdraw: bool = False
    passphrase: str | None = None
    revoked: bool = False
    last_nonce: int = 0
    # The key's permissions in the exchange's own terms (Kraken: permission names, BingX:
    # permission codes, Coinbase: CDP scopes), set by each emulator's add_account.
    permissions: tuple = ()


class Ledger:
    """Accounts, orders and fills. Prices come from ``prices`` (set by tests or by the
    replayed candles). Quote/base currencies are split by the emulator's own
    ``split_symbol``. Every symbol in the ledger is the unified ccxt one."""

    def __init__(self, fee_rate: Decimal = Decimal("0.001")) -> None:
        self.accounts: dict[str, EmuAccount] = {}
        self.orders: list[EmuOrder] = []
        self.fills: list[EmuFill] = []
        self.prices: dict[str, Decimal] = {}
        self.fee_rate = fee_rate
        self.visibility_delay_ms = 0
        self._ids = itertools.count(1)
        self.audit = SellAudit()  # never sell more than our position (tests/conftest.py)
        register_audit(self)

    def next_id(self, prefix: str = "") -> str:
        return f"{prefix}{next(self._ids)}"

    def add_account(self, account: EmuAccount) -> EmuAccount:
        account.balances = self.audit.watch(account.api_key, account.balances)
        self.accounts[account.api_key] = account
        return account

    def orders_of(self, api_key: str, now_ms: int | None = None) -> list[EmuOrder]:
        return [
            o
            for o in self.orders
            if o.account == api_key and (now_ms is None or o.visible_after_ms <= now_ms)
        ]

    def find_open_by_client_id(self, api_key: str, client_id: str) -> EmuOrder | None:
        for o in self.orders:
            if o.account == api_key and o.client_id == client_id and o.status == "open":
                return o
        return None

    def find_by_client_id(self, api_key: str, client_id: str, now_ms: int) -> EmuOrder | None:
        for o in reversed(self.orders):
            if o.account == api_key and o.client_id == client_id and o.visible_after_ms <= now_ms:
                return o
        return None

    def find(self, api_key: str, order_id: str, now_ms: int) -> EmuOrder | None:
        for o in self.orders:
            if o.account == api_key and o.order_id == order_id and o.visible_after_ms <= now_ms:
                return o
        return None

    def place(self, order: EmuOrder, base: str, quote: str, now_ms: int) -> EmuOrder:
        """Record an order (caller already validated it) and fill it if marketable."""
        order.created_ms = now_ms
        order.visible_after_ms = now_ms + self.visibility_delay_ms
        self.orders.append(order)
        self.try_fill(order, base, quote, now_ms)
        return order

    def market_price(self, symbol: str) -> Decimal | None:
        """The price market orders (and triggered stops) fill at."""
        return self.prices.get(symbol)

    def trigger_reference(self, order: EmuOrder) -> tuple[Decimal | None, bool]:
        """(the price that decides whether the stop ``order`` triggers, whether that is
        the traded price itself). Here always the traded price; the BingX ledger answers
        the mark price for ``MARK_PRICE`` stops while a test holds one apart."""
        return self.market_price(order.symbol), True

    def try_fill(self, order: EmuOrder, base: str, quote: str, now_ms: int) -> None:
        """Fill ``order`` if the current price lets it: market now, limit when crossed, stop
        when its reference price already is at or beyond its trigger (then at the market
        price)."""
        if order.status != "open":
            return
        px = self.market_price(order.symbol)
        if px is None:
            return
        if order.trigger_price is not None and order.triggered_ms is None:
            ref, _ = self.trigger_reference(order)
            if ref is None or not stop_crossed(order.side, order.trigger_price, ref):
                return
            order.triggered_ms = now_ms
        if order.type == "limit":
            assert order.price is not None
            crosses = px <= order.price if order.side == "buy" else px >= order.price
            if not crosses:
                return
            px = order.price
        self.execute(order, base, quote, px, now_ms)

    def trigger(self, order: EmuOrder, px: Decimal, now_ms: int, split) -> None:
        """Trigger the open stop ``order`` and fill it as market at ``px``."""
        order.triggered_ms = now_ms
        self.execute(order, *split(order.symbol), px, now_ms)

    def execute(self, order: EmuOrder, base: str, quote: str, px: Decimal, now_ms: int) -> None:
        """Fill the rest of ``order`` at ``px``: balances, fee, status and a fill record."""
        amount = order.amount - order.filled
        cost = amount * px
        fee = cost * self.fee_rate
        bal = self.accounts[order.account].balances
        self.audit.spot_fill(order, base, amount, bal.get(base, Decimal(0)), now_ms)
        if order.side == "buy":
            bal[quote] = bal.get(quote, Decimal(0)) - cost - fee
            bal[base] = bal.get(base, Decimal(0)) + amount
        else:
            bal[base] = bal.get(base, Decimal(0)) - amount
            bal[quote] = bal.get(quote, Decimal(0)) + cost - fee
        order.filled = order.amount
        order.avg_price = px
        order.fee += fee
        order.status = "closed"
        self.fills.append(
            EmuFill(
                trade_id=self.next_id("T"),
                order_id=order.order_id,
                account=order.account,
                symbol=order.symbol,
                side=order.side,
                amount=amount,
                price=px,
                fee=fee,
                ts_ms=now_ms,
            )
        )

    def check_stop(self, o: EmuOrder, now_ms: int, split) -> None:
        """Trigger the open stop ``o`` if its reference price reached the trigger: at the
        trigger when that price is the traded one (it passed the trigger on the way),
        else (a mark-price stop) at the market price."""
        assert o.trigger_price is not None
        ref, traded = self.trigger_reference(o)
        if ref is None or not stop_crossed(o.side, o.trigger_price, ref):
            return
        px = o.trigger_price if traded else self.market_price(o.symbol)
        self.trigger(o, px if px is not None else o.trigger_price, now_ms, split)

    def holds(self, api_key: str, split) -> dict[str, Decimal]:
        """Funds open orders reserve, per currency (buys: limit or trigger cost plus fee)."""
        held: dict[str, Decimal] = {}
        for o in self.orders:
            if o.account != api_key or o.status != "open":
                continue
            base, quote = split(o.symbol)
            left = o.amount - o.filled
            if o.side == "buy":
                px = o.price or o.trigger_price or Decimal(0)
                need = left * px * (1 + self.fee_rate)
                held[quote] = held.get(quote, Decimal(0)) + need
            else:
                held[base] = held.get(base, Decimal(0)) + left
        return held

    def set_price(self, symbol: str, price: Decimal, split, now_ms: int) -> None:
        """Move a price and fill every open limit order it crosses; a stop it reaches fills
        at its trigger (the price passed it on the way)."""
        self.prices[symbol] = price
        for o in self.orders:
            if o.symbol != symbol or o.status != "open":
                continue
            if o.trigger_price is not None and o.triggered_ms is None:
                self.check_stop(o, now_ms, split)
                continue
            base, quote = split(symbol)
            self.try_fill(o, base, quote, now_ms)


class EmulatorServer:
    """aiohttp on 127.0.0.1 (random port) plus the test API the emulators share; each
    adds ``routes()``, ``add_account()`` and its exchange's fault payloads."""

    def __init__(self) -> None:
        self.faults = FaultPlan()
        self.ledger = Ledger()
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self.request_times: list[float] = []  # time.perf_counter() of each, on arrival
        # Candles per *unified* symbol ("BTC/USD", "BTC/USDT:USDT"), rows as load_candles.
        self.candles: dict[str, list[list[float]]] = {}
        # The emulator's notion of now (UTC ms); tests replaying history replace it.
        self.clock_ms = lambda: int(time.time() * 1000)
        # Prices pinned by ``set_price``; ``price()`` falls back to the candles.
        self.test_prices: dict[str, Decimal] = {}
        self._runner: web.AppRunner | None = None
        self._tasks: weakref.WeakSet[asyncio.Task] = weakref.WeakSet()
        self.port = 0
        # The venue's WebSocket candle feed (emulator_ws.py), where it has one.
        self.ws: CandleFeed | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    async def start(self) -> str:
        app = web.Application(middlewares=[self._middleware])
        app.add_routes(self.routes())
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # aiohttp exposes no getter
        return self.base_url

    async def stop(self) -> None:
        """Cancel requests still in flight (hung by a fault), then stop the server."""
        if self.ws is not None:
            await self.ws.stop()
        for task in list(self._tasks):
            if not task.done():
                task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> EmulatorServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def ohlcv(self, symbol: str, since: int | None, limit: int | None) -> list[list[float]]:
        """Closed-or-current candles of ``symbol`` up to the emulator's clock."""
        now = self.clock_ms()
        every = self.candles.get(symbol, [])  # in time order: found by bisection
        end = bisect.bisect_right(every, now, key=_open_time)
        start = 0 if since is None else bisect.bisect_left(every, since, 0, end, key=_open_time)
        rows = every[start:end]
        if limit is not None:
            rows = rows[-limit:] if since is None else rows[:limit]
        return rows

    def last_price(self, symbol: str) -> Decimal | None:
        """Close of the newest candle up to the clock."""
        rows = self.ohlcv(symbol, None, 1)
        return Decimal(str(rows[-1][4])) if rows else None

    def price(self, symbol: str) -> Decimal | None:
        """Price set by a test, else the close of the newest candle up to the clock."""
        px = self.test_prices.get(symbol)
        return px if px is not None else self.last_price(symbol)

    # --- test-facing API shared by the emulators ---------------------------------

    @staticmethod
    def split_symbol(symbol: str) -> tuple[str, str]:
        """(base, quote) of a unified symbol (``BTC/USD``, ``BTC/USDT:USDT``)."""
        base, rest = symbol.split("/")
        return base, rest.split(":")[0]

    def set_price(self, symbol: str, price: Decimal) -> None:
        """Pin ``symbol``'s price and fill every open limit order it crosses."""
        self.test_prices[symbol] = Decimal(price)
        self.ledger.set_price(symbol, Decimal(price), self.split_symbol, self.clock_ms())

    def credentials(self, account: EmuAccount) -> dict[str, str]:
        """The ccxt credential fields of ``account``."""
        return {"apiKey": account.api_key, "secret": account.secret}

    def revoke(self, account: EmuAccount) -> None:
        account.revoked = True

    def orders_for_client_id(self, account: EmuAccount, client_id: str) -> list[EmuOrder]:
        """Every order ``account`` placed with ``client_id``, visible or not."""
        key = account.api_key
        return [o for o in self.ledger.orders if o.account == key and o.client_id == client_id]

    # --- faults ------------------------------------------------------------------

    def rate_limit_response(self) -> web.Response:
        return web.json_response({"error": "rate limit"}, status=429)

    def auth_error_response(self) -> web.Response:
        return web.json_response({"error": "invalid key"}, status=401)

    def stale_nonce_response(self) -> web.Response:
        return web.json_response({"error": "invalid nonce"}, status=400)

    def malformed_response(self) -> web.Response:
        return web.json_response({"unexpected": "shape"})

    @web.middleware
    async def _middleware(self, request: web.Request, handler):
        self.requests.append((request.method, request.path))
        self.request_times.append(time.perf_counter())
        if (task := asyncio.current_task()) is not None:
            self._tasks.add(task)  # so that stop() can cancel it
        if self.faults.latency_s:
            await asyncio.sleep(self.faults.latency_s)
        fault = self.faults.take(request.path)
        if fault == "http_500":
            return web.Response(status=500, text="Internal Server Error")
        if fault == "http_429":
            return self.rate_limit_response()
        if fault == "auth":
            return self.auth_error_response()
        if fault == "stale_nonce":
            return self.stale_nonce_response()
        if fault == "malformed":
            return self.malformed_response()
        response = await handler(request)
        if fault == "timeout_after_accept":
            await asyncio.sleep(3600)
        if fault == "drop_response":
            transport = request.transport
            if transport is not None:
                transport.close()
            raise asyncio.CancelledError
        return response
