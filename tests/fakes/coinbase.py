"""Coinbase Advanced Trade emulator (ccxt id ``coinbase``) for tests.

Covers what ccxt 4.5 calls for spot trading, on the real paths and in the real shapes:

- load_markets: ``GET /api/v3/brokerage/market/products`` (spot, and ``product_type=FUTURE``
  answered with no products), ``/v2/currencies``, ``/v2/currencies/crypto``,
  ``/v2/exchange-rates`` and, when keys are set, the signed
  ``/api/v3/brokerage/transaction_summary`` (fee tier); the private ``/products`` twins too.
- balance: ``GET /v2/accounts`` (ccxt's default) and ``GET /api/v3/brokerage/accounts``
  (``params={'v3': True}``) with ``cursor``/``has_next`` paging (``accounts_page_size``);
  v3 reports ``available_balance`` and ``hold`` (funds open orders reserve), v2 only one
  amount per wallet (held funds included), so ccxt's v2 free equals the total.
- order times: ``created_time`` is the placement, ``last_fill_time`` the last fill (null
  before any); ccxt's parser leaves ``lastTradeTimestamp`` None.
- orders: ``POST /orders`` (``market_market_ioc`` base_size/quote_size: Coinbase's order
  guide says "To buy a product, provide a quote_size or base_size; to sell, provide a
  base_size"; ``limit_limit_gtc``),
  ``GET /orders/historical/{order_id}`` (also honours the deprecated ``client_order_id``
  query parameter), ``GET /orders/historical/batch`` (``order_status``, ``product_id``,
  ``order_ids``, cursor), ``POST /orders/batch_cancel``, ``GET /orders/historical/fills``.
- market data: ``/market/products/{id}/candles`` (5m data, aggregated for coarser
  granularities), ``/market/products/{id}/ticker``, ``/best_bid_ask``, ``/time``.
- ``GET /api/v3/brokerage/key_permissions`` (ccxt: ``v3PrivateGetBrokerageKeyPermissions``):
  ``can_view`` / ``can_trade`` / ``can_transfer`` from the key's scopes (``view``, ``trade``,
  ``transfer``; not enforced elsewhere), ``portfolio_uuid``, ``portfolio_type`` ``DEFAULT``.
  The ``malformed`` fault answers ``{"unexpected": "shape"}`` (no flags).

Auth is CDP keys (ES256 JWT per request, see coinbase_auth.py); failures answer the real
401 ``Unauthorized`` text. Real-API behaviours kept: a repeated ``client_order_id`` creates
nothing and returns the earlier order (Coinbase documents this, whatever the earlier
order's state); insufficient funds is HTTP 200 ``success: false`` with
``error_response.preview_failure_reason = PREVIEW_INSUFFICIENT_FUND``.

Faults: ``http_429`` answers 429 ``{"error": "rate_limit_exceeded", ...}`` (ccxt
RateLimitExceeded); ``auth`` and ``stale_nonce`` answer 401 ``Unauthorized`` (Coinbase has
no nonce; an expired JWT is a plain 401, so ccxt raises AuthenticationError for both).
Fees: one rate for taker and maker (``ledger.fee_rate`` = 0.6 %), charged in USD; a
``quote_size`` market buy spends the quote size including the fee, like Coinbase.

Layout: this module holds ``CoinbaseEmulator`` (test API, auth wrapper, price sweeps,
routes); coinbase_markets.py the products and public endpoints, coinbase_auth.py the JWT
check, coinbase_accounts.py and coinbase_orders.py the signed endpoints.

Not covered: stop/bracket/GTD/FOK/IOC-limit orders, partial fills, edit orders, futures,
portfolios, transfers/withdrawals, v2 legacy HMAC keys, Ed25519 CDP keys, order books.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec

from tests.fakes.coinbase_accounts import CbAccountMeta, CoinbaseAccounts
from tests.fakes.coinbase_auth import authenticate, new_cdp_key
from tests.fakes.coinbase_markets import PRODUCTS, V3, CoinbaseMarkets, error_body
from tests.fakes.coinbase_orders import CoinbaseOrders
from tests.fakes.emulator_base import EmuAccount, EmulatorServer, EmuOrder, scaled_candles


class CoinbaseEmulator(EmulatorServer):
    """Coinbase Advanced Trade on 127.0.0.1; see the module docstring."""

    exchange_id = "coinbase"

    def __init__(self, *, candle_scale: float = 100000.0) -> None:
        super().__init__()
        self.symbols: list[str] = list(PRODUCTS)
        self.ledger.fee_rate = Decimal("0.006")
        self.accounts_page_size = 250
        self.meta: dict[str, CbAccountMeta] = {}  # key name -> Coinbase-side ids
        self._public_keys: dict[str, ec.EllipticCurvePublicKey] = {}
        self.trading = CoinbaseOrders(self)
        for symbol, spec in PRODUCTS.items():
            digits = -Decimal(spec.quote_increment).as_tuple().exponent
            self.candles[symbol] = [
                [r[0], *(round(v, digits) for v in r[1:5]), r[5]]
                for r in scaled_candles(spec.csv, candle_scale * spec.mult)
            ]

    # --- contract -------------------------------------------------------------------

    def add_account(
        self,
        balances: dict[str, Decimal] | None = None,
        *,
        can_withdraw: bool = False,
        permissions: Iterable[str] | None = None,
    ) -> EmuAccount:
        """A new CDP key. ``permissions`` are the key's scopes among ``view``, ``trade``,
        ``transfer`` (reported by key_permissions, not enforced), default view + trade;
        ``can_withdraw=True`` adds ``transfer``."""
        name, pem, public_key = new_cdp_key()
        self._public_keys[name] = public_key
        self.meta[name] = CbAccountMeta()
        start = {"USD": Decimal(10000)} if balances is None else dict(balances)
        scopes = set(("view", "trade") if permissions is None else permissions)
        if can_withdraw:
            scopes.add("transfer")
        if unknown := scopes - {"view", "trade", "transfer"}:
            raise ValueError(f"not CDP key scopes: {sorted(unknown)}")
        account = EmuAccount(api_key=name, secret=pem, balances=start)
        account.permissions = tuple(sorted(scopes))
        account.can_withdraw = "transfer" in scopes
        return self.ledger.add_account(account)

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
        return authenticate(request, self.ledger, self._public_keys)

    def private(self, fn):
        """Wrap ``fn(request, account)`` with the JWT check and a limit-order sweep."""

        async def handler(request: web.Request) -> web.StreamResponse:
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
        """Funds reserved by ``api_key``'s open orders, per currency."""
        return self.ledger.holds(api_key, self.split_symbol)

    def currencies_of(self, account: EmuAccount) -> list[str]:
        codes = {"USD"} | {p.split("/")[0] for p in PRODUCTS} | set(account.balances)
        return sorted(codes)

    def order_json(self, o: EmuOrder) -> dict:
        return self.trading.order_json(o)

    # --- routes -----------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        m, a, o, p = CoinbaseMarkets(self), CoinbaseAccounts(self), self.trading, self.private

        def anon(fn):  # a public handler also served on its signed twin path
            async def handler(request: web.Request, _account: EmuAccount) -> web.Response:
                return await fn(request)

            return p(handler)

        return [
            web.get("/v2/time", m.v2_time),
            web.get("/v2/currencies", m.v2_currencies),
            web.get("/v2/currencies/crypto", m.v2_crypto),
            web.get("/v2/exchange-rates", m.v2_rates),
            web.get("/v2/accounts", p(a.v2_accounts)),
            web.get(f"{V3}/time", m.v3_time),
            web.get(f"{V3}/market/products", m.products),
            web.get(f"{V3}/market/products/{{product_id}}", m.product),
            web.get(f"{V3}/market/products/{{product_id}}/candles", m.candles),
            web.get(f"{V3}/market/products/{{product_id}}/ticker", m.ticker),
            web.get(f"{V3}/products", anon(m.products)),
            web.get(f"{V3}/products/{{product_id}}", anon(m.product)),
            web.get(f"{V3}/products/{{product_id}}/candles", anon(m.candles)),
            web.get(f"{V3}/products/{{product_id}}/ticker", anon(m.ticker)),
            web.get(f"{V3}/best_bid_ask", anon(m.best_bid_ask)),
            web.get(f"{V3}/accounts", p(a.v3_accounts)),
            web.get(f"{V3}/transaction_summary", p(a.transaction_summary)),
            web.get(f"{V3}/key_permissions", p(a.key_permissions)),
            web.post(f"{V3}/orders", p(o.create_order)),
            web.post(f"{V3}/orders/batch_cancel", p(o.cancel_orders)),
            web.get(f"{V3}/orders/historical/batch", p(o.list_orders)),
            web.get(f"{V3}/orders/historical/fills", p(o.list_fills)),
            web.get(f"{V3}/orders/historical/{{order_id}}", p(o.get_order)),
        ]
