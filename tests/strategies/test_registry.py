"""Strategy registry: another strategy is one new module."""

from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd
import pytest

from nija_tg.core.risk_settings import RiskSettings, apply_setting
from nija_tg.strategies import (
    Action,
    Signal,
    Strategy,
    StrategyParams,
    available,
    get_strategy,
    register,
    unregister,
)
from nija_tg.strategies.base import param


@dataclass(frozen=True, slots=True)
class LastUpParams(StrategyParams):
    lookback: int = param(3, lo=1, hi=10, indicator=True)
    min_confidence: float = param(0.5, lo=0.5, hi=0.95)


class LastUp(Strategy):
    """Test-only: long when the close rose over ``lookback`` candles."""

    params_type = LastUpParams

    def compute(self, frame: pd.DataFrame, params: StrategyParams) -> pd.DataFrame:
        assert isinstance(params, LastUpParams)
        out = frame.copy()
        out["change"] = frame["close"].diff(params.lookback)
        return out

    def decide(self, frame, i, position, params, allow_short) -> Signal:
        change = float(frame["change"].iat[i])
        if position is None and change > 0:
            return Signal(Action.ENTER_LONG, 0.75, 1.0, "up", {"change": change})
        if position is not None and change < 0:
            return Signal(Action.EXIT, 1.0, 1.0, "down", {"change": change})
        return Signal(Action.HOLD, reason="nothing")


@pytest.fixture
def last_up() -> Iterator[Strategy]:
    register("test_last_up")(LastUp)
    try:
        yield get_strategy("test_last_up")
    finally:
        unregister("test_last_up")


def frame(closes: list[float]) -> pd.DataFrame:
    n = len(closes)
    return pd.DataFrame(
        {
            "ts": range(n),
            "open": closes,
            "high": closes,
            "low": closes,
            "close": closes,
            "volume": [1.0] * n,
        }
    )


def test_builtin_available() -> None:
    assert "adx_trend" in available()
    assert available() == sorted(available())


def test_unknown_strategy() -> None:
    with pytest.raises(KeyError, match="adx_trend"):
        get_strategy("nope")


def test_register_new_strategy(last_up: Strategy) -> None:
    assert "test_last_up" in available()
    assert last_up.name == "test_last_up"
    assert last_up.signal(frame([1, 2, 3, 4])).action == Action.ENTER_LONG
    prepared = last_up.prepare(frame([4, 3, 2, 1]), last_up.default_params())
    assert last_up.evaluate(prepared).action == Action.HOLD
    from nija_tg.strategies import StrategyPosition

    assert last_up.evaluate(prepared, StrategyPosition("long")).action == Action.EXIT
    assert last_up.indicator_key(LastUpParams(min_confidence=0.9)) == last_up.indicator_key(
        LastUpParams()
    )


def test_settings_can_switch_to_registered_strategy(last_up: Strategy) -> None:
    s = apply_setting(RiskSettings(), "strategy", "test_last_up", can_change_strategy=True)
    assert s.strategy == "test_last_up" and s.strategy_params == LastUpParams()
    s = apply_setting(s, "strategy.lookback", "5", can_change_strategy=True)
    assert s.strategy_params.lookback == 5
    assert RiskSettings.from_dict(s.to_dict()) == s


def test_unregistered_gone(last_up: Strategy) -> None:
    unregister("test_last_up")
    assert "test_last_up" not in available()
    unregister("test_last_up")  # idempotent


def test_duplicate_and_bad_names() -> None:
    class Other(LastUp):
        pass

    with pytest.raises(ValueError):
        register("adx_trend")(Other)
    for bad in ("", "Has Caps", "with space", "dash-name"):
        with pytest.raises(ValueError):
            register(bad)
