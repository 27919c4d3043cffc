"""One LIVE user of the real daemon (reconciler, MarketHub, UserLoop, Executor, the real
``CcxtGateway`` and vault-decrypting account factory) trading against the Kraken
emulator, driven one 5 m candle at a time by a paced simulated clock that the emulator
follows. Used by the issue 12 tests (live settings, refusals told to the user, "not
processed" answers): each can choose the strategy, the settings, the executor (a test
subclass that counts look-ups or stops at a chosen point) and pin the fill price.

Strategies registered here (``register_test_strategies``; drop them with
``unregister_test_strategies``):

- ``test_flipflop`` (tests/engine/live_child.py): enter, exit, enter ... every
  ``period`` candles;
- ``test_always_in``: enter long whenever flat, never exit (a stop closes).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd

from nija_tg.core.risk_settings import RiskSettings
from nija_tg.engine.execution import Executor
from nija_tg.exchange.client_ids import is_ours
from nija_tg.runtime import Runtime
from nija_tg.storage import positions
from nija_tg.strategies import get_strategy, register, unregister
from nija_tg.strategies.base import (
    Action,
    Signal,
    Strategy,
    StrategyParams,
    StrategyPosition,
    param,
)
from tests.engine.live_child import FLIPFLOP, PacedClock, register_flipflop
from tests.engine.live_rig import (
    advance_candle,
    arrange_live_user,
    live_gateway,
    start_live_daemon,
    until,
)
from tests.fakes.kraken import KrakenEmulator
from tests.outbox_text import TEXT_COLUMNS, text_of

TF = 300_000
ADD_ORDER = "/0/private/AddOrder"
ALWAYS_IN = "test_always_in"


@dataclass(frozen=True, slots=True)
class AlwaysInParams(StrategyParams):
    stop_pct: float = param(50.0, lo=0.1, hi=90.0)  # stop distance, % of the close


class AlwaysIn(Strategy):
    """Enter long on every candle while flat; hold otherwise (only a stop closes)."""

    params_type = AlwaysInParams

    def compute(self, frame: pd.DataFrame, params: StrategyParams) -> pd.DataFrame:
        return frame.copy()

    def decide(
        self,
        frame: pd.DataFrame,
        i: int,
        position: StrategyPosition | None,
        params: StrategyParams,
        allow_short: bool,
    ) -> Signal:
        assert isinstance(params, AlwaysInParams)
        distance = float(frame["close"].iloc[i]) * params.stop_pct / 100
        if position is None:
            return Signal(Action.ENTER_LONG, 1.0, distance, reason="in")
        return Signal(Action.HOLD, 0.0, distance, reason="hold")


def register_test_strategies() -> None:
    register_flipflop()
    try:
        get_strategy(ALWAYS_IN)
    except KeyError:
        register(ALWAYS_IN)(AlwaysIn)


def unregister_test_strategies() -> None:
    unregister(FLIPFLOP)
    unregister(ALWAYS_IN)


class KrakenLive:
    """The rig. ``start`` arranges the user and runs the daemon; ``step`` moves one candle
    and waits until the loop handled it; ``restart`` stops the daemon and starts a new
    one on the same database and emulator (what a restart of the engine does)."""

    def __init__(self, settings, db, vault, uid: int, *, drain_s: float = 5.0) -> None:
        self.db, self.vault, self.uid = db, vault, uid
        self.emu = KrakenEmulator()
        start = self.emu.candles["ETH/USD"][320][0] + TF // 2
        self.clock = PacedClock(int(start))
        self.emu.clock_ms = self.clock.now_ms
        self.runtime = Runtime(
            dataclasses.replace(settings, engine_drain_seconds=drain_s), db, vault
        )
        self.executor_factory: Callable[..., Executor] = functools.partial(
            Executor, lookup_attempts=3, lookup_backoff=0.05
        )
        self.pin_prices = False  # fill at the close the loop sees (no drift to the next one)
        self.pin_factor = Decimal(1)  # ... times this (above 1: dearer than the loop thinks)
        self.stop_event = asyncio.Event()
        self.task: asyncio.Task | None = None
        self.gateway: Any = None

    async def start(self, risk: RiskSettings, usd: Decimal = Decimal(10000)) -> None:
        await self.emu.start()
        self.acct = self.emu.add_account({"USD": usd})
        register_test_strategies()
        creds = self.emu.credentials(self.acct)
        await arrange_live_user(
            self.runtime, self.uid, "kraken", creds, risk, chat_id=7000 + self.uid, username="i12"
        )
        await self._run()

    async def _run(self) -> None:
        self.gateway = live_gateway("kraken", self.emu.base_url, 1500)
        self.stop_event = asyncio.Event()
        self.hub, self.daemon, self.task = start_live_daemon(
            self.runtime, self.gateway, self.clock, self.stop_event
        )
        self.daemon.deps.executor_factory = self.executor_factory
        assert await until(lambda: self.hub.subscribers == 1), "the user's loop did not start"

    async def stop_daemon(self) -> None:
        self.stop_event.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, 30)
            self.task = None
        if self.gateway is not None:
            await self.gateway.close_all()
            self.gateway = None

    async def restart(self) -> None:
        await self.stop_daemon()
        await self._run()

    async def close(self) -> None:
        await self.stop_daemon()
        await self.emu.stop()

    @property
    def loop(self):
        return self.daemon.loops.get(self.uid)

    def pin(self) -> None:
        """Pin every pair's price to the close of the candle the next step closes."""
        closed = (self.clock.now_ms() + TF) // TF * TF - TF
        for symbol, rows in self.emu.candles.items():
            row = next((r for r in rows if int(r[0]) == closed), None)
            if row is not None:
                price = Decimal(str(row[4])) * self.pin_factor
                self.emu.set_price(symbol, self.emu.round_price(symbol, price))

    async def step(self, n: int = 1) -> None:
        for _ in range(n):
            if self.pin_prices:
                self.pin()
            await advance_candle(self.clock, self.hub)

    # --- what happened --------------------------------------------------------------

    def exchange_orders(self, *, stops: bool = False) -> list:
        return [
            o
            for o in self.emu.ledger.orders
            if is_ours(o.client_id, self.uid) and (o.trigger_price is not None) == stops
        ]

    async def orders(self, *, stops: bool = False) -> list:
        null = "IS NOT NULL" if stops else "IS NULL"
        return await self.db.fetchall(
            f"SELECT * FROM orders WHERE user_id = ? AND trigger_price {null} ORDER BY order_id",
            (self.uid,),
        )

    async def outbox(self, kind: str | None = None) -> list[str]:
        rows = await self.db.fetchall(
            f"SELECT kind, {TEXT_COLUMNS} FROM outbox WHERE user_id = ? ORDER BY outbox_id",
            (self.uid,),
        )
        return [text_of(r) for r in rows if kind is None or r["kind"] == kind]

    async def positions(self) -> dict[str, positions.PositionRow]:
        return {p.symbol: p for p in await positions.list_for_user(self.db, self.uid)}
