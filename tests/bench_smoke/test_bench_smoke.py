"""Each benchmark runs at tiny sizes and produces numbers (``make bench`` runs them at full
size). No assertion on speed: these only check that the benchmarks still work."""

from __future__ import annotations

import math

from bench import (
    backtest_speed,
    command_latency,
    engine_fanout,
    indicators,
    key_verification,
    notification_sender,
    process_per_user,
    secret_window,
)
from bench.common import machine, percentile
from bench.report import render


def _number(x) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def test_percentile():
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([1.0, 2.0], 100) == 2.0
    assert math.isnan(percentile([], 99))


def test_engine_fanout_runs():
    r = engine_fanout.run_one(3, 2)
    assert r["finished"] and r["candles_measured"] == 2
    assert r["candle_requests_per_close"] == [8]  # one per pair
    assert _number(r["per_candle_wall"]["p50_ms"]) and r["rss_after_candles_mib"] > 0


def test_process_per_user_runs():
    r = process_per_user.run(engine_kib_per_user=50.0)
    assert r["peak_rss_mib"] > 0 and _number(r["ratio"])


def test_notification_sender_runs():
    r = notification_sender.run(quick=True)
    assert r["messages"] > 0 and r["lost"] == 0
    assert r["delay_event_to_send"]["n"] == r["notifications"]
    assert _number(r["messages_per_s_busiest_window"])


def test_command_latency_runs():
    r = command_latency.run(quick=True)
    assert r["steady"]["inject_to_reply"]["n"] > 0
    assert _number(r["steady"]["inject_to_reply"]["p99_ms"])


def test_secret_window_runs():
    r = secret_window.run(quick=True)
    main = r["quiet"]
    assert main["runs"] > 0 and main["failed_deletes"] == 0
    assert _number(main["handed_to_delete"]["p99_ms"])
    load = r["under_burst_load"]  # the fairness burst: keys sent amid replies and a backlog
    assert load["handed_to_delete"]["n"] == load["runs"] * load["keyers"] > 0
    assert _number(load["handed_to_delete"]["p99_ms"])


def test_key_verification_runs():
    r = key_verification.run(quick=True)
    burst = r["burst"]
    run = burst["runs"][0]
    assert run["verdict_after_delete"]["n"] == run["users"] > 0  # every user connected
    assert run["refused"] == run["no_verdict"] == run["undeleted"] == 0
    assert run["exposure"]["n"] == run["credential_messages"] == 2 * run["users"]
    assert _number(burst["median_p99_s"]) and _number(run["parts"]["verify"]["max_s"])
    text = key_verification.insert_section(
        "# Benchmarks\n\n## Raw results\n", key_verification.section(r)
    )
    assert text.index(key_verification.HEADING) < text.index("## Raw results")


def test_indicators_runs():
    r = indicators.run(quick=True)
    assert _number(r["full_prepare_per_symbol_ms"])
    assert r["incremental"]["per_symbol_per_candle"]["n"] > 0


def test_backtest_speed_runs():
    r = backtest_speed.run(quick=True)
    assert r["candles"] > 0 and _number(r["candles_per_s"])


def test_report_renders_partial_results():
    text = render({"machine": machine(), "quick": True, "indicators": {"symbols": 1}})
    assert "# Benchmarks" in text and "## Machine" in text and "n/a" in text
