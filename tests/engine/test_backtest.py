"""Backtest: the live loop replayed over a CSV; the CLI prints the report and writes a
chart."""

from __future__ import annotations

import bisect
import dataclasses
import json
import subprocess
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from nija_tg.core import risk
from nija_tg.core.errors import InsufficientFundsError, OrderRejectedError, ValidationError
from nija_tg.core.models import Candle, OrderRequest, OrderStatus, OrderType, Side, Ticker
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.engine.backtest import (
    CandleReplay,
    SwapReplayAccount,
    candle_spacing_ms,
    default_rules,
    load_csv,
    replay_market,
    run_backtest,
    summary,
)
from nija_tg.engine.clock import SimulatedClock
from nija_tg.exchange.paper import market_fill_price, stop_fill_price
from nija_tg.messages.errors import text as error_text
from nija_tg.strategies.adx_trend import AdxTrendParams
from tests.conftest import PYTHON, REPO, make_env

DATA = REPO / "tests" / "data" / "ETH-BTC-5m.csv"


@pytest.fixture
def csv_slice(tmp_path: Path) -> Path:
    lines = DATA.read_text().splitlines()[:701]  # header + 700 candles (300 warm-up)
    path = tmp_path / "eth.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


async def test_backtest_report_is_consistent(csv_slice):
    candles = load_csv(csv_slice)
    result = await run_backtest(candles, pair="ETH/USDT", balance=Decimal(1000))
    assert result.candles == 700
    assert result.trades, "the ADX strategy trades on these candles"
    sides = [f["side"] for f in result.fills]
    assert sides[::2] == ["buy"] * len(sides[::2])  # spot: long only, one position at a time
    closed = [f for f in result.fills if f["realized_pnl"] is not None]
    assert len(closed) == len(result.trades)
    assert result.pnl == result.final_equity - Decimal(1000)
    assert result.win_rate is not None and 0 <= result.win_rate <= 1
    assert result.equity and result.max_drawdown.pct >= 0
    text = summary(result)
    for word in ("Trades:", "P&L:", "Win rate:", "Max drawdown:"):
        assert word in text
    again = await run_backtest(candles, pair="ETH/USDT", balance=Decimal(1000))
    assert again.fills == result.fills  # deterministic


async def test_backtest_rejects_a_non_usd_pair(csv_slice):
    with pytest.raises(ValidationError):
        await run_backtest(load_csv(csv_slice), pair="ETH/BTC")


def test_cli_backtest_prints_report_and_writes_chart(csv_slice, tmp_path, data_dir):
    settings = tmp_path / "risk.json"
    settings.write_text(json.dumps({"max_position_usd": "500", "trailing_stop": False}))
    chart = tmp_path / "equity.png"
    proc = subprocess.run(
        [PYTHON, "-m", "nija_tg", "backtest", "--data", str(csv_slice), "--pair", "ETH/USDT"]
        + ["--settings", str(settings), "--chart", str(chart), "--balance", "2500"],
        env=make_env(data_dir),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Backtest ETH/USDT: 700 candles" in proc.stdout
    # the simulated venue's limits (ETH-BTC's ~0.09 prices read as USDT)
    assert "Market: amount step 10, price step 0.0000001, min amount 10, min cost 5" in (
        proc.stdout
    )
    assert "Win rate:" in proc.stdout and "Max drawdown:" in proc.stdout
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_backtest_takes_the_markets_steps_and_minimums(csv_slice, data_dir):
    def backtest(*flags: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [PYTHON, "-m", "nija_tg", "backtest", "--data", str(csv_slice), "--pair", "ETH/USDT"]
            + list(flags),
            env=make_env(data_dir),
            capture_output=True,
            text=True,
            timeout=300,
            cwd=REPO,
        )

    proc = backtest("--amount-step", "0.5", "--min-cost", "250")
    assert proc.returncode == 0, proc.stderr
    # given values replace the defaults for the price; the others stay
    assert "Market: amount step 0.5, price step 0.0000001, min amount 10, min cost 250" in (
        proc.stdout
    )
    bad = backtest("--min-cost", "-3")
    assert bad.returncode == 2 and "--min-cost must be a positive number" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_cli_backtest_explains_bad_input(csv_slice, tmp_path, data_dir):
    proc = subprocess.run(
        [PYTHON, "-m", "nija_tg", "backtest", "--data", str(tmp_path / "missing.csv")],
        env=make_env(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert proc.returncode == 2 and "no such data file" in proc.stderr
    proc = subprocess.run(
        [PYTHON, "-m", "nija_tg", "backtest", "--data", str(csv_slice), "--pair", "ETH/BTC"],
        env=make_env(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert proc.returncode == 2 and "--pair" in proc.stderr


# --- swaps: margin accounting ---------------------------------------------------------

XRP = REPO / "tests" / "data" / "XRP-USDT-5m-futures.csv"
SWAP = "XRP/USDT:USDT"
TF_MS = 300_000
GRACE_MS = 2_000  # the hub handles a close this long after the boundary


class Prices:
    """Market data for the swap account: one price, set by the test."""

    def __init__(self, last: str) -> None:
        self.last = Decimal(last)

    async def fetch_ticker(self, exchange_id, symbol):
        return Ticker(symbol, self.last)

    async def market(self, exchange_id, symbol):
        return replay_market(symbol)


def order(side: Side, amount: str, cid: str, **kw) -> OrderRequest:
    return OrderRequest(SWAP, side, OrderType.MARKET, Decimal(amount), cid, **kw)


async def test_swap_account_books_margin_fees_and_open_pnl():
    prices = Prices("100")
    acct = SwapReplayAccount(
        "bt", prices, balance=Decimal(1000), currency="USDT", leverage=Decimal(5), clock=lambda: 1
    )
    # a long of 3 at 100 fills at 100.05 (slippage): fee 0.1% of 300.15, margin 300.15/5
    state = await acct.create_order(order(Side.BUY, "3", "a"))
    assert state.status is OrderStatus.FILLED and state.average == Decimal("100.05")
    fee_in = Decimal("300.15") * Decimal("0.001")
    (bal,) = await acct.fetch_balance()
    open_pnl = (Decimal(100) - Decimal("100.05")) * 3
    assert bal.total == Decimal(1000) - fee_in + open_pnl  # the notional stays in equity
    assert bal.used == Decimal("300.15") / 5 and bal.free == bal.total - bal.used
    prices.last = Decimal(110)
    (bal,) = await acct.fetch_balance()
    assert bal.total == Decimal(1000) - fee_in + (Decimal(110) - Decimal("100.05")) * 3
    (pos,) = await acct.fetch_positions()
    assert (pos.side, pos.contracts, pos.leverage) == ("long", Decimal(3), Decimal(5))
    # closing: realised P&L and the exit fee move the wallet, the margin is freed
    exit_px = Decimal(110) * Decimal("0.9995")
    await acct.create_order(order(Side.SELL, "3", "b", reduce_only=True))
    fee_out = 3 * exit_px * Decimal("0.001")
    (bal,) = await acct.fetch_balance()
    assert bal.used == 0 and await acct.fetch_positions() == []
    assert bal.total == Decimal(1000) - fee_in - fee_out + (exit_px - Decimal("100.05")) * 3
    # a short gains when the price falls; the leverage set by the loop sets the margin
    await acct.set_leverage(SWAP, Decimal(2))
    await acct.create_order(order(Side.SELL, "2", "c"))
    short_px = Decimal(110) * Decimal("0.9995")
    prices.last = Decimal(100)
    (bal,) = await acct.fetch_balance()
    assert bal.used == 2 * short_px / 2
    wallet = Decimal(1000) - fee_in - fee_out + (exit_px - Decimal("100.05")) * 3
    wallet -= 2 * short_px * Decimal("0.001")
    assert bal.total == wallet + (short_px - 100) * 2
    with pytest.raises(OrderRejectedError):  # one-way: reduce-only with no long to reduce
        await acct.create_order(order(Side.SELL, "2", "d", reduce_only=True))
    with pytest.raises(InsufficientFundsError):  # margin 60 x 100 / 2 > free
        await acct.create_order(order(Side.BUY, "60", "e", position_side="LONG"))
    with pytest.raises(OrderRejectedError):  # the engine enforces stops itself
        await acct.create_order(order(Side.BUY, "2", "f", trigger_price=Decimal(120)))


async def test_swap_backtest_trades_with_equity_of_cash_plus_open_pnl():
    """The issue's command (``--pair XRP/USDT:USDT --balance 1000``) used to report 0
    trades and a drawdown pause: the paper account took the $300 notional out of
    equity. Now: trades both ways, no pause, and every equity point is the start
    balance + realised P&L (net of fees) + the open position's P&L less its entry fee."""
    candles = load_csv(XRP)
    result = await run_backtest(candles, pair=SWAP, balance=Decimal(1000))
    assert result.kind == "swap" and result.leverage == 5
    assert len(result.trades) > 0 and not result.paused
    assert {t.side for t in result.trades} == {"long", "short"}
    assert result.max_drawdown.pct < RiskSettings().max_drawdown_pct
    closes = [c.ts for c in candles]
    for ts_s, equity in result.equity:
        now_ms = round(ts_s * 1000)
        done = [
            f
            for f in result.fills
            # a close's stops fill before its equity point, exits and entries after it
            if f["ts"] < ts_s or (f["ts"] == ts_s and f["purpose"] == "stop")
        ]
        expected = result.start_balance + sum(
            (Decimal(f["realized_pnl"]) for f in done if f["realized_pnl"] is not None),
            start=Decimal(0),
        )
        if done and done[-1]["realized_pnl"] is None:  # a position is open
            f = done[-1]
            i = bisect.bisect_right(closes, now_ms - TF_MS) - 1
            close = Decimal(str(candles[i].close))
            sign = 1 if f["side"] == "buy" else -1
            expected += sign * (close - Decimal(f["price"])) * Decimal(f["amount"])
            expected -= Decimal(f["fee"])
        assert abs(equity - expected) < Decimal("1e-9"), (ts_s, equity, expected)
    # the first signal comes after the warm-up, as from the live engine's window
    first_fill_ms = round(result.fills[0]["ts"] * 1000)
    assert first_fill_ms >= candles[result.warmup - 1].ts + TF_MS + GRACE_MS
    assert result.warmup == 300


def test_cli_swap_backtest_trades(tmp_path, data_dir):
    proc = subprocess.run(
        [PYTHON, "-m", "nija_tg", "backtest", "--data", str(XRP), "--pair", SWAP]
        + ["--balance", "1000"],
        env=make_env(data_dir),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    assert "swap, margin accounting at 5x" in proc.stdout
    trades = int(next(x for x in proc.stdout.splitlines() if x.startswith("Trades:")).split()[1])
    assert trades > 0
    assert "Stopped early" not in proc.stdout


# --- timeframe --------------------------------------------------------------------------

DAILY = REPO / "tests" / "data" / "BTC-USDT-1d.csv"
DAY_MS = 86_400_000


async def test_candles_of_another_timeframe_are_refused():
    """Daily candles replayed by a 5m strategy filled a day early (each daily candle
    counted as closed 5 minutes after it opened)."""
    candles = load_csv(DAILY)
    assert candle_spacing_ms(candles) == DAY_MS  # the median: gaps do not move it
    assert candle_spacing_ms(load_csv(XRP)) == TF_MS  # the 5m file has real gaps
    with pytest.raises(ValidationError) as err:
        await run_backtest(candles, pair="BTC/USDT")
    text = error_text(err.value)
    assert "1d candles" in text and "5m" in text and "\n" not in text
    assert '"timeframe": "1d"' in text  # the strategy can run on 1d: how to ask for it


async def test_daily_candles_run_on_a_daily_strategy_fill_at_the_daily_close():
    candles = load_csv(DAILY)
    params = AdxTrendParams(timeframe="1d")
    settings = dataclasses.replace(RiskSettings(), strategy_params=params)
    result = await run_backtest(candles, pair="BTC/USDT", settings=settings)
    assert result.timeframe == "1d" and result.trades
    opens = {c.ts for c in candles}
    for f in result.fills:  # at the close of a daily candle (+ the hub's grace)
        closed_at = round(f["ts"] * 1000) - GRACE_MS
        assert closed_at % DAY_MS == 0 and closed_at - DAY_MS in opens


def test_cli_refuses_another_timeframe_in_one_line(data_dir):
    proc = subprocess.run(
        [PYTHON, "-m", "nija_tg", "backtest", "--data", str(DAILY), "--pair", "BTC/USDT"],
        env=make_env(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("nija-tg backtest: The data file holds 1d candles")


# --- the position cap holds with slippage ----------------------------------------------------


def test_sizing_keeps_the_filled_notional_within_max_position_usd():
    """A long fills ``slippage`` above the price it was sized at: $300 at the close
    became $300.15 at the fill."""
    ctx = risk.RiskContext(
        settings=RiskSettings(),
        equity=Decimal(10000),
        start_of_day_equity=Decimal(10000),
        peak_equity=Decimal(10000),
        starting_equity=Decimal(10000),
        realized_pnl_today=Decimal(0),
        symbol="ADA/USDT",
        base="ADA",
        quote="USDT",
        market_kind="spot",
        price=Decimal("1.12345"),
        stop_distance=Decimal("0.001"),
        amount_step=Decimal("0.00000001"),
        slippage=Decimal("0.0005"),
    )
    d = risk.check_entry(ctx)
    assert d.approved and d.capped_by == "max_position_usd"
    filled = d.amount * ctx.price * Decimal("1.0005")
    assert Decimal("299.99") < filled <= Decimal(300)
    short = risk.check_entry(dataclasses.replace(ctx, side="short", market_kind="swap"))
    assert short.amount * ctx.price * Decimal("0.9995") <= Decimal(300)  # fills below
    unslipped = risk.check_entry(dataclasses.replace(ctx, slippage=Decimal(0)))
    assert unslipped.amount > d.amount  # without slippage: sized at the price itself
    assert unslipped.amount * ctx.price * Decimal("1.0005") > Decimal(300)  # the old $300.15


async def test_backtest_entries_stay_within_max_position_usd(csv_slice):
    """Sized at the decision candle's close with the slippage allowance, an entry's
    notional stays within the cap at that price; it fills at the next candle's open, so
    the filled notional exceeds the cap only by the move from that close to that open
    (never by the slippage: $300.15 was the bug)."""
    candles = load_csv(csv_slice)
    by_ts = {c.ts: c for c in candles}
    result = await run_backtest(candles, pair="ETH/USDT", balance=Decimal(1000))
    entries = [f for f in result.fills if f["purpose"] == "entry"]
    assert entries
    cap = RiskSettings().max_position_usd
    slip = Decimal("1.0005")
    moved = 0
    for f in entries:
        boundary = round(f["ts"] * 1000) - GRACE_MS
        close = Decimal(str(by_ts[boundary - TF_MS].close))
        next_open = Decimal(str(by_ts[boundary].open))
        amount, price = Decimal(f["amount"]), Decimal(f["price"])
        assert amount * close * slip <= cap
        assert amount * price <= cap * max(next_open / close, Decimal(1)) * (1 + Decimal("1e-9"))
        moved += next_open > close
    assert moved, "some entries filled above the decision close: the cap then moves with it"


async def test_backtest_fills_at_the_next_open_and_stops_at_the_stop(csv_slice):
    """The engine decides at a candle's close: its market orders fill at the next
    candle's open, a stop at the stop price (or the open of the candle that gapped
    through it), slippage against the trader, prices on the market's price step,
    amounts on its amount step and above its minimums."""
    candles = load_csv(csv_slice)
    by_ts = {c.ts: c for c in candles}
    result = await run_backtest(candles, pair="ETH/USDT", balance=Decimal(1000))
    rules = result.rules
    assert rules == default_rules(candles[0].close)
    assert (rules.amount_step, rules.price_step, rules.min_cost) == (
        Decimal(10),  # ETH-BTC's raw prices (~0.09) read as USDT: a step worth <= 1 USDT
        Decimal("1E-7"),
        Decimal(5),
    )
    slip = Decimal("0.0005")
    purposes = Counter()
    off_close = 0
    for f in result.fills:
        boundary = round(f["ts"] * 1000) - GRACE_MS
        acted, forming = by_ts[boundary - TF_MS], by_ts[boundary]
        side = Side(f["side"])
        if f["purpose"] == "stop":
            base = stop_fill_price(side, Decimal(f["stop_price"]), Decimal(str(acted.open)))
        else:
            base = Decimal(str(forming.open))
            off_close += forming.open != acted.close
        expected = market_fill_price(side, base, slip, rules.price_step)
        assert Decimal(f["price"]) == expected, f
        amount = Decimal(f["amount"])
        assert amount % rules.amount_step == 0 and amount >= rules.min_amount
        assert amount * Decimal(f["price"]) >= rules.min_cost
        purposes[f["purpose"]] += 1
    assert purposes["entry"] and purposes["stop"], purposes  # exits: the parity tests
    assert off_close, "some next opens differ from the decision close"


# --- the replay's prices ---------------------------------------------------------------


async def test_replay_price_now_is_the_forming_candles_open_else_the_last_close():
    """What a market order sent at the clock's time pays: just after a close, the open
    of the candle that has begun; in a gap of the data or after its end, the last close
    (the last trade). Positions are valued at the last closed close."""
    c = [
        Candle(0, 10.0, 11.0, 9.0, 10.5, 1.0),
        Candle(TF_MS, 10.6, 12.0, 10.0, 11.5, 1.0),
        Candle(3 * TF_MS, 11.2, 11.4, 11.0, 11.3, 1.0),  # the candle at 2 x TF is missing
    ]
    clock = SimulatedClock(0)
    replay = CandleReplay(clock, {("bt", "ETH/USDT", "5m"): c})

    async def at(ms: int) -> tuple[Decimal, Decimal]:
        clock.set(ms)
        return (
            (await replay.fetch_ticker("bt", "ETH/USDT")).last,
            await replay.mark_price("bt", "ETH/USDT"),
        )

    assert await at(TF_MS + GRACE_MS) == (Decimal("10.6"), Decimal("10.5"))
    assert await at(2 * TF_MS + GRACE_MS) == (Decimal("11.5"), Decimal("11.5"))  # gap
    assert await at(3 * TF_MS + GRACE_MS) == (Decimal("11.2"), Decimal("11.5"))
    assert await at(4 * TF_MS + GRACE_MS) == (Decimal("11.3"), Decimal("11.3"))  # the end
    market = await CandleReplay(clock, replay.series, {"ETH/USDT": default_rules(10.5)}).market(
        "bt", "ETH/USDT"
    )
    assert (market.amount_step, market.price_step, market.min_amount, market.min_cost) == (
        Decimal("0.01"),  # worth 0.105: at most one quote unit
        Decimal("0.0001"),  # 6 significant digits
        Decimal("0.01"),
        Decimal(5),
    )
    assert default_rules(2000).amount_step == Decimal("0.0001")
    assert default_rules(2000).price_step == Decimal("0.01")
    assert default_rules(30000).amount_step == Decimal("0.00001")
