"""ccxt's unified dicts -> our dataclasses (Decimal amounts). Pure functions; no I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from nija_tg.core.models import (
    BalanceLine,
    Candle,
    FillInfo,
    MarketInfo,
    OrderState,
    OrderStatus,
    OrderType,
    PositionInfo,
    Side,
    Ticker,
)
from nija_tg.exchange.precision import dec, dec0

TICK_SIZE = 4
DECIMAL_PLACES = 2

_STATUS = {
    "open": OrderStatus.OPEN,
    "closed": OrderStatus.FILLED,
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "cancelled": OrderStatus.CANCELED,
    "expired": OrderStatus.CANCELED,
    "rejected": OrderStatus.REJECTED,
}


def _step(value: Any, precision_mode: int) -> Decimal | None:
    d = dec(value)
    if d is None:
        return None
    if precision_mode == DECIMAL_PLACES:
        return Decimal(1).scaleb(-int(d))
    if precision_mode == TICK_SIZE:
        return d
    return None  # significant digits: no fixed step


def to_market(m: dict[str, Any], precision_mode: int) -> MarketInfo:
    precision = m.get("precision") or {}
    limits = m.get("limits") or {}
    kind = "swap" if m.get("swap") or m.get("type") == "swap" else (m.get("type") or "spot")
    return MarketInfo(
        symbol=m["symbol"],
        base=m.get("base") or "",
        quote=m.get("quote") or "",
        kind=kind,
        amount_step=_step(precision.get("amount"), precision_mode),
        price_step=_step(precision.get("price"), precision_mode),
        min_amount=dec((limits.get("amount") or {}).get("min")),
        min_cost=dec((limits.get("cost") or {}).get("min")),
        contract_size=dec(m.get("contractSize"), Decimal(1)) or Decimal(1),
    )


def to_candles(rows: list[list[Any]]) -> list[Candle]:
    return [
        Candle(int(r[0]), float(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5] or 0))
        for r in rows
        if r and r[4] is not None
    ]


def to_ticker(t: dict[str, Any], symbol: str) -> Ticker:
    last = dec(t.get("last")) or dec(t.get("close"))
    bid, ask = dec(t.get("bid")), dec(t.get("ask"))
    if last is None and bid is not None and ask is not None:
        last = (bid + ask) / 2
    return Ticker(
        symbol=t.get("symbol") or symbol,
        last=last if last is not None else Decimal(0),
        bid=bid,
        ask=ask,
        ts=t.get("timestamp"),
    )


def to_balances(b: dict[str, Any]) -> list[BalanceLine]:
    """Non-zero lines of a ccxt balance structure, sorted by currency; a derivatives
    account's own equity, wallet and open P&L ride along where the venue reports them."""
    lines = []
    totals = b.get("total") or {}
    free = b.get("free") or {}
    used = b.get("used") or {}
    venue = venue_equity(b.get("info"))
    for cur in sorted(set(totals) | set(free)):
        t, f, u = dec(totals.get(cur)), dec(free.get(cur)), dec(used.get(cur))
        if f is not None and u is not None:
            t = f + u  # ccxt's own definition; its floats may miss it by a rounding
        if t is None and f is not None:
            t = f + (u or Decimal(0))
        if f is None and t is not None:
            f = t - (u or Decimal(0))
        if u is None and t is not None and f is not None:
            u = t - f
        t, f, u = t or Decimal(0), f or Decimal(0), u or Decimal(0)
        own = venue.get(cur, {})
        if t == 0 and f == 0 and not own.get("equity"):
            continue
        lines.append(BalanceLine(currency=cur, free=f, used=u, total=t, **own))
    return lines


def venue_equity(info: Any) -> dict[str, dict[str, Decimal | None]]:
    """Per currency, what a swap account says of itself in the raw answer ccxt keeps in
    ``info``: BingX's perpetual balance rows (``data`` = ``[{"asset", "balance",
    "equity", "unrealizedProfit", ...}]``, v2 ``data.balance`` too). Empty elsewhere."""
    data = info.get("data") if isinstance(info, dict) else None
    if isinstance(data, dict) and isinstance(data.get("balance"), dict):
        data = [data["balance"]]
    out: dict[str, dict[str, Decimal | None]] = {}
    for row in data if isinstance(data, list) else []:
        if not isinstance(row, dict) or not row.get("asset") or row.get("equity") is None:
            continue
        out[str(row["asset"]).upper()] = {
            "equity": dec(row.get("equity")),
            "wallet": dec(row.get("balance")),
            "unrealized_pnl": dec(row.get("unrealizedProfit")),
        }
    return out


def swap_equity(line: BalanceLine | None, positions: list[PositionInfo]) -> Decimal | None:
    """A swap account's equity in ``line``'s currency: the venue's own ``equity`` where it
    reports one, else the wallet balance (the venue's, or ccxt's total) plus the open
    P&L of ``positions`` (those settled in that currency). None without a line."""
    if line is None:
        return None
    if line.equity is not None:
        return line.equity
    wallet = line.wallet if line.wallet is not None else line.total
    return wallet + sum((p.unrealized_pnl for p in positions), Decimal(0))


def fee_known(o: dict[str, Any]) -> bool:
    """Whether a ccxt order/trade dict carries its fee (a cost, zero included); an
    answer that leaves it out says nothing about the fee, it does not say zero."""
    fee = o.get("fee")
    if isinstance(fee, dict) and fee.get("cost") is not None:
        return True
    return any(isinstance(f, dict) and f.get("cost") is not None for f in o.get("fees") or [])


def _ms(value: Any) -> int | None:
    """UTC ms from a ccxt timestamp or an ISO 8601 text; None when absent or garbled."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value) if value > 0 else None
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return int(when.timestamp() * 1000)


def fill_time(o: dict[str, Any], fills: tuple[FillInfo, ...], filled: Decimal) -> int | None:
    """When the order last filled: its newest trade, else ccxt's ``lastTradeTimestamp``
    (BingX ``updateTime``), else the venue's own last-fill field (Coinbase Advanced
    ``last_fill_time``, which ccxt leaves out), else the close time of a finished order
    (ccxt ``lastUpdateTimestamp``: Kraken ``closetm``). None while nothing filled."""
    if filled <= 0:
        return None
    times = [f.ts for f in fills if f.ts]
    if times:
        return max(times)
    info = o.get("info")
    candidates = [o.get("lastTradeTimestamp")]
    if isinstance(info, dict):
        candidates.append(info.get("last_fill_time"))
    if (o.get("status") or "").lower() in ("closed", "filled", "canceled", "cancelled"):
        candidates.append(o.get("lastUpdateTimestamp"))
    for value in candidates:
        if (ms := _ms(value)) is not None:
            return ms
    return None


def _fee(o: dict[str, Any]) -> tuple[Decimal, str | None]:
    fee = o.get("fee")
    if isinstance(fee, dict) and fee.get("cost") is not None:
        return dec0(fee.get("cost")), fee.get("currency")
    total, cur = Decimal(0), None
    for f in o.get("fees") or []:
        if isinstance(f, dict) and f.get("cost") is not None:
            total += dec0(f.get("cost"))
            cur = cur or f.get("currency")
    return total, cur


def to_fill(t: dict[str, Any], fallback_symbol: str) -> FillInfo:
    fee, fee_cur = _fee(t)
    return FillInfo(
        trade_id=str(t.get("id") or ""),
        symbol=t.get("symbol") or fallback_symbol,
        side=Side(t.get("side") or "buy"),
        amount=dec0(t.get("amount")),
        price=dec0(t.get("price")),
        fee=fee,
        fee_currency=fee_cur or "",
        ts=int(t.get("timestamp") or 0),
        exchange_order_id=t.get("order"),
        client_order_id=None,
    )


def to_order(
    o: dict[str, Any],
    *,
    symbol: str,
    client_order_id: str | None = None,
    fallback_side: Side | None = None,
    fallback_type: OrderType | None = None,
    fallback_amount: Decimal | None = None,
    fallback_price: Decimal | None = None,
    fallback_trigger: Decimal | None = None,
) -> OrderState:
    """An OrderState from a ccxt order dict; fallbacks fill what a terse create
    response leaves out."""
    amount = dec(o.get("amount")) or fallback_amount or Decimal(0)
    filled = dec(o.get("filled"))
    remaining = dec(o.get("remaining"))
    if filled is None:
        filled = amount - remaining if remaining is not None and amount else Decimal(0)
    raw_status = (o.get("status") or "").lower()
    status = _STATUS.get(raw_status)
    if status is None:
        status = OrderStatus.FILLED if amount and filled >= amount else OrderStatus.OPEN
    side = Side(o["side"]) if o.get("side") in ("buy", "sell") else fallback_side or Side.BUY
    otype = o.get("type")
    order_type = OrderType(otype) if otype in ("market", "limit") else fallback_type
    fee, fee_cur = _fee(o)
    cid = o.get("clientOrderId") or client_order_id
    trades = [to_fill(t, symbol) for t in (o.get("trades") or []) if isinstance(t, dict)]
    fills = tuple(replace(f, client_order_id=cid) for f in trades if f.amount > 0 and f.price > 0)
    price = dec(o.get("price")) or None  # stop-market orders report 0 on some venues
    trigger = dec(o.get("triggerPrice") or o.get("stopLossPrice") or o.get("stopPrice")) or None
    return OrderState(
        exchange_order_id=str(o.get("id") or ""),
        client_order_id=cid,
        symbol=o.get("symbol") or symbol,
        side=side,
        type=order_type or OrderType.LIMIT,
        status=status,
        amount=amount,
        filled=filled,
        price=price if price is not None else fallback_price,
        average=dec(o.get("average")),
        fee=fee,
        fee_currency=fee_cur,
        ts=o.get("timestamp"),
        fills=fills,
        trigger_price=trigger if trigger is not None else fallback_trigger,
        filled_at=fill_time(o, fills, filled),
        fee_known=filled <= 0 or fee_known(o) or any(f.fee > 0 for f in fills),
    )


def to_position(p: dict[str, Any]) -> PositionInfo | None:
    contracts = dec0(p.get("contracts"))
    if contracts == 0:
        return None
    side = (p.get("side") or ("long" if contracts > 0 else "short")).lower()
    return PositionInfo(
        symbol=p.get("symbol") or "",
        side=side,
        contracts=abs(contracts),
        entry_price=dec0(p.get("entryPrice")),
        unrealized_pnl=dec0(p.get("unrealizedPnl")),
        leverage=dec(p.get("leverage")),
    )
