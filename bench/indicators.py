"""Indicator cost: the ADX trend strategy (ADX, EMAs, ATR: pandas-ta's values, computed
on plain floats by ``strategies/series.py``; pandas-ta itself is the reference) over 100
symbols x 500 candles, and per new candle the way the engine does it (recompute the
rolling window the MarketHub keeps, then evaluate).

    .venv/bin/python -m bench.indicators [--quick]
"""

from __future__ import annotations

import time
import warnings
from typing import Any

from bench import candles as bc
from bench.common import bench_args, emit, profile_top, summary_ms
from nija_tg.strategies import get_strategy

WINDOW = 300  # MarketHub's default rolling window


def run(quick: bool = False) -> dict[str, Any]:
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    symbols, length, steps = (10, 500, 3) if quick else (100, 500, 10)
    strategy = get_strategy("adx_trend")
    params = strategy.default_params()
    frames = [bc.frame(bc.series(i, length + steps)) for i in range(symbols)]
    strategy.prepare(frames[0].iloc[:length], params)  # warm imports and caches

    # 1. full: 500 candles per symbol, prepare + evaluate the last candle
    started = time.perf_counter()
    prepared = [strategy.prepare(f.iloc[:length], params) for f in frames]
    prepare_s = time.perf_counter() - started
    started = time.perf_counter()
    signals = [strategy.evaluate(p) for p in prepared]
    evaluate_s = time.perf_counter() - started

    # 2. every candle of one 500-candle frame (what a backtest over it asks)
    started = time.perf_counter()
    for i in range(length):
        strategy.evaluate(prepared[0], index=i)
    per_index_s = (time.perf_counter() - started) / length

    # 3. incremental: a new candle closes; recompute the window, evaluate
    per_candle: list[float] = []
    for step in range(steps):
        end = length + step + 1
        for f in frames:
            t0 = time.perf_counter()
            p = strategy.prepare(f.iloc[end - WINDOW : end], params)
            strategy.evaluate(p)
            per_candle.append(time.perf_counter() - t0)

    sample = frames[:20]
    _, profile = profile_top(lambda: [strategy.prepare(f.iloc[:length], params) for f in sample])
    return {
        "benchmark": "indicators",
        "symbols": symbols,
        "candles_per_symbol": length,
        "full_prepare_s": round(prepare_s, 3),
        "full_prepare_per_symbol_ms": round(prepare_s / symbols * 1000, 2),
        "full_evaluate_per_symbol_ms": round(evaluate_s / symbols * 1000, 3),
        "evaluate_per_index_ms": round(per_index_s * 1000, 3),
        "entries_at_last_candle": sum(1 for s in signals if s.is_entry),
        "incremental": {
            "window": WINDOW,
            "new_candles": steps,
            "per_symbol_per_candle": summary_ms(per_candle),
            "all_symbols_per_candle_ms": round(sum(per_candle) / steps * 1000, 1),
        },
        "profile": profile,
    }


def main(argv: list[str] | None = None) -> None:
    args = bench_args(__doc__ or "").parse_args(argv)
    emit(run(args.quick), args.json)


if __name__ == "__main__":
    main()
