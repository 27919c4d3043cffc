"""The live window's indicators advanced one candle per close (``Strategy.rolling``,
``strategies/rolling.py``) are, on every candle, bitwise the last row of the full
computation over the hub's window (``prepare`` over the last ``window`` candles: what
the hub computed on every close before, itself bitwise pandas-ta's, test_series.py),
and the signals are ``evaluate``'s on that frame for every position and short
permission. Also when candles arrive several at a time (a gap caught up), when the
window is replaced (a gap longer than it), and when the indicators start from a window
they never saw."""

from __future__ import annotations

import random
from collections import deque
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nija_tg.core.models import Candle
from nija_tg.strategies import StrategyPosition, get_strategy
from nija_tg.strategies.adx_trend import COLUMNS, AdxTrendParams, AdxTrendRolling
from nija_tg.strategies.base import CANDLE_WINDOW, normalise_frame
from nija_tg.strategies.rolling import EwmStack
from nija_tg.strategies.series import _ewm_floats, ema_weights, rma_weights

DATA = Path(__file__).resolve().parents[1] / "data"
STRAT = get_strategy("adx_trend")
POSITIONS = (None, StrategyPosition("long", 1.0), StrategyPosition("short", 1.0))


def bits(x: float) -> str:
    return repr(float(x))  # NaN equal to NaN, -0.0 apart from 0.0


def signal_key(signal) -> tuple:
    ind = tuple(sorted((k, bits(v)) for k, v in signal.indicators.items()))
    return (signal.action, bits(signal.confidence), bits(signal.stop_distance), signal.reason, ind)


def load(name: str) -> pd.DataFrame:
    return normalise_frame(pd.read_csv(DATA / name))


def as_candles(frame: pd.DataFrame) -> list[Candle]:
    return [
        Candle(int(r.ts), float(r.open), float(r.high), float(r.low), float(r.close), 1.0)
        for r in frame.itertuples()
    ]


def assert_same_as_full_window(rolling, window_frame: pd.DataFrame, params) -> list[tuple]:
    """The rolling row and signals equal the full computation over ``window_frame``
    (the hub's window at that close), bitwise. Returns the flat users' signals."""
    # as the hub hands its window over: already normal (``normalise_frame`` returns it
    # as it is instead of re-checking and copying the candles on every compared close)
    window_frame = window_frame.reset_index(drop=True)
    assert normalise_frame(window_frame) is window_frame
    prepared = STRAT.prepare(window_frame, params)
    row = rolling.row()
    full = {c: bits(prepared.frame[c].iat[-1]) for c in COLUMNS}
    assert {c: bits(row[c]) for c in COLUMNS} == full
    assert rolling.rows == len(window_frame)
    flat = []
    for pos in POSITIONS:
        for short in (False, True):
            want = STRAT.evaluate(prepared, pos, params=params, allow_short=short)
            got = rolling.signal(pos, params=params, allow_short=short)
            assert signal_key(got) == signal_key(want)
            if pos is None:
                flat.append(got.action)
    return flat


def walk(frame: pd.DataFrame, params, window: int, check) -> int:
    """Push every candle; compare at the candles ``check(i)`` selects. Returns how
    many compared candles had an entry for a flat user."""
    rolling = STRAT.rolling(params, window)
    assert isinstance(rolling, AdxTrendRolling)
    entries = 0
    for i, candle in enumerate(as_candles(frame)):
        rolling.push(candle)
        if check(i):
            win = frame.iloc[max(0, i - window + 1) : i + 1]
            flat = assert_same_as_full_window(rolling, win, params)
            entries += any(a.value.startswith("enter") for a in flat)
    return entries


def test_every_candle_of_the_eth_file():
    """Every candle of the shared ETH file, against the full computation over each
    candle's window as ``Strategy.series`` holds it: the vectorised backtest values,
    which test_series.py proves bitwise equal, indicators and signals, to ``prepare``
    and ``evaluate`` over that window on every candle of this same file (the reference
    once per candle at the cost of one numpy pass, instead of preparing 5,760 windows
    again here). Every 16th candle is also compared with ``prepare`` directly."""
    frame = load("ETH-BTC-5m.csv")
    params = AdxTrendParams()
    series = STRAT.series(frame, params, CANDLE_WINDOW)
    rolling = STRAT.rolling(params, CANDLE_WINDOW)
    assert isinstance(rolling, AdxTrendRolling)
    entries = direct = 0
    for i, candle in enumerate(as_candles(frame)):
        rolling.push(candle)
        row = rolling.row()
        assert {c: bits(row[c]) for c in COLUMNS} == {c: bits(v) for c, v in _row(series, i)}, i
        assert rolling.rows == min(i + 1, CANDLE_WINDOW)
        for pos in POSITIONS:
            for short in (False, True):
                got = rolling.signal(pos, params=params, allow_short=short)
                want = series.signal(i, pos, params=params, allow_short=short)
                assert signal_key(got) == signal_key(want), i
                if pos is None:
                    entries += got.action.value.startswith("enter")
        if i % 16 == 0:
            win = frame.iloc[max(0, i - CANDLE_WINDOW + 1) : i + 1]
            assert_same_as_full_window(rolling, win, params)
            direct += 1
    assert entries > 10  # entries are among the compared signals
    assert direct == 360


def _row(series, i: int) -> list[tuple[str, float]]:
    return [(c, series.values[c][i]) for c in COLUMNS]


def test_windows_holding_a_zero_range_and_other_parameters():
    """ADA-BTC has candles with high == low: a window holding one gets pandas-ta's
    epsilon on every range, known only once the window is complete (both variants are
    advanced); an EMA longer than 128 candles sums its seed in halves."""
    frame = load("ADA-BTC-5m.csv")
    zero = {i for i in range(len(frame)) if frame["high"][i] == frame["low"][i]}
    assert zero
    near = {j for z in zero for j in range(z - 3, z + 320, 5)}
    walk(frame, AdxTrendParams(), CANDLE_WINDOW, lambda i: i in near or i < 400)
    params = AdxTrendParams(adx_length=7, ema_fast=9, ema_slow=150, atr_length=30)
    walk(frame, params, 320, lambda i: i % 11 == 0)


def test_flat_stretches_and_short_windows():
    """Constant prices (zero ranges, DI sums 0: the ADX's input NaN inside the window,
    the RMAs off their simple path) and windows shorter than the indicators."""
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
    frame = normalise_frame(
        pd.DataFrame(rows, columns=["ts", "open", "high", "low", "close", "volume"])
    )
    params = AdxTrendParams(adx_length=5, ema_fast=5, ema_slow=20, atr_length=5)
    walk(frame, params, 60, lambda i: True)
    walk(frame, AdxTrendParams(), 10, lambda i: i < 80)  # windows shorter than the lengths


def test_gaps_and_a_replaced_window_caught_up_from_the_hubs_window():
    """The hub appends candles to its window (a deque of ``window``) one per close,
    several after a gap, a whole new window after a gap longer than it; ``catch_up``
    follows it. Checked after each such step on the ETH file, and for indicators that
    start late (first asked when the window is already full)."""
    frame = load("ETH-BTC-5m.csv")
    candles = as_candles(frame)
    params = AdxTrendParams()
    window = CANDLE_WINDOW
    steps = [1] * 5 + [7, 1, 299, 1, 300, 1, 301, 1, 1000, 2, 1, 50] + [1] * 5
    hub_window: deque[Candle] = deque(maxlen=window)
    appended = 0
    following = STRAT.rolling(params, window)
    late = STRAT.rolling(params, window)
    pos = 120  # the first window: 120 candles (not yet full)
    hub_window.extend(candles[:pos])
    appended += pos
    resets = 0
    for k, step in enumerate([0, *steps]):
        hub_window.extend(candles[pos : pos + step])
        appended += step
        pos += step
        before = following.pushed
        following.catch_up(hub_window, appended)
        resets += following.pushed < before + step
        win = frame.iloc[pos - len(hub_window) : pos]
        assert [c.ts for c in hub_window] == list(win["ts"])
        assert_same_as_full_window(following, win, params)
        if k >= 10:  # first asked for at a later close
            late.catch_up(hub_window, appended)
            assert_same_as_full_window(late, win, params)
    assert resets == 2  # the gaps of 301 and 1000 candles: rebuilt from the window
    following.catch_up(hub_window, appended)  # nothing new: nothing pushed
    assert following.rows == window


def test_a_window_built_from_other_candles_than_the_ones_pushed():
    """A window that is not the continuation of what was pushed (the hub's KeyState
    started afresh after every subscriber left) is rebuilt: ``catch_up`` with a count
    going backwards."""
    frame = load("ETH-BTC-5m.csv")
    candles = as_candles(frame)
    params = AdxTrendParams()
    rolling = STRAT.rolling(params, 100)
    rolling.catch_up(deque(candles[:100], maxlen=100), 400)
    fresh = deque(candles[1000:1080], maxlen=100)
    rolling.catch_up(fresh, 80)
    assert_same_as_full_window(rolling, frame.iloc[1000:1080], params)


@pytest.mark.parametrize("seed", range(4))
def test_the_stack_of_windows_is_pandas_ewm_of_each_window(seed):
    """``EwmStack`` against ``series._ewm_floats`` (pandas' ``ewm(adjust=False)``, the
    full computation) on every window of series with NaNs: missing values, NaN first
    values (a window seeded with NaN while its neighbours are plain)."""
    rng = random.Random(seed)
    window = 6
    vals = [
        rng.choice([float("nan"), 1.0]) if rng.random() < 0.15 else rng.gauss(5, 2)
        for _ in range(300)
    ]
    stack = EwmStack([rma_weights(3), ema_weights(4)], window)
    for t, x in enumerate(vals):
        start = max(0, t - window + 1)
        stack.step(np.full((2, 1), x), start, t)
        stack.open(t, start)
        stack.seed(0, t, x)
        stack.seed(1, t, x)
        if t >= window - 1:
            for row, weights in ((0, rma_weights(3)), (1, ema_weights(4))):
                want = _ewm_floats(vals[start : t + 1], weights)[-1]
                assert bits(stack.at(row, start)) == bits(want), (t, row)
