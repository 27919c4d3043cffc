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
from collections import deque
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nija_tg.core.models import Candle
from nija_tg.strategies import indicators as ind
from nija_tg.strategies import register
from nija_tg.strategies import series as ser
from nija_tg.strategies.base import (
    CANDLE_WINDOW,
    Action,
    Signal,
    SignalSeries,
    Strategy,
    StrategyParams,
    StrategyPosition,
    normalise_frame,
    param,
)
from nija_tg.strategies.rolling import NAN, EwmStack, RollingIndicators

W_ADX, W_DI, W_EMA = 0.4, 0.3, 0.3
COLUMNS = ("close", "adx", "dmp", "dmn", "ema_fast", "ema_slow", "atr")


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


def _clamp_array(x: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(x), 0.0, np.minimum(1.0, np.maximum(0.0, x)))


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
        """The indicator columns over ``frame`` (the hub's window): pandas-ta's values
        (``compute_pandas_ta``), bitwise, computed on plain floats
        (``series.frame_*``: numpy and pandas cost more per call than the arithmetic
        of a 300-row window)."""
        assert isinstance(params, AdxTrendParams)
        high = frame["high"].to_numpy(np.float64).tolist()
        low = frame["low"].to_numpy(np.float64).tolist()
        close = frame["close"].to_numpy(np.float64).tolist()
        adx_, dmp, dmn = ser.frame_adx(high, low, close, params.adx_length)
        cols = {
            "adx": adx_,
            "dmp": dmp,
            "dmn": dmn,
            "ema_fast": ser.frame_ema(close, params.ema_fast),
            "ema_slow": ser.frame_ema(close, params.ema_slow),
            "atr": ser.frame_atr(high, low, close, params.atr_length),
        }
        out = frame.copy()
        for name, values in cols.items():
            out[name] = np.array(values, dtype=np.float64)
        return out

    def compute_pandas_ta(self, frame: pd.DataFrame, params: StrategyParams) -> pd.DataFrame:
        """The reference: the indicator columns from pandas-ta (``indicators``)."""
        assert isinstance(params, AdxTrendParams)
        out = frame.copy()
        out[["adx", "dmp", "dmn"]] = ind.adx(frame, params.adx_length)
        out["ema_fast"] = ind.ema(frame, params.ema_fast)
        out["ema_slow"] = ind.ema(frame, params.ema_slow)
        out["atr"] = ind.atr(frame, params.atr_length)
        return out

    def series(
        self, candles: pd.DataFrame, params: StrategyParams, window: int = CANDLE_WINDOW
    ) -> SignalSeries:
        """Every candle's signal as the live window gives it, its indicators computed
        once for the whole series (``strategies/series.py``: bitwise the values of
        ``compute`` over each candle's window)."""
        self._check_params(params)
        assert isinstance(params, AdxTrendParams)
        return AdxTrendSeries(self, normalise_frame(candles), params, window)

    def rolling(
        self, params: StrategyParams, window: int = CANDLE_WINDOW
    ) -> AdxTrendRolling | None:
        """The indicators of the hub's window advanced one candle per close
        (``AdxTrendRolling``: bitwise ``compute``'s last row, in O(1) numpy calls);
        None for lengths below 2 (outside the parameters' bounds: the frame then)."""
        self._check_params(params)
        assert isinstance(params, AdxTrendParams)
        if min(params.adx_length, params.atr_length) < 2:
            return None
        return AdxTrendRolling(self, params, window)

    def decide(
        self,
        frame: pd.DataFrame,
        i: int,
        position: StrategyPosition | None,
        params: StrategyParams,
        allow_short: bool,
    ) -> Signal:
        assert isinstance(params, AdxTrendParams)
        snap = ind.row_values(frame, COLUMNS, i)
        snap["ts"] = float(frame["ts"].iat[i])
        return self.decide_row(snap, i, position, params, allow_short)

    def decide_row(
        self,
        snap: dict[str, float],
        i: int,
        position: StrategyPosition | None,
        params: AdxTrendParams,
        allow_short: bool,
    ) -> Signal:
        """The signal from one row's values (``snap``: ``COLUMNS`` and ``ts``) at row
        ``i`` of the engine's window (the warm-up counts its rows)."""
        if i + 1 < params.warmup or any(math.isnan(snap[c]) for c in COLUMNS):
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


class AdxTrendSeries(SignalSeries):
    """adx_trend's indicators over every candle's window, vectorised; the signals are
    ``decide_row`` on each candle's row of values, as ``evaluate`` on the live
    window."""

    strategy: AdxTrend
    params: AdxTrendParams

    def __init__(
        self, strategy: AdxTrend, frame: pd.DataFrame, params: AdxTrendParams, window: int
    ) -> None:
        super().__init__(strategy, frame, params, window)
        ohlc = ser.Ohlc(
            frame["high"].to_numpy(np.float64),
            frame["low"].to_numpy(np.float64),
            frame["close"].to_numpy(np.float64),
        )
        p = params

        def compute(win: ser.Windows) -> dict[str, np.ndarray]:
            adx_, dmp, dmn = ser.adx(win, p.adx_length)
            return {
                "adx": adx_,
                "dmp": dmp,
                "dmn": dmn,
                "ema_fast": ser.ema(win, p.ema_fast),
                "ema_slow": ser.ema(win, p.ema_slow),
                "atr": ser.atr(win, p.atr_length),
            }

        values = ser.over_series(ohlc, window, compute) if len(frame) else {}
        self.values = {"close": ohlc.close, **values}
        self.ts = frame["ts"].to_numpy(np.int64)
        self._cols = [self.values[c].tolist() for c in COLUMNS] if len(frame) else []
        self._ts = self.ts.tolist()
        self._entry = self._entry_candidates()

    def _entry_candidates(self) -> list[bool]:
        """A superset of the candles where a flat user's signal is an entry (the
        confidence is left to ``decide_row``)."""
        n = len(self.frame)
        if not n:
            return []
        v, p = self.values, self.params
        rows = np.minimum(np.arange(n), self.window - 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            ok = rows + 1 >= p.warmup
            for c in COLUMNS:
                ok &= ~np.isnan(v[c])
            ok &= v["adx"] >= p.adx_threshold
            up = (v["dmp"] > v["dmn"]) & (v["close"] > v["ema_slow"])
            up &= v["ema_fast"] > v["ema_slow"]
            down = (v["dmn"] > v["dmp"]) & (v["close"] < v["ema_slow"])
            down &= v["ema_fast"] < v["ema_slow"]
            ok &= up | down
            ok &= v["atr"] * p.atr_multiplier > 0
            # the confidence as ``confidence`` computes it, with a margin for its rounding
            d = np.where(up, 1.0, -1.0)
            s_adx = _clamp_array(v["adx"] / (2.0 * p.adx_threshold))
            di_sum = v["dmp"] + v["dmn"]
            s_di = np.where(di_sum > 0, _clamp_array(2.0 * d * (v["dmp"] - v["dmn"]) / di_sum), 0.0)
            s_ema = np.where(
                v["atr"] > 0, _clamp_array(d * (v["ema_fast"] - v["ema_slow"]) / v["atr"]), 0.0
            )
            conf = W_ADX * s_adx + W_DI * s_di + W_EMA * s_ema
            ok &= conf >= p.min_confidence - 1e-6
        return ok.tolist()

    def row(self, i: int) -> dict[str, float]:
        snap = {c: col[i] for c, col in zip(COLUMNS, self._cols, strict=True)}
        snap["ts"] = float(self._ts[i])
        return snap

    def signal(
        self,
        i: int,
        position: StrategyPosition | None = None,
        *,
        params: StrategyParams | None = None,
        allow_short: bool = False,
    ) -> Signal:
        p = self.params if params is None else self._check(params)
        assert isinstance(p, AdxTrendParams)
        if not 0 <= i < len(self.frame):
            return Signal(Action.HOLD, reason="no candles")
        row = min(i, self.window - 1)  # the candle's row in the engine's window
        return self.strategy.decide_row(self.row(i), row, position, p, allow_short)

    def may_enter(self, i: int) -> bool:
        return self._entry[i]


class AdxTrendRolling(RollingIndicators):
    """adx_trend's indicators over the hub's window, advanced one candle per close
    (``strategies/rolling.py``): bitwise ``compute``'s last row (``series.frame_*``).

    Per window in flight, one stack of recursions advanced together: the two EMAs; the
    ATR and the ADX's own ATR (``prenan``), each twice (without and with pandas-ta's
    epsilon, which a window gets when it holds a zero range: known only once the window
    is complete); the RMAs of +DM and -DM; and a second stack, the ADX's RMA of DX
    (twice, from the two ATRs of the ADX)."""

    # rows of the first stack
    EMA_FAST, EMA_SLOW, ATR, ATR_EPS, ATRP, ATRP_EPS, RP, RN = range(8)

    def __init__(self, strategy: AdxTrend, params: AdxTrendParams, window: int) -> None:
        super().__init__(window)
        if min(params.adx_length, params.atr_length) < 2:
            raise ValueError("adx_length and atr_length must be >= 2")
        self.strategy = strategy
        self.params = params
        self._reset()

    def _reset(self) -> None:
        p, w = self.params, self.window
        keep = max(p.adx_length, p.ema_fast, p.ema_slow, p.atr_length) + 1
        self._close: deque[float] = deque(maxlen=keep)
        # |high - low| and the true range, without (0) and with (1) the epsilon
        self._hl = (deque(maxlen=keep), deque(maxlen=keep))
        self._tr = (deque(maxlen=keep), deque(maxlen=keep))
        self._prev: Candle | None = None
        self._last_zero = -1  # index of the newest candle with high == low
        atr_w, adx_w = ser.rma_weights(p.atr_length), ser.rma_weights(p.adx_length)
        weights = [ser.ema_weights(p.ema_fast), ser.ema_weights(p.ema_slow)]
        weights += [atr_w, atr_w, adx_w, adx_w, adx_w, adx_w]
        self._rec = EwmStack(weights, w)
        self._adx = EwmStack([adx_w, adx_w], w)
        self._cur = np.zeros((8, 1))
        self._di = ((NAN, NAN), (NAN, NAN))
        self._row: dict[str, float] | None = None
        self._ts = NAN
        self._close_now = NAN

    def push(self, candle: Candle) -> None:
        p = self.params
        t = self.pushed
        self.pushed += 1
        self._row = None
        self._ts = float(candle.ts)
        high, low, close = float(candle.high), float(candle.low), float(candle.close)
        self._close_now = close
        start = max(0, t - self.window + 1)  # the hub's window is start .. t
        d = high - low
        if d == 0:
            self._last_zero = t
        self._close.append(close)
        hl = (d, d + ser.EPS)
        prev = self._prev
        self._prev = candle
        rec = self._rec
        for v in (0, 1):
            self._hl[v].append(abs(hl[v]))
            if prev is not None:
                pc = float(prev.close)
                self._tr[v].append(max(abs(hl[v]), abs(high - pc), abs(pc - low)))
            else:
                self._tr[v].append(NAN)  # a first row has no previous close
        if prev is not None:
            # +DM / -DM (pandas-ta's, ``series.frame_adx``)
            up = high - float(prev.high)
            dn = float(prev.low) - low
            pos = up if (up > dn and up > 0) else 0.0
            neg = dn if (dn > up and dn > 0) else 0.0
            cur = self._cur
            cur[0, 0] = cur[1, 0] = close
            cur[2, 0] = cur[4, 0] = self._tr[0][-1]
            cur[3, 0] = cur[5, 0] = self._tr[1][-1]
            cur[6, 0] = 0.0 if abs(pos) < ser.EPS else pos
            cur[7, 0] = 0.0 if abs(neg) < ser.EPS else neg
            rec.step(cur, start, t)  # every window started before this candle
        rec.open(t, start)
        self._adx.open(t, start)
        for row, length in ((self.EMA_FAST, p.ema_fast), (self.EMA_SLOW, p.ema_slow)):
            s = t - length + 1
            if s >= start:
                rec.seed(row, s, self._seed(self._close, length, length))
        if prev is None:
            return
        s = t - p.atr_length + 1
        if s >= start:
            # the window's first row: its range (no previous close in the window)
            for v, row in ((0, self.ATR), (1, self.ATR_EPS)):
                hls = self._hl[v]
                first = hls[len(hls) - p.atr_length]
                rec.seed(row, s, self._seed(self._tr[v], p.atr_length, p.atr_length, first))
        last = t - p.adx_length + 1  # the newest window with the ADX's ATR started
        if last >= start:  # the first row NaN (``prenan``): 0 in the seed's sum
            for v, row in ((0, self.ATRP), (1, self.ATRP_EPS)):
                seed = self._seed(self._tr[v], p.adx_length, p.adx_length - 1, NAN)
                rec.seed(row, last, seed)
        # the RMAs of +DM / -DM start at a window's row 1 with its value
        if t - 1 >= start:
            rec.seed(self.RP, t - 1, float(self._cur[6, 0]))
            rec.seed(self.RN, t - 1, float(self._cur[7, 0]))
        if last < start:
            return
        values = rec.view(start, last + 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            k = 100.0 / values[self.ATRP : self.ATRP_EPS + 1]
            dmp = k * values[self.RP]
            dmn = k * values[self.RN]
            dx = 100.0 * np.abs(dmp - dmn) / (dmp + dmn)
        self._adx.step(dx[:, :-1], start, last)
        self._adx.seed(0, last, float(dx[0, -1]))
        self._adx.seed(1, last, float(dx[1, -1]))
        self._di = ((float(dmp[0, 0]), float(dmn[0, 0])), (float(dmp[1, 0]), float(dmn[1, 0])))

    def _seed(self, values: deque[float], length: int, count: int, first: float | None = None):
        """pandas-ta's SMA seed (``series._seeded``) of the last ``length`` values,
        the first of them replaced by ``first`` when given; NaN counted as 0."""
        n = len(values)
        terms = [values[i] for i in range(n - length, n)]
        if first is not None:
            terms[0] = first
        terms = [0.0 if x != x else x for x in terms]
        return ser.pairwise_floats(terms) / count if count else NAN

    def row(self) -> dict[str, float]:
        if self._row is None:
            self._row = self._values()
        return self._row

    def _values(self) -> dict[str, float]:
        p = self.params
        t = self.pushed - 1
        start = max(0, t - self.window + 1)
        n = t - start + 1
        v = 1 if self._last_zero >= start else 0
        row = dict.fromkeys(COLUMNS, NAN)
        row["close"] = self._close_now
        if n >= p.adx_length + 1:
            row["adx"] = self._adx.at(v, start)
            row["dmp"], row["dmn"] = self._di[v]
        if n >= p.ema_fast:
            row["ema_fast"] = self._rec.at(self.EMA_FAST, start)
        if n >= p.ema_slow:
            row["ema_slow"] = self._rec.at(self.EMA_SLOW, start)
        if n >= p.atr_length + 1:
            row["atr"] = self._rec.at(self.ATR_EPS if v else self.ATR, start)
        row["ts"] = self._ts
        return row

    def signal(
        self,
        position: StrategyPosition | None,
        *,
        params: StrategyParams,
        allow_short: bool,
    ) -> Signal:
        if not self.pushed:
            return Signal(Action.HOLD, reason="no candles")
        assert isinstance(params, AdxTrendParams)
        snap = dict(self.row())
        return self.strategy.decide_row(snap, self.rows - 1, position, params, allow_short)
