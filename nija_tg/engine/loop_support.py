"""Small pure helpers of the trading loop: which symbols a user trades, equity from
balances and prices, and the positions a dead key leaves unprotected. The texts of
the loop's notifications are ``messages.render``'s (events in ``core.events``)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from nija_tg.core.events import Unprotected
from nija_tg.core.models import BalanceLine, MarketInfo
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


def unprotected(
    held: list[PositionRow],
    resting: dict[tuple[str, str], Decimal | None],
    steps: dict[str, Decimal | None],
) -> tuple[Unprotected, ...]:
    """Per open position: the stop resting on the exchange that still protects it there,
    or none (nothing protects it while the engine cannot reach the account)."""
    return tuple(
        Unprotected(
            p.symbol, p.side, p.amount, resting.get((p.symbol, p.side)), steps.get(p.symbol)
        )
        for p in held
    )
