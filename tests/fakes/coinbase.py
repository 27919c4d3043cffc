"""Coinbase Advanced Trade emulator (ccxt id ``coinbase``) for tests.

Covers what ccxt 4.5 calls for spot trading, on the real paths and in the real shapes:

- load_markets: ``GET /api/v3/brokerage/market/products`` (spot, and ``product_type=FUTURE``
  answered with no products), ``/v2/currencies``, ``/v2/currencies/crypto``,
  ``/v2/exchange-rates`` and, when keys are set, the signed
  ``/api/v3/brokerage/transaction_summary`` (fee tier); the private ``/products`` twins too.
- balance: ``GET /v2/accounts`` (ccxt's default) and ``GET /api/v3/brokerage/accounts``
  (``params={'v3': True}``) with ``cursor``/``has_next`` paging (``accounts_page_size``);
  v3 reports ``hold`` for open orders, v2 only totals.
- orders: ``POST /orders`` (``market_market_ioc`` base_size/quote_size, ``limit_limit_gtc``),
  ``GET /orders/historical/{order_id}`` (also honours the deprecated ``client_order_id``
  query parameter), ``GET /orders/historical/batch`` (``order_status``, ``product_id``,
  ``order_ids``, cursor), ``POST /orders/batch_cancel``, ``GET /orders/historical/fills``.
- market data: ``/market/products/{id}/candles`` (5m data, aggregated for coarser
  granularities), ``/market/products/{id}/ticker``, ``/best_bid_ask``, ``/time``.
- ``GET /api/v3/brokerage/key_permissions`` (ccxt: ``v3PrivateGetBrokerageKeyPermissions``).

Auth is CDP keys: ``organizations/{org}/apiKeys/{key}`` + an EC P-256 PEM secret. Every
signed request needs ``Authorization: Bearer <ES256 JWT>`` whose ``kid``/``sub`` is the key
name, ``iss`` cdp|coinbase-cloud, live ``nbf``/``exp`` (at most 120 s apart) and ``uri``
``"<METHOD> <host><path>"``; method and path must match the request, the host is not
checked (ccxt puts the overridden base URL there). Failures answer the real 401
``Unauthorized`` text. Real-API behaviours kept: a repeated ``client_order_id`` creates
nothing and returns the earlier order (Coinbase documents this, whatever the earlier
order's state); insufficient funds is HTTP 200 ``success: false`` with
``error_response.preview_failure_reason = PREVIEW_INSUFFICIENT_FUND``.

Faults: ``http_429`` answers 429 ``{"error": "rate_limit_exceeded", ...}`` (ccxt
RateLimitExceeded); ``auth`` and ``stale_nonce`` answer 401 ``Unauthorized`` (Coinbase has
no nonce; an expired JWT is a plain 401, so ccxt raises AuthenticationError for both).
Fees: one rate for taker and maker (``ledger.fee_rate`` = 0.6 %), charged in USD; a
``quote_size`` market buy spends the quote size including the fee, like Coinbase.

Not covered: stop/bracket/GTD/FOK/IOC-limit orders, partial fills, edit orders, futures,
portfolios, transfers/withdrawals, v2 legacy HMAC keys, Ed25519 CDP keys, order books.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import uuid
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.fakes.emulator_base import EmuAccount, EmulatorServer, EmuOrder, load_candles

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
NO_PREVIEW = "UNKNOWN_PREVIEW_FAILURE_REASON"
STATUS_OUT = {"open": "OPEN", "closed": "FILLED", "canceled": "CANCELLED"}


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


@functools.cache
def raw_candles(name: str) -> tuple[tuple[float, ...], ...]:
    """Unscaled rows of a CSV, read once per test session."""
    return tuple(tuple(r) for r in load_candles(name))


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


@dataclass
class CbAccountMeta:
    """Coinbase-side ids of one emulated key's user."""

    user_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    portfolio_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    wallets: dict[str, str] = field(default_factory=dict)  # currency -> account uuid

    def wallet(self, currency: str) -> str:
        return self.wallets.setdefault(currency, str(uuid.uuid4()))


class CoinbaseEmulator(EmulatorServer):
    """Coinbase Advanced Trade on 127.0.0.1; see the module docstring."""

    exchange_id = "coinbase"

    def __init__(self, *, candle_scale: float = 100000.0) -> None:
        super().__init__()
        self.symbols: list[str] = list(PRODUCTS)
        self.ledger.fee_rate = Decimal("0.006")
        self.accounts_page_size = 250
        self._public_keys: dict[str, ec.EllipticCurvePublicKey] = {}
        self._meta: dict[str, CbAccountMeta] = {}
        self._configs: dict[str, dict[str, Any]] = {}  # order_id -> order_configuration
        self._tasks: weakref.WeakSet[asyncio.Task] = weakref.WeakSet()
        for symbol, spec in PRODUCTS.items():
            digits = -Decimal(spec.quote_increment).as_tuple().exponent
            scale = candle_scale * spec.mult
            self.candles[symbol] = [
                [r[0], *(round(v * scale, digits) for v in r[1:5]), r[5]]
                for r in raw_candles(spec.csv)
            ]

    # --- contract -------------------------------------------------------------------

    def split_symbol(self, symbol: str) -> tuple[str, str]:
        base, quote = symbol.split("/")
        return base, quote

    def add_account(
        self, balances: dict[str, Decimal] | None = None, *, can_withdraw: bool = False
    ) -> EmuAccount:
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode()
        name = f"organizations/{uuid.uuid4()}/apiKeys/{uuid.uuid4()}"
        self._public_keys[name] = key.public_key()
        self._meta[name] = CbAccountMeta()
        start = {"USD": Decimal(10000)} if balances is None else dict(balances)
        return self.ledger.add_account(
            EmuAccount(api_key=name, secret=pem, balances=start, can_withdraw=can_withdraw)
        )

    def credentials(self, account: EmuAccount) -> dict[str, str]:
        return {"apiKey": account.api_key, "secret": account.secret}

    def set_price(self, symbol: str, price: Decimal) -> None:
        self.ledger.set_price(symbol, price, self.split_symbol, self.clock_ms())

    def revoke(self, account: EmuAccount) -> None:
        account.revoked = True

    def orders_for_client_id(self, account: EmuAccount, client_id: str) -> list[EmuOrder]:
        return [
            o
            for o in self.ledger.orders
            if o.account == account.api_key and o.client_id == client_id
        ]

    def price(self, symbol: str) -> Decimal | None:
        """Price set by a test, else the newest candle close up to the clock."""
        return self.ledger.prices.get(symbol) or self.last_price(symbol)

    async def stop(self) -> None:
        """Cancel requests still hanging (``timeout_after_accept``) so that aiohttp's
        shutdown does not wait out its 60 s grace period, then stop."""
        for task in list(self._tasks):
            if not task.done():
                task.cancel()
        await super().stop()

    # --- faults -----------------------------------------------------------------------

    def rate_limit_response(self) -> web.Response:
        return error_body("rate_limit_exceeded", "Too many requests", 429)

    def auth_error_response(self) -> web.Response:
        return web.Response(status=401, text="Unauthorized\n")

    def stale_nonce_response(self) -> web.Response:
        # No nonces on Coinbase: a JWT outside nbf/exp is just 401 Unauthorized.
        return self.auth_error_response()

    # --- auth -------------------------------------------------------------------------

    def authenticate(self, request: web.Request) -> EmuAccount | None:
        """The account whose valid JWT signs this request, else None."""
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        token = header[len("Bearer ") :]
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            account = self.ledger.accounts.get(kid)
            if account is None or account.revoked:
                return None
            claims = jwt.decode(
                token,
                self._public_keys[kid],
                algorithms=["ES256"],
                options={"verify_aud": False, "require": ["exp", "nbf", "sub", "iss"]},
            )
        except (jwt.PyJWTError, KeyError, ValueError):
            return None
        if claims["sub"] != kid or claims["iss"] not in ("cdp", "coinbase-cloud"):
            return None
        if int(claims["exp"]) - int(claims["nbf"]) > 120:
            return None
        uri = claims.get("uri") or (claims.get("uris") or [""])[0]
        method, _, target = str(uri).partition(" ")
        target = target.split("://", 1)[-1].split("?", 1)[0]
        path = "/" + target.split("/", 1)[1] if "/" in target else ""
        if method != request.method or path != request.path:
            return None
        return account

    def private(self, fn):
        async def handler(request: web.Request) -> web.StreamResponse:
            task = asyncio.current_task()
            if task is not None:
                self._tasks.add(task)
            account = self.authenticate(request)
            if account is None:
                return self.auth_error_response()
            self.sweep()
            return await fn(request, account)

        return handler

    # --- ledger helpers ---------------------------------------------------------------

    def sweep(self) -> None:
        """Fill resting limit orders that the candle price (as of the clock) crossed."""
        now = self.clock_ms()
        for order in self.ledger.orders:
            if order.status == "open" and order.symbol not in self.ledger.prices:
                self.with_price(
                    order.symbol,
                    lambda o=order: self.ledger.try_fill(o, *self.split_symbol(o.symbol), now),
                )

    def with_price(self, symbol: str, action) -> None:
        """Run ``action`` with the candle price in the ledger if no test price is set."""
        if symbol in self.ledger.prices:
            action()
            return
        px = self.last_price(symbol)
        if px is None:
            return
        self.ledger.prices[symbol] = px
        try:
            action()
        finally:
            del self.ledger.prices[symbol]

    def holds(self, api_key: str) -> dict[str, Decimal]:
        held: dict[str, Decimal] = {}
        for o in self.ledger.orders:
            if o.account != api_key or o.status != "open":
                continue
            base, quote = self.split_symbol(o.symbol)
            left = o.amount - o.filled
            if o.side == "buy":
                amt = left * (o.price or Decimal(0)) * (1 + self.ledger.fee_rate)
                held[quote] = held.get(quote, Decimal(0)) + amt
            else:
                held[base] = held.get(base, Decimal(0)) + left
        return held

    def currencies_of(self, account: EmuAccount) -> list[str]:
        codes = {"USD"} | {p.split("/")[0] for p in PRODUCTS} | set(account.balances)
        return sorted(codes)

    def order_json(self, o: EmuOrder) -> dict[str, Any]:
        base, quote = self.split_symbol(o.symbol)
        config = self._configs.get(o.order_id, {})
        in_quote = "quote_size" in config.get("market_market_ioc", {})
        value = o.filled * (o.avg_price or Decimal(0))
        after_fees = value + o.fee if o.side == "buy" else value - o.fee
        hold = self.holds(o.account) if o.status == "open" else {}
        return {
            "order_id": o.order_id,
            "product_id": native(o.symbol),
            "user_id": self._meta[o.account].user_id,
            "order_configuration": config,
            "side": o.side.upper(),
            "client_order_id": o.client_id or "",
            "status": STATUS_OUT[o.status],
            "time_in_force": "IMMEDIATE_OR_CANCEL"
            if o.type == "market"
            else "GOOD_UNTIL_CANCELLED",
            "created_time": iso(o.created_ms),
            "completion_percentage": s(o.filled / o.amount * 100) if o.amount else "0",
            "filled_size": s(o.filled),
            "average_filled_price": s(o.avg_price or 0),
            "fee": "",
            "number_of_fills": str(sum(1 for f in self.ledger.fills if f.order_id == o.order_id)),
            "filled_value": s(value),
            "pending_cancel": False,
            "size_in_quote": in_quote,
            "total_fees": s(o.fee),
            "size_inclusive_of_fees": in_quote,
            "total_value_after_fees": s(after_fees),
            "trigger_status": "INVALID_ORDER_TYPE",
            "order_type": o.type.upper(),
            "reject_reason": "REJECT_REASON_UNSPECIFIED",
            "settled": o.status != "open",
            "product_type": "SPOT",
            "reject_message": "",
            "cancel_message": "User requested cancel" if o.status == "canceled" else "",
            "order_placement_source": "RETAIL_ADVANCED",
            "outstanding_hold_amount": s(hold.get(quote if o.side == "buy" else base, 0)),
            "is_liquidation": False,
            "last_fill_time": iso(o.created_ms) if o.filled else None,
            "edit_history": [],
            "leverage": "",
            "margin_type": "UNKNOWN_MARGIN_TYPE",
            "retail_portfolio_id": self._meta[o.account].portfolio_uuid,
        }

    # --- routes -----------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        return CoinbaseRoutes(self).routes()


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
    buckets: dict[int, list[float]] = {}
    for ts, o, h, low, c, v in emu.ohlcv(symbol, None, None):
        key = ts // (step * 1000) * step * 1000
        b = buckets.get(key)
        if b is None:
            buckets[key] = [o, h, low, c, v]
        else:
            b[1], b[2], b[3], b[4] = max(b[1], h), min(b[2], low), c, b[4] + v
    rows = sorted(buckets.items())
    picked = [r for r in rows if start_s * 1000 <= r[0] < end_s * 1000]
    if not picked and rows and start_s * 1000 > rows[-1][0]:
        # A "latest candles" request: ccxt derives the window from the wall clock, so
        # anchor it at the newest candle up to the emulator's clock (replayed history).
        picked = rows[-max(1, math.ceil((end_s - start_s) / step)) :]
    return [
        {
            "start": str(ts // 1000),
            "low": s(b[2]),
            "high": s(b[1]),
            "open": s(b[0]),
            "close": s(b[3]),
            "volume": s(b[4]),
        }
        for ts, b in reversed(picked)
    ]


def quantize_down(value: Decimal, step: str) -> Decimal:
    q = Decimal(step)
    return (value / q).to_integral_value(rounding=ROUND_DOWN) * q


def body_json(raw: str) -> dict[str, Any]:
    data = json.loads(raw or "{}")
    if not isinstance(data, dict):
        raise ValueError("body is not an object")
    return data


def dec(value: Any) -> Decimal:
    """A request number as Decimal; ValueError when it is not one."""
    try:
        d = Decimal(str(value))
    except ArithmeticError as exc:
        raise ValueError(f"not a number: {value!r}") from exc
    if not d.is_finite():
        raise ValueError(f"not a number: {value!r}")
    return d


def on_step(value: Decimal, step: str) -> bool:
    return value % Decimal(step) == 0


def order_failure(error: str, message: str, preview: str, config: Any) -> web.Response:
    """Coinbase's rejected-order answer: HTTP 200, ``success: false``."""
    return web.json_response(
        {
            "success": False,
            "failure_reason": "UNKNOWN_FAILURE_REASON",
            "order_id": "",
            "error_response": {
                "error": error,
                "message": message,
                "error_details": "",
                "preview_failure_reason": preview,
                "new_order_failure_reason": error,
            },
            "order_configuration": config,
        }
    )


class CoinbaseRoutes:
    """HTTP handlers: v2 track API, v3 public market data and v3 private brokerage."""

    def __init__(self, emu: CoinbaseEmulator) -> None:
        self.emu = emu

    def routes(self) -> list[web.RouteDef]:
        p = self.emu.private

        def anon(fn):  # a public handler also served on its signed twin path
            async def handler(request: web.Request, _account: EmuAccount) -> web.Response:
                return await fn(request)

            return p(handler)

        return [
            web.get("/v2/time", self.v2_time),
            web.get("/v2/currencies", self.v2_currencies),
            web.get("/v2/currencies/crypto", self.v2_crypto),
            web.get("/v2/exchange-rates", self.v2_rates),
            web.get("/v2/accounts", p(self.v2_accounts)),
            web.get(f"{V3}/time", self.v3_time),
            web.get(f"{V3}/market/products", self.products),
            web.get(f"{V3}/market/products/{{product_id}}", self.product),
            web.get(f"{V3}/market/products/{{product_id}}/candles", self.candles),
            web.get(f"{V3}/market/products/{{product_id}}/ticker", self.ticker),
            web.get(f"{V3}/products", anon(self.products)),
            web.get(f"{V3}/products/{{product_id}}", anon(self.product)),
            web.get(f"{V3}/products/{{product_id}}/candles", anon(self.candles)),
            web.get(f"{V3}/products/{{product_id}}/ticker", anon(self.ticker)),
            web.get(f"{V3}/best_bid_ask", anon(self.best_bid_ask)),
            web.get(f"{V3}/accounts", p(self.v3_accounts)),
            web.get(f"{V3}/transaction_summary", p(self.transaction_summary)),
            web.get(f"{V3}/key_permissions", p(self.key_permissions)),
            web.post(f"{V3}/orders", p(self.create_order)),
            web.post(f"{V3}/orders/batch_cancel", p(self.cancel_orders)),
            web.get(f"{V3}/orders/historical/batch", p(self.list_orders)),
            web.get(f"{V3}/orders/historical/fills", p(self.list_fills)),
            web.get(f"{V3}/orders/historical/{{order_id}}", p(self.get_order)),
        ]

    # --- v2 (track API, used by load_markets and the default fetch_balance) ----------

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

    async def v2_accounts(self, request: web.Request, account: EmuAccount) -> web.Response:
        meta = self.emu._meta[account.api_key]
        limit = max(1, min(int(request.query.get("limit", 25)), 300))
        after = request.query.get("starting_after")
        rows = []
        for code in self.emu.currencies_of(account):
            wid = meta.wallet(code)
            rows.append(
                {
                    "id": wid,
                    "name": f"{code} Wallet",
                    "primary": code == "BTC",
                    "type": "fiat" if code == "USD" else "wallet",
                    "currency": {"code": code, "name": code, "exponent": 8, "type": "crypto"},
                    "balance": {"amount": s(account.balances.get(code, 0)), "currency": code},
                    "created_at": "2023-01-04T06:20:06Z",
                    "updated_at": "2023-01-04T06:20:06Z",
                    "resource": "account",
                    "resource_path": f"/v2/accounts/{wid}",
                    "allow_deposits": True,
                    "allow_withdrawals": True,
                }
            )
        ids = [r["id"] for r in rows]
        start = ids.index(after) + 1 if after in ids else 0
        page = rows[start : start + limit]
        more = start + limit < len(rows)
        nxt = page[-1]["id"] if more and page else None
        return web.json_response(
            {
                "pagination": {
                    "ending_before": None,
                    "starting_after": after,
                    "previous_ending_before": None,
                    "next_starting_after": nxt,
                    "limit": limit,
                    "order": "desc",
                    "previous_uri": None,
                    "next_uri": f"/v2/accounts?limit={limit}&starting_after={nxt}" if nxt else None,
                },
                "data": page,
            }
        )

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

    # --- v3 private -------------------------------------------------------------------

    async def v3_accounts(self, request: web.Request, account: EmuAccount) -> web.Response:
        meta = self.emu._meta[account.api_key]
        held = self.emu.holds(account.api_key)
        limit = max(1, min(int(request.query.get("limit", 49)), 250, self.emu.accounts_page_size))
        offset = int(request.query.get("cursor") or 0)
        rows = []
        for code in self.emu.currencies_of(account):
            hold = held.get(code, Decimal(0))
            rows.append(
                {
                    "uuid": meta.wallet(code),
                    "name": f"{code} Wallet",
                    "currency": code,
                    "available_balance": {
                        "value": s(account.balances.get(code, Decimal(0)) - hold),
                        "currency": code,
                    },
                    "default": code == "USD",
                    "active": True,
                    "created_at": "2023-01-04T06:20:06.456Z",
                    "updated_at": "2023-01-04T06:20:07.181Z",
                    "deleted_at": None,
                    "type": "ACCOUNT_TYPE_FIAT" if code == "USD" else "ACCOUNT_TYPE_CRYPTO",
                    "ready": True,
                    "hold": {"value": s(hold), "currency": code},
                    "retail_portfolio_id": meta.portfolio_uuid,
                    "platform": "ACCOUNT_PLATFORM_CONSUMER",
                }
            )
        page = rows[offset : offset + limit]
        more = offset + limit < len(rows)
        return web.json_response(
            {
                "accounts": page,
                "has_next": more,
                "cursor": str(offset + limit) if more else "",
                "size": len(page),
            }
        )

    async def transaction_summary(self, request: web.Request, _: EmuAccount) -> web.Response:
        rate = s(self.emu.ledger.fee_rate)
        return web.json_response(
            {
                "total_volume": 0,
                "total_fees": 0,
                "fee_tier": {
                    "pricing_tier": "Advanced 1",
                    "usd_from": "0",
                    "usd_to": "1000",
                    "taker_fee_rate": rate,
                    "maker_fee_rate": rate,
                    "aop_from": "",
                    "aop_to": "",
                },
                "margin_rate": None,
                "goods_and_services_tax": None,
                "advanced_trade_only_volume": 0,
                "advanced_trade_only_fees": 0,
                "coinbase_pro_volume": 0,
                "coinbase_pro_fees": 0,
                "total_balance": "",
                "has_promo_fee": False,
            }
        )

    async def key_permissions(self, request: web.Request, account: EmuAccount) -> web.Response:
        return web.json_response(
            {
                "can_view": True,
                "can_trade": True,
                "can_transfer": account.can_withdraw,
                "portfolio_uuid": self.emu._meta[account.api_key].portfolio_uuid,
                "portfolio_type": "DEFAULT",
            }
        )

    async def create_order(self, request: web.Request, account: EmuAccount) -> web.Response:
        emu, ledger = self.emu, self.emu.ledger
        try:
            body = body_json(await request.text())
            cid = str(body.get("client_order_id") or "")
            symbol = str(body.get("product_id") or "").replace("-", "/")
            side = str(body.get("side") or "").lower()
            config = body.get("order_configuration")
            if not cid or not isinstance(config, dict) or len(config) != 1:
                raise ValueError("client_order_id and one order_configuration are required")
        except ValueError as exc:
            return error_body("INVALID_ARGUMENT", str(exc), 400)
        for o in ledger.orders:  # Coinbase: a known client_order_id returns that order
            if o.account == account.api_key and o.client_id == cid:
                return web.json_response(self.accepted(o))
        if symbol not in PRODUCTS:
            return order_failure("INVALID_PRODUCT_ID", "", "PREVIEW_INVALID_PRODUCT_ID", config)
        if side not in ("buy", "sell"):
            return order_failure("INVALID_SIDE", "", NO_PREVIEW, config)
        kind, conf = next(iter(config.items()))
        if kind not in ("market_market_ioc", "limit_limit_gtc") or not isinstance(conf, dict):
            return order_failure(
                "UNSUPPORTED_ORDER_CONFIGURATION",
                "order configuration not supported by the emulator",
                NO_PREVIEW,
                config,
            )
        spec, (base, quote) = PRODUCTS[symbol], emu.split_symbol(symbol)
        fee, px = ledger.fee_rate, emu.price(symbol)
        try:
            limit_px = dec(conf["limit_price"]) if kind == "limit_limit_gtc" else None
            if kind == "market_market_ioc" and px is None:
                return order_failure("INVALID_NO_LIQUIDITY", "", "PREVIEW_NO_LIQUIDITY", config)
            if "quote_size" in conf and kind == "market_market_ioc" and side == "buy":
                quote_size = dec(conf["quote_size"])
                if quote_size < QUOTE_MIN_SIZE:
                    return order_failure(
                        "UNKNOWN_FAILURE_REASON",
                        "",
                        "PREVIEW_INVALID_QUOTE_SIZE_TOO_SMALL",
                        config,
                    )
                amount = quantize_down(quote_size / (px * (1 + fee)), spec.base_increment)
                need = quote_size
            else:
                amount = dec(conf["base_size"])
                unit = limit_px if limit_px is not None else px
                need = amount * unit * (1 + fee) if side == "buy" else amount
        except (KeyError, ValueError) as exc:
            return error_body("INVALID_ARGUMENT", f"invalid order configuration: {exc}", 400)
        if not on_step(amount, spec.base_increment):
            return order_failure("INVALID_SIZE_PRECISION", "", NO_PREVIEW, config)
        if limit_px is not None and (limit_px <= 0 or not on_step(limit_px, spec.quote_increment)):
            return order_failure("INVALID_PRICE_PRECISION", "", NO_PREVIEW, config)
        notional = amount * (limit_px if limit_px is not None else px)
        if amount < Decimal(spec.base_increment) or notional < QUOTE_MIN_SIZE:
            return order_failure(
                "UNKNOWN_FAILURE_REASON", "", "PREVIEW_INVALID_BASE_SIZE_TOO_SMALL", config
            )
        if limit_px is not None and conf.get("post_only") and px is not None:
            if (side == "buy" and limit_px >= px) or (side == "sell" and limit_px <= px):
                return order_failure("INVALID_LIMIT_PRICE_POST_ONLY", "", NO_PREVIEW, config)
        spend = quote if side == "buy" else base
        available = account.balances.get(spend, Decimal(0)) - emu.holds(account.api_key).get(
            spend, Decimal(0)
        )
        if need > available:
            return order_failure(
                "INSUFFICIENT_FUND",
                "Insufficient balance in source account",
                "PREVIEW_INSUFFICIENT_FUND",
                config,
            )
        order = EmuOrder(
            order_id=str(uuid.uuid4()),
            client_id=cid,
            account=account.api_key,
            symbol=symbol,
            side=side,
            type="limit" if limit_px is not None else "market",
            amount=amount,
            price=limit_px,
        )
        emu._configs[order.order_id] = config
        now = emu.clock_ms()
        emu.with_price(symbol, lambda: ledger.place(order, base, quote, now))
        if order not in ledger.orders:  # no price at all: still record the order
            ledger.place(order, base, quote, now)
        return web.json_response(self.accepted(order))

    def accepted(self, o: EmuOrder) -> dict[str, Any]:
        return {
            "success": True,
            "failure_reason": "UNKNOWN_FAILURE_REASON",
            "order_id": o.order_id,
            "success_response": {
                "order_id": o.order_id,
                "product_id": native(o.symbol),
                "side": o.side.upper(),
                "client_order_id": o.client_id,
            },
            "order_configuration": self.emu._configs.get(o.order_id),
        }

    async def get_order(self, request: web.Request, account: EmuAccount) -> web.Response:
        now, ledger = self.emu.clock_ms(), self.emu.ledger
        order = ledger.find(account.api_key, request.match_info["order_id"], now)
        cid = request.query.get("client_order_id")
        if order is None and cid:
            order = ledger.find_by_client_id(account.api_key, cid, now)
        if order is None:
            return error_body("unknown", "order with this orderID was not found", 404)
        return web.json_response({"order": self.emu.order_json(order)})

    async def list_orders(self, request: web.Request, account: EmuAccount) -> web.Response:
        q = request.query
        statuses = set(q.getall("order_status", []))
        pids = set(q.getall("product_id", [])) | set(q.getall("product_ids", []))
        oids = set(q.getall("order_ids", []))
        since = q.get("start_date")
        since_ms = int(datetime.fromisoformat(since).timestamp() * 1000) if since else None
        rows = [
            o
            for o in reversed(self.emu.ledger.orders_of(account.api_key, self.emu.clock_ms()))
            if (not statuses or STATUS_OUT[o.status] in statuses)
            and (not pids or native(o.symbol) in pids)
            and (not oids or o.order_id in oids)
            and (since_ms is None or o.created_ms >= since_ms)
        ]
        limit = max(1, min(int(q.get("limit", 100)), 1000))
        offset = int(q.get("cursor") or 0)
        page = rows[offset : offset + limit]
        more = offset + limit < len(rows)
        return web.json_response(
            {
                "orders": [self.emu.order_json(o) for o in page],
                "sequence": "0",
                "has_next": more,
                "cursor": str(offset + limit) if more else "",
            }
        )

    async def list_fills(self, request: web.Request, account: EmuAccount) -> web.Response:
        q, emu = request.query, self.emu
        oids = set(q.getall("order_id", [])) | set(q.getall("order_ids", []))
        pids = set(q.getall("product_id", [])) | set(q.getall("product_ids", []))
        orders = {o.order_id: o for o in emu.ledger.orders_of(account.api_key, emu.clock_ms())}
        fills = [
            f
            for f in reversed(emu.ledger.fills)
            if f.order_id in orders
            and (not oids or f.order_id in oids)
            and (not pids or native(f.symbol) in pids)
        ]
        limit = max(1, min(int(q.get("limit", 100)), 1000))
        offset = int(q.get("cursor") or 0)
        page = fills[offset : offset + limit]
        more = offset + limit < len(fills)
        meta = emu._meta[account.api_key]
        rows = [
            {
                "entry_id": uuid.uuid5(uuid.NAMESPACE_OID, f.trade_id).hex * 2,
                "trade_id": str(uuid.uuid5(uuid.NAMESPACE_OID, f"trade-{f.trade_id}")),
                "order_id": f.order_id,
                "trade_time": iso(f.ts_ms),
                "trade_type": "FILL",
                "price": s(f.price),
                "size": s(f.amount),
                "commission": s(f.fee),
                "product_id": native(f.symbol),
                "sequence_timestamp": iso(f.ts_ms),
                "liquidity_indicator": "TAKER" if orders[f.order_id].type == "market" else "MAKER",
                "size_in_quote": False,
                "user_id": meta.user_id,
                "side": f.side.upper(),
                "retail_portfolio_id": meta.portfolio_uuid,
            }
            for f in page
        ]
        return web.json_response({"fills": rows, "cursor": str(offset + limit) if more else ""})

    async def cancel_orders(self, request: web.Request, account: EmuAccount) -> web.Response:
        try:
            ids = body_json(await request.text()).get("order_ids")
            if not isinstance(ids, list) or not ids:
                raise ValueError("order_ids is required")
        except ValueError as exc:
            return error_body("INVALID_ARGUMENT", str(exc), 400)
        results = []
        for oid in ids:
            order = next(
                (
                    o
                    for o in self.emu.ledger.orders
                    if o.account == account.api_key and o.order_id == oid
                ),
                None,
            )
            reason = "UNKNOWN_CANCEL_FAILURE_REASON"
            if order is None:
                reason = "UNKNOWN_CANCEL_ORDER"
            elif order.status == "canceled":
                reason = "DUPLICATE_CANCEL_REQUEST"
            elif order.status != "open":
                reason = "INVALID_CANCEL_REQUEST"
            else:
                order.status = "canceled"
            ok = reason == "UNKNOWN_CANCEL_FAILURE_REASON"
            results.append({"success": ok, "failure_reason": reason, "order_id": str(oid)})
        return web.json_response({"results": results})
