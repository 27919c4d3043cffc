"""A running daemon (reconciler, GateBoard, MarketHub, UserLoop, Executor, the real ccxt
gateway) for the protection tests (issue 12 item 2, issue 16 item 8): one user, paper
(the engine's own stop check only) or LIVE on the Kraken emulator (stops also rest on
the exchange), driven one 5 m candle at a time by a paced simulated clock the emulator
follows. The candles the next step closes can be rewritten (``shape_next``) so that a
test decides when a stop is crossed or equity falls.

The state changes go through the services the bot's commands call (/trade, /close, the
admin's /pause and /halt), so what a test sees is what a user meets."""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal

from nija_tg.core.models import Role
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.exchange.client_ids import is_ours
from nija_tg.runtime import Runtime
from nija_tg.services.admin_service import AdminService
from nija_tg.services.trading_service import TradingService
from nija_tg.storage import positions, settings_repo, users
from tests.engine.kraken_live import ALWAYS_IN, AlwaysInParams, register_test_strategies
from tests.engine.live_child import PacedClock
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
ETH = "ETH/USD"
ADMIN = 990


def always_in(**risk) -> RiskSettings:
    """Enter ETH long whenever flat (when allowed), stop 10% below, no trailing; big
    enough a position for a price fall to show in equity."""
    base = RiskSettings(
        strategy=ALWAYS_IN,
        strategy_params=AlwaysInParams(stop_pct=10.0),
        allowed_pairs=("ETH",),
        trailing_stop=False,
        max_position_usd=Decimal(5000),
        risk_per_trade_pct=Decimal(10),
        max_open_positions=1,
        max_drawdown_pct=Decimal(90),
        daily_loss_pct=Decimal(50),
        daily_loss_usd=Decimal(100000),
    )
    return dataclasses.replace(base, **risk)


class ProtectRig:
    def __init__(self, settings, db, vault, uid: int) -> None:
        self.db, self.vault, self.uid = db, vault, uid
        self.emu = KrakenEmulator()
        start = self.emu.candles[ETH][320][0] + TF // 2
        self.clock = PacedClock(int(start))
        self.emu.clock_ms = self.clock.now_ms
        self.runtime = Runtime(dataclasses.replace(settings, engine_drain_seconds=5.0), db, vault)
        self.stop_event = asyncio.Event()
        self.task: asyncio.Task | None = None
        self.gateway = None
        self.trading = TradingService(db)
        self.admin = AdminService(db, frozenset())
        self.acct = None

    async def start(self, risk: RiskSettings, *, live: bool = False) -> None:
        await self.emu.start()
        register_test_strategies()
        if live:
            self.acct = self.emu.add_account({"USD": Decimal(10000)})
            creds = self.emu.credentials(self.acct)
            await arrange_live_user(
                self.runtime, self.uid, "kraken", creds, risk, chat_id=8000 + self.uid,
                username="protect",
            )  # fmt: skip
        else:
            async with self.db.transaction() as tx:
                await users.upsert_user(tx, self.uid, 8000 + self.uid, "protect", None, Role.TRADER)
                await settings_repo.save(tx, self.uid, risk)
                await users.set_trading(tx, self.uid, True)
        async with self.db.transaction() as tx:
            await users.upsert_user(tx, ADMIN, ADMIN, "admin", None, Role.ADMIN)
        self.gateway = live_gateway("kraken", self.emu.base_url, 1500)
        self.hub, self.daemon, self.task = start_live_daemon(
            self.runtime, self.gateway, self.clock, self.stop_event
        )
        assert await until(lambda: self.hub.subscribers == 1), "the user's loop did not start"

    async def close(self) -> None:
        self.stop_event.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, 30)
        if self.gateway is not None:
            await self.gateway.close_all()
        await self.emu.stop()

    async def step(self, n: int = 1) -> None:
        for _ in range(n):
            await advance_candle(self.clock, self.hub)

    async def applied(self) -> None:
        """Wait until the engine read the desired state as it is now (the loops' gates)."""
        counter = await users.change_counter(self.db)
        assert await until(lambda: self.daemon.board.version >= counter, 5), "not read"

    @property
    def loop(self):
        return self.daemon.loops.get(self.uid)

    # --- shaping the market ----------------------------------------------------------

    def next_row(self, symbol: str = ETH) -> list[float]:
        """The candle the next step closes (its row in the emulator, changed in place)."""
        closed = (self.clock.now_ms() + TF) // TF * TF - TF
        return next(r for r in self.emu.candles[symbol] if int(r[0]) == closed)

    def shape_next(self, *, low: Decimal, close: Decimal, symbol: str = ETH) -> None:
        """Make the next closed candle go down to ``low`` and close at ``close``; the
        exchange's price (paper fills, tickers) is pinned to the close."""
        row = self.next_row(symbol)
        row[3], row[4] = float(low), float(close)
        row[1] = max(float(close), row[1])
        row[2] = max(row[1], row[2], float(close))
        row[3] = min(row[3], row[1], row[4])
        self.emu.set_price(symbol, self.emu.round_price(symbol, close))

    # --- what happened -----------------------------------------------------------------

    async def position(self, symbol: str = ETH):
        return await positions.get(self.db, self.uid, symbol, "long")

    async def outbox(self, kind: str | None = None) -> list[str]:
        rows = await self.db.fetchall(
            f"SELECT kind, {TEXT_COLUMNS} FROM outbox WHERE user_id = ? ORDER BY outbox_id",
            (self.uid,),
        )
        return [text_of(r) for r in rows if kind is None or r["kind"] == kind]

    async def fills(self) -> list[dict]:
        rows = await self.db.fetchall(
            "SELECT f.side, f.amount, f.price, f.realized_pnl, o.purpose, o.trigger_price "
            "FROM fills f JOIN orders o ON o.order_id = f.order_id WHERE f.user_id = ? "
            "ORDER BY f.fill_id",
            (self.uid,),
        )
        return [dict(r) for r in rows]

    def exchange_orders(self, *, stops: bool | None = None) -> list:
        return [
            o
            for o in self.emu.ledger.orders
            if is_ours(o.client_id, self.uid)
            and (stops is None or (o.trigger_price is not None) == stops)
        ]
