"""Backtest vs backtesting.py: parity figures and speed on the same candles.

Runs our backtest as the CLI runs it (``nija_tg.engine.backtest.backtest``: the trading
core in memory, indicators computed once as the live window gives them, a simulated
venue with the paper account's fill model) and backtesting.py (PyPI ``backtesting``,
its native model) with adx_trend's rule expressed for it (tests/engine/backtesting_py_rule.py)
over tests/data/ETH-BTC-5m.csv, ``--runs`` times each (5 by default), alternating;
reports the trades and final equity of both, the explained differences (see
tests/engine/test_backtesting_py_parity.py) and candles/s (median of the runs, every
run listed; target: ours at least as many candles/s, ratio >= 1.0). Writes its section
of docs/benchmarks.md unless ``--no-docs``.

    .venv/bin/python -m bench.backtest_parity [--quick] [--runs 5] [--no-docs]
"""

from __future__ import annotations

import logging
import os
import statistics
import time
import warnings
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.common import REPO, bench_args, emit, machine
from nija_tg.engine.backtest import backtest, load_csv
from tests.engine.backtesting_py_rule import (
    BALANCE,
    DATA,
    FEE,
    GRACE_MS,
    RULES,
    SETTINGS,
    SLIP,
    TF_MS,
    run_backtesting_py,
)

HEADING = "## Backtest vs backtesting.py"
DOCS = REPO / "docs" / "benchmarks.md"


TARGET_RATIO = 1.0


def _ours(candles):
    return backtest(candles, pair="ETH/USDT", settings=SETTINGS, balance=BALANCE, rules=RULES)


def compare(candles, ours, stats) -> dict[str, Any]:
    """Trades and final equity of both, and what the documented differences explain."""
    index = {c.ts: i for i, c in enumerate(candles)}
    theirs = stats["_trades"].sort_values("EntryBar").reset_index(drop=True)
    fills = ours.fills
    pairs = [(fills[k], fills[k + 1]) for k in range(0, len(fills) - 1, 2)]
    same_bars = same_sizes = 0
    entry_rel = exit_rel = stop_rel = 0.0
    explained = Decimal(0)
    kinds = {"exit": 0, "stop": 0}
    for (entry, exit_), row in zip(pairs, theirs.itertuples(), strict=False):
        entry_bar = index.get(round(entry["ts"] * 1000) - GRACE_MS)
        exit_ms = round(exit_["ts"] * 1000) - GRACE_MS
        exit_bar = index.get(exit_ms - TF_MS if exit_["purpose"] == "stop" else exit_ms)
        same_bars += entry_bar == row.EntryBar and exit_bar == row.ExitBar
        same_sizes += Decimal(entry["amount"]) == Decimal(int(row.Size))
        entry_rel = max(entry_rel, abs(float(entry["price"]) / row.EntryPrice - 1))
        slipped = row.ExitPrice * (1 - float(SLIP))
        rel = abs(float(exit_["price"]) / slipped - 1)
        if exit_["purpose"] == "stop":
            stop_rel = max(stop_rel, rel)
        else:
            exit_rel = max(exit_rel, rel)
        kinds[exit_["purpose"]] = kinds.get(exit_["purpose"], 0) + 1
        explained += Decimal(entry["amount"]) * Decimal(float(row.ExitPrice)) * SLIP * (1 - FEE)
    their_final = Decimal(float(stats["Equity Final [$]"]))
    return {
        "trades_ours": len(ours.trades),
        "trades_backtesting_py": len(theirs),
        "same_entry_and_exit_bars": same_bars,
        "same_sizes": same_sizes,
        "exits_by_rule": kinds["exit"],
        "exits_by_stop": kinds["stop"],
        "max_rel_diff_entry_price": entry_rel,
        "max_rel_diff_exit_price_after_slippage": exit_rel,
        "max_rel_diff_stop_price_after_slippage": stop_rel,
        "final_equity_ours": str(ours.final_equity.quantize(Decimal("0.000001"))),
        "final_equity_backtesting_py": str(their_final.quantize(Decimal("0.000001"))),
        "explained_by_exit_slippage": str(explained.quantize(Decimal("0.000001"))),
        "unexplained": f"{float(ours.final_equity - (their_final - explained)):.3e}",
        "open_at_end": len(fills) % 2 == 1,
    }


def run(quick: bool = False, runs: int = 5) -> dict[str, Any]:
    warnings.filterwarnings("ignore")
    logging.getLogger("nija_tg").setLevel(logging.WARNING)
    candles = load_csv(DATA)
    if quick:
        candles = candles[:600]
        runs = 1
    ours_s: list[float] = []
    theirs_s: list[float] = []
    ours = stats = None
    load_start = os.getloadavg()[0]
    for _ in range(runs):
        started = time.perf_counter()
        ours = _ours(candles)
        ours_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        stats = run_backtesting_py(candles)
        theirs_s.append(time.perf_counter() - started)
    n = len(candles)
    return {
        "benchmark": "backtest_parity",
        "data": str(DATA.relative_to(REPO)),
        "candles": n,
        "runs": runs,
        "machine": machine(),
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "ours_s": [round(s, 3) for s in ours_s],
        "backtesting_py_s": [round(s, 3) for s in theirs_s],
        "ours_candles_per_s": round(n / statistics.median(ours_s), 1),
        "backtesting_py_candles_per_s": round(n / statistics.median(theirs_s), 1),
        "ratio": round(statistics.median(theirs_s) / statistics.median(ours_s), 3),
        "target_ratio": TARGET_RATIO,
        "load_1m": [round(load_start, 2), round(os.getloadavg()[0], 2)],  # start, end
        "parity": compare(candles, ours, stats),
    }


def section(r: dict[str, Any]) -> list[str]:
    p, m, n = r["parity"], r["machine"], r["candles"]
    rows = [
        f"| {i + 1} | {a:.2f} | {n / a:,.1f} | {b:.2f} | {n / b:,.1f} |"
        for i, (a, b) in enumerate(zip(r["ours_s"], r["backtesting_py_s"], strict=True))
    ]
    return [
        HEADING,
        "",
        f"`bench/backtest_parity.py` (measured {r['measured_at']}, {r['runs']} runs each, "
        f"alternating, on {m['cores']} cores of {m['cpu_model']}, {m['memory_gib']} GiB, "
        f"{m['implementation']} {m['python']}, {m['os']}): our backtest as the CLI runs it "
        "and "
        "backtesting.py (its native model: market orders at the next open, stops at the "
        "stop or a gap's open, `spread` on entries, `commission` both ways) with "
        "adx_trend's rule expressed for it (`tests/engine/backtesting_py_rule.py`), over "
        f"`{r['data']}` ({n} real 5m candles read as ETH/USDT, $1,000, fee 0.1 %, "
        "slippage/spread 0.05 %, $300 positions). The test "
        "`tests/engine/test_backtesting_py_parity.py` asserts the same figures.",
        *(
            [f"Load average (1 min) at the start and end: {r['load_1m'][0]} / {r['load_1m'][1]}."]
            if "load_1m" in r
            else []
        ),
        *([r["note"]] if r.get("note") else []),
        "",
        "| | ours | backtesting.py |",
        "|---|---:|---:|",
        f"| trades | {p['trades_ours']} | {p['trades_backtesting_py']} |",
        f"| final equity | {p['final_equity_ours']} | {p['final_equity_backtesting_py']} |",
        f"| candles/s (median of {r['runs']}) | {r['ours_candles_per_s']:,} | "
        f"{r['backtesting_py_candles_per_s']:,} |",
        "",
        *(
            [
                f"Speed ratio (ours / backtesting.py, candles/s): **{r['ratio']:.2f}** "
                f"(target >= {r.get('target_ratio', 1.0):g}: "
                f"{'met' if r['ratio'] >= r.get('target_ratio', 1.0) else 'MISSED'}).",
                "",
            ]
            if "ratio" in r
            else []
        ),
        f"Trades: {p['same_entry_and_exit_bars']} of {p['trades_ours']} with the same entry "
        f"and exit bars, {p['same_sizes']} with the same size; {p['exits_by_rule']} closed by "
        f"the rule's exit, {p['exits_by_stop']} by the (trailing) stop. Entry prices agree to "
        f"{p['max_rel_diff_entry_price']:.1e} (relative).",
        "",
        "Differences, each explained:",
        "",
        "- exit prices: ours = backtesting.py's × (1 − 0.05 %): our slippage applies to "
        "exits too, backtesting.py's `spread` to entries only. After that factor they "
        f"agree to {p['max_rel_diff_exit_price_after_slippage']:.1e} for the rule's exits "
        f"and {p['max_rel_diff_stop_price_after_slippage']:.1e} for stops (the stop comes "
        "from the ATR, computed by backtesting.py over the whole history and by our engine "
        "over its 300-candle window);",
        f"- final equity: ours is lower by {p['explained_by_exit_slippage']} = Σ size × exit "
        "× 0.05 % × (1 − 0.1 %) (the slipped proceeds, less the fee saved on them); "
        f"unexplained remainder {p['unexplained']}.",
        "",
        "Every run (seconds, candles/s):",
        "",
        "| run | ours s | ours candles/s | backtesting.py s | backtesting.py candles/s |",
        "|---:|---:|---:|---:|---:|",
        *rows,
        "",
        "Ours runs the live engine's trading core in memory (`engine/backtest.py`): the "
        "indicators computed once for the series, each candle's value as the live "
        "300-candle window gives it (`strategies/series.py`, every window vectorised), "
        "the core's stop, trail, exit and entry decisions, the risk check and the limits, "
        "a simulated venue; no database. backtesting.py computes the indicators once over "
        "the whole history and steps its broker bar by bar. The machine is 2 cores shared "
        "with other engineers' work: the load average above says how busy it was.",
    ]


def insert_section(text: str, lines: list[str]) -> str:
    """``text`` with this section replaced, or inserted before "## Raw results"."""
    body = "\n".join(lines).rstrip("\n") + "\n\n"
    start = text.find(HEADING)
    if start >= 0:
        nxt = text.find("\n## ", start + len(HEADING))
        end = len(text) if nxt < 0 else nxt + 1
        return text[:start] + body + text[end:]
    anchor = text.find("## Raw results")
    if anchor < 0:
        return text.rstrip("\n") + "\n\n" + body
    return text[:anchor] + body + text[anchor:]


def write_docs(result: dict[str, Any], path: Path = DOCS) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    path.write_text(insert_section(text, section(result)), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = bench_args(__doc__ or "")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-docs", action="store_true", help="do not touch docs/")
    args = parser.parse_args(argv)
    result = run(args.quick, args.runs)
    if not args.quick and not args.no_docs:
        write_docs(result)
    emit(result, args.json)


if __name__ == "__main__":
    main()
