"""BingX emulator, margin model: perpetual positions and USDT margin (cross, deliberately
simple; see bingx.py). ``SwapLedger`` replaces the spot ledger of the base.

Funding (``set_funding``, off until a test sets a rate): BingX settles funding every
8 hours, at 00:00, 08:00 and 16:00 UTC+8 (00:00, 08:00, 16:00 UTC; support article
"Perpetual Futures | Fee Schedule"); "funding fee = position value x funding rate",
long pays short when the rate is positive, and in cross margin the fee is taken from
(or paid into) the wallet balance ("Balance = Deposit - Withdrawal + Realized Profit and
Loss - Funding Rate - Handling Fee", "Account Structure"). ``settle_funding(now)`` books
every funding time passed since the last call for every open position of the symbol, at
the mark price then current (the emulator settles when the next signed request arrives,
before its stops are synced), into the wallet and as one ``FUNDING_FEE`` income row
(the fields of ccxt's recorded ``/openApi/swap/v2/user/income`` answer: symbol,
incomeType, income, asset, info, time, tranId, tradeId), amounts at 4 decimals as in
that answer; a payment that rounds to 0 is not recorded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from tests.fakes.bingx_markets import native, num
from tests.fakes.emulator_base import EmuFill, EmuOrder, Ledger

ZERO = Decimal(0)
TAKER_FEE = Decimal("0.0005")
# BingX's fee schedule: "The maintenance margin rate is 0.5%" (tier-1 rates answered today
# are at or below it: ETH-USDT 0.33 % in ccxt's recorded leverage-tier answer)
MAINT_MARGIN_RATE = Decimal("0.005")
DEFAULT_LEVERAGE = 10
ORDER_ID_BASE = 1_809_000_000_000_000_000
FUNDING_INTERVAL_MS = 8 * 3_600_000  # 00:00, 08:00, 16:00 UTC


@dataclass
class FundingSchedule:
    """A symbol's funding rate and settlement times (every ``interval_ms`` from the
    epoch, shifted by ``offset_ms``)."""

    rate: Decimal
    interval_ms: int = FUNDING_INTERVAL_MS
    offset_ms: int = 0

    def times(self, after_ms: int, until_ms: int) -> list[int]:
        """Settlement times t with after_ms < t <= until_ms."""
        step, off = self.interval_ms, self.offset_ms
        first = (after_ms - off) // step * step + off + step
        return list(range(first, until_ms + 1, step))


@dataclass
class SwapPosition:
    position_id: str
    size: Decimal = ZERO  # signed: > 0 long, < 0 short
    entry: Decimal = ZERO
    realised: Decimal = ZERO
    opened_ms: int = 0
    updated_ms: int = 0


class SwapLedger(Ledger):
    """Ledger whose fills move perpetual positions and USDT margin instead of spot balances."""

    def __init__(
        self,
        price_of: Callable[[str], Decimal | None],
        mark_of: Callable[[str], Decimal | None] | None = None,
    ) -> None:
        super().__init__(fee_rate=TAKER_FEE)
        self.price_of = price_of  # the last traded price
        # the mark price a test holds apart from the last price, None while it follows it
        self.mark_of = mark_of or (lambda _symbol: None)
        self.positions: dict[tuple[str, str, str], SwapPosition] = {}
        self.leverage: dict[tuple[str, str], dict[str, int]] = {}
        self.hedged: set[str] = set()
        self.profit: dict[str, Decimal] = {}  # order id -> realised PnL
        self.realised: dict[str, Decimal] = {}  # api key -> realised PnL
        self.funding: dict[str, FundingSchedule] = {}  # symbol -> schedule (set_funding)
        self.funding_settled_ms: int | None = None  # funding booked up to this time
        self.incomes: list[dict[str, str | int]] = []  # income rows, with the api key

    # --- funding -------------------------------------------------------------------

    def set_funding(
        self,
        symbol: str,
        rate: Decimal | str,
        *,
        interval_ms: int = FUNDING_INTERVAL_MS,
        offset_ms: int = 0,
    ) -> None:
        """Charge ``rate`` (per settlement; > 0: longs pay shorts) on ``symbol``'s open
        positions at every settlement time from now on."""
        self.funding[symbol] = FundingSchedule(Decimal(rate), interval_ms, offset_ms)

    def settle_funding(self, now_ms: int) -> None:
        """Book every settlement passed since the last call (see the module docstring).
        The first call only starts the clock: nothing before it is charged."""
        after = self.funding_settled_ms
        if after is None or now_ms <= after:
            self.funding_settled_ms = now_ms if after is None else after
            return
        self.funding_settled_ms = now_ms
        for symbol, plan in self.funding.items():
            for t in plan.times(after, now_ms):
                self._charge(symbol, plan.rate, t)

    def _charge(self, symbol: str, rate: Decimal, at_ms: int) -> None:
        mark = self.mark(symbol)
        if mark is None:
            return
        for (key, sym, _side), pos in self.positions.items():
            if sym != symbol or not pos.size:
                continue
            income = (-pos.size * mark * rate).quantize(Decimal("0.0001"))
            if not income:
                continue
            bal = self.accounts[key].balances
            bal["USDT"] = bal.get("USDT", ZERO) + income
            tran = f"{at_ms}_{pos.position_id}_{self.next_id()}"
            self.incomes.append(
                {
                    "key": key,
                    "symbol": native(symbol),
                    "incomeType": "FUNDING_FEE",
                    "income": num(income, 4),
                    "asset": "USDT",
                    "info": "Funding Fee",
                    "time": at_ms,
                    "tranId": tran,
                    "tradeId": tran,
                }
            )

    def position(self, key: str, symbol: str, side: str) -> SwapPosition:
        pos = self.positions.get((key, symbol, side))
        if pos is None:
            pos = SwapPosition(position_id=str(ORDER_ID_BASE + int(self.next_id())))
            self.positions[(key, symbol, side)] = pos
        return pos

    def lev(self, key: str, symbol: str, long: bool) -> int:
        levs = self.leverage.get((key, symbol), {})
        return levs.get("LONG" if long else "SHORT", DEFAULT_LEVERAGE)

    def _signed(self, order: EmuOrder, qty: Decimal) -> Decimal:
        return qty if order.side == "buy" else -qty

    def reducing(self, order: EmuOrder) -> bool:
        side = order.position_side or "BOTH"
        if side == "BOTH":
            return order.reduce_only
        return (side == "LONG") == (order.side == "sell")

    def split_qty(self, order: EmuOrder, qty: Decimal) -> tuple[Decimal, Decimal]:
        """(closing, opening) parts of ``qty`` for ``order`` against its current position."""
        pos = self.position(order.account, order.symbol, order.position_side or "BOTH")
        delta = self._signed(order, qty)
        closeable = abs(pos.size) if pos.size * delta < 0 else ZERO
        closing = min(qty, closeable)
        opening = ZERO if self.reducing(order) else qty - closing
        return closing, opening

    def margin_needed(self, order: EmuOrder, price: Decimal) -> Decimal:
        _, opening = self.split_qty(order, order.amount - order.filled)
        return opening * price / self.lev(order.account, order.symbol, order.side == "buy")

    def mark(self, symbol: str) -> Decimal | None:
        """The mark price: the one a test pinned, else the last price."""
        pinned = self.mark_of(symbol)
        return pinned if pinned is not None else self.price_of(symbol)

    def summary(self, key: str) -> dict[str, Decimal]:
        """Wallet balance, unrealised PnL (at the mark), used and frozen margin, equity
        and available margin, with the meaning of ccxt's recorded real answer (balance
        194.8212, equity 196.7431, unrealizedProfit 1.9219, availableMargin 193.7609,
        usedMargin 1.0602): equity = balance + open P&L; available = balance - used -
        frozen, an open profit not counted. An open loss is taken off available (the
        recorded answer shows a profit only; a loss the account could not cover cannot
        be margin)."""
        balance = self.accounts[key].balances.get("USDT", ZERO)
        used = upnl = frozen = ZERO
        for (acct, symbol, _), pos in self.positions.items():
            if acct != key or not pos.size:
                continue
            used += abs(pos.size) * pos.entry / self.lev(key, symbol, pos.size > 0)
            mark = self.mark(symbol) or pos.entry
            upnl += (mark - pos.entry) * pos.size
        for o in self.orders:
            if o.account == key and o.status == "open" and o.type == "limit":
                frozen += self.margin_needed(o, o.price or ZERO)
        return {
            "balance": balance,
            "upnl": upnl,
            "used": used,
            "frozen": frozen,
            "equity": balance + upnl,
            "available": balance + min(upnl, ZERO) - used - frozen,
        }

    def liquidation_price(self, key: str, symbol: str, side: str) -> Decimal:
        """The mark price of ``symbol`` at which the position on ``side`` would be
        liquidated, cross margin: the whole wallet backs it. BingX liquidates when the
        margin rate falls to the maintenance margin rate plus the taker fee (support
        articles "Perpetual Futures | Fee Schedule", "Account Structure"), i.e. when
        wallet + open P&L = (m + f) x notional at the mark. Solved for this position's
        price with every other position held at its mark now (approximate in hedge
        mode, where the other side of the same symbol moves too). 0 when no price above
        zero liquidates it (a long backed by more than its notional), which is what
        BingX answers for "not applicable"."""
        pos = self.positions.get((key, symbol, side))
        if pos is None or not pos.size:
            return ZERO
        keep = MAINT_MARGIN_RATE + TAKER_FEE
        wallet = self.accounts[key].balances.get("USDT", ZERO)
        others_upnl = others_notional = ZERO
        for (acct, sym, sd), other in self.positions.items():
            if acct != key or not other.size or (sym, sd) == (symbol, side):
                continue
            mark = self.mark(sym) or other.entry
            others_upnl += (mark - other.entry) * other.size
            others_notional += abs(other.size) * mark
        q = pos.size
        # wallet + U_o + (P - E) q = keep (|q| P + N_o)
        price = (pos.entry * q - wallet - others_upnl + keep * others_notional) / (
            q - keep * abs(q)
        )
        return max(price, ZERO)

    def market_price(self, symbol: str) -> Decimal | None:
        return self.price_of(symbol)

    def trigger_reference(self, order: EmuOrder) -> tuple[Decimal | None, bool]:
        """A ``MARK_PRICE`` stop watches the mark price (the last price unless a test
        pinned a mark apart); a ``CONTRACT_PRICE`` one the last traded price."""
        pinned = self.mark_of(order.symbol) if order.trigger_source == "mark" else None
        if pinned is not None:
            return pinned, False
        return self.price_of(order.symbol), True

    def execute(self, order: EmuOrder, base: str, quote: str, px: Decimal, now_ms: int) -> None:
        """Fill what ``order`` may still close or open at ``px``: position, realised PnL,
        fee and a fill record; a reducing order with nothing left to reduce is canceled."""
        closing, opening = self.split_qty(order, order.amount - order.filled)
        qty = closing + opening
        if qty <= 0:  # reduce-only order with nothing left to reduce
            order.status = "canceled"
            return
        pos = self.position(order.account, order.symbol, order.position_side or "BOTH")
        self.audit.swap_fill(order, pos.size, closing, opening, now_ms)
        direction = Decimal(1) if pos.size > 0 else Decimal(-1)
        realised = (px - pos.entry) * closing * direction if closing else ZERO
        if closing:
            pos.size -= closing * direction
        if opening:
            add = self._signed(order, opening)
            pos.entry = (pos.entry * pos.size + px * add) / (pos.size + add) if pos.size else px
            pos.opened_ms = pos.opened_ms if pos.size else now_ms
            pos.size += add
        if not pos.size:
            pos.entry = ZERO
        self.audit.swap_after(order, pos.size)
        pos.realised += realised
        pos.updated_ms = now_ms
        fee = qty * px * self.fee_rate
        bal = self.accounts[order.account].balances
        bal[quote] = bal.get(quote, ZERO) + realised - fee
        key = order.account
        self.realised[key] = self.realised.get(key, ZERO) + realised
        self.profit[order.order_id] = self.profit.get(order.order_id, ZERO) + realised
        order.filled += qty
        order.avg_price = px
        order.fee += fee
        order.status = "closed"
        self.fills.append(
            EmuFill(
                self.next_id("T"),
                order.order_id,
                key,
                order.symbol,
                order.side,
                qty,
                px,
                fee,
                now_ms,
            )
        )
