"""Recording what the exchange says about one order, inside one transaction: the new
fills (each trade once), their positions/P&L effect, and the outbox notifications: one
"fill" (or "stop" for a stop order the exchange executed), and for a position the
engine closed because its stop was hit (purpose ``stop``) the "Stop hit" message too.
Written with the fill, a notification cannot be lost to a crash between the two, and a
fill only recorded at the next start (reconciliation) brings its messages with it.

Prices are printed at the market's precision (its price step), amounts as Decimal.

Trades are taken from ``OrderState.fills``; when a venue reports only cumulative
``filled``/``average``/``fee`` (no trades), the part not yet recorded becomes one
synthetic fill whose id carries the cumulative amount, so it too is recorded once.
An order never gets more fills recorded than its ``filled`` amount.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from nija_tg.core.models import FillInfo, MarketInfo, OrderState, Side
from nija_tg.engine.bookkeeping import book_fill, fee_in_quote
from nija_tg.storage import fills as fills_repo
from nija_tg.storage import outbox
from nija_tg.storage.db import Transaction
from nija_tg.storage.orders import OrderRow

ZERO = Decimal(0)
PURPOSE_LABEL = {
    "stop": "stop-loss",
    "take_profit": "take-profit",
    "adopted": "adopted order",
    "close": "closed at your request",
}


@dataclass(frozen=True, slots=True)
class MarketFacts:
    spot: bool
    base: str
    quote: str
    contract_size: Decimal = Decimal(1)
    price_step: Decimal | None = None  # the market's price precision (None: unknown)

    @classmethod
    def of(cls, market: MarketInfo) -> MarketFacts:
        return cls(
            market.kind != "swap",
            market.base,
            market.quote,
            market.contract_size,
            market.price_step,
        )

    @classmethod
    def guess(cls, symbol: str) -> MarketFacts:
        """From a unified symbol alone ("BTC/USDT" spot, "BTC/USDT:USDT" swap)."""
        pair, _, settle = symbol.partition(":")
        base, _, quote = pair.partition("/")
        return cls(not settle, base, quote)


def trade_key(mode: str, client_order_id: str, trade_id: str) -> str:
    """Paper trade ids restart with a reset paper account: namespace them by our
    (random, unique) client id. Real exchange trade ids are kept as they are."""
    return f"{client_order_id}:{trade_id}" if mode == "paper" else trade_id


def priced(state: OrderState) -> bool:
    """Whether the filled part of ``state`` can be booked (has trades or a price)."""
    return (
        state.filled <= 0
        or bool(state.fills)
        or state.average is not None
        or state.price is not None
    )


async def new_fills(
    tx: Transaction,
    user_id: int,
    mode: str,
    order: OrderRow,
    state: OrderState,
    none_recorded: bool = False,
) -> list[FillInfo]:
    """The trades of ``state`` not recorded yet for ``order`` (capped at its filled).
    ``none_recorded``: the caller knows no fill of this order is recorded (its filled
    amount was 0 in the transaction that records them), so the fills table is not asked
    (the insert ignores a trade id seen before all the same)."""
    if none_recorded:
        got, cost, fee = ZERO, ZERO, ZERO
    else:
        totals = await fills_repo.order_totals(tx, user_id, order.order_id)
        got, cost, fee = totals.amount, totals.cost, totals.fee
    cap = state.filled if state.filled > 0 else sum((f.amount for f in state.fills), ZERO)
    out: list[FillInfo] = []
    for f in sorted(state.fills, key=lambda x: (x.ts, x.trade_id)):
        f = replace(
            f,
            trade_id=trade_key(mode, order.client_order_id, f.trade_id),
            symbol=order.symbol,
            client_order_id=order.client_order_id,
        )
        if f.amount <= 0:
            continue
        if not none_recorded and await fills_repo.exists(
            tx, user_id, order.exchange_id, f.trade_id
        ):
            continue
        if got + f.amount > cap:
            continue
        out.append(f)
        got, cost, fee = got + f.amount, cost + f.amount * f.price, fee + f.fee
    ref = state.average if state.average is not None else state.price
    if cap > got and ref is not None:
        delta = cap - got
        price = (ref * cap - cost) / delta if state.average is not None else ref
        if price <= 0:
            price = ref
        tid = f"{state.exchange_order_id or order.client_order_id}~{cap.normalize()}"
        out.append(
            FillInfo(
                trade_id=trade_key(mode, order.client_order_id, tid),
                symbol=order.symbol,
                side=state.side,
                amount=delta,
                price=price,
                fee=max(state.fee - fee, ZERO),
                fee_currency=state.fee_currency or "",
                ts=state.filled_at or state.ts or int(time.time() * 1000),  # when it filled
                exchange_order_id=state.exchange_order_id,
                client_order_id=order.client_order_id,
            )
        )
    return out


async def record_fills(
    tx: Transaction,
    *,
    user_id: int,
    mode: str,
    order: OrderRow,
    state: OrderState,
    facts: MarketFacts,
    session_id: int | None,
    none_recorded: bool = False,
) -> int:
    """Insert the new fills of ``order``, book them, notify once. Returns how many.
    ``none_recorded``: see ``new_fills``."""
    inserted: list[tuple[FillInfo, Decimal, Decimal | None]] = []
    for f in await new_fills(tx, user_id, mode, order, state, none_recorded):
        fill_id = await fills_repo.insert(tx, user_id, order.order_id, order.exchange_id, f)
        if fill_id is None:
            continue
        fee_q = fee_in_quote(f.fee, f.fee_currency, facts.base, f.price)
        effect = await book_fill(
            tx,
            user_id=user_id,
            fill_id=fill_id,
            symbol=order.symbol,
            side=f.side,
            amount=f.amount,
            price=f.price,
            fee_quote=fee_q,
            spot=facts.spot,
            position_side=order.position_side,
            reduce_only=order.reduce_only,
            contract_size=facts.contract_size,
            session_id=order.session_id if order.session_id is not None else session_id,
            mode=mode,
        )
        inserted.append((f, fee_q, effect.realized))
    if inserted and order.purpose == "stop" and not order.native_stop:
        # the engine closed the position because its stop was hit: say so with the fill
        side = "long" if order.side is Side.SELL else "short"
        stop = stop_text(order.symbol, side, order.stop_price, mode, facts.price_step)
        await outbox.enqueue(tx, user_id, "stop", stop, dedupe_key=f"stophit:{order.order_id}")
    if inserted:
        text = fill_text(order, facts, mode, inserted)
        key = f"fill:{user_id}:{order.exchange_id}:{inserted[0][0].trade_id}"
        # the user's "stops" preference; a close they asked for is always answered
        kind = "stop" if order.native_stop else "info" if order.purpose == "close" else "fill"
        await outbox.enqueue(tx, user_id, kind, text, dedupe_key=key)
    return len(inserted)


# --- text -------------------------------------------------------------------------------


def fmt_amount(value: Decimal) -> str:
    if abs(value) >= 1000:
        return f"{value:,.2f}"
    text = f"{value.quantize(Decimal('1e-8')):f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(4, '0')}"


def price_places(step: Decimal | None) -> int | None:
    """Decimal places of a price step (0.01 -> 2, 0.5 -> 1, 10 -> 0); None without one."""
    if step is None or not step.is_finite() or step <= 0:
        return None
    exponent = step.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def fmt_price(value: Decimal, step: Decimal | None = None) -> str:
    """At the market's precision when its price step is known; else 2 decimals from 1
    up, 6 significant digits below (never the 18 decimals of a computed stop)."""
    places = price_places(step)
    if places is not None:
        rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        return f"{rounded:,.{places}f}"
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.6g}"


def stop_text(
    symbol: str, side: str, stop: Decimal | None, mode: str, step: Decimal | None = None
) -> str:
    """ "🛑 Stop hit: closed the long in ETH/USD (stop 2,345.67) — live"."""
    at = "" if stop is None else f" (stop {fmt_price(stop, step)})"
    return f"🛑 Stop hit: closed the {side} in {symbol}{at} — {mode}"


def fmt_money(value: Decimal) -> str:
    return f"{value:,.2f}" if abs(value) >= Decimal("0.01") or value == 0 else f"{value:.4g}"


def fill_text(
    order: OrderRow,
    facts: MarketFacts,
    mode: str,
    inserted: list[tuple[FillInfo, Decimal, Decimal | None]],
) -> str:
    """ "✅ Bought 0.0050 BTC/USDT at 61,234.50 (fee 0.31 USDT) — paper"."""
    amount = sum((f.amount for f, _, _ in inserted), ZERO)
    cost = sum((f.amount * f.price for f, _, _ in inserted), ZERO)
    fee = sum((q for _, q, _ in inserted), ZERO)
    price = cost / amount if amount else ZERO
    verb = "Bought" if inserted[0][0].side is Side.BUY else "Sold"
    label = "stop-loss on the exchange" if order.native_stop else PURPOSE_LABEL.get(order.purpose)
    head = f"✅ {verb} {fmt_amount(amount)} {order.symbol} at {fmt_price(price, facts.price_step)}"
    text = f"{head} (fee {fmt_money(fee)} {facts.quote})"
    pnls = [p for _, _, p in inserted if p is not None]
    if pnls:
        total = sum(pnls, ZERO)
        sign = "+" if total >= 0 else "−"
        text += f", P&L {sign}{fmt_money(abs(total))} {facts.quote}"
    if label:
        text += f" [{label}]"
    return f"{text} — {mode}"
