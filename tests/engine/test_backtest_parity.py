"""Backtest == live paper: the backtest (``run_backtest``: the trading core in memory,
indicators computed once for the series, a simulated venue) and a paper user of the
live engine (a UserLoop on the daemon's LoopDeps, its PaperAccount built by the loop, a
MarketHub over a SQLite database) make the same fills, compared as the strings the
database holds, over 5,760 real 5m candles on a market with a venue's steps and
minimums (some entries refused as below the minimum, on both sides alike); and the
same equity point at every close. Swaps: the in-memory backtest and the live loop
replayed on the swap account (``run_backtest(live=True)``) alike, shorts included.

The live side's market data answers as an exchange's public API would at the clock's
time: the candles opened so far, and a ticker at the price now, i.e. just after a
candle close the open of the candle that has just begun."""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal

import pytest

from nija_tg.core.models import Role, TradingMode
from nija_tg.core.models import Ticker as TickerModel
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.engine.backtest import MarketRules, load_csv, run_backtest
from nija_tg.engine.clock import SimulatedClock
from nija_tg.engine.live_replay import run_lockstep
from nija_tg.engine.market_data import MarketHub
from nija_tg.engine.user_loop import LoopDeps, UserLoop
from nija_tg.exchange.paper import InMemoryPaperStore
from nija_tg.storage import settings_repo, snapshots, users
from tests.conftest import REPO
from tests.engine.replay import ReplaySource, real_candles

TF = 300_000
PAIR = "ETH/USD"
UID = 21
BALANCE = Decimal(2000)
# a venue's limits: amounts in 0.001 ETH, prices in cents, at least 0.01 ETH and $100
RULES = MarketRules(
    amount_step=Decimal("0.001"),
    price_step=Decimal("0.01"),
    min_amount=Decimal("0.01"),
    min_cost=Decimal(100),
)
# risk-based sizing (0.1 % of equity at the ATR stop) gives $40..$300 here: some entries
# fall below the $100 minimum; no daily-loss or drawdown pause cuts the run short
SETTINGS = dataclasses.replace(
    RiskSettings(allowed_pairs=("ETH",)),
    risk_per_trade_pct=Decimal("0.1"),
    daily_loss_usd=Decimal(100000),
    daily_loss_pct=Decimal(50),
    max_drawdown_pct=Decimal(50),
)
FIELDS = ("symbol", "side", "amount", "price", "fee", "realized_pnl", "ts", "purpose")
XRP = REPO / "tests" / "data" / "XRP-USDT-5m-futures.csv"


class ExchangeNow(ReplaySource):
    """The exchange's public API at the clock's time: ticker = the price now (the open
    of the candle forming; the last close when none is), the market with RULES."""

    async def fetch_ticker(self, exchange_id, symbol):
        self.ticker_calls += 1
        for (ex, sym, _tf), candles in self.series.items():
            if (ex, sym) == (exchange_id, symbol):
                now = self.clock.now_ms()
                forming = [c for c in candles if c.ts <= now < c.ts + self.tf_ms]
                price = forming[-1].open if forming else self.last_close(exchange_id, symbol)
                return TickerModel(symbol, Decimal(str(price)))
        raise AssertionError(symbol)

    async def market(self, exchange_id, symbol):
        return RULES.market(symbol)


async def live_paper_fills(db, candles) -> tuple[list[dict], UserLoop]:
    async with db.transaction() as tx:
        await users.upsert_user(tx, UID, 1000 + UID, "parity", None, Role.TRADER)
        await settings_repo.save(tx, UID, SETTINGS)
        await users.set_trading(tx, UID, True)
        await users.set_mode(tx, UID, TradingMode.PAPER)
    clock = SimulatedClock(candles[0].ts)
    source = ExchangeNow(clock, {("kraken", PAIR, "5m"): candles})
    hub = MarketHub(source, clock, window=300, lockstep=True, late_retries=0)
    deps = LoopDeps(db, hub, clock, source, paper_store=InMemoryPaperStore(), paper_balance=BALANCE)
    loop = UserLoop(deps, UID)
    await asyncio.wait_for(run_lockstep(hub, [loop], candles[-1].ts + TF), 600)
    rows = await db.fetchall(
        "SELECT f.symbol, f.side, f.amount, f.price, f.fee, f.realized_pnl, f.ts, o.purpose "
        "FROM fills f LEFT JOIN orders o ON o.order_id = f.order_id WHERE f.user_id = ? "
        "ORDER BY f.fill_id",
        (UID,),
    )
    return [dict(r) for r in rows], loop


def as_strings(fills: list[dict]) -> list[tuple[str, ...]]:
    return [tuple(str(f[k]) for k in FIELDS) for f in fills]


async def test_backtest_and_live_paper_fill_alike_over_5760_candles_with_minimums(db):
    candles = real_candles("ETH-BTC-5m.csv")
    assert len(candles) >= 5000
    live, loop = await live_paper_fills(db, candles)
    result = await run_backtest(candles, pair=PAIR, settings=SETTINGS, balance=BALANCE, rules=RULES)
    assert as_strings(live) == as_strings(result.fills)
    points = await snapshots.equity_history(db, UID, limit=100_000)
    assert [(t, str(e)) for t, e in points] == [(t, str(e)) for t, e in result.equity]
    purposes = {f["purpose"] for f in live}
    assert purposes == {"entry", "exit", "stop"}
    assert len(result.trades) >= 20
    # the venue's limits were in play: entries refused below the minimum, amounts on
    # the step, prices on the tick
    assert loop.refusals["below_minimum"] > 0, loop.refusals
    assert result.refusals == dict(loop.refusals)
    for f in live:
        amount, price = Decimal(f["amount"]), Decimal(f["price"])
        assert amount % RULES.amount_step == 0 and price % RULES.price_step == 0
        assert amount >= RULES.min_amount and amount * price >= RULES.min_cost


@pytest.mark.parametrize(("mode", "leverage", "balance"), [("one_way", 5, 1000), ("hedge", 3, 500)])
async def test_swap_backtest_and_the_live_loop_on_the_swap_account_fill_alike(
    mode, leverage, balance
):
    """XRP/USDT:USDT, both ways (shorts), margin accounting, one-way and hedge mode: the
    in-memory backtest and the live UserLoop replayed on the swap account make the same
    fills and equity. (The swap account reports its wallet apart, as BingX does: before,
    the live loop read an open position's P&L moving the total as deposits and
    withdrawals, and its daily loss limit went astray.)"""
    candles = load_csv(XRP)
    settings = dataclasses.replace(RiskSettings(), position_mode=mode, leverage_cap=leverage)
    kw = {"pair": "XRP/USDT:USDT", "balance": Decimal(balance), "settings": settings}
    ours = await run_backtest(candles, **kw)
    live = await run_backtest(candles, live=True, **kw)
    assert as_strings(ours.fills) == as_strings(live.fills)
    assert [f["stop_price"] for f in ours.fills] == [f["stop_price"] for f in live.fills]
    assert {t.side for t in ours.trades} == {"long", "short"}
    assert ours.equity == live.equity and ours.refusals == live.refusals


async def test_the_limits_and_the_gate_act_alike():
    """Tight limits: the daily loss blocks entries (refused "daily_loss"), the drawdown
    pauses the user (an exit signal then refused "gate_protect": PROTECT keeps only the
    stops), and the run ends once nothing is left to protect: the in-memory backtest and
    the live loop alike, to the last equity point."""
    candles = load_csv(REPO / "tests" / "data" / "ETH-BTC-5m.csv")
    settings = dataclasses.replace(
        RiskSettings(),
        max_drawdown_pct=Decimal(3),
        daily_loss_usd=Decimal(5),
        daily_loss_pct=Decimal(50),
        max_position_usd=Decimal(1000),
        risk_per_trade_pct=Decimal(3),
    )
    kw = {"pair": "ETH/USDT", "settings": settings, "balance": Decimal(1000)}
    ours = await run_backtest(candles, **kw)
    live = await run_backtest(candles, live=True, **kw)
    assert ours.paused and live.paused
    assert ours.refusals == live.refusals
    assert ours.refusals["daily_loss"] > 0 and ours.refusals["gate_protect"] > 0
    assert as_strings(ours.fills) == as_strings(live.fills)
    assert ours.equity == live.equity and len(ours.equity) < len(candles)
