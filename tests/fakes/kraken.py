"""Kraken spot REST emulator for tests; ccxt's ``kraken`` class talks to it unmodified.

Layout: this module holds ``KrakenEmulator`` (test API, routing, private dispatch);
kraken_markets.py the tables and public endpoints, kraken_auth.py the signature check and
key permissions, kraken_orders.py the private balance/order/trade methods,
kraken_funding.py ``WithdrawMethods`` / ``WithdrawAddresses``.

Covers (real paths, real JSON envelope ``{"error": [...], "result": ...}``, HTTP 200 for
every API-level error as Kraken does):

- public: ``/0/public/Time``, ``SystemStatus``, ``Assets``, ``AssetPairs``, ``Ticker``,
  ``OHLC`` (5m candles from tests/data, aggregated for 15/30/60/240/1440 intervals; 1m
  requests get the 5m rows).
- private (POST, form or JSON body): ``Balance``, ``BalanceEx`` (what ccxt's
  fetch_balance uses), ``WithdrawMethods``, ``WithdrawAddresses``, ``AddOrder``
  (market/limit/stop-loss, ``cl_ord_id``, ``userref``, ``viqc``, ``validate``),
  ``AmendOrder`` (in place: trigger, limit price, quantity; see kraken_orders.py),
  ``QueryOrders`` (by txid, optional integer ``userref`` filter), ``OpenOrders`` /
  ``ClosedOrders`` (``cl_ord_id`` / ``userref`` filters: this is how a client id is looked
  up, QueryOrders takes no ``cl_ord_id``), ``CancelOrder`` (by txid, integer userref or
  ``cl_ord_id``), ``TradesHistory``, ``QueryTrades``.
- auth exactly as Kraken: ``API-Key`` / ``API-Sign`` = base64(HMAC-SHA512(b64decode(secret),
  path + SHA256(nonce + postdata))); nonce strictly increasing per key. Errors:
  ``EAPI:Invalid key`` (unknown or revoked key), ``EAPI:Invalid signature``,
  ``EAPI:Invalid nonce``. ccxt 4.5.90 maps ``EAPI:Invalid key`` to AuthenticationError and
  ``EAPI:Invalid nonce`` to InvalidNonce, but has no entry for ``EAPI:Invalid signature``
  (a wrong secret), which it raises as plain ExchangeError.
- key permissions (kraken_auth.py): every key holds a set of Kraken's API-key permissions
  (default: trade only, i.e. Query Funds, Query Open/Closed Orders & Trades, Create & Modify
  Orders, Cancel/Close Orders; ``can_withdraw=True`` adds Withdraw Funds). A private method
  the key lacks permission for answers ``{"error":["EGeneral:Permission denied"]}``, which
  ccxt raises as PermissionDenied.
- rate limits (kraken_limits.py, opt-in: ``KrakenEmulator(rate_tier="starter")`` or
  ``$KRAKEN_EMU_RATE_TIER``): Kraken's per-key REST call counter and per-pair trading
  counter of a verification tier; ``emu.limits`` keeps every counted and refused call.
- faults: rate limit -> ``EAPI:Rate limit exceeded`` with HTTP 200; ccxt matches that string
  exactly and raises DDoSProtection (a sibling of RateLimitExceeded under NetworkError, not
  a subclass). 500 -> ExchangeNotAvailable; timeout/drop leave the order on the ledger;
  ``malformed`` -> HTTP 200 ``{"error": [], "result": "unavailable"}`` (a result of the
  wrong shape).

Stop-loss (what ccxt sends for ``create_order(..., "market", ..., {"stopLossPrice": p})``:
``ordertype=stop-loss``, ``price=p``): rests ``open`` with ``descr.ordertype`` ``stop-loss``,
``descr.price`` = trigger and ``descr.order`` ``"sell 0.10000000 XBTUSD @ stop loss 60000.0"``;
it reserves the base (sell) or trigger cost plus fee in quote (buy) like a limit, and
triggers on the last price (sell <=, buy >=; ``trigger`` shows ``last``): on a ``set_price``
or on the replayed candles (emulator_triggers.py, run before ``_sync_prices`` on every
private request). Once triggered it fills as a taker market order (``misc`` ``stopped``).

ccxt 4.5.90 facts this relies on: ``clientOrderId`` is sent as ``cl_ord_id`` on AddOrder,
CancelOrder, OpenOrders and ClosedOrders; ``fetch_order(id, params={'clientOrderId': x})``
sends ``userref=x`` next to ``txid`` (so it works only with an exchange id; Kraken's userref
is an int32 and a text one is rejected with ``EGeneral:Invalid arguments:userref``).
AddOrder's answer carries only ``descr`` and ``txid``: status and fills need a lookup.

WebSocket v2 (``/v2``): the public ``ohlc`` channel with status, heartbeat and ping
(kraken_ws.py, emulator_ws.py).

Not covered: order book, public trades, margin/leverage, stop-loss-limit, take-profit,
trailing stops, index-price triggers (``trigger=index`` is treated as last), OTO ``close``,
partial fills, AddOrderBatch/EditOrder, deposits, withdrawals themselves
(``Withdraw``, ``WithdrawInfo``, status, cancel), the Funding (Beta) API, ``costmin``
(published, not enforced). ``cl_ord_id`` accepts
Kraken's three formats (36-char UUID, 32-hex UUID, free text up to 18 chars). The
duplicate-open-``cl_ord_id`` error string (``EOrder:Duplicate order``) and the malformed
``cl_ord_id`` string are not confirmed by Kraken's public docs; ccxt maps both to plain
ExchangeError.

Withdrawal permission: Kraken has no endpoint that lists a key's permissions; the funding
methods show them only by answering or refusing (``WithdrawMethods`` answers a key with
Query Funds and Withdraw Funds, and refuses one without).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable
from decimal import Decimal

from aiohttp import web

from tests.fakes.emulator_base import EmuAccount, EmulatorServer, scaled_candles
from tests.fakes.emulator_triggers import StopTriggers
from tests.fakes.kraken_auth import (
    PERMISSION_DENIED,
    PERMISSIONS,
    TRADE_ONLY,
    WITHDRAW_FUNDS,
    authenticate,
    parse_params,
    permitted,
    sign,
)
from tests.fakes.kraken_funding import KrakenFunding
from tests.fakes.kraken_limits import KrakenRateLimits, KrakenTier, tier_from_env
from tests.fakes.kraken_markets import PAIRS, KrakenError, KrakenPublic, fail, ok, symbol_of
from tests.fakes.kraken_orders import DUPLICATE_CL_ORD_ID, KrakenTrading
from tests.fakes.kraken_ws import KrakenOhlcFeed

__all__ = ["DUPLICATE_CL_ORD_ID", "KrakenEmulator", "sign"]


class KrakenEmulator(EmulatorServer):
    """Kraken spot emulator; see the module docstring for what it covers."""

    exchange_id = "kraken"

    def __init__(
        self, *, candle_scale: float = 100000.0, rate_tier: str | KrakenTier | None = None
    ) -> None:
        super().__init__()
        # Kraken's documented per-key REST counter and per-pair trading counter
        # (kraken_limits.py): off unless ``rate_tier`` or $KRAKEN_EMU_RATE_TIER names a tier.
        tier = tier_from_env(rate_tier)
        self.limits = None if tier is None else KrakenRateLimits(tier)
        self.symbols = list(PAIRS)
        self.ledger.fee_rate = Decimal("0.0025")
        self.public = KrakenPublic(self)
        self.trading = KrakenTrading(self)
        self.funding = KrakenFunding(self)
        self.stops = StopTriggers(self, self.round_price)
        self.ws = KrakenOhlcFeed(self)  # WebSocket v2 ``ohlc`` at /v2 (kraken_ws.py)
        # Order types this account's venue refuses (a test switch: e.g. {"stop-loss"}).
        self.refused_ordertypes: set[str] = set()
        for symbol, pair in PAIRS.items():
            self.candles[symbol] = scaled_candles(pair.csv, candle_scale * pair.factor)

    # --- contract API --------------------------------------------------------------

    def add_account(
        self,
        balances: dict[str, Decimal] | None = None,
        *,
        can_withdraw: bool = False,
        permissions: Iterable[str] | None = None,
    ) -> EmuAccount:
        """A new key. ``permissions`` (kraken_auth.PERMISSIONS names) defaults to trade only
        (``TRADE_ONLY``); ``can_withdraw=True`` adds Withdraw Funds to it."""
        key = base64.b64encode(os.urandom(42)).decode()  # 56 chars, like Kraken keys
        secret = base64.b64encode(os.urandom(64)).decode()  # 88 chars, base64 of 64 bytes
        start = balances if balances is not None else {"USD": Decimal("10000")}
        held = set(TRADE_ONLY if permissions is None else permissions)
        if can_withdraw:
            held.add(WITHDRAW_FUNDS)
        if unknown := held - PERMISSIONS:
            raise ValueError(f"not Kraken key permissions: {sorted(unknown)}")
        account = EmuAccount(api_key=key, secret=secret, balances=dict(start))
        account.permissions = tuple(sorted(held))
        account.can_withdraw = WITHDRAW_FUNDS in held
        return self.ledger.add_account(account)

    def add_withdraw_address(
        self, account: EmuAccount, asset: str, method: str, key: str, address: str
    ) -> None:
        """Save a verified withdrawal address (what WithdrawAddresses lists)."""
        row = {"address": address, "asset": asset, "method": method, "key": key}
        self.funding.addresses.setdefault(account.api_key, []).append(row | {"verified": True})

    def current_price(self, symbol: str) -> Decimal | None:
        """The pinned price, else the newest candle close, rounded to the pair's decimals."""
        px = self.price(symbol)
        return None if px is None else self.round_price(symbol, px)

    @staticmethod
    def round_price(symbol: str, px: Decimal) -> Decimal:
        """``px`` rounded to the pair's price decimals."""
        return px.quantize(Decimal(1).scaleb(-PAIRS[symbol].pair_decimals))

    # --- faults --------------------------------------------------------------------

    def rate_limit_response(self) -> web.Response:
        return fail("EAPI:Rate limit exceeded")

    def auth_error_response(self) -> web.Response:
        return fail("EAPI:Invalid key")

    def stale_nonce_response(self) -> web.Response:
        return fail("EAPI:Invalid nonce")

    def malformed_response(self) -> web.Response:
        return ok("unavailable")

    @staticmethod
    def permission_denied_response() -> web.Response:
        return web.json_response({"error": [PERMISSION_DENIED]})

    # --- routing -------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        return [
            *self.public.routes(),
            *self.ws.routes(),
            web.post("/0/private/{method}", self._private),
        ]

    async def _private(self, request: web.Request) -> web.Response:
        body = await request.text()
        try:
            params = parse_params(request, body)
            account = authenticate(self.ledger, request, body, params)
        except KrakenError as exc:
            return fail(str(exc))
        method = request.match_info["method"]
        handler = {**self.trading.handlers(), **self.funding.handlers()}.get(method)
        if handler is None:
            return fail("EGeneral:Unknown method")
        if self.limits is not None:
            refused = self.limits.admit(account.api_key, method, self._pair_of(account, params))
            if refused is not None:
                return fail(refused)
        if not permitted(account, method):
            return self.permission_denied_response()
        now = self.clock_ms()
        self.stops.sync(now)
        self._sync_prices(now)
        was_open = self._open_ids(account) if method == "CancelOrder" else set()
        try:
            result = handler(account, params, now)
        except KrakenError as exc:
            return fail(str(exc))
        if self.limits is not None:
            self._count_trading(account, method, params, result, was_open)
        return ok(result)

    # --- rate limits (kraken_limits.py) ---------------------------------------------

    def _pair_of(self, account: EmuAccount, params: dict) -> str | None:
        """The unified symbol an order call is about (its trading counter), if known."""
        if params.get("pair"):
            try:
                return symbol_of(params["pair"])
            except KrakenError:
                return None
        ref = params.get("cl_ord_id") or params.get("txid")
        for o in self.ledger.orders:
            if o.account == account.api_key and ref in (o.client_id, o.order_id):
                return o.symbol
        return None

    def _open_ids(self, account: EmuAccount) -> set[str]:
        key = account.api_key
        return {o.order_id for o in self.ledger.orders if o.account == key and o.status == "open"}

    def _count_trading(
        self, account: EmuAccount, method: str, params: dict, result: dict, was_open: set[str]
    ) -> None:
        """The trading counter's part that depends on the outcome: resting times and the
        decaying counts of amends and cancels."""
        assert self.limits is not None
        if method == "AddOrder":
            for txid in result.get("txid", []):
                self.limits.placed(txid)
        elif method == "AmendOrder":
            ref = params.get("cl_ord_id") or params.get("txid")
            for o in self.ledger.orders:
                if o.account == account.api_key and ref in (o.client_id, o.order_id):
                    self.limits.amended(account.api_key, o.order_id, o.symbol)
                    break
        elif method == "CancelOrder":
            for o in self.ledger.orders:
                if o.order_id in was_open and o.status == "canceled":
                    self.limits.canceled(account.api_key, o.order_id, o.symbol)

    def _sync_prices(self, now: int) -> None:
        """Replay: move ledger prices to the candle at the clock, filling crossed limits
        and reached stops (``self.stops.sync`` first replays the candles closed since)."""
        for symbol in self.symbols:
            px = self.current_price(symbol)
            if px is not None and self.ledger.prices.get(symbol) != px:
                self.ledger.set_price(symbol, px, self.split_symbol, now)
