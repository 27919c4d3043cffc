"""ADX trend strategy (the default, from the BingX design).

Indicators (pandas-ta): ADX with +DI/-DI (``adx_length``), EMA fast and slow, ATR.

Entry long at candle ``i`` when all hold (short is the mirror image, only with
``allow_short``): ADX >= ``adx_threshold``; +DI > -DI; close > EMA slow; EMA fast > EMA
slow; confidence >= ``min_confidence``.

Confidence (0..1), with direction d = +1 long / -1 short and clamp to 0..1::

    s_adx = clamp(ADX / (2 * adx_threshold))          # 0.5 at the threshold, 1 at twice it
    s_di  = clamp(2 * d * (+DI - -DI) / (+DI + -DI))  # DI spread relative to the DI sum
    s_ema = clamp(d * (EMA fast - EMA slow) / ATR)    # trend separation in ATRs
    confidence = 0.4 * s_adx + 0.3 * s_di + 0.3 * s_ema

Exit an open position when the trend flips: the DIs cross against it, or ADX falls
below ``adx_exit_threshold``. ``stop_distance`` = ATR x ``atr_multiplier`` on every
signal once warmed up (the engine uses it for the initial and trailing stop).

Evaluate closed candles only: the last row of the frame should be the last closed one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from nija_tg.strategies import indicators as ind
from nija_tg.strategies import register
from nija_tg.strategies.base import (
    Action,
    Signal,
    Strategy,
    StrategyParams,
    StrategyPosition,
    param,
)

W_ADX, W_DI, W_EMA = 0.4, 0.3, 0.3


@dataclass(frozen=True, slots=True)
class AdxTrendParams(StrategyParams):
    adx_length: int = param(14, lo=5, hi=50, indicator=True)
    adx_threshold: float = param(25.0, lo=10, hi=60)
    adx_exit_threshold: float = param(20.0, lo=5, hi=55)
    ema_fast: int = param(20, lo=2, hi=100, indicator=True)
    ema_slow: int = param(50, lo=5, hi=400, indicator=True)
    atr_length: int = param(14, lo=2, hi=100, indicator=True)
    atr_multiplier: float = param(2.0, lo=0.5, hi=10)
    min_confidence: float = param(0.60, lo=0.5, hi=0.95)

    def check_relations(self) -> None:
        if self.ema_fast >= self.ema_slow:
            raise ValueError(f"ema_fast ({self.ema_fast}) must be below ema_slow ({self.ema_slow})")
        if self.adx_exit_threshold > self.adx_threshold:
            raise ValueError(
                f"adx_exit_threshold ({self.adx_exit_threshold:g}) must not exceed "
                f"adx_threshold ({self.adx_threshold:g})"
            )

    @property
    def history_needed(self) -> int:
        """Candles of history after which a cold start (a new backtest, the live
        window) gives the signals of a run over the whole history.

        The smoothings forget their seed geometrically (Wilder's RMA by 1 - 1/length a
        candle, the EMA by 1 - 2/(length + 1)), so the need grows with each length.
        Measured on every start of the shared candles (tests/data; test_warmup.py): at
        most 15.2 x ``adx_length`` for the ADX/DIs, 4.2 x ``ema_slow`` for the EMAs,
        5.6 x ``atr_length`` for the ATR, 213 candles together at the defaults. With a
        margin: 20 x, 6 x and 7 x, i.e. 300 candles at the defaults, the engine's
        ``CANDLE_WINDOW``. The warm-up (``warmup``) is this, capped at that window.
        """
        return max(20 * self.adx_length, 6 * self.ema_slow, 7 * self.atr_length)


def _clamp(x: float) -> float:
    return 0.0 if math.isnan(x) else min(1.0, max(0.0, x))


def confidence(snap: dict[str, float], direction: int, params: AdxTrendParams) -> float:
    """The documented confidence formula (``direction`` +1 long, -1 short)."""
    s_adx = _clamp(snap["adx"] / (2.0 * params.adx_threshold))
    di_sum = snap["dmp"] + snap["dmn"]
    s_di = _clamp(2.0 * direction * (snap["dmp"] - snap["dmn"]) / di_sum) if di_sum > 0 else 0.0
    s_ema = (
        _clamp(direction * (snap["ema_fast"] - snap["ema_slow"]) / snap["atr"])
        if snap["atr"] > 0
        else 0.0
    )
    return round(W_ADX * s_adx + W_DI * s_di + W_EMA * s_ema, 6)


@register("adx_trend")
class AdxTrend(Strategy):
    params_type = AdxTrendParams

    def compute(self, frame: pd.DataFrame, params: StrategyParams) -> pd.DataFrame:
        assert isinstance(params, AdxTrendParams)
        out = frame.copy()
        out[["adx", "dmp", "dmn"]] = ind.adx(frame, params.adx_length)
        out["ema_fast"] = ind.ema(frame, params.ema_fast)
        out["ema_slow"] = ind.ema(frame, params.ema_slow)
        out["atr"] = ind.atr(frame, params.atr_length)
        return out

    def decide(
        self,
        frame: pd.DataFrame,
        i: int,
        position: StrategyPosition | None,
        params: StrategyParams,
        allow_short: bool,
    ) -> Signal:
        assert isinstance(params, AdxTrendParams)
        cols = ("close", "adx", "dmp", "dmn", "ema_fast", "ema_slow", "atr")
        snap = ind.row_values(frame, cols, i)
        snap["ts"] = float(frame["ts"].iat[i])
        if i + 1 < params.warmup or any(math.isnan(snap[c]) for c in cols):
            return Signal(Action.HOLD, reason="warming up", indicators=snap)
        stop = snap["atr"] * params.atr_multiplier
        if not math.isfinite(stop) or stop < 0:
            stop = 0.0
        if position is not None:
            return self._exit_or_hold(snap, position, params, stop)
        return self._entry_or_hold(snap, params, stop, allow_short)

    def _exit_or_hold(
        self, snap: dict[str, float], pos: StrategyPosition, p: AdxTrendParams, stop: float
    ) -> Signal:
        against = snap["dmn"] > snap["dmp"] if pos.side == "long" else snap["dmp"] > snap["dmn"]
        if against:
            reason = f"DI crossed against the {pos.side}"
            return Signal(Action.EXIT, 1.0, stop, reason, snap)
        if snap["adx"] < p.adx_exit_threshold:
            reason = f"trend faded: ADX {snap['adx']:.1f} < {p.adx_exit_threshold:g}"
            return Signal(Action.EXIT, 1.0, stop, reason, snap)
        direction = 1 if pos.side == "long" else -1
        conf = confidence(snap, direction, p)
        return Signal(Action.HOLD, conf, stop, f"trend intact ({pos.side})", snap)

    def _entry_or_hold(
        self, snap: dict[str, float], p: AdxTrendParams, stop: float, allow_short: bool
    ) -> Signal:
        if snap["adx"] < p.adx_threshold:
            reason = f"no trend: ADX {snap['adx']:.1f} < {p.adx_threshold:g}"
            return Signal(Action.HOLD, 0.0, stop, reason, snap)
        if snap["dmp"] > snap["dmn"]:
            direction, action = 1, Action.ENTER_LONG
            aligned = snap["close"] > snap["ema_slow"] and snap["ema_fast"] > snap["ema_slow"]
        elif snap["dmn"] > snap["dmp"]:
            direction, action = -1, Action.ENTER_SHORT
            aligned = snap["close"] < snap["ema_slow"] and snap["ema_fast"] < snap["ema_slow"]
        else:
            return Signal(Action.HOLD, 0.0, stop, "DI tied", snap)
        conf = confidence(snap, direction, p)
        side = "long" if direction == 1 else "short"
        if not aligned:
            return Signal(Action.HOLD, conf, stop, f"EMA filter disagrees with {side}", snap)
        if action is Action.ENTER_SHORT and not allow_short:
            return Signal(Action.HOLD, conf, stop, "downtrend; shorts not allowed", snap)
        if conf < p.min_confidence:
            reason = f"{side} confidence {conf:.2f} < {p.min_confidence:.2f}"
            return Signal(Action.HOLD, conf, stop, reason, snap)
        if stop <= 0:
            return Signal(Action.HOLD, conf, 0.0, "no volatility (ATR 0)", snap)
        reason = f"{side}: ADX {snap['adx']:.1f}, confidence {conf:.2f}"
        return Signal(action, conf, stop, reason, snap)
