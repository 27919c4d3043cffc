"""Backtest speed: candles per second through ``nija_tg.engine.backtest.run_backtest``
(the live UserLoop, MarketHub in lockstep, paper fills, a throw-away SQLite database)
over the real 5m candles of tests/data/ETH-BTC-5m.csv, as ``nija-tg backtest --data``
runs it. A shorter run under cProfile shows where the time goes.

    .venv/bin/python -m bench.backtest_speed [--quick]
"""

from __future__ import annotations

import asyncio
import time
import warnings
from typing import Any

from bench.common import REPO, bench_args, emit, profile_top
from nija_tg.engine.backtest import load_csv, run_backtest

DATA = REPO / "tests" / "data" / "ETH-BTC-5m.csv"


def run(quick: bool = False) -> dict[str, Any]:
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    candles = load_csv(DATA)
    if quick:
        candles = candles[:150]
    started = time.perf_counter()
    result = asyncio.run(run_backtest(candles))
    elapsed = time.perf_counter() - started
    profiled = candles[: 100 if quick else 400]
    _, profile = profile_top(lambda: asyncio.run(run_backtest(profiled)), limit=15)
    return {
        "benchmark": "backtest_speed",
        "data": str(DATA.relative_to(REPO)),
        "candles": len(candles),
        "elapsed_s": round(elapsed, 2),
        "candles_per_s": round(len(candles) / elapsed, 1),
        "ms_per_candle": round(elapsed / len(candles) * 1000, 2),
        "trades": len(result.trades),
        "fills": len(result.fills),
        "profile_candles": len(profiled),
        "profile": profile,
    }


def main(argv: list[str] | None = None) -> None:
    args = bench_args(__doc__ or "").parse_args(argv)
    emit(run(args.quick), args.json)


if __name__ == "__main__":
    main()
