"""Positions and realised P&L from fills.

``apply_fill`` is pure: given the open sides of one symbol and one fill, it returns the
new sides and the P&L realised. ``booking`` is pure too: it turns the symbol's position
rows and one fill into the rows to write (or delete) and the fill's effect. Two thin
writers put a booking in the database and differ only in how they write:
``write_now`` (statements run at once in the caller's transaction: positions, the
fill's P&L, one session update per closed trade) and ``write_positions_later`` (the
position writes left for the group's COMMIT; the caller writes the fill's P&L with the
fill and the session once). ``book_fill`` = read the rows, ``booking``, ``write_now``.

Rules:
- spot: long only; a buy opens/adds, a sell reduces (a sell beyond the position, e.g.
  of coins held before, books nothing).
- swaps, hedge mode (``position_side`` LONG/SHORT): the side names the position; a buy
  on LONG adds, a sell on LONG reduces, and the mirror for SHORT.
- swaps, one-way mode: a fill first reduces the opposite side, the rest opens its own
  side (unless ``reduce_only``).
- fees (in quote): an entry fee is carried on the position and charged pro rata when
  it is reduced, so a reduction's P&L is net of both its exit fee and its share of the
  entry fees. Closing a position completely yields one closed trade whose P&L is the
  sum of its reductions.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from nija_tg.core.models import Side
from nija_tg.core.pnl import average_entry, realized_pnl
from nija_tg.storage import fills as fills_repo
from nija_tg.storage import positions as positions_repo
from nija_tg.storage import sessions as sessions_repo
from nija_tg.storage.db import Transaction
from nija_tg.storage.positions import PositionRow

ZERO = Decimal(0)
LONG, SHORT = "long", "short"


@dataclass(frozen=True, slots=True)
class Holding:
    """One open side of one symbol."""

    side: str
    amount: Decimal
    entry_price: Decimal
    entry_fees: Decimal = ZERO
    realized_pnl: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class FillEffect:
    sides: dict[str, Holding | None]  # the sides this fill changed; None: now closed
    realized: Decimal | None  # P&L realised by this fill; None when it only opened/added
    closed_trades: tuple[Decimal, ...]  # net P&L of each position it closed completely
    opened: Decimal = ZERO
    reduced: Decimal = ZERO


def fee_in_quote(fee: Decimal, fee_currency: str | None, base: str, price: Decimal) -> Decimal:
    """A fee paid in the base currency, converted at the fill price; otherwise as is."""
    if fee_currency and base and fee_currency.upper() == base.upper():
        return fee * price
    return fee


def _plan(
    side: Side, spot: bool, position_side: str | None, reduce_only: bool
) -> tuple[str | None, str | None]:
    """(side to reduce first, side to open with the rest) for this fill."""
    if spot:
        return (LONG, None) if side is Side.SELL else (None, LONG)
    if position_side:
        ps = position_side.lower()
        if ps not in (LONG, SHORT):
            raise ValueError(f"position_side must be LONG or SHORT, got {position_side!r}")
        buy_adds = ps == LONG
        adds = (side is Side.BUY) == buy_adds
        return (None, ps) if adds else (ps, None)
    own = LONG if side is Side.BUY else SHORT
    other = SHORT if own == LONG else LONG
    return other, (None if reduce_only else own)


def apply_fill(
    current: dict[str, Holding],
    *,
    side: Side,
    amount: Decimal,
    price: Decimal,
    fee: Decimal,
    spot: bool,
    position_side: str | None = None,
    reduce_only: bool = False,
    contract_size: Decimal = Decimal(1),
) -> FillEffect:
    """The effect of one fill (``fee`` in quote) on the open sides of its symbol."""
    if amount <= 0:
        return FillEffect({}, None, ())
    reduce_side, open_side = _plan(side, spot, position_side, reduce_only)
    changed: dict[str, Holding | None] = {}
    closed: list[Decimal] = []
    realized: Decimal | None = None
    left = amount
    reduced = opened = ZERO
    pos = current.get(reduce_side) if reduce_side else None
    if pos is not None and pos.amount > 0:
        reduced = min(left, pos.amount)
        exit_fee = fee * reduced / amount
        entry_share = pos.entry_fees * reduced / pos.amount
        realized = realized_pnl(
            pos.side, pos.entry_price, price, reduced, exit_fee + entry_share, contract_size
        )
        rest = pos.amount - reduced
        if rest > 0:
            changed[pos.side] = replace(
                pos,
                amount=rest,
                entry_fees=pos.entry_fees - entry_share,
                realized_pnl=pos.realized_pnl + realized,
            )
        else:
            changed[pos.side] = None
            closed.append(pos.realized_pnl + realized)
        left -= reduced
    if open_side and left > 0:
        opened = left
        open_fee = fee * left / amount
        old = current.get(open_side)
        if old is not None and old.amount > 0 and changed.get(open_side, old) is not None:
            changed[open_side] = replace(
                old,
                amount=old.amount + left,
                entry_price=average_entry(old.amount, old.entry_price, left, price),
                entry_fees=old.entry_fees + open_fee,
            )
        else:
            changed[open_side] = Holding(open_side, left, price, open_fee)
    return FillEffect(changed, realized, tuple(closed), opened, reduced)


# --- the rows one fill leaves (pure) --------------------------------------------------

PositionWrite = tuple[str, PositionRow | None]  # (side, the row as written; None: deleted)


@dataclass(frozen=True, slots=True)
class Booking:
    """What one fill does to the books: its effect and the position writes, in order."""

    effect: FillEffect
    writes: tuple[PositionWrite, ...]


def holdings(rows: Mapping[str, PositionRow]) -> dict[str, Holding]:
    """The open sides ``apply_fill`` works on, from the symbol's position rows."""
    return {
        s: Holding(s, r.amount, r.entry_price, r.entry_fees, r.realized_pnl)
        for s, r in rows.items()
    }


def booking(
    rows: Mapping[str, PositionRow],
    *,
    user_id: int,
    symbol: str,
    side: Side,
    amount: Decimal,
    price: Decimal,
    fee_quote: Decimal,
    spot: bool,
    position_side: str | None,
    reduce_only: bool,
    contract_size: Decimal,
    mode: str | None,
    now: float,
) -> Booking:
    """The effect of one fill on ``rows`` (the symbol's open sides: not changed) and the
    position rows it leaves: a side reduced or added to keeps its row's stop, anchor,
    ``opened_at`` and mode; a new side opens now in ``mode``; a closed side is deleted."""
    effect = apply_fill(
        holdings(rows),
        side=side,
        amount=amount,
        price=price,
        fee=fee_quote,
        spot=spot,
        position_side=position_side,
        reduce_only=reduce_only,
        contract_size=contract_size,
    )
    writes: list[PositionWrite] = []
    for name, holding in effect.sides.items():
        if holding is None:
            writes.append((name, None))
            continue
        old = rows.get(name)
        if old is None:
            row = PositionRow(
                user_id=user_id,
                symbol=symbol,
                side=name,
                amount=holding.amount,
                entry_price=holding.entry_price,
                stop_price=None,
                trail_anchor=None,
                realized_pnl=holding.realized_pnl,
                entry_fees=holding.entry_fees,
                opened_at=now,
                updated_at=now,
                mode=mode,
            )
        else:
            row = replace(
                old,
                amount=holding.amount,
                entry_price=holding.entry_price,
                entry_fees=holding.entry_fees,
                realized_pnl=holding.realized_pnl,
                updated_at=now,
            )
        writes.append((name, row))
    return Booking(effect, tuple(writes))


def take(rows: dict[str, PositionRow], writes: tuple[PositionWrite, ...]) -> None:
    """``rows`` (a view of one symbol's sides) changed in place to what ``writes`` leave."""
    for name, row in writes:
        if row is None:
            rows.pop(name, None)
        else:
            rows[name] = row


# --- the two writers ------------------------------------------------------------------


async def write_now(
    tx: Transaction,
    user_id: int,
    symbol: str,
    fill_id: int,
    booked: Booking,
    session_id: int | None,
) -> None:
    """``booked`` written at once: the position rows, the P&L on the (inserted) fill,
    one session update per closed trade."""
    for name, row in booked.writes:
        if row is None:
            await positions_repo.delete(tx, user_id, symbol, name)
        else:
            await positions_repo.upsert_row(tx, row)
    if booked.effect.realized is not None:
        await fills_repo.set_realized_pnl(tx, user_id, fill_id, booked.effect.realized)
    if session_id is not None:
        for pnl in booked.effect.closed_trades:
            await sessions_repo.add_trade_result(tx, user_id, session_id, pnl)


def write_positions_later(tx: Transaction, user_id: int, symbol: str, booked: Booking) -> None:
    """``booked``'s position rows left for the group's COMMIT (the fill's P&L goes with
    the fill's insert, the session's results once for the order: the caller's)."""
    for name, row in booked.writes:
        if row is None:
            positions_repo.delete_later(tx, user_id, symbol, name)
        else:
            positions_repo.upsert_later(tx, row)


async def book_fill(
    tx: Transaction,
    *,
    user_id: int,
    fill_id: int,
    symbol: str,
    side: Side,
    amount: Decimal,
    price: Decimal,
    fee_quote: Decimal,
    spot: bool,
    position_side: str | None,
    reduce_only: bool,
    contract_size: Decimal,
    session_id: int | None,
    mode: str | None = None,
) -> FillEffect:
    """Apply a just-inserted fill to positions, its own P&L and the session counters
    (the rows read in ``tx``, written at once)."""
    rows = await positions_repo.for_symbol(tx, user_id, symbol)
    booked = booking(
        rows,
        user_id=user_id,
        symbol=symbol,
        side=side,
        amount=amount,
        price=price,
        fee_quote=fee_quote,
        spot=spot,
        position_side=position_side,
        reduce_only=reduce_only,
        contract_size=contract_size,
        mode=mode,
        now=time.time(),
    )
    await write_now(tx, user_id, symbol, fill_id, booked, session_id)
    return booked.effect
