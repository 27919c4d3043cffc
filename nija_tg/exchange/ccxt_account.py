"""One user's account on one exchange through ccxt (implements ``TradingAccount``)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from decimal import Decimal
from typing import Any

import ccxt

from nija_tg.core.errors import (
    AuthenticationError,
    ExchangeError,
    NotFoundError,
    OrderRejectedError,
    RetryableError,
)
from nija_tg.core.models import (
    BalanceLine,
    MarketInfo,
    OrderRequest,
    OrderState,
    OrderStatus,
    OrderType,
    PositionInfo,
)
from nija_tg.exchange.ccxt_client import CcxtClient
from nija_tg.exchange.ccxt_convert import (
    fee_known,
    swap_equity,
    to_balances,
    to_fill,
    to_market,
    to_order,
    to_position,
)
from nija_tg.exchange.ccxt_errors import map_error
from nija_tg.exchange.client_ids import validate_client_order_id
from nija_tg.exchange.precision import check_minimums, dec, decimal_text
from nija_tg.exchange.protocol import FundingPayment, PositionModeRefusedError

log = logging.getLogger(__name__)

# Exchanges whose first-class use here is spot only: no positions, no leverage.
SPOT_ONLY = frozenset({"kraken", "coinbase"})
# Where stop-market orders rest on the exchange itself (ccxt's unified ``stopLossPrice``),
# checked against an emulator that triggers them like the venue: Kraken spot
# ``ordertype=stop-loss``, BingX swap ``STOP_MARKET``. Coinbase Advanced offers only
# stop-limit orders, which a fast move can skip: there (and on exchanges not checked
# here) the engine enforces stops on every candle instead.
NATIVE_STOP_EXCHANGES = frozenset({"kraken", "bingx"})
# Where a resting stop is moved in place (``amend_stop``): Kraken spot ``AmendOrder``
# (ccxt ``edit_order``; same order and client id, new trigger and quantity), checked
# against the emulator. Elsewhere a stop is replaced by a new order.
AMEND_STOP_EXCHANGES = frozenset({"kraken"})
# Where ccxt's unified ``clientOrderId`` param is dropped and the native name is needed.
CLIENT_ID_PARAM = {"coinbase": "client_order_id"}
# Balance reads that need more than ccxt's default call. Coinbase: ccxt reads the v2
# API by default, whose accounts carry one amount (free == total, funds held by open
# orders included); Advanced Trade's v3 accounts report ``available_balance`` and
# ``hold``, which ccxt maps to free and used.
BALANCE_PARAMS: dict[str, dict[str, Any]] = {"coinbase": {"v3": True}}
# What a BingX stop triggers on. BingX's default is the mark price; the engine's own
# candle check (and docs/engine.md) use the last traded price, so say so explicitly.
BINGX_STOP_WORKING_TYPE = "CONTRACT_PRICE"


# Funding history: rows per request (BingX's maximum ``limit``) and requests per read.
FUNDING_PAGE = 1000
FUNDING_PAGES = 10


def _funding(row: dict[str, Any]) -> FundingPayment | None:
    """A ccxt funding-history row as a ``FundingPayment`` (None when it lacks an id,
    symbol, amount or time)."""
    amount, ts = dec(row.get("amount")), row.get("timestamp")
    pid, symbol = row.get("id"), row.get("symbol")
    if amount is None or ts is None or not pid or not symbol:
        return None
    return FundingPayment(str(pid), str(symbol), str(row.get("code") or ""), amount, int(ts))


def _same_cid(order: dict[str, Any], cid: str) -> bool:
    return (order.get("clientOrderId") or "").lower() == cid.lower()


class CcxtAccount:
    """A user's authenticated ccxt client. Private calls are serialised (one signer per
    key keeps nonces in order)."""

    def __init__(self, user_id: int | str, core: CcxtClient) -> None:
        self.user_id = user_id
        self.exchange_id = core.exchange_id
        self._core = core
        self._c = core.client
        self._lock = asyncio.Lock()
        self._hedged: bool | None = None

    @property
    def native_stops(self) -> bool:
        """Whether stop-market orders (``OrderRequest.trigger_price``) rest on the exchange."""
        return self.exchange_id in NATIVE_STOP_EXCHANGES

    # --- reads -------------------------------------------------------------------

    async def _read(self, action: str, fn) -> Any:
        async with self._lock:
            return await self._core.read(action, fn)

    async def market(self, symbol: str) -> MarketInfo:
        return await self._core.market(symbol)

    async def fetch_balance(self) -> list[BalanceLine]:
        await self._core.load_markets()
        params = dict(BALANCE_PARAMS.get(self.exchange_id, {}))
        raw = await self._read("fetch_balance", lambda: self._c.fetch_balance(params))
        return to_balances(raw or {})

    async def fetch_equity(self, currency: str) -> Decimal | None:
        """A swap account's equity in ``currency`` (its settle currency, e.g. USDT): the
        venue's own ``equity`` where it reports one (BingX), else the wallet balance plus
        the open P&L of the positions. None on spot-only exchanges (there the engine
        values the holdings itself) and when the account has no such currency."""
        if not self._swaps():
            return None
        lines = {b.currency: b for b in await self.fetch_balance()}
        line = lines.get(currency)
        if line is None or line.equity is not None:
            return swap_equity(line, [])
        positions = [p for p in await self.fetch_positions() if p.symbol.endswith(f":{currency}")]
        return swap_equity(line, positions)

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderState]:
        await self._core.load_markets()
        rows = await self._read("fetch_open_orders", lambda: self._c.fetch_open_orders(symbol))
        return [to_order(o, symbol=o.get("symbol") or symbol or "") for o in rows or []]

    async def fetch_order_by_client_id(
        self, symbol: str, client_order_id: str
    ) -> OrderState | None:
        raw = await self._find_raw(symbol, client_order_id)
        if raw is None:
            return None
        raw = await self._with_fees(raw, symbol, refetch=False)
        return to_order(raw, symbol=symbol, client_order_id=client_order_id)

    async def _find_raw(self, symbol: str, cid: str) -> dict[str, Any] | None:
        """The exchange's view of our order ``cid``, or None when it does not know it."""
        await self._core.load_markets()
        try:
            if self.exchange_id == "bingx":
                return await self._find_bingx(symbol, cid)
            if self.exchange_id == "kraken":
                params = {"clientOrderId": cid}
                calls = [
                    lambda: self._c.fetch_open_orders(symbol, None, None, params),
                    lambda: self._c.fetch_closed_orders(symbol, None, None, params),
                ]
            elif self._c.has.get("fetchOrders") and self.exchange_id == "coinbase":
                calls = [lambda: self._c.fetch_orders(symbol)]
            else:
                calls = [lambda: self._c.fetch_open_orders(symbol)]
                if self._c.has.get("fetchClosedOrders"):
                    calls.append(lambda: self._c.fetch_closed_orders(symbol))
                elif self._c.has.get("fetchOrders"):
                    calls.append(lambda: self._c.fetch_orders(symbol))
            for call in calls:
                rows = await self._read("fetch_order", call)
                found = [o for o in rows or [] if _same_cid(o, cid)]
                if found:
                    return found[-1]
            return None
        except NotFoundError:
            return None

    async def _find_bingx(self, symbol: str, cid: str) -> dict[str, Any] | None:
        raw_market = await self._core.raw_market(symbol)
        request = {"symbol": raw_market["id"], "clientOrderID": cid}
        response = await self._read(
            "fetch_order", lambda: self._c.swapV2PrivateGetTradeOrder(request)
        )
        data = (response or {}).get("data") or {}
        order = data.get("order") if isinstance(data, dict) else None
        if not order:
            return None
        return self._c.parse_order(order, raw_market)

    # --- orders ------------------------------------------------------------------

    async def create_order(self, request: OrderRequest) -> OrderState:
        """Round to the market's precision, check minimums, then submit exactly once."""
        validate_client_order_id(self.exchange_id, request.client_order_id)
        symbol = request.symbol
        raw_market = await self._core.raw_market(symbol)
        market = to_market(raw_market, self._c.precisionMode)
        amount = self._to_precision("amount", symbol, request.amount)
        price = None
        trigger = None
        if request.trigger_price is not None:
            if request.type is not OrderType.MARKET or not self.native_stops:
                raise OrderRejectedError(
                    f"{self.exchange_id}: stop orders are not placed on this exchange",
                    code="stop_orders_not_taken",
                )
            trigger = self._to_precision("price", symbol, request.trigger_price)
        if request.type is OrderType.LIMIT:
            if request.price is None:
                raise OrderRejectedError(
                    f"{self.exchange_id}: limit order without a price",
                    code="limit_needs_price",
                )
            price = self._to_precision("price", symbol, request.price)
        ref_price = price or trigger
        needs_price = ref_price is None and (
            market.min_cost is not None or self._market_buy_needs_price(request, raw_market)
        )
        if needs_price:
            ref_price = await self._core.last_price(symbol)
        check_minimums(market, amount, ref_price, self.exchange_id)
        params = self._order_params(request)
        if trigger is not None:
            params["stopLossPrice"] = decimal_text(trigger)
            if self.exchange_id == "bingx":
                params["workingType"] = BINGX_STOP_WORKING_TYPE
        submit_price = price
        if trigger is None and self._market_buy_needs_price(request, raw_market):
            submit_price = ref_price
        if self._buys_in_base(request, raw_market):
            # Advanced Trade takes a market buy's size in base units (``base_size``);
            # ccxt would send the quote amount (``quote_size``), and the base bought
            # (quote / price, rounded by the venue) leaves a remainder the exit cannot sell
            text = self._c.amount_to_precision(symbol, str(amount))
            params["order_configuration"] = {"market_market_ioc": {"base_size": text}}
        log.info(
            "%s submit %s%s %s %s cid=%s",
            self.exchange_id,
            "stop " if trigger is not None else "",
            request.type.value,
            request.side.value,
            symbol,
            request.client_order_id,
        )
        async with self._lock:
            raw = await self._core.submit(
                "create_order",
                lambda: self._c.create_order(
                    symbol,
                    request.type.value,
                    request.side.value,
                    decimal_text(amount),
                    decimal_text(submit_price) if submit_price is not None else None,
                    params,
                ),
            )
        raw = await self._with_fees(raw or {}, symbol, refetch=True)
        return to_order(
            raw,
            symbol=symbol,
            client_order_id=request.client_order_id,
            fallback_side=request.side,
            fallback_type=request.type,
            fallback_amount=amount,
            fallback_price=price,
            fallback_trigger=trigger,
        )

    async def _with_fees(
        self, raw: dict[str, Any], symbol: str, *, refetch: bool
    ) -> dict[str, Any]:
        """``raw`` completed where the answer left things out: a terse create answer (no
        status) and any answer with fills but no fee are read again (``refetch``: the
        order itself, e.g. BingX answers a create without commission); a fee still
        missing comes from the order's trades. Best effort: failures only log."""
        if not raw.get("id"):
            return raw
        filled = dec(raw.get("filled")) or Decimal(0)
        terse = raw.get("status") is None
        if refetch and (terse or (filled > 0 and not fee_known(raw))):
            raw = await self._refresh(raw, symbol)
            filled = dec(raw.get("filled")) or Decimal(0)
        if filled > 0 and not fee_known(raw):
            raw = await self._fees_from_trades(raw, symbol)
        if filled > 0 and not fee_known(raw):
            log.warning("%s: no fee for filled order %s", self.exchange_id, raw.get("id"))
        return raw

    async def _refresh(self, raw: dict[str, Any], symbol: str) -> dict[str, Any]:
        """Best effort: the full order after a terse answer."""
        if not self._c.has.get("fetchOrder"):
            return raw
        try:
            fresh = await self._read("fetch_order", lambda: self._c.fetch_order(raw["id"], symbol))
        except ExchangeError as err:
            if isinstance(err, AuthenticationError):
                raise
            log.info("%s: order refresh failed (%s)", self.exchange_id, err)
            return raw
        return {**raw, **{k: v for k, v in (fresh or {}).items() if v is not None}}

    async def _fees_from_trades(self, raw: dict[str, Any], symbol: str) -> dict[str, Any]:
        """``raw`` with the fee (and last fill time) summed from the order's own trades."""
        if not self._c.has.get("fetchMyTrades"):
            return raw
        oid = str(raw["id"])
        since = raw.get("timestamp")
        # a minute early: fill times may come in whole seconds (BingX ``filledTm``)
        since = int(since) - 60_000 if since else None
        params = {"orderId": oid} if self.exchange_id == "bingx" else {}
        try:
            rows = await self._read(
                "fetch_my_trades",
                lambda: self._c.fetch_my_trades(symbol, since, None, params),
            )
        except ExchangeError as err:
            if isinstance(err, AuthenticationError):
                raise
            log.info("%s: trades of order %s not read (%s)", self.exchange_id, oid, err)
            return raw
        trades = [t for t in rows or [] if str(t.get("order") or "") == oid and fee_known(t)]
        if not trades:
            return raw
        fills = [to_fill(t, symbol) for t in trades]
        currency = next((f.fee_currency for f in fills if f.fee_currency), None)
        fee = {"cost": decimal_text(sum((f.fee for f in fills), Decimal(0))), "currency": currency}
        out = {**raw, "fee": fee, "fees": [fee]}
        last = max((f.ts for f in fills if f.ts), default=None)
        if last and not out.get("lastTradeTimestamp"):
            out["lastTradeTimestamp"] = last
        return out

    def _to_precision(self, kind: str, symbol: str, value: Decimal) -> Decimal:
        fn = self._c.amount_to_precision if kind == "amount" else self._c.price_to_precision
        try:
            text = fn(symbol, str(value))
        except ccxt.InvalidOrder:
            raise OrderRejectedError(
                f"{self.exchange_id}: {kind} below the precision of {symbol}",
                code="below_precision",
                params={"symbol": symbol, "what": kind},
            ) from None
        except Exception as exc:
            raise map_error(exc, exchange_id=self.exchange_id, action="precision") from None
        return dec(text, Decimal(0)) or Decimal(0)

    def _buys_in_base(self, request: OrderRequest, raw_market: dict) -> bool:
        """Coinbase Advanced Trade spot market buys, sized in base units (its docs: "To
        buy a product, provide a quote_size or base_size")."""
        return (
            self.exchange_id == "coinbase"
            and request.type is OrderType.MARKET
            and request.side.value == "buy"
            and request.trigger_price is None
            and bool(raw_market.get("spot"))
        )

    def _market_buy_needs_price(self, request: OrderRequest, raw_market: dict) -> bool:
        return (
            request.type is OrderType.MARKET
            and request.side.value == "buy"
            and bool(raw_market.get("spot"))
            and bool(self._c.options.get("createMarketBuyOrderRequiresPrice"))
        )

    def _order_params(self, request: OrderRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            CLIENT_ID_PARAM.get(self.exchange_id, "clientOrderId"): request.client_order_id
        }
        if request.position_side:
            params["positionSide"] = request.position_side.upper()
        elif request.reduce_only:
            params["reduceOnly"] = True
        return params

    @property
    def amends_stops(self) -> bool:
        """Whether ``amend_stop`` moves a resting stop in place on this exchange."""
        return self.exchange_id in AMEND_STOP_EXCHANGES

    async def amend_stop(
        self, symbol: str, client_order_id: str, amount: Decimal, trigger: Decimal
    ) -> None:
        """Move our resting stop ``client_order_id`` to ``trigger`` for ``amount``, in
        place (Kraken ``AmendOrder`` through ccxt's ``edit_order``: the answer carries
        only an amend id; the order keeps its ids). Sent once, errors mapped like a
        submit's: a refusal (``OrderRejectedError``: e.g. the order is no longer open)
        means nothing changed."""
        if not self.amends_stops:
            raise OrderRejectedError(
                f"{self.exchange_id}: stop orders are not amended here",
                code="stop_amend_not_supported",
            )
        await self._core.load_markets()
        qty = self._to_precision("amount", symbol, amount)
        price = self._to_precision("price", symbol, trigger)
        params = {"clientOrderId": client_order_id, "stopLossPrice": decimal_text(price)}
        log.info("%s amend stop %s cid=%s", self.exchange_id, symbol, client_order_id)
        async with self._lock:
            await self._core.submit(
                "amend_order",
                lambda: self._c.edit_order(
                    "", symbol, "market", "sell", decimal_text(qty), None, params
                ),
            )

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        raw = await self._find_raw(symbol, client_order_id)
        if raw is None:
            raise NotFoundError(f"{self.exchange_id}: cancel: no order with that client id")
        state = to_order(raw, symbol=symbol, client_order_id=client_order_id)
        if state.status is not OrderStatus.OPEN:
            return state
        try:
            await self._read("cancel_order", lambda: self._c.cancel_order(raw["id"], symbol))
        except NotFoundError:
            pass  # filled or canceled meanwhile: the lookup below tells which
        after = await self._find_raw(symbol, client_order_id)
        if after is None:
            return replace(state, status=OrderStatus.CANCELED)
        after = await self._with_fees(after, symbol, refetch=False)
        final = to_order(after, symbol=symbol, client_order_id=client_order_id)
        if final.status is OrderStatus.OPEN:  # accepted, not yet visible as canceled
            final = replace(final, status=OrderStatus.CANCELED)
        return final

    # --- swaps -------------------------------------------------------------------

    def _swaps(self) -> bool:
        return self.exchange_id not in SPOT_ONLY

    async def fetch_positions(self, symbols: list[str] | None = None) -> list[PositionInfo]:
        if not self._swaps() or not self._c.has.get("fetchPositions"):
            return []
        await self._core.load_markets()
        rows = await self._read("fetch_positions", lambda: self._c.fetch_positions(symbols))
        out = [to_position(p) for p in rows or []]
        return [p for p in out if p is not None]

    async def fetch_funding(
        self, since_ms: int, symbols: list[str] | None = None
    ) -> list[FundingPayment]:
        """Funding payments at or after ``since_ms`` (``FundingSource``), oldest first:
        ccxt ``fetch_funding_history`` (BingX ``GET /openApi/swap/v2/user/income``,
        ``incomeType=FUNDING_FEE``), one call for every symbol, pages of
        ``FUNDING_PAGE`` rows followed from the last row's time (rows de-duplicated by
        id). Empty where there are no swaps or ccxt cannot read funding."""
        if not self._swaps() or not self._c.has.get("fetchFundingHistory"):
            return []
        await self._core.load_markets()
        wanted = None if symbols is None else set(symbols)
        seen: dict[str, FundingPayment] = {}
        since = since_ms
        for _ in range(FUNDING_PAGES):
            rows = await self._read(
                "fetch_funding_history",
                lambda s=since: self._c.fetch_funding_history(None, s, FUNDING_PAGE),
            )
            fresh = 0
            for row in rows or []:
                pay = _funding(row)
                if pay is None or pay.payment_id in seen:
                    continue
                seen[pay.payment_id] = pay
                fresh += 1
            if len(rows or []) < FUNDING_PAGE or not fresh:
                break
            since = max(p.ts_ms for p in seen.values())
        out = [p for p in seen.values() if wanted is None or p.symbol in wanted]
        return sorted(out, key=lambda p: (p.ts_ms, p.payment_id))

    async def fetch_position_mode(self, symbol: str | None = None) -> bool:
        """Whether the account is in hedge mode, as the venue says (BingX: ``GET
        /openApi/swap/v1/positionSide/dual``); False where there are no swaps."""
        if not self._swaps() or not self._c.has.get("fetchPositionMode"):
            return False
        await self._core.load_markets()
        mode = await self._read("fetch_position_mode", lambda: self._c.fetch_position_mode(symbol))
        self._hedged = bool((mode or {}).get("hedged"))
        return self._hedged

    async def set_position_mode(self, hedged: bool, symbol: str | None = None) -> bool:
        """Put the account in ``hedged`` mode and return the mode it is in. The mode is
        read first and nothing is sent when it already matches. A switch the venue
        refuses (BingX: "can be set when there are no active positions or pending
        orders") raises ``PositionModeRefusedError`` with the mode read back from the
        venue; network trouble and a refused key raise as usual."""
        if not self._swaps() or not self._c.has.get("setPositionMode"):
            if hedged:
                raise PositionModeRefusedError(
                    f"{self.exchange_id}: hedge mode not supported",
                    hedged=False,
                    code="hedge_mode_not_supported",
                )
            return False
        await self._core.load_markets()
        readable = bool(self._c.has.get("fetchPositionMode"))
        if readable and await self.fetch_position_mode(symbol) == hedged:
            return hedged
        try:
            await self._read("set_position_mode", lambda: self._c.set_position_mode(hedged, symbol))
        except (AuthenticationError, RetryableError):
            raise
        except ExchangeError as err:
            # where the mode cannot be read, a refused switch leaves the other mode
            actual = await self.fetch_position_mode(symbol) if readable else not hedged
            if actual == hedged:  # switched meanwhile, or the venue said "no change"
                return actual
            log.warning(
                "%s: position mode switch to %s refused (%s); the account stays %s",
                self.exchange_id,
                "hedge" if hedged else "one-way",
                err,
                "hedge" if actual else "one-way",
            )
            raise PositionModeRefusedError(
                f"{self.exchange_id}: position mode switch refused: {err}", hedged=actual
            ) from None
        self._hedged = hedged
        return hedged

    async def set_leverage(self, symbol: str, leverage: Decimal) -> None:
        if not self._swaps() or not self._c.has.get("setLeverage"):
            if leverage != 1:
                raise ExchangeError(
                    f"{self.exchange_id}: leverage not supported",
                    code="leverage_not_supported",
                )
            return
        await self._core.load_markets()
        sides: list[str | None] = [None]
        if self.exchange_id == "bingx":
            sides = ["LONG", "SHORT"] if await self._is_hedged(symbol) else ["BOTH"]
        for side in sides:
            params = {"side": side} if side else {}
            try:
                await self._read(
                    "set_leverage", lambda p=params: self._c.set_leverage(int(leverage), symbol, p)
                )
            except OrderRejectedError as err:
                if "NoChange" not in str(err):
                    raise

    async def _is_hedged(self, symbol: str) -> bool:
        if self._hedged is None:
            return await self.fetch_position_mode(symbol)
        return self._hedged

    async def close(self) -> None:
        await self._core.close()
