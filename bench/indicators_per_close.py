"""Per-close indicator cost of the live engine: what the MarketHub spends per market
and candle close to get the ADX trend strategy's signal, before and after the rolling
indicators (issue 13 item 3).

* ``full_window`` (before): the window as a frame (``candle_frame``), the strategy's
  indicators over the whole 300-candle window (``prepare``: ``series.frame_*`` on
  plain floats, bitwise pandas-ta), ``evaluate`` at its last row.
* ``rolling`` (now): the market's ``AdxTrendRolling`` caught up with the window (one
  candle pushed: every window in flight advanced by one row) and its ``signal``.
* ``pandas_ta`` (the reference, for scale): pandas-ta itself over the window, on a
  sample of the closes.
* ``rolling_first_window``: once per market (start, or a gap longer than the window):
  the rolling indicators started from the hub's first window (a push per candle).

Every close of ``--pairs`` synthetic pairs (real candles, ``bench/candles.py``),
``--closes`` closes each, after a first full window; ``--runs`` runs, each reporting
the median (and p99) per pair and close; the figure is the median of the runs' medians,
every run kept. Both paths are checked to give the same signal on every close.

    .venv/bin/python -m bench.indicators_per_close [--pairs 8] [--closes 300] [--runs 5]
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections import deque
from typing import Any

from bench import candles as bc
from bench.common import bench_args, emit, machine, percentile
from nija_tg.core.models import Candle
from nija_tg.engine.market_window import candle_frame
from nija_tg.strategies import get_strategy
from nija_tg.strategies.base import CANDLE_WINDOW


def _us(seconds: float) -> float:
    return round(seconds * 1e6, 1)


def one_run(pairs: int, closes: int, reference_every: int) -> dict[str, Any]:
    strategy = get_strategy("adx_trend")
    params = strategy.default_params()
    window = CANDLE_WINDOW
    series = [bc.series(i, window + closes) for i in range(pairs)]
    windows: list[deque[Candle]] = [deque(s[:window], maxlen=window) for s in series]
    rolling = [strategy.rolling(params, window) for _ in range(pairs)]
    appended = [window] * pairs
    cold_s = []
    for r, w, a in zip(rolling, windows, appended, strict=True):
        t0 = time.perf_counter()
        r.catch_up(w, a)  # the first window: every window in flight started (300 pushes)
        cold_s.append(time.perf_counter() - t0)
    full_s: list[float] = []
    rolling_s: list[float] = []
    reference_s: list[float] = []
    mismatches = 0
    for c in range(closes):
        for p in range(pairs):
            windows[p].append(series[p][window + c])
            appended[p] += 1
            t0 = time.perf_counter()
            frame = candle_frame(windows[p])
            before = strategy.evaluate(strategy.prepare(frame, params), None, params=params)
            t1 = time.perf_counter()
            rolling[p].catch_up(windows[p], appended[p])
            now = rolling[p].signal(None, params=params, allow_short=False)
            t2 = time.perf_counter()
            full_s.append(t1 - t0)
            rolling_s.append(t2 - t1)
            if now != before:
                mismatches += 1
            if c % reference_every == 0 and p == 0:
                t3 = time.perf_counter()
                strategy.compute_pandas_ta(frame, params)
                reference_s.append(time.perf_counter() - t3)
    return {
        "full_window_us": {"p50": _us(percentile(full_s, 50)), "p99": _us(percentile(full_s, 99))},
        "rolling_us": {
            "p50": _us(percentile(rolling_s, 50)),
            "p99": _us(percentile(rolling_s, 99)),
        },
        "pandas_ta_us": {"p50": _us(percentile(reference_s, 50)), "n": len(reference_s)},
        "rolling_first_window_ms": round(percentile(cold_s, 50) * 1000, 2),
        "per_close_all_pairs_ms": {
            "full_window": round(sum(full_s) / closes * 1000, 3),
            "rolling": round(sum(rolling_s) / closes * 1000, 3),
        },
        "signal_mismatches": mismatches,
        "process_cpu_s": round(time.process_time(), 2),
    }


def run(pairs: int = 8, closes: int = 300, runs: int = 5) -> dict[str, Any]:
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    get_strategy("adx_trend").compute_pandas_ta(
        bc.frame(bc.series(0, CANDLE_WINDOW)), get_strategy("adx_trend").default_params()
    )  # pandas-ta's imports (numba) outside the timings
    every = [one_run(pairs, closes, reference_every=10) for _ in range(runs)]

    def med(*path: str) -> float:
        values = []
        for r in every:
            v: Any = r
            for k in path:
                v = v[k]
            values.append(v)
        return round(statistics.median(values), 3)

    return {
        "benchmark": "indicators_per_close",
        "machine": machine(),
        "pairs": pairs,
        "closes": closes,
        "window": CANDLE_WINDOW,
        "runs": runs,
        "median": {
            "full_window_p50_us": med("full_window_us", "p50"),
            "rolling_p50_us": med("rolling_us", "p50"),
            "pandas_ta_p50_us": med("pandas_ta_us", "p50"),
            "full_window_all_pairs_ms": med("per_close_all_pairs_ms", "full_window"),
            "rolling_all_pairs_ms": med("per_close_all_pairs_ms", "rolling"),
            "rolling_first_window_ms": med("rolling_first_window_ms"),
        },
        "every_run": every,
    }


def main(argv: list[str] | None = None) -> None:
    parser = bench_args(__doc__ or "")
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--closes", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    if args.quick:
        args.pairs, args.closes, args.runs = 2, 20, 2
    emit(run(args.pairs, args.closes, args.runs), args.json)


if __name__ == "__main__":
    main()
