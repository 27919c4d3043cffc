"""Small pure helpers of the trading loop: which symbols a user trades, equity from
balances and prices, and the texts of the loop's notifications."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_DOWN, Decimal

from nija_tg.core.models import BalanceLine, MarketInfo
from nija_tg.engine.execution_record import fmt_amount, fmt_price
from nija_tg.exchange.paper import USD_QUOTED
from nija_tg.storage.positions import PositionRow

# Exchanges whose first-class use here is USDT-M perpetual swaps (live only: paper is spot).
SWAP_EXCHANGES = frozenset({"bingx"})
CASH = frozenset({"USD", "USDT", "USDC"})


def quote_for(exchange_id: str) -> str:
    return "USD" if exchange_id in USD_QUOTED else "USDT"


def symbols_for(exchange_id: str, bases: Iterable[str], *, live: bool) -> list[str]:
    """Unified symbols of the user's allowed pairs on ``exchange_id``."""
    quote = quote_for(exchange_id)
    swap = live and exchange_id in SWAP_EXCHANGES
    return [f"{b}/{quote}:{quote}" if swap else f"{b}/{quote}" for b in bases]


def equity_of(
    balances: list[BalanceLine],
    markets: dict[str, MarketInfo],
    prices: dict[str, Decimal],
    positions: list[PositionRow],
) -> Decimal:
    """Cash (USD-like currencies at 1) plus spot holdings at the last close. For a swap
    account the venue's own equity (wallet + open P&L) where it reports one: its total
    (available + used margin) leaves open profit out on BingX. Currencies without a
    price are left out."""
    equity = Decimal(0)
    base_price: dict[str, Decimal] = {}
    for symbol, market in markets.items():
        if market.kind == "spot" and symbol in prices:
            base_price.setdefault(market.base, prices[symbol])
    for line in balances:
        if line.currency in CASH:
            equity += line.equity if line.equity is not None else line.total
        elif line.currency in base_price:
            equity += line.total * base_price[line.currency]
    return equity


def money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'), rounding=ROUND_DOWN):,}"


def daily_loss_text(loss: Decimal, limit: Decimal) -> str:
    return (
        f"⛔ Daily loss limit reached: {money(loss)} lost today (limit {money(limit)}). "
        "No new entries until tomorrow (UTC); open positions keep their stops."
    )


def positions_count(n: int) -> str:
    return f"{n} open position{'' if n == 1 else 's'}"


def drawdown_text(pct: Decimal, limit: Decimal, held: int = 0) -> str:
    kept = (
        f" Stops keep protecting your {positions_count(held)} (only /close ends that)."
        if held
        else ""
    )
    return (
        f"🛑 Drawdown {pct:.1f}% from your peak equity reached your {limit}% limit. "
        f"Trading is paused: no new entries.{kept} Review your settings, then /trade on "
        "when ready."
    )


def unprotected_lines(
    held: list[PositionRow],
    resting: dict[tuple[str, str], Decimal | None],
    steps: dict[str, Decimal | None],
) -> list[str]:
    """One line per open position: its stop resting on the exchange still protects it
    there, or nothing protects it while the engine cannot reach the account."""
    lines = []
    for p in held:
        what = f"{p.symbol} {p.side} {fmt_amount(p.amount)}"
        trigger = resting.get((p.symbol, p.side))
        if trigger is not None:
            at = fmt_price(trigger, steps.get(p.symbol))
            lines.append(f"• {what}: its stop-loss at {at} rests on the exchange and still fires")
        else:
            lines.append(f"• {what}: no stop on the exchange: nothing protects it now")
    return lines


def connection_text(exchange_id: str, unprotected: list[str] | None = None) -> str:
    text = (
        f"🔌 Your {exchange_id} API key stopped working (the exchange refused it or it "
        "could not be read). Trading is paused."
    )
    if unprotected:
        text += (
            f"\n⚠️ The engine can no longer protect your {positions_count(len(unprotected))} "
            f"on {exchange_id} (no trailing, no stop checks, no exits):\n"
            + "\n".join(unprotected)
            + "\nWatch them on the exchange, or close them there."
        )
    return (
        text + "\nPlease /connect again with a valid key: the engine protects your positions "
        "again as soon as it is verified; /trade on resumes trading."
    )


def close_nothing_text(symbol: str | None, side: str | None, why: str = "") -> str:
    """The answer to a close request for a position that is not open (any more)."""
    if symbol is None:
        return "✅ Nothing to close: you have no open positions the engine manages."
    what = f"{symbol} {side}" if side else symbol
    reason = f" {why}" if why else ""
    return f"✅ Nothing to close: there is no open {what} position any more.{reason}"


def close_expired_text(symbol: str | None, age_s: float) -> str:
    what = "of all your positions" if symbol is None else f"of {symbol}"
    return (
        f"⚠️ Your close {what} was not carried out: the engine could not act on it for "
        f"{age_s / 60:.0f} minutes, and a market order now would fill at a price you never "
        "saw. The position is still open and keeps its stop; send /close again if you "
        "still want it closed."
    )


def close_refused_text(symbol: str, reason: str) -> str:
    return (
        f"⚠️ Your close of {symbol} was refused by the exchange: {reason} The position is "
        "still open and keeps its stop; send /close again to retry."
    )


def summary_text(day: str, pnl: Decimal, equity: Decimal, closed: list[Decimal]) -> str:
    """The daily summary: the day's P&L, equity and closed trades with their win rate."""
    wins = sum(1 for p in closed if p > 0)
    rate = f", win rate {100 * wins / len(closed):.0f}%" if closed else ""
    sign = "+" if pnl >= 0 else "-"
    return (
        f"📊 Daily summary {day} (UTC): P&L {sign}{money(abs(pnl))}, equity {money(equity)}; "
        f"{len(closed)} closed trade(s), {wins} won{rate}."
    )


def close_failed_text(symbol: str, purpose: str, reason: str) -> str:
    what = {"stop": "stop-loss", "take_profit": "take-profit"}.get(purpose, "exit")
    return (
        f"⚠️ The {what} order for {symbol} was refused by the exchange: {reason} The "
        "position is still open; the engine tries again on the next signal."
    )


def entry_refused_text(symbol: str, reason: str) -> str:
    return (
        f"⚠️ The exchange refused the {symbol} entry: {reason} Nothing was opened; the "
        "engine tries again on the next signal."
    )


def entry_funds_text(
    market: MarketInfo,
    units: Decimal,
    price: Decimal,
    needed: Decimal,
    free: Decimal | None,
    exchange_id: str,
    *,
    swap: bool,
) -> str:
    """Insufficient funds for an entry: what it needed (the order's value at the price
    now, or the margin on a swap) against what the account has free."""
    quote = market.quote
    what = "as margin" if swap else "plus the fee"
    at = f"{fmt_amount(units)} {market.base} at about {fmt_price(price, market.price_step)}"
    have = "an amount I could not read" if free is None else f"{money(free)} {quote}"
    return (
        f"⚠️ Not enough funds for the {market.symbol} entry: {at} needed about "
        f"{money(needed)} {quote} ({what}) and {have} is free on {exchange_id}. Nothing was "
        "opened; the engine tries again on the next signal."
    )


def stop_order_failed_text(symbol: str, reason: str) -> str:
    return (
        f"⚠️ The exchange refused the stop-loss order for {symbol}: {reason} The engine "
        "still enforces your stop on every candle while it runs."
    )
