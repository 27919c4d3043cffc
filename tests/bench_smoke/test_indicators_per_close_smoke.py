"""The per-close indicator benchmark runs at a tiny size (``python -m
bench.indicators_per_close`` runs it in full). No assertion on speed: both paths are
timed on every close and give the same signal."""

from __future__ import annotations

from bench import indicators_per_close


def test_indicators_per_close_runs_and_both_paths_agree():
    r = indicators_per_close.run(pairs=2, closes=5, runs=2)
    assert len(r["every_run"]) == 2
    for run in r["every_run"]:
        assert run["signal_mismatches"] == 0
        assert run["full_window_us"]["p50"] > 0 and run["rolling_us"]["p50"] > 0
    assert r["median"]["rolling_first_window_ms"] > 0
