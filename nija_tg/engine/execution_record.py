"""Recording what the exchange says about one order, inside one transaction: the new
fills (each trade once), their positions/P&L effect, and ONE notification for them: a
``Fill`` event (kind "fill"; "info" for a close the user asked for), or a ``StopHit``
(kind "stop") when the position was closed by its stop, by the engine (purpose
``stop``) or by the stop order resting on the exchange. Written with the fill, a
notification cannot be lost to a crash between the two, and a fill only recorded at the
next start (reconciliation) brings its message with it. The words are
``messages.render``'s (prices at the market's precision).

Trades are taken from ``OrderState.fills``; when a venue reports only cumulative
``filled``/``average``/``fee`` (no trades), the part not yet recorded becomes one
synthetic fill whose id carries the cumulative amount, so it too is recorded once.
An order never gets more fills recorded than its ``filled`` amount.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from nija_tg.core.account_currency import at_step
from nija_tg.core.events import Fill, StopHit
from nija_tg.core.models import FillInfo, MarketInfo, OrderState, Side
from nija_tg.engine.bookkeeping import (
    Booking,
    FillEffect,
    booking,
    fee_in_quote,
    take,
    write_now,
    write_positions_later,
)
from nija_tg.engine.notify import tell, tell_later
from nija_tg.storage import fills as fills_repo
from nija_tg.storage import positions as positions_repo
from nija_tg.storage import sessions as sessions_repo
from nija_tg.storage import settings_repo
from nija_tg.storage.db import Returned, Transaction
from nija_tg.storage.orders import OrderRow
from nija_tg.storage.positions import PositionRow

ZERO = Decimal(0)


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
    taken: set[str] = set()
    for f in sorted(state.fills, key=lambda x: (x.ts, x.trade_id)):
        f = FillInfo(  # ``dataclasses.replace`` written out (once per fill booked)
            trade_key(mode, order.client_order_id, f.trade_id),
            order.symbol,
            f.side,
            f.amount,
            f.price,
            f.fee,
            f.fee_currency,
            f.ts,
            f.exchange_order_id,
            order.client_order_id,
        )
        if f.amount <= 0 or f.trade_id in taken:  # a trade listed twice is taken once
            continue
        if not none_recorded and await fills_repo.exists(
            tx, user_id, order.exchange_id, f.trade_id
        ):
            continue
        if got + f.amount > cap:
            continue
        out.append(f)
        taken.add(f.trade_id)
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


@dataclass(frozen=True, slots=True)
class BookedFill:
    """One new fill as it is recorded: the trade (price at the market's step), its fee
    in quote and what it does to the books."""

    fill: FillInfo
    fee_quote: Decimal
    booked: Booking


def to_record(fills: list[FillInfo], facts: MarketFacts) -> list[FillInfo]:
    """``new_fills`` as they are recorded: each price with the market's places
    (``at_step``)."""
    step = facts.price_step
    return [
        FillInfo(  # ``dataclasses.replace`` written out (once per fill booked)
            f.trade_id,
            f.symbol,
            f.side,
            f.amount,
            at_step(f.price, step),
            f.fee,
            f.fee_currency,
            f.ts,
            f.exchange_order_id,
            f.client_order_id,
        )
        for f in fills
    ]


def book_fills(
    rows: Mapping[str, PositionRow],
    fills: list[FillInfo],
    *,
    user_id: int,
    mode: str,
    order: OrderRow,
    facts: MarketFacts,
    now: float,
) -> list[BookedFill]:
    """The bookings of an order's new ``fills`` (``to_record``'s), one after the other
    on ``rows`` (the symbol's open sides before them: not changed). Pure: both writers
    (``record_fills``, ``record_fills_later``) write exactly these rows."""
    view = dict(rows)
    out: list[BookedFill] = []
    for f in fills:
        fee_q = fee_in_quote(f.fee, f.fee_currency, facts.base, f.price)
        booked = booking(
            view,
            user_id=user_id,
            symbol=order.symbol,
            side=f.side,
            amount=f.amount,
            price=f.price,
            fee_quote=fee_q,
            spot=facts.spot,
            position_side=order.position_side,
            reduce_only=order.reduce_only,
            contract_size=facts.contract_size,
            mode=mode,
            now=now,
        )
        take(view, booked.writes)
        out.append(BookedFill(f, fee_q, booked))
    return out


def _told(booked: list[BookedFill]) -> list[tuple[FillInfo, Decimal, FillEffect]]:
    return [(b.fill, b.fee_quote, b.booked.effect) for b in booked]


async def _leverage(tx: Transaction, user_id: int, facts: MarketFacts) -> int | None:
    """The user's leverage cap on a swap (the loop sets it on every swap market)."""
    if facts.spot:
        return None
    return int((await settings_repo.load_in(tx, user_id)).leverage_cap)


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
    """Insert the new fills of ``order``, book them, notify once, every write at once.
    Returns how many. ``none_recorded``: see ``new_fills``."""
    fresh = to_record(await new_fills(tx, user_id, mode, order, state, none_recorded), facts)
    inserted: list[tuple[int, FillInfo]] = []
    for f in fresh:
        fill_id = await fills_repo.insert(tx, user_id, order.order_id, order.exchange_id, f)
        if fill_id is not None:  # else recorded already: nothing else changes
            inserted.append((fill_id, f))
    if not inserted:
        return 0
    rows = await positions_repo.for_symbol(tx, user_id, order.symbol)
    booked = book_fills(
        rows,
        [f for _, f in inserted],
        user_id=user_id,
        mode=mode,
        order=order,
        facts=facts,
        now=time.time(),
    )
    session = order.session_id if order.session_id is not None else session_id
    for (fill_id, _), b in zip(inserted, booked, strict=True):
        await write_now(tx, user_id, order.symbol, fill_id, b.booked, session)
    leverage = await _leverage(tx, user_id, facts)
    await tell(tx, user_id, fill_event(order, facts, mode, _told(booked), leverage))
    return len(booked)


async def record_fills_later(
    tx: Transaction,
    sides: dict[str, PositionRow],
    *,
    user_id: int,
    mode: str,
    order: OrderRow,
    state: OrderState,
    facts: MarketFacts,
    session_id: int | None,
    session_pnl: tuple[int, Decimal] | None = None,
) -> tuple[int, tuple[int, Decimal] | None, list[tuple[Returned | None, FillInfo]]]:
    """``record_fills`` for an order none of whose fills is recorded yet, booked on
    ``sides`` (the loop's view of the symbol's rows, changed in place) with every write,
    the notification too, left for the group's COMMIT (so the fill's message commits
    with the fill or not at all): nothing is read but the session's P&L (a closed trade)
    and the leverage (a swap). ``session_pnl``: (session id, its P&L as committed) when
    the caller knows it (then it is not read). Returns how many fills, and the session's
    P&L once this commits when a closed trade changed it (else None), and each fill with
    where its row (its id) comes back once committed."""
    fresh = to_record(await new_fills(tx, user_id, mode, order, state, none_recorded=True), facts)
    booked = book_fills(
        sides, fresh, user_id=user_id, mode=mode, order=order, facts=facts, now=time.time()
    )
    slots: list[tuple[Returned | None, FillInfo]] = []
    closed: list[Decimal] = []
    for b in booked:
        write_positions_later(tx, user_id, order.symbol, b.booked)
        take(sides, b.booked.writes)
        slot = fills_repo.insert_later(
            tx, user_id, order.order_id, order.exchange_id, b.fill, b.booked.effect.realized
        )
        slots.append((slot, b.fill))
        closed.extend(b.booked.effect.closed_trades)
    session = order.session_id if order.session_id is not None else session_id
    pnl_after: tuple[int, Decimal] | None = None
    if session is not None and closed:
        known = session_pnl[1] if session_pnl and session_pnl[0] == session else None
        got = await sessions_repo.add_trade_results_later(tx, user_id, session, closed, known)
        if got is not None:
            pnl_after = (session, got)
    if booked:
        leverage = await _leverage(tx, user_id, facts)
        tell_later(tx, user_id, fill_event(order, facts, mode, _told(booked), leverage))
    return len(booked), pnl_after, slots


# --- what the user is told (the words: messages.render) -----------------------------------


def fill_event(
    order: OrderRow,
    facts: MarketFacts,
    mode: str,
    inserted: list[tuple[FillInfo, Decimal, FillEffect]],
    leverage: int | None = None,
) -> Fill | StopHit:
    """The one message of an order's new fills: a ``Fill`` (opened or closed, long or
    short, the P&L realised), or a ``StopHit`` with its fill when the position was closed
    by its stop (the engine's close of a stop the candle crossed, or the stop order
    resting on the exchange that fired)."""
    amount = sum((f.amount for f, _, _ in inserted), ZERO)
    cost = sum((f.amount * f.price for f, _, _ in inserted), ZERO)
    fee = sum((q for _, q, _ in inserted), ZERO)
    pnls = [e.realized for _, _, e in inserted if e.realized is not None]
    opened = sum((e.opened for _, _, e in inserted), ZERO)
    reduced = sum((e.reduced for _, _, e in inserted), ZERO)
    first, _, effect = inserted[0]
    fill = Fill(
        symbol=order.symbol,
        base=facts.base,
        quote=facts.quote,
        buy=first.side is Side.BUY,
        amount=amount * facts.contract_size,  # base units (contracts on a swap)
        price=cost / amount if amount else ZERO,
        fee=fee,
        mode=mode,
        exchange_id=order.exchange_id,
        trade_id=first.trade_id,
        opens=opened > 0 and reduced == 0,
        position=next(iter(effect.sides), "long"),
        swap=not facts.spot,
        leverage=leverage,
        realized=sum(pnls, ZERO) if pnls else None,
        purpose=order.purpose,
        price_step=facts.price_step,
    )
    if order.native_stop:
        return StopHit(fill, order.trigger_price, on_exchange=True)
    if order.purpose == "stop":
        return StopHit(fill, order.stop_price)
    return fill
