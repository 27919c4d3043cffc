"""The health rules over heartbeat rows (pure)."""

from __future__ import annotations

from nija_tg.core.health import (
    ENGINE_STALE_S,
    LATE_GRACE_S,
    VENUE_FAILING_S,
    Beat,
    age,
    evaluate,
)

NOW = 1_800_000_000.0
FIVE_MIN_MS = 300_000


def engine(beat_at=NOW - 2):
    return Beat(beat_at, {"version": "0.1.0", "loops": 3, "backlog": 0})


def market(last_close_s: float, tf_ms: int = FIVE_MIN_MS):
    return Beat(
        NOW - 2, {"timeframe_ms": tf_ms, "markets": 4, "last_close": int(last_close_s * 1000)}
    )


def test_a_fresh_engine_with_recent_closes_is_ok():
    report = evaluate({"engine": engine(), "market:kraken:5m": market(NOW - 250)}, NOW)
    assert report.ok and report.data_age_s == 2


def test_never_reported_and_stale_engine():
    assert [p.key for p in evaluate({}, NOW).problems] == ["engine"]
    assert evaluate({}, NOW).data_age_s is None
    stale = evaluate({"engine": engine(NOW - ENGINE_STALE_S - 1)}, NOW)
    assert [p.key for p in stale.problems] == ["engine"]
    assert "31 s ago" in stale.problems[0].text
    assert evaluate({"engine": engine(NOW - ENGINE_STALE_S + 1)}, NOW).ok


def test_candles_late_by_more_than_two_candles():
    tf = FIVE_MIN_MS / 1000
    # the close after last_close is due at last_close + tf; late once 2 candles overdue
    on_time = NOW - 3 * tf - LATE_GRACE_S + 5
    late = NOW - 3 * tf - LATE_GRACE_S - 5
    assert evaluate({"engine": engine(), "market:kraken:5m": market(on_time)}, NOW).ok
    report = evaluate({"engine": engine(), "market:kraken:5m": market(late)}, NOW)
    assert [p.key for p in report.problems] == ["market:kraken:5m"]
    assert "kraken:5m is late" in report.problems[0].text
    # a group with no close yet is not judged
    assert evaluate({"engine": engine(), "market:kraken:5m": market(-0.001)}, NOW).ok


def test_a_venue_failing_for_minutes():
    def venue(since):
        return Beat(NOW - 2, {"failing_since": since, "last_error": "NetworkError"})

    ok = evaluate({"engine": engine(), "venue:bingx": venue(NOW - VENUE_FAILING_S + 10)}, NOW)
    assert ok.ok
    bad = evaluate({"engine": engine(), "venue:bingx": venue(NOW - VENUE_FAILING_S - 10)}, NOW)
    assert [p.key for p in bad.problems] == ["venue:bingx"]
    assert "NetworkError" in bad.problems[0].text
    assert evaluate({"engine": engine(), "venue:bingx": venue(None)}, NOW).ok


def test_a_stale_engine_hides_the_rest():
    rows = {"engine": engine(NOW - 600), "market:kraken:5m": market(NOW - 3600)}
    assert [p.key for p in evaluate(rows, NOW).problems] == ["engine"]


def test_age_words():
    assert [age(s) for s in (5, 119, 120, 7199, 7200, 200000)] == [
        "5 s",
        "119 s",
        "2 min",
        "119 min",
        "2 h 0 min",
        "2 days",
    ]
