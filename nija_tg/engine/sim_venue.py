"""The backtest's simulated venue, in memory and synchronous: the market's limits
(:class:`MarketRules`), a spot account with the paper account's fill model and
arithmetic (:class:`SpotVenue`) and a USD(T)-margined perpetual swap account
(:class:`SwapVenue`, margin accounting).

The fill model is the paper account's (``exchange/paper.py``, whose pure functions it
calls): a market order fills at the price now (in a backtest the next candle's open),
a close at a stop at the stop price or the open of the candle that gapped through it;
``slippage`` against the trader, rounded to the price step against the trader; amounts
rounded down to the amount step; the minimum amount and cost refuse smaller orders
(``check_minimums`` at the price now, as the paper account checks them); a fee of
``fee_rate`` of the notional on every fill, in the quote.

The in-memory backtest (``engine/backtest.py``) trades on these directly; the live
UserLoop replay (``engine/live_replay.py``) wraps :class:`SwapVenue` in its async
``SwapReplayAccount``, so both sides of the parity test book swaps with the same code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from nija_tg.core.errors import InsufficientFundsError, OrderRejectedError
from nija_tg.core.models import BalanceLine, Candle, MarketInfo, OrderRequest, PositionInfo, Side
from nija_tg.engine.bookkeeping import Holding, apply_fill
from nija_tg.exchange.paper import market_fill_price, order_base_price
from nija_tg.exchange.precision import check_minimums, round_step

ZERO = Decimal(0)
MIN_COST = Decimal(5)  # quote units: as Binance's USDT-M futures minimum notional (5 USDT)


def replay_market(symbol: str) -> MarketInfo:
    """A market with fine steps and no exchange minimums (for tests of other parts)."""
    base, quote = symbol.split(":")[0].split("/")
    kind = "swap" if ":" in symbol else "spot"
    return MarketInfo(symbol, base, quote, kind, Decimal("0.00000001"), None, None, None)


@dataclass(frozen=True)
class MarketRules:
    """A simulated venue's limits for one market: orders are rounded to the steps
    (amounts down; fill prices against the trader) and refused below the minimums.
    None: no such limit."""

    amount_step: Decimal | None
    price_step: Decimal | None
    min_amount: Decimal | None
    min_cost: Decimal | None

    def market(self, symbol: str) -> MarketInfo:
        base, quote = symbol.split(":")[0].split("/")
        kind = "swap" if ":" in symbol else "spot"
        return MarketInfo(
            symbol, base, quote, kind, self.amount_step, self.price_step, self.min_amount,
            self.min_cost,
        )  # fmt: skip


def default_rules(price: float) -> MarketRules:
    """A venue's usual limits for a pair trading at ``price`` (the first candle's
    close): a price step of 6 significant digits (ETH at 2,000: 0.01), an amount step
    worth at most 1 quote unit (ETH at 2,000: 0.0001; XRP at 1.1: 0.1), a minimum amount
    of one step and a minimum cost of 5 quote units, as Binance's USDT-M futures
    minimum notional."""
    if not price > 0:
        return MarketRules(Decimal("0.00000001"), None, None, MIN_COST)
    digits = math.floor(math.log10(price))
    price_step = Decimal(1).scaleb(digits - 5)
    amount_step = Decimal(1).scaleb(math.floor(math.log10(1 / price)))
    return MarketRules(amount_step, price_step, amount_step, MIN_COST)


@dataclass(frozen=True, slots=True)
class Fill:
    """One fill of a market order: amount (base units or contracts), price, fee (quote)."""

    side: Side
    amount: Decimal
    price: Decimal
    fee: Decimal


def fill_price(
    request: OrderRequest,
    market: MarketInfo,
    now_price: Decimal,
    candle: Candle | None,
    slippage: Decimal,
) -> Decimal:
    """Where a market order fills: the price now, or for a close at a stop the stop (a
    gap's open: ``candle`` is the one the engine acted on); slipped and on the step."""
    base = order_base_price(request, now_price, candle)
    return market_fill_price(request.side, base, slippage, market.price_step)


class SpotVenue:
    """A spot account in memory: the paper account's balances and fills, with its
    Decimal operations in the same order (so its balances, hence the equity and the
    sizing, are those of a live paper user to the last digit). Long only; market
    orders only."""

    def __init__(
        self,
        balance: Decimal,
        currency: str,
        *,
        fee_rate: Decimal = Decimal("0.001"),
        slippage: Decimal = Decimal("0.0005"),
    ) -> None:
        self.fee_rate = fee_rate
        self.slippage = slippage
        self.free: dict[str, Decimal] = {currency: Decimal(str(balance))}
        self.used: dict[str, Decimal] = {currency: Decimal("0")}

    def balances(self) -> list[BalanceLine]:
        lines = []
        for cur in sorted(self.free):
            free, used = self.free[cur], self.used[cur]
            if free or used:
                lines.append(BalanceLine(cur, free, used, free + used))
        return lines

    def held(self, currency: str) -> Decimal:
        """Free + used of ``currency`` (what the account holds of a base)."""
        return self.free.get(currency, ZERO) + self.used.get(currency, ZERO)

    def _move(self, cur: str, free: Decimal) -> None:
        self.free[cur] = self.free.get(cur, Decimal("0")) + free
        self.used[cur] = self.used.get(cur, Decimal("0")) + Decimal("-0")

    def market_order(
        self,
        request: OrderRequest,
        market: MarketInfo,
        now_price: Decimal,
        candle: Candle | None,
    ) -> Fill:
        """Fill ``request`` now (OrderRejectedError below the minimums at the price
        now, InsufficientFundsError without the cash or coins)."""
        amount = round_step(request.amount, market.amount_step)
        check_minimums(market, amount, now_price, "paper")
        px = fill_price(request, market, now_price, candle, self.slippage)
        cost = amount * px * market.contract_size
        fee = cost * self.fee_rate
        reserved = Decimal("0")
        if request.side is Side.BUY:
            if self.free.get(market.quote, Decimal("0")) < cost + fee:
                raise InsufficientFundsError(f"paper: not enough {market.quote}")
            self._move(market.quote, reserved - cost - fee)
            self._move(market.base, amount)
        else:
            if self.free.get(market.base, Decimal("0")) < amount:
                raise InsufficientFundsError(f"paper: not enough {market.base}")
            self._move(market.base, reserved - amount)
            self._move(market.quote, cost - fee)
        return Fill(request.side, amount, px, fee)


class SwapVenue:
    """A simulated USD(T)-margined perpetual swap account, in memory.

    - the wallet (``currency``) changes only by realised P&L and fees (``fee_rate`` of
      the notional on every fill: entries and exits);
    - an open position (long or short) ties up margin = entry notional / leverage, the
      leverage set from the user's ``leverage_cap`` (``set_leverage``), freed as the
      position is reduced;
    - the balance is marked to market at the given marks (the last close): total =
      wallet + unrealised P&L of the open positions, used = margin, free = total -
      used, and the wallet apart (as BingX reports it); an entry needs free >= its
      margin + fee (InsufficientFundsError);
    - one-way mode (a fill reduces the opposite side first; reduce-only never opens) or
      hedge mode (``position_side``).

    Not simulated: funding payments, maintenance margin and liquidation."""

    def __init__(
        self,
        *,
        balance: Decimal,
        currency: str,
        leverage: Decimal,
        fee_rate: Decimal = Decimal("0.001"),
        slippage: Decimal = Decimal("0.0005"),
    ) -> None:
        if leverage <= 0:
            raise ValueError("leverage must be positive")
        self.currency = currency
        self.fee_rate = fee_rate
        self.slippage = slippage
        self.wallet = balance  # start + realised P&L - fees
        self.default_leverage = leverage
        self.leverage: dict[str, Decimal] = {}
        self.positions: dict[str, dict[str, Holding]] = {}  # symbol -> side -> holding
        self.margin: dict[tuple[str, str], Decimal] = {}  # (symbol, side) -> margin
        self.hedged = False

    def set_leverage(self, symbol: str, leverage: Decimal) -> None:
        if Decimal(leverage) <= 0:
            raise OrderRejectedError("backtest: leverage must be positive")
        self.leverage[symbol] = Decimal(leverage)

    @staticmethod
    def unrealised(h: Holding, mark: Decimal, contract_size: Decimal) -> Decimal:
        move = mark - h.entry_price
        return (move if h.side == "long" else -move) * h.amount * contract_size

    def balances(
        self, marks: Mapping[str, Decimal], sizes: Mapping[str, Decimal]
    ) -> list[BalanceLine]:
        """The account marked at ``marks`` (symbol -> price; ``sizes``: contract sizes)."""
        total = self.wallet
        for symbol, sides in self.positions.items():
            for h in sides.values():
                total += self.unrealised(h, marks[symbol], sizes[symbol])
        used = sum(self.margin.values(), start=ZERO)
        # the wallet reported apart, as BingX reports it: the live loop compares wallets
        # between two reads for deposits and withdrawals (an open position's P&L moving
        # the total is not one)
        return [BalanceLine(self.currency, total - used, used, total, wallet=self.wallet)]

    def position_list(
        self,
        marks: Mapping[str, Decimal],
        sizes: Mapping[str, Decimal],
        symbols: list[str] | None = None,
    ) -> list[PositionInfo]:
        out = []
        for symbol, sides in sorted(self.positions.items()):
            if symbols is not None and symbol not in symbols:
                continue
            for h in sides.values():
                lev = self.leverage.get(symbol, self.default_leverage)
                upnl = self.unrealised(h, marks[symbol], sizes[symbol])
                out.append(PositionInfo(symbol, h.side, h.amount, h.entry_price, upnl, lev))
        return out

    def held(self, symbol: str, side: str) -> Decimal:
        h = self.positions.get(symbol, {}).get(side)
        return ZERO if h is None else h.amount

    def market_order(
        self,
        request: OrderRequest,
        market: MarketInfo,
        now_price: Decimal,
        candle: Candle | None,
        marks: Mapping[str, Decimal],
        sizes: Mapping[str, Decimal],
    ) -> Fill:
        """Fill ``request`` now: OrderRejectedError below the minimums or for a
        reduce-only order without a position, InsufficientFundsError without the
        margin (the balance marked at ``marks``)."""
        amount = round_step(request.amount, market.amount_step)
        check_minimums(market, amount, now_price, "backtest")
        price = fill_price(request, market, now_price, candle, self.slippage)
        size = market.contract_size
        fee = amount * price * size * self.fee_rate
        current = self.positions.get(request.symbol, {})
        effect = apply_fill(  # gross P&L: fees are taken from the wallet below
            current,
            side=request.side,
            amount=amount,
            price=price,
            fee=ZERO,
            spot=False,
            position_side=request.position_side,
            reduce_only=request.reduce_only,
            contract_size=size,
        )
        if effect.opened <= 0 and effect.reduced <= 0:
            raise OrderRejectedError(
                "backtest: reduce-only order without a position",
                code="no_position_to_reduce",
                params={"symbol": request.symbol},
            )
        leverage = self.leverage.get(request.symbol, self.default_leverage)
        new_margin = effect.opened * price * size / leverage
        if effect.opened > 0:
            free = self.balances(marks, sizes)[0].free
            if free < new_margin + fee:
                raise InsufficientFundsError(f"backtest: not enough {self.currency} margin")
        self.wallet += (effect.realized or ZERO) - fee
        sides = dict(current)
        for side, holding in effect.sides.items():
            key = (request.symbol, side)
            old = current.get(side)
            if holding is None:
                sides.pop(side, None)
                self.margin.pop(key, None)
            elif old is not None and holding.amount < old.amount:  # reduced
                sides[side] = holding
                self.margin[key] = self.margin.get(key, ZERO) * holding.amount / old.amount
            else:  # opened or added
                sides[side] = holding
                self.margin[key] = self.margin.get(key, ZERO) + new_margin
        if sides:
            self.positions[request.symbol] = sides
        else:
            self.positions.pop(request.symbol, None)
        return Fill(request.side, amount, price, fee)
