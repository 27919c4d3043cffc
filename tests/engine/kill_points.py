"""Test helpers for the executor, and a child process that dies (SIGKILL) at a chosen
point of a submit.

Importable helpers: ``FixedPrices`` (a MarketDataSource with prices set by the test)
and ``FaultyAccount`` (wraps a TradingAccount: counts submits, loses answers, hides
orders from lookups for a while, fails lookups).

As a script::

    python tests/engine/kill_points.py DB_PATH USER_ID POINT SYMBOL AMOUNT

runs a paper account stored in the same SQLite file (so "the exchange" survives the
kill) and SIGKILLs itself at POINT:

- ``a``: after the order's commit (status SUBMITTED), before anything is sent;
- ``b``: after the exchange accepted the order, before its answer is recorded;
- ``c``: inside the recording transaction, after the order row was updated and
  before the fill was inserted (the transaction is never committed).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from nija_tg.core.errors import RetryableError
from nija_tg.core.models import MarketInfo, OrderRequest, OrderState, Side, Ticker

PRICE = Decimal(50000)


class FixedPrices:
    """MarketDataSource with prices the test sets; "X/Y:Z" symbols are swaps."""

    def __init__(self, prices: dict[str, Decimal] | None = None) -> None:
        self.prices = dict(prices or {"BTC/USDT": PRICE, "BTC/USDT:USDT": PRICE})

    async def fetch_ohlcv(self, exchange_id, symbol, timeframe, since=None, limit=None):
        return []

    async def fetch_ticker(self, exchange_id: str, symbol: str) -> Ticker:
        return Ticker(symbol, self.prices[symbol])

    async def market(self, exchange_id: str, symbol: str) -> MarketInfo:
        pair, _, settle = symbol.partition(":")
        base, _, quote = pair.partition("/")
        return MarketInfo(
            symbol,
            base,
            quote,
            "swap" if settle else "spot",
            amount_step=Decimal("0.0001"),
            price_step=Decimal("0.01"),
            min_amount=Decimal("0.0001"),
            min_cost=Decimal(5),
        )


class FaultyAccount:
    """A TradingAccount around another one, with fault switches set by the test."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.exchange_id = inner.exchange_id
        self.native_stops = inner.native_stops
        self.creates: list[OrderRequest] = []
        self.fail_before_send: Exception | None = None  # raised, nothing sent
        self.lose_answer: Exception | None = None  # sent (exchange has it), then raised
        self.hide_lookups = 0  # the next N lookups answer "not found"
        self.lookup_errors = 0  # the next N lookups raise RetryableError
        self.lookups = 0
        self.on_create = None  # async callable(request) run before sending

    async def create_order(self, request: OrderRequest) -> OrderState:
        self.creates.append(request)
        if self.on_create is not None:
            await self.on_create(request)
        if self.fail_before_send is not None:
            raise self.fail_before_send
        state = await self.inner.create_order(request)
        if self.lose_answer is not None:
            raise self.lose_answer
        return state

    async def fetch_order_by_client_id(self, symbol: str, cid: str) -> OrderState | None:
        self.lookups += 1
        if self.lookup_errors > 0:
            self.lookup_errors -= 1
            raise RetryableError("lookup failed (test)")
        if self.hide_lookups > 0:
            self.hide_lookups -= 1
            return None
        return await self.inner.fetch_order_by_client_id(symbol, cid)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


async def _child(db_path: str, user_id: int, point: str, symbol: str, amount: str) -> None:
    from nija_tg.core.models import OrderType
    from nija_tg.engine.execution import Executor, OrderDraft
    from nija_tg.exchange.paper import PaperAccount
    from nija_tg.storage.db import Database
    from nija_tg.storage.paper_store import SqlitePaperStore

    class Dying(Executor):
        async def _send(self, request):
            if point == "a":
                _die()
            state = await super()._send(request)
            if point == "b":
                _die()
            return state

        async def _record_fills(self, tx, order, state, facts):
            if point == "c":
                _die()
            return await super()._record_fills(tx, order, state, facts)

    db = await Database.open(Path(db_path))
    paper = PaperAccount(user_id, "bingx", FixedPrices(), SqlitePaperStore(db), slippage=Decimal(0))
    ex = Dying(db, user_id=user_id, exchange_id="bingx", mode="paper", account=paper)
    await ex.submit(OrderDraft(symbol, Side.BUY, OrderType.MARKET, Decimal(amount)))
    await db.close()
    sys.exit(3)  # the kill point was not reached


if __name__ == "__main__":
    db_arg, uid, kill_point, sym, amt = sys.argv[1:6]
    asyncio.run(_child(db_arg, int(uid), kill_point, sym, amt))
