"""Paper exchange: simulated fills on live public prices, same ``TradingAccount``
interface as a real account.

The fill model (the same for live paper users and the backtest, whose price source
answers the next candle's open):

- Market orders fill at once at the current price (``fetch_ticker`` of the
  ``MarketDataSource``: the live price; in a backtest the open of the candle after the
  one the engine decided on) moved against the trader by ``slippage``; fee ``fee_rate``
  of the cost, paid in the quote.
- A market order that closes a position at its stop (``OrderRequest.stop_price``, sent
  by the engine's stop check) fills at the stop price, or at the open of the candle the
  engine acted on (``closed_candle``) when that candle opened beyond the stop (a gap):
  ``stop_fill_price``; then slippage and fee as any market order.
- Fill prices are rounded to the market's price step against the trader (a buy up, a
  sell down); amounts down to its amount step; the market's minimum amount and cost
  refuse smaller orders (OrderRejectedError), as a venue does.
- Limit orders reserve funds and rest; ``on_price(symbol, price)`` (or ``check_limits()``,
  which fetches prices) fills those the price crosses, at the limit price.
- Client order ids are honoured like a real exchange: an id already used by an OPEN order
  is rejected (OrderRejectedError); lookups and cancels go by client id.
- Spot semantics only: no margin, positions are always empty, leverage 1.
- State per user (balances + orders) lives in a ``PaperStore``; JSON-serialisable.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from nija_tg.core.errors import InsufficientFundsError, NotFoundError, OrderRejectedError
from nija_tg.core.models import (
    BalanceLine,
    Candle,
    FillInfo,
    MarketInfo,
    OrderRequest,
    OrderState,
    OrderStatus,
    OrderType,
    PositionInfo,
    Side,
)
from nija_tg.exchange.precision import check_minimums, round_step
from nija_tg.exchange.protocol import MarketDataSource

DEFAULT_START = Decimal(10000)
USD_QUOTED = frozenset({"kraken", "coinbase"})
KEEP_CLOSED_ORDERS = 500


@dataclass
class PaperOrder:
    """One simulated order, stored as strings for JSON."""

    order_id: str
    client_order_id: str
    symbol: str
    side: str
    type: str
    amount: str
    price: str | None
    status: str = OrderStatus.OPEN.value
    filled: str = "0"
    average: str | None = None
    fee: str = "0"
    fee_currency: str | None = None
    ts: int = 0
    reserved: str = "0"  # funds held while open (quote for buys, base for sells)
    fills: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["fills"] = [dict(f) for f in self.fills]
        return d


@dataclass
class PaperState:
    """One user's paper account: ``balances[currency] = {"free": str, "used": str}``."""

    balances: dict[str, dict[str, str]] = field(default_factory=dict)
    orders: list[PaperOrder] = field(default_factory=list)
    seq: int = 0

    def to_dict(self) -> dict[str, Any]:
        """As ``dataclasses.asdict`` (a deep copy), written out: it runs on every paper
        order over the whole state, where ``asdict``'s generic recursion was the
        largest cost of a paper fill after SQLite."""
        return {
            "balances": {k: dict(v) for k, v in self.balances.items()},
            "orders": [o.to_dict() for o in self.orders],
            "seq": self.seq,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PaperState:
        return cls(
            balances={k: dict(v) for k, v in data.get("balances", {}).items()},
            orders=[PaperOrder(**o) for o in data.get("orders", [])],
            seq=int(data.get("seq", 0)),
        )


class PaperStore(Protocol):
    """Where paper accounts persist (the SQLite side lives in storage/)."""

    async def load_paper_state(self, user_id: int | str) -> PaperState | None: ...

    async def save_paper_state(self, user_id: int | str, state: PaperState) -> None: ...


class InMemoryPaperStore:
    """For tests: keeps a JSON-shaped copy so nothing is shared by reference."""

    def __init__(self) -> None:
        self.saved: dict[Any, dict[str, Any]] = {}

    async def load_paper_state(self, user_id: int | str) -> PaperState | None:
        data = self.saved.get(user_id)
        return None if data is None else PaperState.from_dict(data)

    async def save_paper_state(self, user_id: int | str, state: PaperState) -> None:
        self.saved[user_id] = PaperState.from_dict(state.to_dict()).to_dict()


def _d(x: str | None) -> Decimal:
    return Decimal(x) if x not in (None, "") else Decimal(0)


def stop_fill_price(side: Side, stop: Decimal, candle_open: Decimal | None) -> Decimal:
    """Where a market order closing at a stop fills, before slippage: at the stop, or at
    the candle's open when the candle opened beyond it (a gap: a long's stop sell below
    the stop, a short's stop buy above it). ``candle_open`` None: at the stop."""
    if candle_open is None:
        return stop
    return min(stop, candle_open) if side is Side.SELL else max(stop, candle_open)


def market_fill_price(
    side: Side, price: Decimal, slippage: Decimal, price_step: Decimal | None
) -> Decimal:
    """``price`` moved against the trader by ``slippage`` and rounded to ``price_step``
    against the trader too (a buy up, a sell down)."""
    if side is Side.BUY:
        return round_up(price * (1 + slippage), price_step)
    return round_step(price * (1 - slippage), price_step)


def round_up(value: Decimal, step: Decimal | None) -> Decimal:
    """``value`` rounded up to a multiple of ``step`` (unchanged without a step)."""
    down = round_step(value, step)
    return down if down >= value or not step else (down + step).normalize()


def order_base_price(request: OrderRequest, now_price: Decimal, candle: Candle | None) -> Decimal:
    """The price a market order fills at before slippage: the stop (or a gap's open)
    for a close at a stop, else the price now."""
    if request.stop_price is None:
        return now_price
    candle_open = None if candle is None else Decimal(str(candle.open))
    return stop_fill_price(request.side, request.stop_price, candle_open)


class PaperAccount:
    """A simulated account trading on ``exchange_id``'s public prices."""

    def __init__(
        self,
        user_id: int | str,
        exchange_id: str,
        market_data: MarketDataSource,
        store: PaperStore,
        *,
        fee_rate: Decimal = Decimal("0.001"),
        slippage: Decimal = Decimal("0.0005"),
        starting_balance: Decimal = DEFAULT_START,
        starting_currency: str | None = None,
        clock=lambda: int(time.time() * 1000),
        closed_candle: Callable[[str], Candle | None] | None = None,
    ) -> None:
        self.user_id = user_id
        self.exchange_id = exchange_id
        self.market_data = market_data
        self.store = store
        self.fee_rate = fee_rate
        self.slippage = slippage
        self.starting_balance = starting_balance
        self.starting_currency = starting_currency or (
            "USD" if exchange_id in USD_QUOTED else "USDT"
        )
        self.clock = clock
        # the last closed candle of a symbol the engine acted on (stop fills on a gap)
        self.closed_candle = closed_candle
        self._state: PaperState | None = None
        # the balance lines of ``_state`` as ``fetch_balance`` answers them; None once a
        # balance moved (``_move``) or the state was read again
        self._lines: tuple[BalanceLine, ...] | None = None
        self._lock = asyncio.Lock()
        self._hedged = False  # no swaps on paper: the mode is only remembered

    # Paper fills at candle prices; its stops are the engine's (checked on every candle).
    native_stops = False

    # --- state -------------------------------------------------------------------

    async def _load(self) -> PaperState:
        if self._state is None:
            state = await self.store.load_paper_state(self.user_id)
            if state is None:
                state = PaperState(
                    balances={
                        self.starting_currency: {"free": str(self.starting_balance), "used": "0"}
                    }
                )
                await self.store.save_paper_state(self.user_id, state)
            self._state = state
            self._lines = None
        return self._state

    async def _save(self, state: PaperState) -> None:
        closed = [o for o in state.orders if o.status != OrderStatus.OPEN.value]
        if len(closed) > KEEP_CLOSED_ORDERS:
            drop = {id(o) for o in closed[: len(closed) - KEEP_CLOSED_ORDERS]}
            state.orders = [o for o in state.orders if id(o) not in drop]
        await self.store.save_paper_state(self.user_id, state)

    @staticmethod
    def _bal(state: PaperState, cur: str) -> dict[str, str]:
        return state.balances.setdefault(cur, {"free": "0", "used": "0"})

    def _move(self, state: PaperState, cur: str, free: Decimal = 0, used: Decimal = 0) -> None:
        self._lines = None
        b = self._bal(state, cur)
        b["free"] = str(_d(b["free"]) + free)
        b["used"] = str(_d(b["used"]) + used)

    # --- reads -------------------------------------------------------------------

    async def market(self, symbol: str) -> MarketInfo:
        return await self.market_data.market(self.exchange_id, symbol)

    async def fetch_balance(self) -> list[BalanceLine]:
        """The balances (currencies held, sorted). The lines made at the last read are
        answered again while no balance moved since (most closes: one read a close)
        and no order is being placed (it holds the lock until its state is saved)."""
        lines = self._lines
        if lines is not None and not self._lock.locked():
            return list(lines)
        async with self._lock:
            state = await self._load()
            made = []
            for cur, b in sorted(state.balances.items()):
                free, used = _d(b["free"]), _d(b["used"])
                if free or used:
                    made.append(BalanceLine(cur, free, used, free + used))
            self._lines = tuple(made)
            return made

    async def fetch_order_by_client_id(
        self, symbol: str, client_order_id: str
    ) -> OrderState | None:
        async with self._lock:
            o = self._find(await self._load(), client_order_id)
            return None if o is None else _to_state(o)

    async def fetch_open_orders(self, symbol: str | None = None) -> list[OrderState]:
        async with self._lock:
            state = await self._load()
            return [
                _to_state(o)
                for o in state.orders
                if o.status == OrderStatus.OPEN.value and (symbol is None or o.symbol == symbol)
            ]

    @staticmethod
    def _find(state: PaperState, cid: str) -> PaperOrder | None:
        for o in reversed(state.orders):
            if o.client_order_id == cid:
                return o
        return None

    # --- orders ------------------------------------------------------------------

    async def create_order(self, request: OrderRequest) -> OrderState:
        if not request.client_order_id:
            raise OrderRejectedError("paper: missing client order id")
        if request.trigger_price is not None:
            raise OrderRejectedError(
                "paper: stop orders are enforced by the engine",
                code="paper_no_stop_orders",
            )
        market = await self.market(request.symbol)
        amount = round_step(request.amount, market.amount_step)
        price = None
        if request.type is OrderType.LIMIT:
            if request.price is None:
                raise OrderRejectedError("paper: limit without price", code="limit_needs_price")
            price = round_step(request.price, market.price_step, down=False)
        now_price = (await self.market_data.fetch_ticker(self.exchange_id, request.symbol)).last
        check_minimums(market, amount, price or now_price, "paper")
        async with self._lock:
            state = await self._load()
            dup = self._find(state, request.client_order_id)
            if dup is not None and dup.status == OrderStatus.OPEN.value:
                raise OrderRejectedError(
                    "paper: duplicate open client order id",
                    code="duplicate_client_order_id",
                )
            state.seq += 1
            order = PaperOrder(
                order_id=f"paper-{state.seq}",
                client_order_id=request.client_order_id,
                symbol=request.symbol,
                side=request.side.value,
                type=request.type.value,
                amount=str(amount),
                price=None if price is None else str(price),
                ts=self.clock(),
            )
            if request.type is OrderType.MARKET:
                candle = None
                if request.stop_price is not None and self.closed_candle is not None:
                    candle = self.closed_candle(request.symbol)
                base = order_base_price(request, now_price, candle)
                px = market_fill_price(request.side, base, self.slippage, market.price_step)
                self._fill(state, market, order, px, check_funds=True)
            else:
                self._reserve(state, market, order)
                if _crosses(order, now_price):
                    self._fill(state, market, order, _d(order.price), check_funds=False)
            state.orders.append(order)
            await self._save(state)
            return _to_state(order)

    def _reserve(self, state: PaperState, market: MarketInfo, o: PaperOrder) -> None:
        amount, price = _d(o.amount), _d(o.price)
        if o.side == Side.BUY.value:
            cur, need = market.quote, amount * price * market.contract_size * (1 + self.fee_rate)
        else:
            cur, need = market.base, amount
        if _d(self._bal(state, cur)["free"]) < need:
            raise InsufficientFundsError(f"paper: not enough {cur}")
        self._move(state, cur, free=-need, used=need)
        o.reserved = str(need)

    def _fill(
        self, state: PaperState, market: MarketInfo, o: PaperOrder, px: Decimal, check_funds: bool
    ) -> None:
        amount = _d(o.amount)
        cost = amount * px * market.contract_size
        fee = cost * self.fee_rate
        reserved = _d(o.reserved)
        if o.side == Side.BUY.value:
            if check_funds and _d(self._bal(state, market.quote)["free"]) < cost + fee:
                raise InsufficientFundsError(f"paper: not enough {market.quote}")
            self._move(state, market.quote, free=reserved - cost - fee, used=-reserved)
            self._move(state, market.base, free=amount)
        else:
            if check_funds and _d(self._bal(state, market.base)["free"]) < amount:
                raise InsufficientFundsError(f"paper: not enough {market.base}")
            self._move(state, market.base, free=reserved - amount, used=-reserved)
            self._move(state, market.quote, free=cost - fee)
        now = self.clock()
        o.reserved, o.status, o.filled = "0", OrderStatus.FILLED.value, str(amount)
        o.average, o.fee, o.fee_currency = str(px), str(fee), market.quote
        o.fills.append(
            {
                "trade_id": f"{o.order_id}-t{len(o.fills) + 1}",
                "amount": str(amount),
                "price": str(px),
                "fee": str(fee),
                "ts": now,
            }
        )

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderState:
        async with self._lock:
            state = await self._load()
            o = self._find(state, client_order_id)
            if o is None:
                raise NotFoundError("paper: no order with that client id")
            if o.status == OrderStatus.OPEN.value:
                market = await self.market(o.symbol)
                cur = market.quote if o.side == Side.BUY.value else market.base
                reserved = _d(o.reserved)
                self._move(state, cur, free=reserved, used=-reserved)
                o.reserved, o.status = "0", OrderStatus.CANCELED.value
                await self._save(state)
            return _to_state(o)

    async def on_price(self, symbol: str, price: Decimal) -> list[OrderState]:
        """Fill every open limit order on ``symbol`` that ``price`` crosses."""
        async with self._lock:
            state = await self._load()
            hits = [
                o
                for o in state.orders
                if o.symbol == symbol and o.status == OrderStatus.OPEN.value and _crosses(o, price)
            ]
            if not hits:
                return []
            market = await self.market(symbol)
            for o in hits:
                self._fill(state, market, o, _d(o.price), check_funds=False)
            await self._save(state)
            return [_to_state(o) for o in hits]

    async def check_limits(self) -> list[OrderState]:
        """Fetch the price of every symbol with open orders and apply ``on_price``."""
        state = self._state
        if (
            state is not None
            and not self._lock.locked()
            and all(o.status != OrderStatus.OPEN.value for o in state.orders)
        ):
            return []  # nothing rests (most accounts, most closes): nothing to check
        async with self._lock:
            state = await self._load()
            symbols = sorted({o.symbol for o in state.orders if o.status == OrderStatus.OPEN.value})
        filled: list[OrderState] = []
        for symbol in symbols:
            ticker = await self.market_data.fetch_ticker(self.exchange_id, symbol)
            filled += await self.on_price(symbol, ticker.last)
        return filled

    # --- swaps (not simulated) ----------------------------------------------------

    async def fetch_positions(self, symbols: list[str] | None = None) -> list[PositionInfo]:
        return []

    async def set_leverage(self, symbol: str, leverage: Decimal) -> None:
        return None

    async def fetch_position_mode(self, symbol: str | None = None) -> bool:
        return self._hedged

    async def set_position_mode(self, hedged: bool, symbol: str | None = None) -> bool:
        self._hedged = hedged
        return hedged

    async def close(self) -> None:
        return None


def _crosses(o: PaperOrder, price: Decimal) -> bool:
    if o.type != OrderType.LIMIT.value or o.price is None or not price:
        return False
    limit = _d(o.price)
    return price <= limit if o.side == Side.BUY.value else price >= limit


def _to_state(o: PaperOrder) -> OrderState:
    side = Side(o.side)
    fills = tuple(
        FillInfo(
            trade_id=f["trade_id"],
            symbol=o.symbol,
            side=side,
            amount=_d(f["amount"]),
            price=_d(f["price"]),
            fee=_d(f["fee"]),
            fee_currency=o.fee_currency or "",
            ts=int(f["ts"]),
            exchange_order_id=o.order_id,
            client_order_id=o.client_order_id,
        )
        for f in o.fills
    )
    return OrderState(
        exchange_order_id=o.order_id,
        client_order_id=o.client_order_id,
        symbol=o.symbol,
        side=side,
        type=OrderType(o.type),
        status=OrderStatus(o.status),
        amount=_d(o.amount),
        filled=_d(o.filled),
        price=None if o.price is None else _d(o.price),
        average=None if o.average is None else _d(o.average),
        fee=_d(o.fee),
        fee_currency=o.fee_currency,
        ts=o.ts,
        fills=fills,
        filled_at=max((f.ts for f in fills), default=None),
    )
