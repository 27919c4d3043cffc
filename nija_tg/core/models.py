"""Plain data shared by every layer. No I/O, no asyncio."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal

from nija_tg.core.errors import ErrorReason


class Role(enum.StrEnum):
    ADMIN = "admin"
    TRADER = "trader"
    VIEWER = "viewer"


class UserStatus(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"


# Pause reasons the engine sets (drawdown limit, a key that stopped working): the user may
# lift these themselves with /trade on; a pause by an admin needs an admin's /resume.
SELF_RESUMABLE_PAUSES = frozenset({"drawdown", "connection"})


class TradingMode(enum.StrEnum):
    PAPER = "paper"
    LIVE = "live"


class Side(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(enum.StrEnum):
    MARKET = "market"
    LIMIT = "limit"


class OrderStatus(enum.StrEnum):
    """Our order state machine (see docs/engine.md)."""

    INTENT = "intent"  # committed locally, not yet sent
    SUBMITTED = "submitted"  # sent; outcome not yet seen
    OPEN = "open"  # exchange has it, not fully filled
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"


TERMINAL_ORDER_STATUSES = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED}
)


@dataclass(frozen=True, slots=True)
class Candle:
    ts: int  # open time, UTC milliseconds
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class Ticker:
    symbol: str
    last: Decimal
    bid: Decimal | None = None
    ask: Decimal | None = None
    ts: int | None = None


@dataclass(frozen=True, slots=True)
class MarketInfo:
    symbol: str  # unified ccxt symbol, e.g. "BTC/USDT" or "BTC/USDT:USDT"
    base: str
    quote: str
    kind: str  # "spot" | "swap"
    amount_step: Decimal | None = None
    price_step: Decimal | None = None
    min_amount: Decimal | None = None
    min_cost: Decimal | None = None
    contract_size: Decimal = Decimal(1)


@dataclass(frozen=True, slots=True)
class OrderRequest:
    symbol: str
    side: Side
    type: OrderType
    amount: Decimal
    client_order_id: str
    price: Decimal | None = None
    reduce_only: bool = False
    position_side: str | None = None  # "LONG"/"SHORT" in hedge mode on swaps
    # A stop-market order: rests on the exchange and executes as a market order once the
    # price reaches ``trigger_price`` (sell: at or below it; buy: at or above it).
    trigger_price: Decimal | None = None
    # The stop that made the engine close at market (purpose stop): simulated accounts
    # fill at it (or at the candle's open when it gapped through); venues ignore it.
    stop_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class FillInfo:
    trade_id: str
    symbol: str
    side: Side
    amount: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str
    ts: int
    exchange_order_id: str | None = None
    client_order_id: str | None = None


@dataclass(frozen=True, slots=True)
class OrderState:
    """What an exchange says about one order."""

    exchange_order_id: str
    client_order_id: str | None
    symbol: str
    side: Side
    type: OrderType
    status: OrderStatus  # OPEN, FILLED, CANCELED or REJECTED
    amount: Decimal
    filled: Decimal
    price: Decimal | None = None
    average: Decimal | None = None
    fee: Decimal = Decimal(0)
    fee_currency: str | None = None
    ts: int | None = None
    fills: tuple[FillInfo, ...] = ()
    trigger_price: Decimal | None = None  # stop orders: the price that fires them
    # UTC ms of the (last) fill, from the trades or the venue's last-trade / close time;
    # None while nothing filled or when the venue does not say. ``ts`` is when the
    # order was placed: a stop placed at t0 and filled at t1 has ts=t0, filled_at=t1.
    filled_at: int | None = None
    # False when something filled but no answer (order, then its trades) gave the fee:
    # ``fee`` is then 0 for want of a figure, not because the venue charged nothing.
    fee_known: bool = True


@dataclass(frozen=True, slots=True)
class BalanceLine:
    currency: str
    free: Decimal
    used: Decimal
    total: Decimal
    # What a derivatives account reports of itself in this currency, where the venue
    # reports it (None elsewhere): ``equity`` is the venue's own net value with open P&L
    # (BingX swap ``equity``), ``wallet`` the balance without open P&L (BingX
    # ``balance``), ``unrealized_pnl`` the open P&L (BingX ``unrealizedProfit``). ccxt's
    # ``total`` is not the equity there: on BingX it is available + used margin.
    equity: Decimal | None = None
    wallet: Decimal | None = None
    unrealized_pnl: Decimal | None = None


@dataclass(frozen=True, slots=True)
class PositionInfo:
    symbol: str
    side: str  # "long" | "short"
    contracts: Decimal
    entry_price: Decimal
    unrealized_pnl: Decimal = Decimal(0)
    leverage: Decimal | None = None


class WithdrawProof(enum.StrEnum):
    """What is known about a key's withdraw permission (docs/key-permissions.md)."""

    PROVEN_NO_WITHDRAW = "proven_no_withdraw"  # the exchange's answer proves it cannot
    CAN_WITHDRAW = "can_withdraw"  # the exchange's answer (or the key's kind) says it can
    UNKNOWN = "unknown"  # the proof failed: error, timeout, unexpected answer
    NOT_PROVABLE = "not_provable"  # the exchange offers no way to tell


@dataclass(frozen=True, slots=True)
class Verification:
    """Outcome of checking brand-new credentials against the exchange."""

    ok: bool
    reason: ErrorReason | None = None  # why it was refused (words: messages.errors)
    permissions: tuple[str, ...] = ()  # as the exchange reported them, if it did
    can_withdraw: bool | None = None  # None: not known (see withdraw_proof)
    balances: tuple[BalanceLine, ...] = field(default_factory=tuple)
    withdraw_proof: WithdrawProof = WithdrawProof.UNKNOWN
