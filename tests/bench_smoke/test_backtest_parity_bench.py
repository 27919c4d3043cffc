"""The backtest-vs-backtesting.py benchmark runs at a tiny size and renders its section
(``make bench`` runs it in full). No assertion on speed."""

from __future__ import annotations

from bench import backtest_parity


def test_backtest_parity_bench_runs_and_renders():
    r = backtest_parity.run(quick=True)
    p = r["parity"]
    assert r["runs"] == 1 and len(r["ours_s"]) == len(r["backtesting_py_s"]) == 1
    assert p["trades_ours"] == p["trades_backtesting_py"] == p["same_entry_and_exit_bars"]
    text = backtest_parity.insert_section("# B\n\n## Raw results\n", backtest_parity.section(r))
    assert text.index(backtest_parity.HEADING) < text.index("## Raw results")
    assert "candles/s" in text and text.count("\n| 1 |") == 1
