"""Backtest: the live trading loop replayed over historical candles.

One code path, two clocks: the same UserLoop (strategy, risk check, engine-side stops,
Executor, PaperAccount fills with fees and slippage) runs against a throw-away SQLite
database, fed by a MarketHub in lockstep over a replay of the candles, under a
SimulatedClock that jumps from one candle close to the next.
"""

from __future__ import annotations

import asyncio
import bisect
import csv
import dataclasses
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from nija_tg.core import pnl
from nija_tg.core.errors import NotFoundError, ValidationError
from nija_tg.core.models import Candle, MarketInfo, Role, Ticker
from nija_tg.core.risk_settings import QUOTE_ASSETS, RiskSettings
from nija_tg.engine import loop_store
from nija_tg.engine.clock import SimulatedClock
from nija_tg.engine.market_data import MarketHub, timeframe_ms
from nija_tg.engine.snapshot_writer import SnapshotWriter
from nija_tg.engine.user_loop import LoopDeps, UserLoop
from nija_tg.exchange.paper import InMemoryPaperStore
from nija_tg.storage import settings_repo, users
from nija_tg.storage.db import Database
from nija_tg.strategies import get_strategy

EXCHANGE = "backtest"
USER_ID = 1


def load_csv(path: Path) -> list[Candle]:
    """Candles from a CSV with a header ``timestamp,open,high,low,close,volume``
    (timestamp in UTC milliseconds; ``ts`` accepted too), sorted, duplicates dropped."""
    out: dict[int, Candle] = {}
    with open(path, newline="") as fh:
        for rec in csv.DictReader(fh):
            ts = int(float(rec.get("timestamp") or rec["ts"]))
            values = (float(rec[k]) for k in ("open", "high", "low", "close", "volume"))
            out[ts] = Candle(ts, *values)
    return [out[k] for k in sorted(out)]


def replay_market(symbol: str) -> MarketInfo:
    """The market a replay trades: fine steps, no exchange minimums."""
    base, quote = symbol.split(":")[0].split("/")
    kind = "swap" if ":" in symbol else "spot"
    return MarketInfo(symbol, base, quote, kind, Decimal("0.00000001"), None, None, None)


class CandleReplay:
    """A MarketDataSource answering from recorded candles as of ``clock``: the candles
    opened so far (the last one still forming), tickers at the last closed close."""

    def __init__(self, clock: SimulatedClock, series: dict[tuple[str, str, str], list[Candle]]):
        self.clock = clock
        self.series = series
        self._ts = {k: [c.ts for c in v] for k, v in series.items()}

    async def fetch_ohlcv(self, exchange_id, symbol, timeframe, since=None, limit=None):
        key = (exchange_id, symbol, timeframe)
        if key not in self.series:
            raise NotFoundError(f"no candles for {symbol} {timeframe}")
        ts = self._ts[key]
        end = bisect.bisect_right(ts, self.clock.now_ms())
        if since is None:
            return self.series[key][max(0, end - (limit or 500)) : end]
        start = bisect.bisect_left(ts, since)
        return self.series[key][start : end if limit is None else min(end, start + limit)]

    async def fetch_ticker(self, exchange_id, symbol):
        for (ex, sym, tf), candles in self.series.items():
            if ex == exchange_id and sym == symbol:
                closed_before = self.clock.now_ms() - timeframe_ms(tf)
                i = bisect.bisect_right(self._ts[(ex, sym, tf)], closed_before) - 1
                return Ticker(symbol, Decimal(str(candles[max(i, 0)].close)))
        raise NotFoundError(f"no prices for {symbol}")

    async def market(self, exchange_id, symbol):
        return replay_market(symbol)


@dataclass(frozen=True)
class Trade:
    symbol: str
    side: str  # of the position
    opened_ts: float  # seconds
    closed_ts: float
    amount: Decimal
    entry: Decimal
    exit: Decimal
    pnl: Decimal


@dataclass
class BacktestResult:
    pair: str
    candles: int
    start_balance: Decimal
    final_equity: Decimal
    fills: list[dict] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)
    equity: list[tuple[float, Decimal]] = field(default_factory=list)
    paused: bool = False

    @property
    def pnl(self) -> Decimal:
        return self.final_equity - self.start_balance

    @property
    def win_rate(self) -> Decimal | None:
        return pnl.win_rate(t.pnl for t in self.trades)

    @property
    def max_drawdown(self) -> pnl.Drawdown:
        return pnl.max_drawdown(e for _, e in self.equity)


def _trades(fills: list[dict]) -> list[Trade]:
    """Pair each position-closing fill (it carries realised P&L) with its opening."""
    opened: dict[str, dict] = {}
    out = []
    for f in fills:
        if f["realized_pnl"] is None:
            opened.setdefault(f["symbol"], f)
            continue
        start = opened.pop(f["symbol"], None)
        out.append(
            Trade(
                symbol=f["symbol"],
                side="long" if f["side"] == "sell" else "short",
                opened_ts=start["ts"] if start else f["ts"],
                closed_ts=f["ts"],
                amount=Decimal(f["amount"]),
                entry=Decimal(start["price"]) if start else Decimal(0),
                exit=Decimal(f["price"]),
                pnl=Decimal(f["realized_pnl"]),
            )
        )
    return out


def backtest_settings(settings: RiskSettings | None, strategy: str, base: str) -> RiskSettings:
    """The settings to replay: ``settings`` (defaults) with ``strategy`` and the pair."""
    settings = settings or RiskSettings()
    if settings.strategy != strategy:
        params = get_strategy(strategy).default_params()
        settings = dataclasses.replace(settings, strategy=strategy, strategy_params=params)
    return dataclasses.replace(settings, allowed_pairs=(base,))


async def run_backtest(
    candles: list[Candle],
    *,
    strategy: str = "adx_trend",
    pair: str = "BTC/USDT",
    settings: RiskSettings | None = None,
    balance: Decimal = Decimal(10000),
    window: int = 300,
    db_dir: Path | None = None,
) -> BacktestResult:
    base, _, quote = pair.split(":")[0].partition("/")
    if not base or quote not in QUOTE_ASSETS:
        raise ValidationError(
            f"bad pair {pair!r}",
            user_message=f"--pair must be BASE/QUOTE with QUOTE one of {sorted(QUOTE_ASSETS)}.",
        )
    if not candles:
        raise ValidationError("no candles", user_message="The data file holds no candles.")
    settings = backtest_settings(settings, strategy, base)
    tf = settings.strategy_params.timeframe
    with tempfile.TemporaryDirectory(dir=db_dir) as tmp:
        db = await Database.open(Path(tmp) / "backtest.db")
        try:
            return await _replay(db, candles, pair, quote, tf, settings, balance, window)
        finally:
            await db.close()


async def _replay(
    db: Database,
    candles: list[Candle],
    pair: str,
    quote: str,
    tf: str,
    settings: RiskSettings,
    balance: Decimal,
    window: int,
) -> BacktestResult:
    async with db.transaction() as tx:
        await users.upsert_user(tx, USER_ID, USER_ID, "backtest", None, Role.TRADER)
        await settings_repo.save(tx, USER_ID, settings)
        await users.set_trading(tx, USER_ID, True)
    clock = SimulatedClock(candles[0].ts)
    source = CandleReplay(clock, {(EXCHANGE, pair, tf): candles})
    hub = MarketHub(source, clock, window=window, lockstep=True, late_retries=0)
    deps = LoopDeps(
        db,
        hub,
        clock,
        source,
        paper_store=InMemoryPaperStore(),
        paper_exchange=EXCHANGE,
        paper_balance=balance,
        paper_currency=quote,
        snapshots=SnapshotWriter(db),  # as the daemon runs it
    )
    loop = UserLoop(deps, USER_ID, symbols=[pair])
    try:
        await run_lockstep(hub, [loop], until_ms=candles[-1].ts + timeframe_ms(tf))
    finally:
        await deps.snapshots.close()
    fills = [
        dict(r)
        for r in await db.fetchall(
            "SELECT symbol, side, amount, price, fee, realized_pnl, ts FROM fills "
            "WHERE user_id = ? ORDER BY fill_id",
            (USER_ID,),
        )
    ]
    equity = await loop_store.equity_series(db, USER_ID)
    user = await users.get_user(db, USER_ID)
    return BacktestResult(
        pair=pair,
        candles=len(candles),
        start_balance=balance,
        final_equity=equity[-1][1] if equity else balance,
        fills=fills,
        trades=_trades(fills),
        equity=equity,
        paused=user is not None and user.status.value == "paused",
    )


async def run_lockstep(hub: MarketHub, loops: list[UserLoop], until_ms: int) -> None:
    """Run ``loops`` and the hub (lockstep) until ``until_ms``, then stop the loops.
    Loops that end by themselves (a pause) leave; when none is left the replay ends."""
    tasks = [asyncio.create_task(loop.run(), name=f"loop-{loop.user_id}") for loop in loops]
    stop = asyncio.Event()
    ready = asyncio.ensure_future(hub.wait_for_subscribers(len(loops)))
    await asyncio.wait([ready, *tasks], return_when=asyncio.FIRST_COMPLETED)
    ready.cancel()
    hub_task = asyncio.create_task(hub.run(stop, until_ms=until_ms))
    pending = {hub_task, *tasks}
    while hub_task in pending:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        for t in done:
            if t is not hub_task and not t.cancelled() and t.exception() is not None:
                stop.set()
                for other in pending:
                    other.cancel()
                raise t.exception()  # type: ignore[misc]
        if not any(t in pending for t in tasks):
            stop.set()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for writer in {id(w): w for w in (loop.deps.snapshots for loop in loops) if w}.values():
        await writer.close()  # the last snapshots and equity points


def summary(result: BacktestResult) -> str:
    """The printed report: trades, P&L, win rate, max drawdown."""
    lines = [f"Backtest {result.pair}: {result.candles} candles"]
    for t in result.trades:
        lines.append(
            f"  {t.side:5} {t.amount.normalize():f} {t.symbol} "
            f"{t.entry:.6g} -> {t.exit:.6g}  P&L {t.pnl:+.2f}"
        )
    rate = result.win_rate
    dd = result.max_drawdown
    lines += [
        f"Trades: {len(result.trades)}",
        f"P&L: {result.pnl:+.2f} ({pnl.return_pct(result.pnl, result.start_balance):+.2f}%)",
        f"Final equity: {result.final_equity:.2f} (start {result.start_balance:.2f})",
        "Win rate: " + ("n/a" if rate is None else f"{rate * 100:.1f}%"),
        f"Max drawdown: {dd.pct:.2f}% ({dd.amount:.2f})",
    ]
    if result.paused:
        lines.append("Stopped early: the drawdown limit paused trading.")
    return "\n".join(lines)


def write_chart(result: BacktestResult, path: Path) -> None:
    """An equity curve PNG (matplotlib, Agg backend: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    from datetime import UTC, datetime

    import matplotlib.pyplot as plt

    xs = [datetime.fromtimestamp(ts, tz=UTC) for ts, _ in result.equity]
    ys = [float(e) for _, e in result.equity]
    fig, ax = plt.subplots(figsize=(10, 4))
    try:
        ax.plot(xs, ys, linewidth=1.2)
        ax.set_title(f"Equity — {result.pair} backtest")
        ax.set_ylabel("equity")
        ax.grid(True, alpha=0.3)
        fig.autofmt_xdate()
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
