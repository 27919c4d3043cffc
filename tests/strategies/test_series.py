"""A strategy's signals over a whole series (``Strategy.series``: the backtest's
indicators, computed once) are, on every candle, exactly the signals the live engine
computes on that close: ``evaluate`` at the last row of ``prepare`` over the last
``window`` candles (the MarketHub's window). Compared bitwise: every indicator value,
the action, confidence, stop distance and reason. And the hub's frame itself
(adx_trend's ``compute`` on plain floats) is pandas-ta's (``compute_pandas_ta``),
bitwise, on every one of those windows."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nija_tg.strategies import StrategyPosition, get_strategy
from nija_tg.strategies.adx_trend import COLUMNS, AdxTrendParams
from nija_tg.strategies.base import CANDLE_WINDOW, SignalSeries, normalise_frame

DATA = Path(__file__).resolve().parents[1] / "data"
STRAT = get_strategy("adx_trend")
POSITIONS = (None, StrategyPosition("long", 1.0), StrategyPosition("short", 1.0))


def key(signal) -> tuple:
    """A signal as comparable text: floats by repr (bitwise; NaN equal to NaN)."""
    ind = tuple(sorted((k, repr(float(v))) for k, v in signal.indicators.items()))
    return (signal.action, repr(signal.confidence), repr(signal.stop_distance), signal.reason, ind)


def same_columns(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """The indicator columns of two frames bitwise alike (NaN as NaN, signs of zeros)."""
    for c in COLUMNS[1:]:
        x, y = a[c].to_numpy(), b[c].to_numpy()
        if not (np.array_equal(x, y, equal_nan=True) and (np.signbit(x) == np.signbit(y)).all()):
            return False
    return True


def hub_window(frame: pd.DataFrame, window: int, i: int) -> pd.DataFrame:
    """The hub's window at candle ``i``'s close as the hub hands it over: the last
    ``window`` candles, already normal (``normalise_frame`` returns it as it is, so
    neither side below spends its time re-checking and copying the candles)."""
    rows = frame.iloc[max(0, i - window + 1) : i + 1].reset_index(drop=True)
    assert normalise_frame(rows) is rows
    return rows


def live_signals(frame: pd.DataFrame, params, window: int, i: int) -> list[tuple]:
    """What the hub computes at candle ``i``'s close, for every position and short
    permission; its indicator frame checked bitwise against pandas-ta's."""
    rows = hub_window(frame, window, i)
    prepared = STRAT.prepare(rows, params)
    reference = STRAT.compute_pandas_ta(rows, params)
    assert same_columns(prepared.frame, reference), i
    return [
        key(STRAT.evaluate(prepared, pos, params=params, allow_short=short))
        for pos in POSITIONS
        for short in (False, True)
    ]


def series_signals(series, i: int) -> list[tuple]:
    return [
        key(series.signal(i, pos, allow_short=short))
        for pos in POSITIONS
        for short in (False, True)
    ]


def check(frame: pd.DataFrame, params, window: int, rows) -> int:
    frame = normalise_frame(frame)
    series = STRAT.series(frame, params, window)
    entries = 0
    for i in rows:
        live = live_signals(frame, params, window, i)
        assert series_signals(series, i) == live, i
        flat = [s[0] for s in live[:2]]
        if any(a in ("enter_long", "enter_short") for a in flat):
            entries += 1
            assert series.may_enter(i), i
    return entries


@pytest.mark.parametrize("quarter", range(4))
def test_every_candle_of_the_eth_file_gets_the_live_windows_signal(quarter):
    """Every candle of the file (in four quarters: the reference side runs pandas-ta
    over each candle's window, ~6 ms a candle, so the quarters run on four workers and
    none of them is left last)."""
    frame = pd.read_csv(DATA / "ETH-BTC-5m.csv")
    n = len(frame)
    rows = range(quarter * n // 4, (quarter + 1) * n // 4)
    entries = check(frame, AdxTrendParams(), CANDLE_WINDOW, rows)
    assert entries > 10  # the entries are among the compared signals


def test_windows_holding_a_zero_range_and_other_parameters():
    """ADA-BTC has candles with high == low (pandas-ta then adds epsilon to every range
    of the window); an EMA longer than 128 candles sums its seed in halves."""
    frame = pd.read_csv(DATA / "ADA-BTC-5m.csv")
    zero = [i for i in range(len(frame)) if frame["high"][i] == frame["low"][i]]
    assert zero
    rows = sorted({j for z in zero for j in range(z - 3, min(z + 320, len(frame)), 7)})
    rows += list(range(0, 400, 13))
    check(frame, AdxTrendParams(), CANDLE_WINDOW, rows)
    params = AdxTrendParams(adx_length=7, ema_fast=9, ema_slow=150, atr_length=30)
    check(frame, params, 320, range(0, len(frame), 97))


def test_flat_stretches_and_short_windows():
    """Constant prices (ranges 0 everywhere, DI sums 0: the ADX's input is NaN inside
    the window) and windows shorter than the indicators."""
    rng = random.Random(7)
    price, rows = 100.0, []
    for t in range(520):
        if 200 <= t < 260 or 400 <= t < 405:
            o = h = low = c = price
        else:
            o = price
            c = max(1.0, o + rng.gauss(0, 1))
            h, low = max(o, c) + rng.random(), min(o, c) - rng.random()
            price = c
        rows.append((t * 300_000, o, h, low, c, 1.0))
    frame = pd.DataFrame(rows, columns=["ts", "open", "high", "low", "close", "volume"])
    params = AdxTrendParams(adx_length=5, ema_fast=5, ema_slow=20, atr_length=5)
    check(frame, params, 60, range(len(frame)))
    check(frame, AdxTrendParams(), 10, range(0, 80))  # windows shorter than the lengths


def test_the_generic_series_prepares_each_window():
    frame = pd.read_csv(DATA / "ETH-BTC-5m.csv").iloc[:400]
    params = AdxTrendParams()
    generic = SignalSeries(STRAT, frame, params, CANDLE_WINDOW)
    fast = STRAT.series(frame, params)
    for i in (0, 150, 299, 350, 399):
        assert series_signals(generic, i) == series_signals(fast, i)
        assert generic.may_enter(i)
    with pytest.raises(ValueError):
        fast.signal(5, params=AdxTrendParams(adx_length=20))
    assert set(COLUMNS) <= set(fast.values)
    assert math.isnan(fast.values["adx"][0])
