"""Backtest: a strategy over historical candles, in memory, with the live engine's
decisions.

The backtest shell feeds the trading core (``core/trading_core.py``: stops and
trailing, the strategy's exits and entries as the gate allows, sizing through the risk
check; ``core/limits_book.py``: the daily loss and the drawdown) with each candle of
the series in turn, in the live loop's order of a close (``UserLoop.on_close``): stops
on the closed candle, equity, the UTC day's rollover, the equity point, the limits,
then the strategy's part. Its venue is simulated in memory (``engine/sim_venue.py``:
the paper account's fill model and arithmetic for spot pairs, margin accounting for
swap pairs); its positions are booked with the live engine's ``apply_fill``. No
database, no asyncio, no clock: the strategy's indicators are computed once for the
whole series (``Strategy.series``), as the live MarketHub computes them on its window
of the last ``CANDLE_WINDOW`` candles at each close, so every signal is the one the
live engine acts on.

``run_backtest(..., live=True)`` replays the candles through the live UserLoop
instead (``engine/live_replay.py``: a throw-away SQLite database, a MarketHub in
lockstep, a simulated clock): the parity test holds both to the same fills.

Fill model (the paper account's, see ``exchange/paper.py``): the engine decides on a
candle's close; its market orders fill at the NEXT candle's open (the price now, just
after the close; the last close when no candle follows: a gap or the end of the data),
stops at the stop price or at the open of the candle that gapped through it; slippage
and fee on every fill. The simulated market has a venue's minimum amount and cost and
amount and price steps (:class:`MarketRules`, defaults from the pair's price:
:func:`default_rules`).

The candles must be of the strategy's timeframe (their median spacing is checked), and
the first signal comes after the strategy's warm-up (``params.warmup`` candles), as in
the live engine's candle window.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from nija_tg.core import pnl, risk
from nija_tg.core import trading_core as core
from nija_tg.core.account_currency import at_step
from nija_tg.core.errors import NijaError, ValidationError
from nija_tg.core.limits_book import LimitsBook
from nija_tg.core.models import (
    BalanceLine,
    Candle,
    MarketInfo,
    OrderRequest,
    OrderType,
    PositionInfo,
    Side,
)
from nija_tg.core.risk_settings import QUOTE_ASSETS, RiskSettings
from nija_tg.core.trading_gate import Gate
from nija_tg.engine.bookkeeping import Holding, apply_fill
from nija_tg.engine.clock import utc_day
from nija_tg.engine.loop_support import equity_of
from nija_tg.engine.market_window import timeframe_ms
from nija_tg.engine.sim_venue import (
    MIN_COST,
    MarketRules,
    SpotVenue,
    SwapVenue,
    default_rules,
    replay_market,
)
from nija_tg.exchange.precision import is_dust, sellable_amount
from nija_tg.strategies import get_strategy
from nija_tg.strategies.base import CANDLE_COLUMNS, CANDLE_WINDOW, SignalSeries, param_specs

__all__ = [
    "MIN_COST",
    "BacktestResult",
    "MarketRules",
    "Trade",
    "default_rules",
    "load_csv",
    "replay_market",
    "run_backtest",
    "summary",
    "write_chart",
]

# The live UserLoop replay (the parity test's other side), imported when first asked
# for: the in-memory backtest needs no database, event loop or user loop.
_LIVE_REPLAY = ("CandleReplay", "ReplayLoop", "SwapReplayAccount", "run_lockstep")


def __getattr__(name: str):
    if name in _LIVE_REPLAY:
        from nija_tg.engine import live_replay

        return getattr(live_replay, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


EXCHANGE = "backtest"
USER_ID = 1
WINDOW = CANDLE_WINDOW  # candles the hub keeps per market, as the live MarketHub
GRACE_MS = 2_000  # the live hub handles a close this long after its boundary
DAY_MS = 86_400_000
ZERO = Decimal(0)
FEE_RATE = Decimal("0.001")  # LoopDeps.paper_fee_rate
SLIPPAGE = Decimal("0.0005")  # LoopDeps.paper_slippage


def load_csv(path: Path) -> list[Candle]:
    """Candles from a CSV with a header ``timestamp,open,high,low,close,volume``
    (timestamp in UTC milliseconds; ``ts`` accepted too), sorted, duplicates dropped
    (the last wins)."""
    frame = pd.read_csv(path)
    if "timestamp" not in frame.columns and "ts" in frame.columns:
        frame = frame.rename(columns={"ts": "timestamp"})
    cols = ["timestamp", "open", "high", "low", "close", "volume"]
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise KeyError(f"missing column(s) {', '.join(missing)}")
    frame = frame[cols]
    if frame.isna().to_numpy().any():
        raise ValueError("empty or non-numeric values")
    ts = frame["timestamp"].astype("float64").astype("int64")
    frame = frame.assign(timestamp=ts).drop_duplicates("timestamp", keep="last")
    frame = frame.sort_values("timestamp", kind="stable")
    columns = [frame["timestamp"].tolist()]
    columns += [frame[c].astype("float64").tolist() for c in cols[1:]]
    return [Candle(*row) for row in zip(*columns, strict=True)]


def candle_spacing_ms(candles: list[Candle]) -> int | None:
    """The candles' timeframe in ms: the median spacing of consecutive timestamps (gaps
    in the data do not move it); None for fewer than two candles."""
    if len(candles) < 2:
        return None
    return statistics.median_low(b.ts - a.ts for a, b in zip(candles, candles[1:], strict=False))


def timeframe_name(ms: int) -> str:
    """300000 -> "5m", 86400000 -> "1d" (the largest whole unit)."""
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000)):
        if ms > 0 and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms / 1000:g}s"


def check_timeframe(candles: list[Candle], settings: RiskSettings) -> None:
    """ValidationError (one line for the user) when the candles' spacing is not the
    strategy's timeframe: daily candles replayed as 5m ones would fill a day early."""
    spacing = candle_spacing_ms(candles)
    tf = settings.strategy_params.timeframe
    if spacing is None or spacing == timeframe_ms(tf):
        return
    found = timeframe_name(spacing)
    spec = param_specs(type(settings.strategy_params)).get("timeframe")
    runs_on_found = spec is not None and found in spec.choices
    raise ValidationError(
        f"timeframe: {found} candles, {tf} strategy",
        code="backtest_timeframe_or_setting" if runs_on_found else "backtest_timeframe",
        params={"found": found, "strategy": settings.strategy, "timeframe": tf},
    )


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
    timeframe: str = ""
    kind: str = "spot"  # "spot" (paper account) or "swap" (margin accounting)
    leverage: int | None = None  # swaps: the leverage the margin is computed with
    warmup: int = 0  # candles before the first signal
    rules: MarketRules | None = None  # the simulated venue's steps and minimums
    refusals: dict[str, int] = field(default_factory=dict)  # entries refused, by reason

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
    window: int = WINDOW,
    db_dir: Path | None = None,
    rules: MarketRules | None = None,
    live: bool = False,
) -> BacktestResult:
    """Run ``strategy`` over ``candles`` of ``pair``: a spot pair on the paper
    account's model, a swap pair (``BASE/QUOTE:SETTLE``) with margin accounting at the
    settings' ``leverage_cap``, on a simulated market with ``rules`` (default:
    :func:`default_rules` at the first candle's close). Each signal is computed over
    the last ``window`` candles (or the strategy's warm-up if longer), as the live
    hub's. In memory; ``live``: through the live UserLoop on a throw-away database in
    ``db_dir`` instead (``engine/live_replay.py``, the parity test's other side).
    ValidationError (with a one-line ``user_message``) for a pair that is not
    USD-like, no candles, or candles of another timeframe than the strategy's."""
    args = _checked(candles, strategy, pair, settings, window, rules)
    if live:
        return await _live(candles, balance, db_dir, *args)
    return _memory(candles, balance, *args)


def backtest(
    candles: list[Candle],
    *,
    strategy: str = "adx_trend",
    pair: str = "BTC/USDT",
    settings: RiskSettings | None = None,
    balance: Decimal = Decimal(10000),
    window: int = WINDOW,
    rules: MarketRules | None = None,
) -> BacktestResult:
    """``run_backtest`` in memory, synchronously (no event loop needed)."""
    return _memory(candles, balance, *_checked(candles, strategy, pair, settings, window, rules))


def _checked(
    candles: list[Candle],
    strategy: str,
    pair: str,
    settings: RiskSettings | None,
    window: int,
    rules: MarketRules | None,
) -> tuple[str, str, RiskSettings, int, MarketRules]:
    """(pair, quote, settings, window, rules) to run with, or ValidationError."""
    pair_part, _, settle = pair.partition(":")
    base, _, quote = pair_part.partition("/")
    if not base or quote not in QUOTE_ASSETS or (settle and settle != quote):
        raise ValidationError(
            f"bad pair {pair!r}",
            code="backtest_pair",
            params={"quotes": ", ".join(sorted(QUOTE_ASSETS))},
        )
    if not candles:
        raise ValidationError("no candles", code="backtest_no_candles")
    settings = backtest_settings(settings, strategy, base)
    check_timeframe(candles, settings)
    window = max(window, settings.strategy_params.warmup)
    return pair, quote, settings, window, rules or default_rules(candles[0].close)


def _memory(
    candles: list[Candle],
    balance: Decimal,
    pair: str,
    quote: str,
    settings: RiskSettings,
    window: int,
    rules: MarketRules,
) -> BacktestResult:
    strat = get_strategy(settings.strategy)
    series = strat.series(_frame(candles), settings.strategy_params, window)
    shell = BacktestShell(
        candles, series, pair=pair, quote=quote, settings=settings, balance=balance, rules=rules
    )
    shell.run()
    return _result(
        candles, pair, settings, balance, rules, shell.fills, shell.equity,
        shell.limits.paused, dict(shell.refusals),
    )  # fmt: skip


def _frame(candles: list[Candle]) -> pd.DataFrame:
    """The candles as the strategies' frame (columns of floats, built once)."""
    ts = np.array([c.ts for c in candles], dtype=np.int64)
    rows = np.array([(c.open, c.high, c.low, c.close, c.volume) for c in candles], np.float64)
    rows = rows.reshape(len(candles), 5)
    cols = {"ts": ts, **{name: rows[:, k] for k, name in enumerate(CANDLE_COLUMNS[1:])}}
    return pd.DataFrame(cols)


async def _live(
    candles: list[Candle],
    balance: Decimal,
    db_dir: Path | None,
    pair: str,
    quote: str,
    settings: RiskSettings,
    window: int,
    rules: MarketRules,
) -> BacktestResult:
    from nija_tg.engine.live_replay import replay

    done = await replay(
        candles,
        pair=pair,
        quote=quote,
        settings=settings,
        balance=balance,
        window=window,
        rules=rules,
        db_dir=db_dir,
    )
    return _result(
        candles, pair, settings, balance, rules, done.fills, done.equity, done.paused,
        done.refusals,
    )  # fmt: skip


def _result(
    candles: list[Candle],
    pair: str,
    settings: RiskSettings,
    balance: Decimal,
    rules: MarketRules,
    fills: list[dict],
    equity: list[tuple[float, Decimal]],
    paused: bool,
    refusals: dict[str, int],
) -> BacktestResult:
    swap = replay_market(pair).kind == "swap"
    return BacktestResult(
        pair=pair,
        candles=len(candles),
        start_balance=balance,
        final_equity=equity[-1][1] if equity else balance,
        fills=fills,
        trades=_trades(fills),
        equity=equity,
        paused=paused,
        timeframe=settings.strategy_params.timeframe,
        kind="swap" if swap else "spot",
        leverage=settings.leverage_cap if swap else None,
        warmup=settings.strategy_params.warmup,
        rules=rules,
        refusals=refusals,
    )


def rules_text(rules: MarketRules) -> str:
    """``amount step 0.1, price step 0.00001, min amount 0.1, min cost 5``."""

    def fmt(x: Decimal | None) -> str:
        return "none" if x is None else f"{x.normalize():f}"

    return (
        f"amount step {fmt(rules.amount_step)}, price step {fmt(rules.price_step)}, "
        f"min amount {fmt(rules.min_amount)}, min cost {fmt(rules.min_cost)}"
    )


def summary(result: BacktestResult) -> str:
    """The printed report: trades, P&L, win rate, max drawdown."""
    lines = [f"Backtest {result.pair}: {result.candles} candles"]
    if result.timeframe:
        accounting = (
            f"swap, margin accounting at {result.leverage}x"
            if result.kind == "swap"
            else "spot, paper account"
        )
        lines[0] += f" of {result.timeframe} ({accounting}; warm-up {result.warmup} candles)"
    if result.rules is not None:
        lines.append(f"Market: {rules_text(result.rules)}; market orders fill at the next open")
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


# --- the in-memory shell ---------------------------------------------------------------


@dataclass
class _Position:
    """One open position of the run: its bookkeeping (``apply_fill``'s) and its stop."""

    holding: Holding
    stop: Decimal | None = None
    anchor: Decimal | None = None  # best price since entry (the trail's)

    def core(self, symbol: str) -> core.Holding:
        h = self.holding
        return core.Holding(symbol, h.side, h.amount, h.entry_price, self.stop, self.anchor)


class BacktestShell:
    """One user's account over one pair's candles, in memory: the trading core's
    decisions carried out on a simulated venue, in the live loop's order of a close."""

    def __init__(
        self,
        candles: list[Candle],
        series: SignalSeries,
        *,
        pair: str,
        quote: str,
        settings: RiskSettings,
        balance: Decimal,
        rules: MarketRules,
        fee_rate: Decimal = FEE_RATE,
        slippage: Decimal = SLIPPAGE,
    ) -> None:
        self.candles = candles
        self.series = series
        self.symbol = pair
        self.settings = settings
        self.market: MarketInfo = rules.market(pair)
        self.swap = self.market.kind == "swap"
        self.slippage = slippage
        self.tf = timeframe_ms(settings.strategy_params.timeframe)
        self.venue: SpotVenue | SwapVenue
        if self.swap:
            self.venue = SwapVenue(
                balance=balance,
                currency=quote,
                leverage=Decimal(settings.leverage_cap),
                fee_rate=fee_rate,
                slippage=slippage,
            )
            # the loop's swap setup: position mode, then the leverage cap
            self.venue.hedged = settings.position_mode == "hedge"
            self.venue.set_leverage(pair, settings.leverage_cap)
        else:
            self.venue = SpotVenue(balance, quote, fee_rate=fee_rate, slippage=slippage)
        self.positions: dict[str, _Position] = {}  # side -> position (this one symbol)
        self.fills: list[dict] = []
        self.equity: list[tuple[float, Decimal]] = []
        self.refusals: Counter[str] = Counter()
        self.limits = LimitsBook.start(settings, "", Decimal(0))
        self.now_ms = candles[0].ts if candles else 0
        self.i = -1  # the candle being closed
        self.price = ZERO  # its close (the hub's price)
        self.equity_now = ZERO
        self._lines: list[BalanceLine] | None = None  # spot balances until the next fill
        self._priced = False  # the balances hold coins (their worth moves with the price)
        self._day, self._day_end = "", 0  # the UTC day of the clock, until when
        self._rolled: tuple[Decimal | None, object] = (None, None)  # (equity, marks) rolled
        self._checked: tuple[Decimal, tuple, bool] | None = None  # the last limit check

    # --- the venue ---------------------------------------------------------------------

    @property
    def hedge(self) -> bool:
        return self.swap and isinstance(self.venue, SwapVenue) and self.venue.hedged

    def balances(self) -> list[BalanceLine]:
        """The account's balances now (spot: kept until the next fill; swaps: marked
        at the last close)."""
        if isinstance(self.venue, SwapVenue):
            marks = {s: self.price for s in self.venue.positions}
            sizes = {s: self.market.contract_size for s in self.venue.positions}
            return self.venue.balances(marks, sizes)
        if self._lines is None:
            self._lines = self.venue.balances()
            self._priced = any(b.currency != self.market.quote for b in self._lines)
        return self._lines

    def price_now(self) -> Decimal:
        """What a market order pays just after the close of candle ``i``: the open of
        the next candle when it is the one forming now, else the last close."""
        nxt = self.i + 1
        if nxt < len(self.candles):
            c = self.candles[nxt]
            if c.ts <= self.now_ms < c.ts + self.tf:
                return Decimal(str(c.open))
        return self.price

    def held_by_account(self, p: _Position) -> Decimal:
        if isinstance(self.venue, SwapVenue):
            return self.venue.held(self.symbol, p.holding.side)
        return self.venue.held(self.market.base)

    def send(self, request: OrderRequest, purpose: str) -> bool:
        """Fill a market order on the venue and book it; False when the venue refused
        it (below the minimums, funds: the live loop tells the user, nothing else)."""
        candle = self.candles[self.i] if request.stop_price is not None else None
        now_price = self.price_now()
        try:
            if isinstance(self.venue, SwapVenue):
                marks = {s: self.price for s in self.venue.positions}
                sizes = {s: self.market.contract_size for s in self.venue.positions}
                fill = self.venue.market_order(
                    request, self.market, now_price, candle, marks, sizes
                )
            else:
                fill = self.venue.market_order(request, self.market, now_price, candle)
        except NijaError:
            return False
        self.book(
            request.side,
            fill.amount,
            fill.price,
            fill.fee,
            purpose=purpose,
            stop_price=request.stop_price,
            position_side=request.position_side,
            reduce_only=request.reduce_only,
        )
        return True

    def book(
        self,
        side: Side,
        amount: Decimal,
        price: Decimal,
        fee: Decimal,
        *,
        purpose: str | None,
        stop_price: Decimal | None,
        position_side: str | None,
        reduce_only: bool,
    ) -> None:
        """Book a fill on the positions (``apply_fill``, as the live engine books it)
        and keep it as the fills table would hold it: the price with the market's places
        (``at_step``, as ``execution_record`` records a fill)."""
        self._lines = None  # the balances moved
        price = at_step(price, self.market.price_step)
        current = {s: p.holding for s, p in self.positions.items()}
        effect = apply_fill(
            current,
            side=side,
            amount=amount,
            price=price,
            fee=fee,
            spot=not self.swap,
            position_side=position_side,
            reduce_only=reduce_only,
            contract_size=self.market.contract_size,
        )
        for name, holding in effect.sides.items():
            if holding is None:
                self.positions.pop(name, None)
            elif name in self.positions:
                self.positions[name].holding = holding
            else:
                self.positions[name] = _Position(holding)
        self.fills.append(
            {
                "symbol": self.symbol,
                "side": side.value,
                "amount": str(amount),
                "price": str(price),
                "fee": str(fee),
                "realized_pnl": None if effect.realized is None else str(effect.realized),
                "ts": self.now_ms / 1000,
                "purpose": purpose,
                "stop_price": None if stop_price is None else str(stop_price),
            }
        )

    # --- one close ---------------------------------------------------------------------

    def run(self) -> None:
        """Every candle in turn; ends early when the drawdown paused the user and no
        position is left to protect (the live loop ends then)."""
        if not self.candles:
            return
        self.now_ms = self.candles[0].ts  # the loop's start
        start = equity_of(self.balances(), {self.symbol: self.market}, {}, [])
        self.limits = LimitsBook.start(self.settings, utc_day(self.now_ms), start)
        self.equity_now = start
        for i in range(len(self.candles)):
            self.close(i)
            if self.limits.paused and not self.positions:
                break

    def close(self, i: int) -> None:
        """One candle close, in the live loop's order: stops and trailing, equity,
        the UTC day's rollover, the equity point, the limits, the strategy's part."""
        candle = self.candles[i]
        boundary = -(-(candle.ts + self.tf) // self.tf) * self.tf
        self.i, self.now_ms = i, boundary + GRACE_MS
        if self.positions or self._priced or self.series.may_enter(i):
            self.price = Decimal(str(candle.close))  # else nothing reads it at this close
        signal = self.stops_and_signal(i, candle)
        equity = self.equity_at_close()
        if self.now_ms >= self._day_end:
            self._day = utc_day(self.now_ms)
            self._day_end = (self.now_ms // DAY_MS + 1) * DAY_MS
        limits = self.limits
        if (
            self._day != limits.day
            or equity is not self._rolled[0]
            or (limits.marks is not self._rolled[1])
        ):  # nothing to roll or observe when neither the day, the equity nor marks moved
            limits.rollover(self._day, equity)
            self._rolled = (equity, limits.marks)
        self.equity.append((self.now_ms / 1000, equity))
        blocked = self.check_limits(equity)
        if signal is not None:
            self.act(signal, blocked)

    def equity_at_close(self) -> Decimal:
        """Cash plus holdings at the close (swaps: wallet plus open P&L), as the live
        loop's ``equity_of``; unchanged (not recomputed) while flat and only cash is
        held."""
        if self.positions or self._lines is None or self._priced:
            self.equity_now = equity_of(
                self.balances(), {self.symbol: self.market}, {self.symbol: self.price}, []
            )
        return self.equity_now

    def check_limits(self, equity: Decimal) -> bool:
        """``LimitsBook.check`` at this close (True: no new entries); not asked again
        while its inputs stay the very same objects (a flat account between days)."""
        limits = self.limits
        state = (limits.marks, limits.blocked_day, limits.paused, limits.day)
        last = self._checked
        if last is not None and last[0] is equity and last[1] == state and last[1][0] is state[0]:
            return last[2]
        blocked = limits.check(limits.gate(Gate.ACTIVE), equity).blocked
        after = (limits.marks, limits.blocked_day, limits.paused, limits.day)
        self._checked = (equity, after, blocked)
        return blocked

    def stops_and_signal(self, i: int, candle: Candle) -> core.Signal | None:
        """Stops on the closed candle and trailing (``core.stop_or_trail``); the
        strategy's signal for the position held before them (None: a flat user's
        HOLD, not evaluated)."""
        if not self.positions:
            if not self.series.may_enter(i):
                return None
            return self.series.signal(i, None, allow_short=self.swap)
        spos = core.strategy_position({s: p.core(self.symbol) for s, p in self.positions.items()})
        signal = self.series.signal(i, spos, allow_short=self.swap)
        low, high = Decimal(str(candle.low)), Decimal(str(candle.high))
        for side, p in list(self.positions.items()):
            if self.positions.get(side) is not p:
                continue
            intent = core.stop_or_trail(self.settings, p.core(self.symbol), low, high, signal)
            if isinstance(intent, core.Close):
                self.close_position(p, intent.purpose)
            elif intent is not None:
                p.stop, p.anchor = intent.stop, intent.anchor
        return signal

    def act(self, signal: core.Signal, blocked: bool) -> None:
        """The strategy's part, as the gate allows (``core.strategy_intents``)."""
        gate = self.limits.gate(Gate.ACTIVE)
        held = dict(self.positions)
        intents = core.strategy_intents(
            self.symbol,
            signal,
            [p.core(self.symbol) for p in held.values()],
            gate,
            stopping=False,
            blocked=blocked,
        )
        if isinstance(intents, core.Refusal):
            self.refusals[intents.reason] += 1
        elif isinstance(intents, core.EntryWanted):
            self.enter(intents)
        elif intents:
            for c in intents:
                self.close_position(held[c.side], c.purpose)

    def enter(self, want: core.EntryWanted) -> None:
        m = self.market
        free_quote = None
        if not self.swap:
            lines = self.balances()
            free_quote = next((b.free for b in lines if b.currency == m.quote), Decimal(0))
        marks = self.limits.marks
        held = [p.holding for p in self.positions.values()]
        figures = risk.RiskContext(
            settings=self.settings,
            equity=self.equity_now,
            start_of_day_equity=marks.daily_loss_base,
            peak_equity=marks.peak_equity_flow_adjusted,
            starting_equity=marks.starting_equity_plus_flows,
            realized_pnl_today=marks.pnl_today(self.equity_now),
            symbol=self.symbol,
            base=m.base,
            quote=m.quote,
            market_kind=m.kind,
            price=self.price,
            stop_distance=want.stop_distance,
            side=want.side,
            open_positions=[
                PositionInfo(self.symbol, h.side, h.amount, h.entry_price) for h in held
            ],
            free_quote=free_quote,
            min_amount=m.min_amount,
            min_cost=m.min_cost,
            amount_step=m.amount_step,
            contract_size=m.contract_size,
            slippage=self.slippage,  # a paper user's: fills slip against them
        )
        sized = core.size_entry(want, figures)
        if isinstance(sized, core.Refusal):
            self.refusals[sized.reason] += 1
            return
        if self.swap and not self.hedge and self.opposite_held(want.side):
            self.refusals["opposite_position_held"] += 1
            return
        request = OrderRequest(
            self.symbol,
            Side.BUY if want.side == "long" else Side.SELL,
            OrderType.MARKET,
            sized.amount,
            "",
            position_side=want.side.upper() if self.hedge else None,
        )
        if self.send(request, "entry"):
            first = core.stop_after_entry(sized, Decimal(self.fills[-1]["price"]))
            p = self.positions.get(want.side)
            if p is not None:
                p.stop, p.anchor = first.stop, first.anchor

    def opposite_held(self, side: str) -> bool:
        if not isinstance(self.venue, SwapVenue):
            return False
        other = "short" if side == "long" else "long"
        return self.venue.held(self.symbol, other) > 0

    def close_position(self, p: _Position, purpose: str) -> None:
        """Close ``p`` at market (the live loop's ``close``): never more than the
        position nor than the account holds; a spot remainder too small to be sold is
        booked as dust, without an order."""
        h = p.holding
        held = self.held_by_account(p)
        amount = sellable_amount(self.market, min(h.amount, held))
        price = self.price if self.price > 0 else h.entry_price
        if not self.swap and held >= h.amount and is_dust(self.market, h.amount, price):
            self.book_dust(p, h.amount, price)
            return
        if amount <= 0 or amount > h.amount:
            return  # never more than our position; nothing sellable is not sent
        request = OrderRequest(
            self.symbol,
            Side.SELL if h.side == "long" else Side.BUY,
            OrderType.MARKET,
            amount,
            "",
            reduce_only=self.swap,
            position_side=h.side.upper() if self.hedge else None,
            stop_price=p.stop if purpose == "stop" else None,
        )
        if not self.send(request, purpose):
            return  # refused: the live loop reads the account (nothing changed) and tells
        rest = self.positions.get(h.side)
        if rest is not None and not self.swap:
            fill_price = Decimal(self.fills[-1]["price"])
            if is_dust(self.market, rest.holding.amount, fill_price):
                self.book_dust(rest, rest.holding.amount, fill_price)

    def book_dust(self, p: _Position, amount: Decimal, price: Decimal) -> None:
        """A remainder no order can sell, closed in the books at ``price`` (no fee)."""
        side = Side.SELL if p.holding.side == "long" else Side.BUY
        self.book(
            side,
            amount,
            price,
            ZERO,
            purpose=None,
            stop_price=None,
            position_side=p.holding.side.upper() if self.swap else None,
            reduce_only=self.swap,
        )
