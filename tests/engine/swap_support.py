"""Helpers of tests/engine/test_swap_live.py: a strategy that alternates long and short
entries, and a rig running the REAL daemon (reconciler, MarketHub, UserLoop, Executor)
in-process with the real ``CcxtGateway`` and ``engine_main.account_factory`` against the
BingX swap emulator, under a paced simulated clock that the emulator's clock follows.

Each ``step`` moves one 5 m candle; before it, the emulator's price of every traded
symbol is pinned to the close of the candle that is about to close, so a market order
fills at exactly the price the loop sized it with.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd

from nija_tg.config import Settings
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.exchange.ccxt_gateway import CcxtGateway
from nija_tg.runtime import Runtime
from nija_tg.storage.db import Database
from nija_tg.strategies import get_strategy, register
from nija_tg.strategies.base import (
    Action,
    Signal,
    Strategy,
    StrategyParams,
    StrategyPosition,
    param,
)
from nija_tg.vault.keyring import KeyRing
from tests.engine.live_child import PacedClock
from tests.engine.live_rig import (
    advance_candle,
    arrange_live_user,
    live_gateway,
    start_live_daemon,
    until,
)
from tests.fakes.bingx import BingXEmulator
from tests.fakes.emulator_base import EmuAccount, EmuOrder
from tests.outbox_text import TEXT_COLUMNS, text_of

SWAPFLIP = "test_swapflip"
TF = 300_000
ZERO = Decimal(0)


# --- a strategy that goes long, then short, then long ... ------------------------------


@dataclass(frozen=True, slots=True)
class SwapFlipParams(StrategyParams):
    period: int = param(2, lo=2, hi=1000)  # candles per enter/exit cycle
    phase: int = param(0, lo=0, hi=1000)  # shifts the cycle
    stop_pct: float = param(2.0, lo=0.1, hi=50.0)  # stop distance, % of the close


class SwapFlip(Strategy):
    """Enter when the candle's slot in the cycle is 0 (long on even cycles, short on odd
    ones when shorts are allowed), exit at half the cycle."""

    params_type = SwapFlipParams

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
        assert isinstance(params, SwapFlipParams)
        ts, close = int(frame["ts"].iloc[i]), float(frame["close"].iloc[i])
        n = ts // TF + params.phase
        slot, cycle = n % params.period, n // params.period
        distance = close * params.stop_pct / 100
        if position is None and slot == 0:
            short = allow_short and cycle % 2 == 1
            action = Action.ENTER_SHORT if short else Action.ENTER_LONG
            return Signal(action, 1.0, distance, reason="flip")
        if position is not None and slot == params.period // 2:
            return Signal(Action.EXIT, 1.0, distance, reason="flop")
        return Signal(Action.HOLD, 0.0, distance, reason="wait")


def register_swapflip() -> Strategy:
    """Register ``test_swapflip`` (idempotent) and return it."""
    try:
        return get_strategy(SWAPFLIP)
    except KeyError:
        register(SWAPFLIP)(SwapFlip)
        return get_strategy(SWAPFLIP)


# --- the rig -----------------------------------------------------------------------------


@dataclass
class SwapUser:
    """One LIVE BingX user of the rig."""

    uid: int
    risk: RiskSettings
    usdt: Decimal = Decimal(1000)
    start_hedged: bool = False  # the account's position mode before the engine starts
    acct: EmuAccount | None = None
    equities: list[Decimal] = field(default_factory=list)  # the loop's, after each step
    # the emulator's account equity (wallet + unrealised PnL) at the prices the loop marks
    # with, before each step's orders
    exchange_equities: list[Decimal] = field(default_factory=list)
    exchange_upnl: list[Decimal] = field(default_factory=list)  # its unrealised part


def swap_settings(**changes) -> RiskSettings:
    """Risk settings for ``test_swapflip`` with limits that never pause the user."""
    register_swapflip()
    base = RiskSettings(
        strategy=SWAPFLIP,
        strategy_params=SwapFlipParams(),
        allowed_pairs=("ETH",),
        max_drawdown_pct=Decimal(90),
        daily_loss_pct=Decimal(50),
        daily_loss_usd=Decimal(100000),
        trailing_stop=False,
    )
    return dataclasses.replace(base, **changes)


class SwapRig:
    """LIVE users on the BingX emulator, driven candle by candle."""

    def __init__(self, settings: Settings, db: Database, vault: KeyRing) -> None:
        self.db, self.vault = db, vault
        self.emu = BingXEmulator()
        start = self.emu.candles["ETH/USDT:USDT"][320][0] + TF // 2
        self.clock = PacedClock(int(start))
        self.emu.clock_ms = self.clock.now_ms
        self.runtime = Runtime(dataclasses.replace(settings, engine_drain_seconds=5.0), db, vault)
        self.stop_event = asyncio.Event()
        self.task: asyncio.Task | None = None
        self.users: dict[int, SwapUser] = {}
        self.gateway: CcxtGateway | None = None

    async def start(self, *people: SwapUser) -> None:
        await self.emu.start()
        register_swapflip()
        for u in people:
            u.acct = self.emu.add_account({"USDT": u.usdt})
            self.emu.set_hedge_mode(u.acct, u.start_hedged)
            creds = self.emu.credentials(u.acct)
            await arrange_live_user(
                self.runtime,
                u.uid,
                "bingx",
                creds,
                u.risk,
                chat_id=1000 + u.uid,
                username=f"u{u.uid}",
            )
            self.users[u.uid] = u
        self.pin_prices()
        await self._launch()

    async def _launch(self) -> None:
        """A fresh gateway, hub and daemon on the same database (a process start)."""
        self.gateway = live_gateway("bingx", self.emu.base_url, 3000)
        self.stop_event = asyncio.Event()
        self.hub, self.daemon, self.task = start_live_daemon(
            self.runtime, self.gateway, self.clock, self.stop_event
        )
        started = await until(lambda: self.hub.subscribers == len(self.users))
        assert started, "the users' loops did not start"

    async def restart(self) -> None:
        """Stop the daemon cleanly and start a new one (new ccxt clients, new loops)."""
        await self._stop_daemon()
        await self._launch()

    async def _stop_daemon(self) -> None:
        self.stop_event.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, 30)
            self.task = None
        if self.gateway is not None:
            await self.gateway.close_all()
            self.gateway = None

    def symbols(self) -> set[str]:
        return {f"{b}/USDT:USDT" for u in self.users.values() for b in u.risk.allowed_pairs}

    def pin_prices(self) -> None:
        """Pin each traded symbol's emulator price to the close of the candle the next
        step closes (the price the loop will size its orders with)."""
        closed = (self.clock.now_ms() + TF) // TF * TF - TF
        for symbol in self.symbols():
            row = next(r for r in self.emu.candles[symbol] if int(r[0]) == closed)
            self.emu.set_price(symbol, Decimal(str(row[4])))

    async def step(self, n: int = 1, check=None) -> None:
        """Advance ``n`` candles; each time wait until every loop handled the close,
        record the loops' equity, then run ``check()`` (if given)."""
        for _ in range(n):
            self.pin_prices()
            for u in self.users.values():
                summary = self.emu.ledger.summary(u.acct.api_key)
                u.exchange_equities.append(summary["equity"])
                u.exchange_upnl.append(summary["upnl"])
            await advance_candle(self.clock, self.hub)
            for u in self.users.values():
                loop = self.daemon.loops.get(u.uid)
                u.equities.append(loop.equity if loop is not None else ZERO)
            if check is not None:
                await check()

    async def close(self) -> None:
        await self._stop_daemon()
        await self.emu.stop()

    # --- what happened ---------------------------------------------------------------

    def exchange_orders(self, uid: int, *, stops: bool = False) -> list[EmuOrder]:
        """``uid``'s orders on the exchange: the trades (or, with ``stops``, only the
        stop orders resting there to protect positions)."""
        key = self.users[uid].acct.api_key
        return [
            o
            for o in self.emu.ledger.orders
            if o.account == key and (o.trigger_price is not None) == stops
        ]

    def exchange_positions(self, uid: int) -> set[tuple[str, str, Decimal]]:
        """(symbol, side, amount) of every non-flat emulator position of ``uid``."""
        key = self.users[uid].acct.api_key
        return {
            (symbol, "long" if p.size > 0 else "short", abs(p.size))
            for (k, symbol, _), p in self.emu.ledger.positions.items()
            if k == key and p.size
        }

    async def db_positions(self, uid: int) -> set[tuple[str, str, Decimal]]:
        rows = await self.db.fetchall(
            "SELECT symbol, side, amount FROM positions WHERE user_id = ?", (uid,)
        )
        return {(r["symbol"], r["side"], Decimal(r["amount"])) for r in rows}

    async def orders(self, uid: int, *, stops: bool = False) -> list:
        """``uid``'s order rows: trades (or, with ``stops``, the exchange stop orders)."""
        null = "IS NOT NULL" if stops else "IS NULL"
        return await self.db.fetchall(
            f"SELECT * FROM orders WHERE user_id = ? AND trigger_price {null} ORDER BY order_id",
            (uid,),
        )

    async def fills(self, order_id: int) -> list:
        return await self.db.fetchall(
            "SELECT * FROM fills WHERE order_id = ? ORDER BY fill_id", (order_id,)
        )

    async def outbox(self, uid: int, kind: str) -> list[str]:
        rows = await self.db.fetchall(
            f"SELECT {TEXT_COLUMNS} FROM outbox WHERE user_id = ? AND kind = ? ORDER BY outbox_id",
            (uid, kind),
        )
        return [text_of(r) for r in rows]

    def requests_before_first_order(self) -> list[tuple[str, str]]:
        out = []
        for method, path in self.emu.requests:
            if method == "POST" and path.endswith("/trade/order"):
                break
            out.append((method, path))
        return out
