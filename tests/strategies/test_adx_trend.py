"""ADX trend strategy on real candles and on synthetic ones."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pandas_ta as ta
import pytest

from nija_tg.core.models import Candle
from nija_tg.strategies import Action, Signal, StrategyPosition, candles_to_frame, get_strategy
from nija_tg.strategies import indicators as ind
from nija_tg.strategies.adx_trend import AdxTrend, AdxTrendParams, confidence
from nija_tg.strategies.base import normalise_frame, param_specs
from nija_tg.strategies.indicators import IndicatorCache

DATA = Path(__file__).resolve().parents[1] / "data"
STRAT = get_strategy("adx_trend")
P = AdxTrendParams()


@pytest.fixture(scope="module")
def eth() -> pd.DataFrame:
    df = pd.read_csv(DATA / "ETH-BTC-5m.csv")
    for col in ("open", "high", "low", "close"):
        df[col] = df[col] * 100_000  # USD-sized prices
    return df


@pytest.fixture(scope="module")
def prepared(eth: pd.DataFrame):
    return STRAT.prepare(eth, P)


def scan(prepared, *, allow_short: bool, position=None, params=None) -> list[tuple[int, Signal]]:
    return [
        (i, STRAT.evaluate(prepared, position, params=params, allow_short=allow_short, index=i))
        for i in range(len(prepared.frame))
    ]


def synthetic(closes: list[float], spread: float = 0.5) -> pd.DataFrame:
    n = len(closes)
    close = np.asarray(closes, dtype=float)
    return pd.DataFrame(
        {
            "ts": np.arange(n, dtype="int64") * 300_000,
            "open": np.concatenate([[close[0]], close[:-1]]),
            "high": close + spread,
            "low": close - spread,
            "close": close,
            "volume": np.ones(n),
        }
    )


# --- pandas-ta as installed ------------------------------------------------------------


def test_pandas_ta_shapes_we_rely_on(eth: pd.DataFrame) -> None:
    assert ta.ema(eth["close"], length=50, talib=False).name == "EMA_50"
    assert ta.adx(eth["high"][:5], eth["low"][:5], eth["close"][:5], length=14) is None
    assert ind.adx(eth.iloc[:5], 14).isna().all().all()  # too short: NaN, not None


# --- real candles ----------------------------------------------------------------------


def test_entries_on_real_candles_long_only(prepared) -> None:
    signals = scan(prepared, allow_short=False)
    entries = [s for _, s in signals if s.is_entry]
    assert len(entries) > 20
    assert all(s.action == Action.ENTER_LONG for s in entries)
    assert all(s.confidence >= P.min_confidence for s in entries)
    assert all(s.stop_distance > 0 and math.isfinite(s.stop_distance) for s in entries)
    # the threshold actually filters: some aligned trends are too weak to enter
    assert any("confidence" in s.reason and not s.is_entry for _, s in signals)
    # warm-up: nothing before enough candles
    assert all(s.action == Action.HOLD for i, s in signals[: P.warmup - 1])


def test_shorts_only_when_allowed(prepared) -> None:
    shorts = [s for _, s in scan(prepared, allow_short=True) if s.action == Action.ENTER_SHORT]
    assert shorts and all(s.confidence >= P.min_confidence for s in shorts)
    assert all(s.stop_distance > 0 for s in shorts)


def test_entry_matches_indicator_snapshot(prepared) -> None:
    for _, s in scan(prepared, allow_short=True):
        if not s.is_entry:
            continue
        snap = s.indicators
        assert snap["adx"] >= P.adx_threshold
        if s.action == Action.ENTER_LONG:
            assert snap["dmp"] > snap["dmn"] and snap["close"] > snap["ema_slow"]
            assert snap["ema_fast"] > snap["ema_slow"]
        else:
            assert snap["dmn"] > snap["dmp"] and snap["close"] < snap["ema_slow"]
        assert s.stop_distance == pytest.approx(snap["atr"] * P.atr_multiplier)
        assert s.confidence == pytest.approx(
            confidence(dict(snap), 1 if s.action == Action.ENTER_LONG else -1, P)
        )


def test_prepare_evaluate_split_equals_one_shot(eth: pd.DataFrame, prepared) -> None:
    signals = scan(prepared, allow_short=True)
    entry_idx = [i for i, s in signals if s.is_entry]
    picks = entry_idx[::25][:10] + [200, 1000, 3000, len(eth) - 1]
    for i in picks:
        split = signals[i][1]
        one_shot = STRAT.signal(eth.iloc[: i + 1], P, allow_short=True)
        assert one_shot.action == split.action, i
        assert one_shot.confidence == pytest.approx(split.confidence, abs=1e-9)
        assert one_shot.stop_distance == pytest.approx(split.stop_distance, rel=1e-9)


def test_exits_for_open_positions(prepared) -> None:
    long = StrategyPosition("long", entry_price=10_000.0)
    signals = scan(prepared, allow_short=False, position=long)
    assert not any(s.is_entry for _, s in signals)
    exits = [s for _, s in signals if s.action == Action.EXIT]
    assert exits
    for s in exits:
        snap = s.indicators
        assert snap["dmn"] > snap["dmp"] or snap["adx"] < P.adx_exit_threshold
    holds = [s for i, s in signals[P.warmup :] if s.action == Action.HOLD]
    assert all(s.indicators["dmp"] >= s.indicators["dmn"] for s in holds)
    assert all(s.stop_distance > 0 for s in holds)


def test_short_position_exits_on_plus_di(prepared) -> None:
    short = StrategyPosition("short")
    for _, s in scan(prepared, allow_short=True, position=short):
        if s.action == Action.EXIT and "DI crossed" in s.reason:
            assert s.indicators["dmp"] > s.indicators["dmn"]


def test_per_user_params_on_shared_frame(prepared) -> None:
    strict = AdxTrendParams(min_confidence=0.9)
    loose = scan(prepared, allow_short=False)
    tight = scan(prepared, allow_short=False, params=strict)
    n_loose = sum(s.is_entry for _, s in loose)
    n_tight = sum(s.is_entry for _, s in tight)
    assert n_tight < n_loose
    assert all(s.confidence >= 0.9 for _, s in tight if s.is_entry)
    with pytest.raises(ValueError):
        STRAT.evaluate(prepared, params=AdxTrendParams(adx_length=20))


def test_scale_invariance(eth: pd.DataFrame) -> None:
    small = eth.copy()
    for col in ("open", "high", "low", "close"):
        small[col] = small[col] / 100_000
    a = STRAT.signal(eth.iloc[:3000], allow_short=True)
    b = STRAT.signal(small.iloc[:3000], allow_short=True)
    assert a.action == b.action and a.confidence == pytest.approx(b.confidence, abs=1e-6)
    assert a.stop_distance == pytest.approx(b.stop_distance * 100_000, rel=1e-6)


def test_evaluate_does_not_mutate_prepared(prepared) -> None:
    before = prepared.frame.copy()
    scan(prepared, allow_short=True, position=StrategyPosition("long"))
    pd.testing.assert_frame_equal(before, prepared.frame)


# --- synthetic candles -----------------------------------------------------------------


# synthetic series are longer than the warm-up (P.warmup candles) so the last one signals
N_SYN = P.warmup + 100


def test_steady_uptrend_enters_long_with_high_confidence() -> None:
    df = synthetic([100 + 0.8 * i for i in range(N_SYN)])
    s = STRAT.signal(df)
    assert s.action == Action.ENTER_LONG and s.confidence >= 0.9
    assert s.stop_distance > 0


def test_downtrend_spot_holds_swap_shorts() -> None:
    df = synthetic([500 - 0.8 * i for i in range(N_SYN)])
    assert STRAT.signal(df).action == Action.HOLD
    assert "shorts not allowed" in STRAT.signal(df).reason
    assert STRAT.signal(df, allow_short=True).action == Action.ENTER_SHORT


def test_flat_market_holds() -> None:
    df = synthetic([100 + (0.3 if i % 2 else -0.3) for i in range(N_SYN)])
    s = STRAT.signal(df, allow_short=True)
    assert s.action == Action.HOLD and "no trend" in s.reason


def test_trend_flip_exits_long() -> None:
    up = [100 + 0.8 * i for i in range(N_SYN - 50)]
    down = [up[-1] - 1.5 * i for i in range(1, 40)]
    df = synthetic(up + down)
    s = STRAT.signal(df, position=StrategyPosition("long"))
    assert s.action == Action.EXIT and "DI crossed" in s.reason
    assert STRAT.signal(synthetic(up), position=StrategyPosition("long")).action == Action.HOLD


def test_fading_trend_exits() -> None:
    up = [100 + 0.8 * i for i in range(120)]
    flat = [up[-1] + (0.01 if i % 2 else 0.0) for i in range(200)]
    s = STRAT.signal(synthetic(up + flat, spread=0.01), position=StrategyPosition("long"))
    assert s.action == Action.EXIT


def test_warmup_and_empty() -> None:
    df = synthetic([100 + i for i in range(P.warmup - 1)])
    s = STRAT.signal(df)
    assert s.action == Action.HOLD and s.reason == "warming up"
    assert STRAT.signal(synthetic([100.0] * 3)).action == Action.HOLD
    empty = synthetic([1.0]).iloc[:0]
    assert STRAT.signal(empty).action == Action.HOLD


# --- confidence formula -----------------------------------------------------------------


def test_confidence_formula() -> None:
    snap = {"adx": 25.0, "dmp": 30.0, "dmn": 10.0, "ema_fast": 101.0, "ema_slow": 100.0, "atr": 2.0}
    # s_adx = 25/50 = 0.5; s_di = 2*20/40 = 1; s_ema = 1/2 = 0.5
    assert confidence(snap, 1, P) == pytest.approx(0.4 * 0.5 + 0.3 * 1 + 0.3 * 0.5)
    assert confidence(snap, -1, P) == pytest.approx(0.4 * 0.5)
    maxed = dict(snap, adx=80.0, ema_fast=110.0)
    assert confidence(maxed, 1, P) == pytest.approx(1.0)
    assert confidence(dict(snap, dmp=0.0, dmn=0.0, atr=0.0), 1, P) == pytest.approx(0.2)


# --- params -------------------------------------------------------------------------------


def test_params_defaults_and_bounds() -> None:
    specs = param_specs(AdxTrendParams)
    assert (specs["adx_threshold"].lo, specs["adx_threshold"].hi) == (10, 60)
    assert (specs["adx_length"].lo, specs["adx_length"].hi) == (5, 50)
    assert (specs["atr_multiplier"].lo, specs["atr_multiplier"].hi) == (0.5, 10)
    assert (specs["min_confidence"].lo, specs["min_confidence"].hi) == (0.5, 0.95)
    assert P.adx_threshold == 25 and P.adx_length == 14 and P.timeframe == "5m"
    assert P.atr_multiplier == 2 and P.min_confidence == 0.6
    for bad in (
        {"adx_threshold": 9.99},
        {"adx_threshold": 61},
        {"adx_length": 4},
        {"adx_length": 14.5},
        {"atr_multiplier": float("nan")},
        {"min_confidence": 0.96},
        {"timeframe": "7m"},
        {"ema_fast": 50, "ema_slow": 50},
        {"adx_exit_threshold": 30},
        {"adx_length": True},
        {"adx_length": "14"},
    ):
        with pytest.raises(ValueError):
            AdxTrendParams(**bad)
    assert AdxTrendParams(adx_length=14.0).adx_length == 14  # integral float accepted


def test_params_dict_round_trip() -> None:
    p = AdxTrendParams(adx_threshold=30, min_confidence=0.7)
    assert AdxTrendParams.from_dict(p.to_dict() | {"extra": 1}) == p
    assert AdxTrendParams.from_dict({}) == P


def test_indicator_key() -> None:
    k = STRAT.indicator_key(P)
    assert hash(k) is not None
    assert STRAT.indicator_key(AdxTrendParams(adx_threshold=40, min_confidence=0.9)) == k
    assert STRAT.indicator_key(AdxTrendParams(atr_multiplier=3)) == k
    assert STRAT.indicator_key(AdxTrendParams(adx_length=20)) != k
    assert STRAT.indicator_key(AdxTrendParams(ema_slow=100)) != k
    assert STRAT.indicator_key(AdxTrendParams(timeframe="15m")) != k


def test_wrong_params_type_rejected(eth: pd.DataFrame) -> None:
    from nija_tg.strategies.base import StrategyParams

    with pytest.raises(TypeError):
        STRAT.prepare(eth, StrategyParams())


def test_signal_validation() -> None:
    with pytest.raises(ValueError):
        Signal("enter_long", confidence=1.5)
    with pytest.raises(ValueError):
        Signal("hold", stop_distance=-1.0)
    with pytest.raises(ValueError):
        Signal("buy_everything")
    assert Signal("exit").action == Action.EXIT == "exit"
    with pytest.raises(ValueError):
        StrategyPosition("flat")


# --- frames and cache -----------------------------------------------------------------------


def test_candles_to_frame() -> None:
    candles = [
        Candle(2, 1.0, 2.0, 0.5, 1.5, 10.0),
        Candle(1, 1.0, 1.0, 1.0, 1.0, 1.0),
        Candle(2, 1.0, 3.0, 0.5, 2.5, 11.0),
    ]
    df = candles_to_frame(candles)
    assert list(df.columns) == ["ts", "open", "high", "low", "close", "volume"]
    assert df["ts"].tolist() == [1, 2] and df["close"].tolist() == [1.0, 2.5]
    assert str(df["ts"].dtype) == "int64" and str(df["close"].dtype) == "float64"
    assert len(candles_to_frame([])) == 0


def test_normalise_frame_accepts_csv_layout() -> None:
    raw = pd.DataFrame(
        {"timestamp": [1], "open": [1], "high": [1], "low": [1], "close": [1], "volume": [1]}
    )
    assert normalise_frame(raw)["ts"].tolist() == [1]
    with pytest.raises(ValueError):
        normalise_frame(raw.drop(columns=["volume"]))


def test_indicator_cache_shares_frames(eth: pd.DataFrame) -> None:
    cache = IndicatorCache(max_entries=2)
    window = eth.iloc[:500]
    a = cache.prepare(STRAT, "ETH/USDT", window, P)
    b = cache.prepare(STRAT, "ETH/USDT", window, AdxTrendParams(min_confidence=0.8))
    assert a is b and (cache.hits, cache.misses) == (1, 1)
    c = cache.prepare(STRAT, "ETH/USDT", eth.iloc[:501], P)  # a new candle
    assert c is not a and c.last_ts == int(eth["timestamp"].iloc[500])
    cache.prepare(STRAT, "BTC/USDT", window, P)  # evicts the oldest
    assert len(cache) == 2
    assert cache.prepare(STRAT, "ETH/USDT", window, P) is not a
    cache.drop_symbol("ETH/USDT")
    assert len(cache) == 1
    cache.clear()
    assert len(cache) == 0
    with pytest.raises(ValueError):
        IndicatorCache(0)


def test_strategy_class_registered() -> None:
    assert isinstance(STRAT, AdxTrend) and STRAT.name == "adx_trend"


@pytest.mark.parametrize("name", ["LTC-BTC-5m.csv", "ADA-BTC-5m.csv", "XRP-USDT-5m-futures.csv"])
def test_other_real_markets(name: str) -> None:
    prepared = STRAT.prepare(pd.read_csv(DATA / name), P)
    entries = [s for _, s in scan(prepared, allow_short=True) if s.is_entry]
    assert {s.action for s in entries} == {Action.ENTER_LONG, Action.ENTER_SHORT}
    assert all(s.confidence >= P.min_confidence and s.stop_distance > 0 for s in entries)
