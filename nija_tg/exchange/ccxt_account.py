"""One user's account on one exchange through ccxt (implements ``TradingAccount``)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from decimal import Decimal
from typing import Any

import ccxt

from nija_tg.core.errors import ExchangeError, NotFoundError, OrderRejectedError
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
from nija_tg.exchange.ccxt_convert import to_balances, to_market, to_order, to_position
from nija_tg.exchange.ccxt_errors import map_error
from nija_tg.exchange.client_ids import validate_client_order_id
from nija_tg.exchange.precision import check_minimums, dec

log = logging.getLogger(__name__)

# Exchanges whose first-class use here is spot only: no positions, no leverage.
SPOT_ONLY = frozenset({"kraken", "coinbase"})
# Where stop-market orders rest on the exchange itself (ccxt's unified ``stopLossPrice``),
# checked against an emulator that triggers them like the venue: Kraken spot
# ``ordertype=stop-loss``, BingX swap ``STOP_MARKET``. Coinbase Advanced offers only
# stop-limit orders, which a fast move can skip: there (and on exchanges not checked
# here) the engine enforces stops on every candle instead.
NATIVE_STOP_EXCHANGES = frozenset({"kraken", "bingx"})
# Where ccxt's unified ``clientOrderId`` param is dropped and the native name is needed.
CLIENT_ID_PARAM = {"coinbase": "client_order_id"}


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
        raw = await self._read("fetch_balance", self._c.fetch_balance)
        return to_balances(raw or {})

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
                    user_message="This exchange does not take our stop orders.",
                )
            trigger = self._to_precision("price", symbol, request.trigger_price)
        if request.type is OrderType.LIMIT:
            if request.price is None:
                raise OrderRejectedError(
                    f"{self.exchange_id}: limit order without a price",
                    user_message="A limit order needs a price.",
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
            params["stopLossPrice"] = float(trigger)
        submit_price = price
        if trigger is None and self._market_buy_needs_price(request, raw_market):
            submit_price = ref_price
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
                    float(amount),
                    float(submit_price) if submit_price is not None else None,
                    params,
                ),
            )
        raw = raw or {}
        if raw.get("status") is None and raw.get("id") and self._c.has.get("fetchOrder"):
            raw = await self._refresh(raw, symbol)
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

    async def _refresh(self, raw: dict[str, Any], symbol: str) -> dict[str, Any]:
        """Best effort: the full order after a terse create response."""
        try:
            fresh = await self._read("fetch_order", lambda: self._c.fetch_order(raw["id"], symbol))
        except ExchangeError as err:
            log.info("%s: order refresh after create failed (%s)", self.exchange_id, err)
            return raw
        return {**raw, **{k: v for k, v in (fresh or {}).items() if v is not None}}

    def _to_precision(self, kind: str, symbol: str, value: Decimal) -> Decimal:
        fn = self._c.amount_to_precision if kind == "amount" else self._c.price_to_precision
        try:
            text = fn(symbol, str(value))
        except ccxt.InvalidOrder:
            raise OrderRejectedError(
                f"{self.exchange_id}: {kind} below the precision of {symbol}",
                user_message=f"Order too small for {symbol}: the {kind} rounds to zero.",
            ) from None
        except Exception as exc:
            raise map_error(exc, exchange_id=self.exchange_id, action="precision") from None
        return dec(text, Decimal(0)) or Decimal(0)

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

    async def set_position_mode(self, hedged: bool, symbol: str | None = None) -> None:
        if not self._swaps() or not self._c.has.get("setPositionMode"):
            if hedged:
                raise ExchangeError(
                    f"{self.exchange_id}: hedge mode not supported",
                    user_message="This exchange does not support hedge mode.",
                )
            return
        await self._core.load_markets()
        try:
            await self._read("set_position_mode", lambda: self._c.set_position_mode(hedged, symbol))
        except OrderRejectedError as err:
            if "NoChange" not in str(err) and "MarginModeAlreadySet" not in str(err):
                raise
        self._hedged = hedged

    async def set_leverage(self, symbol: str, leverage: Decimal) -> None:
        if not self._swaps() or not self._c.has.get("setLeverage"):
            if leverage != 1:
                raise ExchangeError(
                    f"{self.exchange_id}: leverage not supported",
                    user_message="This exchange account does not support leverage.",
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
        if self._hedged is None and self._c.has.get("fetchPositionMode"):
            mode = await self._read(
                "fetch_position_mode", lambda: self._c.fetch_position_mode(symbol)
            )
            self._hedged = bool((mode or {}).get("hedged"))
        return bool(self._hedged)

    async def close(self) -> None:
        await self._core.close()
