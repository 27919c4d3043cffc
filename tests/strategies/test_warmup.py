"""The warm-up: after ``params.warmup`` candles a cold start (a new backtest, the live
engine's candle window) gives the signals of a run over the whole history.

Checked on every candle of the shared data (tests/data): each signal computed from the
last W..W+STRIDE candles only equals the one computed with all prior candles, for a
flat user (shorts allowed) and for an open long and short. How W was found (every start
of every file, every history length): at most 213 candles were needed at the default
parameters (ADX/DIs alone 213 = 15.2 x adx_length, EMAs alone 209 = 4.2 x ema_slow, ATR
alone 79 = 5.6 x atr_length); ``AdxTrendParams.warmup`` keeps a margin over each."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from nija_tg.engine.backtest import WINDOW
from nija_tg.engine.market_data import MarketHub
from nija_tg.strategies import StrategyPosition, get_strategy
from nija_tg.strategies.adx_trend import AdxTrendParams
from nija_tg.strategies.base import CANDLE_WINDOW

DATA = Path(__file__).resolve().parents[1] / "data"
FILES = [
    "ETH-BTC-5m.csv",
    "LTC-BTC-5m.csv",
    "ADA-BTC-5m.csv",
    "XRP-USDT-5m-futures.csv",
    "BTC-USDT-1d.csv",
]
STRAT = get_strategy("adx_trend")
P = AdxTrendParams()
STRIDE = 150  # a cold start every STRIDE candles, each checked on STRIDE candles
POSITIONS = (None, StrategyPosition("long", 1.0), StrategyPosition("short", 1.0))


def candles(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / name)


def differences(df: pd.DataFrame, params: AdxTrendParams) -> dict:
    """Compare, on every candle from the ``params.warmup``-th, the signal computed from the
    last ``warmup``..``warmup + STRIDE - 1`` candles with the one from all history:
    ``actions`` lists (candle, position, cold action, full action) where they differ;
    ``confidence`` and ``stop`` are the largest gaps of the numbers (absolute,
    relative) where they agree."""
    warmup = params.warmup
    full = STRAT.prepare(df, params)
    out: dict = {"actions": [], "confidence": 0.0, "stop": 0.0}
    for start in range(0, len(df) - warmup + 1, STRIDE):
        cold = STRAT.prepare(df.iloc[start : start + warmup + STRIDE - 1], params)
        for j in range(warmup - 1, len(cold.frame)):
            for pos in POSITIONS:
                a = STRAT.evaluate(cold, pos, params=params, allow_short=True, index=j)
                b = STRAT.evaluate(full, pos, params=params, allow_short=True, index=start + j)
                if a.action != b.action or a.reason == "warming up":
                    out["actions"].append((start + j, pos, a.action, b.action))
                    continue
                out["confidence"] = max(out["confidence"], abs(a.confidence - b.confidence))
                if b.stop_distance:
                    gap = abs(a.stop_distance / b.stop_distance - 1)
                    out["stop"] = max(out["stop"], gap)
    return out


@pytest.mark.parametrize("name", FILES)
def test_signals_after_the_warmup_equal_those_with_all_history(name: str) -> None:
    df = candles(name)
    assert len(df) > P.warmup + STRIDE
    found = differences(df, P)
    assert found["actions"] == []
    # the numbers behind them agree closely too: the confidence's EMA term (EMA gap /
    # ATR) magnifies the EMA's last 1e-7 of seed by price / ATR
    assert found["confidence"] < 1e-3 and found["stop"] < 1e-6


@dataclass(frozen=True, slots=True)
class FormerWarmup(AdxTrendParams):
    """The default parameters with the former warm-up, max(3 x 14, 50, 15) = 50."""

    @property
    def history_needed(self) -> int:
        return 50


def test_the_former_50_candle_warmup_was_too_short() -> None:
    """The check above tells a too-short warm-up: after 50 candles a cold start gives
    other signals than a run with the whole history."""
    found = differences(candles("LTC-BTC-5m.csv"), FormerWarmup())
    assert len(found["actions"]) > 10


def test_warmup_defaults_and_growth() -> None:
    assert P.warmup == P.history_needed == CANDLE_WINDOW == 300
    # the history needed grows with the smoothing lengths ...
    assert AdxTrendParams(adx_length=20).history_needed == 400
    assert AdxTrendParams(ema_slow=100).history_needed == 600
    assert AdxTrendParams(atr_length=50).history_needed == 350
    # ... the warm-up stops at the candles the engine keeps (longer would never end)
    assert AdxTrendParams(adx_length=20).warmup == CANDLE_WINDOW
    assert AdxTrendParams(adx_length=10).warmup == 300  # 6 x ema_slow
    assert AdxTrendParams(adx_length=10, ema_slow=30).warmup == 200


def test_the_live_window_and_the_backtest_hold_the_warmup() -> None:
    """The live engine's MarketHub keeps ``window`` closed candles per market (300 by
    default) and computes every signal over them; the backtest keeps the same. At the
    defaults both equal the history needed: a live start, a running engine and the
    backtest see the signals of the whole history."""
    live_window = inspect.signature(MarketHub).parameters["window"].default
    assert live_window == WINDOW == CANDLE_WINDOW == P.history_needed
