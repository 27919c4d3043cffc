"""Indicators over a whole candle series, as the live engine's window gives them.

The live MarketHub keeps the last ``window`` closed candles of a market (300,
``CANDLE_WINDOW``) and computes the strategy's indicators over that window on every
close: the value it acts on at candle ``i`` is the LAST row of a computation over
candles ``max(0, i - window + 1) .. i``. Wilder's RMA and the EMAs forget their seed
only geometrically (an EMA 50 keeps ~4e-5 of it after 250 candles), so that value is
not the value of one computation over the whole series: a backtest that wants the
live signals must compute every window.

This module does that for all windows at once (numpy, vectorised across windows,
``window`` steps), replaying pandas-ta's and pandas' floating-point operations in the
same order (``ewm(adjust=False)``'s update, the SMA seed's pairwise sum, pandas-ta's
``non_zero_range`` epsilon when a window holds a zero range), so each value is
bitwise the one the live engine computes (tests/strategies/test_series.py proves it
on every candle of the ETH file). Cost: O(candles x window) float operations, about a
second for a year of 5m candles, instead of one pandas-ta run per candle.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

EPS = sys.float_info.epsilon  # pandas-ta's ``sflt.epsilon``


# --- pandas' ewm constants -------------------------------------------------------------


def rma_weights(length: int) -> tuple[float, float]:
    """(old weight factor, new weight) of pandas-ta's ``rma``: ``ewm(alpha=1/length)``,
    through pandas' centre of mass as pandas computes it."""
    alpha = 1.0 / length
    com = float((1 - alpha) / alpha)
    a = 1.0 / (1.0 + com)
    return 1.0 - a, a


def ema_weights(span: int) -> tuple[float, float]:
    """(old weight factor, new weight) of ``ewm(span=span)`` (pandas-ta's ``ema``)."""
    com = float((span - 1) / 2)
    a = 1.0 / (1.0 + com)
    return 1.0 - a, a


# --- pairwise sums (numpy's, hence pandas' mean) -----------------------------------------


def pairwise_sum(cols: list[np.ndarray]) -> np.ndarray:
    """numpy's pairwise summation of ``cols`` (element-wise across windows), in its
    order: below 8 terms one by one from 0.0; up to 128 eight accumulators; above,
    split in halves (the first a multiple of 8)."""
    n = len(cols)
    if n < 8:
        res = np.zeros_like(cols[0]) if n else np.zeros(0)
        for c in cols:
            res = res + c
        return res
    if n <= 128:
        r = [cols[j].copy() for j in range(8)]
        i = 8
        while i < n - (n % 8):
            for j in range(8):
                r[j] = r[j] + cols[i + j]
            i += 8
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        while i < n:
            res = res + cols[i]
            i += 1
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return pairwise_sum(cols[:n2]) + pairwise_sum(cols[n2:])


# --- one ewm per window ------------------------------------------------------------------


class _Ewm:
    """pandas' ``ewm(adjust=False, ignore_na=False).mean()``, one per window, stepped
    row by row of the windows (all windows advance together)."""

    def __init__(self, first: np.ndarray, weights: tuple[float, float]) -> None:
        self.f, self.a = weights
        self.den = self.f + self.a  # old_wt + new_wt while old_wt is f (no NaN before)
        self.w = first.astype(np.float64, copy=True)
        self.old = np.ones_like(self.w)
        self.simple = not np.isnan(self.w).any()  # old is 1 everywhere, w valid
        self._new = np.empty_like(self.w)  # scratch of the simple path
        self._part = np.empty_like(self.w)
        self._moved = np.empty(self.w.shape, dtype=bool)

    def step(self, cur: np.ndarray, valid: bool = False) -> np.ndarray:
        """One row of every window (``valid``: the caller knows ``cur`` holds no NaN)."""
        if self.simple and (valid or not np.isnan(cur).any()):
            # (f * w + a * cur) / (f + a) where w != cur, in place (same operations)
            new, part, moved = self._new, self._part, self._moved
            np.multiply(self.f, self.w, out=new)
            np.multiply(self.a, cur, out=part)
            np.add(new, part, out=new)
            if self.den != 1.0:  # x / 1.0 is x: skipped
                np.divide(new, self.den, out=new)
            np.not_equal(self.w, cur, out=moved)
            np.copyto(self.w, new, where=moved)  # in place: callers use a row at once
            return self.w
        w, old = self.w, self.old
        valid = w == w
        obs = cur == cur
        old = np.where(valid, old * self.f, old)
        new = (old * w + self.a * cur) / (old + self.a)
        w = np.where(valid & obs & (w != cur), new, w)
        old = np.where(valid & obs, 1.0, old)
        w = np.where(~valid & obs, cur, w)
        self.w, self.old = w, old
        self.simple = bool((old == 1.0).all()) and not np.isnan(w).any()
        return w


# --- the inputs every window shares ------------------------------------------------------


@dataclass(frozen=True)
class Ohlc:
    """Float columns of the whole series and what the windows share of them."""

    high: np.ndarray
    low: np.ndarray
    close: np.ndarray

    @property
    def n(self) -> int:
        return len(self.close)

    def hl(self, eps: bool) -> np.ndarray:
        """pandas-ta's ``non_zero_range(high, low)``: high - low, + epsilon everywhere
        when the window holds a zero range (``eps``)."""
        d = self.high - self.low
        return d + EPS if eps else d

    def true_range(self, eps: bool) -> np.ndarray:
        """Row t's true range with the previous close (rows >= 1 of a window); row 0
        of the array is meaningless (a window's first row has no previous close)."""
        hl = np.abs(self.hl(eps))
        pc = np.empty_like(self.close)
        pc[0] = np.nan
        pc[1:] = self.close[:-1]
        out = np.maximum(np.maximum(hl, np.abs(self.high - pc)), np.abs(pc - self.low))
        out[0] = hl[0]
        return out

    def zero_range(self) -> np.ndarray:
        return (self.high - self.low) == 0


def _zero_in_window(zero: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """For each window (``starts``, ``length`` rows): whether it holds a zero range."""
    csum = np.concatenate(([0], np.cumsum(zero, dtype=np.int64)))
    return (csum[starts + length] - csum[starts]) > 0


class Windows:
    """Every full window of ``length`` rows (starts 0 .. n - length), or one window
    from row 0 recording every row (``prefix``: the windows still growing at the
    series' start all begin at row 0, so one run gives each of their last rows)."""

    def __init__(
        self,
        ohlc: Ohlc,
        length: int,
        *,
        prefix: bool = False,
        eps: bool = False,
        record: bool = False,
    ) -> None:
        self.ohlc = ohlc
        self.length = length
        self.prefix = prefix
        # full windows: also record every row of the first window (it starts at row 0,
        # so its rows are the last rows of the growing windows: no prefix run needed
        # when none of them holds a zero range)
        self.record = record and not prefix
        if prefix:
            self.starts = np.zeros(1, dtype=np.int64)
            self.flag = np.array([eps])
        else:
            self.starts = np.arange(ohlc.n - length + 1, dtype=np.int64)
            self.flag = _zero_in_window(ohlc.zero_range(), self.starts, length)
        self.m = len(self.starts)
        self.any_flag = bool(self.flag.any())

    def col(self, arr: np.ndarray, j: int) -> np.ndarray:
        """Row ``j`` of every window of the series ``arr``."""
        return arr[j : j + self.m]

    def pick(self, plain: np.ndarray, with_eps: np.ndarray, j: int) -> np.ndarray:
        """Row ``j`` of a series that depends on the window's epsilon flag."""
        if not self.any_flag:
            return self.col(plain, j)
        if self.flag.all():
            return self.col(with_eps, j)
        return np.where(self.flag, self.col(with_eps, j), self.col(plain, j))

    def rows(self) -> range:
        return range(self.length)

    def collect(self, out: list[np.ndarray], value: np.ndarray) -> None:
        """Keep ``value`` (a row of every window): every row for a prefix run."""
        if self.prefix or (self.record and len(out) < self.length - 1):
            out.append(value[0:1].copy())
        elif self.record:
            out.append(value)
        else:
            out[:] = [value]

    def result(self, out: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(out) if self.prefix or self.record else out[-1]

    def none(self) -> np.ndarray:
        """The result of an indicator the windows are too short for: all NaN."""
        return _nan(self.m + (self.length - 1 if self.record else 0))


def _nan(m: int) -> np.ndarray:
    return np.full(m, np.nan)


def ema(win: Windows, length: int) -> np.ndarray:
    """pandas-ta ``ema(close, length, talib=False)`` (SMA seed) at the windows' last
    row (every row of a prefix run)."""
    o, out = win.ohlc, []
    ewm = None
    if win.length < length and not win.prefix:
        return win.none()
    valid = not np.isnan(o.close).any()
    for j in win.rows():
        if j < length - 1:
            win.collect(out, _nan(win.m))
            continue
        if j == length - 1:
            seed = pairwise_sum([win.col(o.close, k) for k in range(length)]) / length
            ewm = _Ewm(seed, ema_weights(length))
            win.collect(out, ewm.w)
            continue
        assert ewm is not None
        win.collect(out, ewm.step(win.col(o.close, j), valid))
    return win.result(out)


def atr(win: Windows, length: int, *, prenan: bool = False) -> np.ndarray:
    """pandas-ta ``atr(high, low, close, length, talib=False)`` (RMA of the true range,
    SMA seed; ``prenan``: the window's first true range is NaN, as ``ta.adx`` asks) at
    the windows' last row (every row of a prefix run)."""
    if win.length < length + 1 and not win.prefix:
        return win.none()
    out: list[np.ndarray] = []
    for j, value in enumerate(_atr_steps(win, length, prenan=prenan)):
        # pandas-ta's atr needs length + 1 rows: a shorter window gives None
        win.collect(out, value if j >= length else _nan(win.m))
    return win.result(out)


def _atr_steps(win: Windows, length: int, *, prenan: bool) -> Iterator[np.ndarray]:
    """The ATR at each row of the windows, row by row (each row valid until the next
    is asked for: the windows' values are updated in place)."""
    o = win.ohlc
    tr0, tr1 = o.true_range(False), o.true_range(True)
    hl0, hl1 = np.abs(o.hl(False)), np.abs(o.hl(True))
    valid = not (np.isnan(tr0).any() or np.isnan(tr1).any())
    ewm = None
    for j in win.rows():
        if j < length - 1:
            value = _nan(win.m)
        elif j == length - 1:
            terms = []
            for k in range(length):
                if k == 0:
                    terms.append(np.zeros(win.m) if prenan else win.pick(hl0, hl1, 0))
                else:
                    terms.append(win.pick(tr0, tr1, k))
            count = length - 1 if prenan else length
            seed = pairwise_sum(terms) / count if count else _nan(win.m)
            ewm = _Ewm(seed, rma_weights(length))
            value = ewm.w
        else:
            assert ewm is not None
            value = ewm.step(win.pick(tr0, tr1, j), valid)
        yield value


def _directional(o: Ohlc) -> tuple[np.ndarray, np.ndarray]:
    """pandas-ta's +DM / -DM of every row (rows >= 1 of a window): up/down moves, 0
    unless the larger and positive, values under epsilon zeroed (``ta.zero``)."""
    up = np.empty_like(o.high)
    dn = np.empty_like(o.low)
    up[0] = dn[0] = np.nan
    up[1:] = o.high[1:] - o.high[:-1]
    dn[1:] = o.low[:-1] - o.low[1:]
    pos = np.where((up > dn) & (up > 0), up, 0.0)
    neg = np.where((dn > up) & (dn > 0), dn, 0.0)
    pos = np.where(np.abs(pos) < EPS, 0.0, pos)
    neg = np.where(np.abs(neg) < EPS, 0.0, neg)
    return pos, neg


def adx(win: Windows, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``indicators.adx`` (ADX, +DI, -DI) at the windows' last row (prefix: every row)."""
    o = win.ohlc
    if win.length < length + 1 and not win.prefix:  # its atr needs length + 1 rows
        return win.none(), win.none(), win.none()
    atr_rows = _atr_steps(win, length, prenan=True)
    pos, neg = _directional(o)
    valid = not (np.isnan(pos[1:]).any() or np.isnan(neg[1:]).any())
    outs: tuple[list, list, list] = ([], [], [])
    rp = rn = rd = None
    nan = _nan(win.m)
    for j in win.rows():
        atr_j = next(atr_rows)
        if j == 0:
            values = (nan, nan, nan)
        else:
            if j == 1:
                rp = _Ewm(win.col(pos, 1), rma_weights(length))
                rn = _Ewm(win.col(neg, 1), rma_weights(length))
                vp, vn = rp.w, rn.w
            else:
                assert rp is not None and rn is not None
                vp, vn = rp.step(win.col(pos, j), valid), rn.step(win.col(neg, j), valid)
            k = 100.0 / atr_j
            dmp = k * vp
            dmn = k * vn
            with np.errstate(invalid="ignore", divide="ignore"):
                dx = 100.0 * np.abs(dmp - dmn) / (dmp + dmn)
            if rd is None:
                if j >= length - 1:
                    rd = _Ewm(dx, rma_weights(length))
                    value = rd.w
                else:
                    value = nan
            else:
                value = rd.step(dx)
            values = (value, dmp, dmn) if j >= length else (nan, nan, nan)
        for out, v in zip(outs, values, strict=True):
            win.collect(out, v)
    adx_, dmp_, dmn_ = (win.result(out) for out in outs)
    return adx_, dmp_, dmn_


def over_series(ohlc: Ohlc, window: int, compute) -> dict[str, np.ndarray]:
    """``compute(windows) -> {name: values at the windows' last row}`` for every
    candle: candle i's window is rows max(0, i - window + 1) .. i, as the live hub
    keeps them. The windows still growing (i < window - 1) all start at row 0, as the
    first full window does: its rows are their last rows, recorded on the way; when a
    zero range appears among them, a run of their own records them without and with
    pandas-ta's epsilon (each row taking the one its window had)."""
    n = ohlc.n
    grow = min(window - 1, n)
    if n >= window and not ohlc.zero_range()[:grow].any():
        # the first full window's rows are the growing windows' last rows
        return compute(Windows(ohlc, window, record=True))
    out: dict[str, list[np.ndarray]] = {}
    if grow > 0:
        head = Ohlc(ohlc.high[:grow], ohlc.low[:grow], ohlc.close[:grow])
        zero = np.cumsum(head.zero_range()) > 0
        plain = compute(Windows(head, grow, prefix=True, eps=False))
        with_eps = compute(Windows(head, grow, prefix=True, eps=True)) if zero.any() else plain
        for name, values in plain.items():
            out.setdefault(name, []).append(np.where(zero, with_eps[name], values))
    if n >= window:
        full = compute(Windows(ohlc, window))
        for name, values in full.items():
            out.setdefault(name, []).append(values)
    return {name: np.concatenate(parts) for name, parts in out.items()}


# --- one frame, every row (the live hub's window), in plain floats ---------------------
#
# The hub computes the indicators of one window per market and close: numpy's per-call
# overhead on a 300-row window costs more than the arithmetic, so the same operations
# run here on Python floats (the same IEEE doubles: bitwise the values of pandas-ta over
# the frame, tests/strategies/test_series.py).

NAN = float("nan")


def _pairwise_floats(xs: list[float]) -> float:
    """numpy's pairwise sum of ``xs`` (``pairwise_sum`` on plain floats)."""
    n = len(xs)
    if n < 8:
        res = 0.0
        for x in xs:
            res += x
        return res
    if n <= 128:
        r = xs[:8]
        i = 8
        while i < n - (n % 8):
            for j in range(8):
                r[j] += xs[i + j]
            i += 8
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        while i < n:
            res += xs[i]
            i += 1
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return _pairwise_floats(xs[:n2]) + _pairwise_floats(xs[n2:])


pairwise_floats = _pairwise_floats


def _ewm_floats(vals: list[float], weights: tuple[float, float]) -> list[float]:
    """pandas' ``ewm(adjust=False, ignore_na=False).mean()`` of ``vals``."""
    f, a = weights
    out = [NAN] * len(vals)
    if not vals:
        return out
    w = vals[0]
    old = 1.0
    out[0] = w
    for i in range(1, len(vals)):
        cur = vals[i]
        obs = cur == cur
        if w == w:
            old *= f
            if obs:
                if w != cur:
                    w = (old * w + a * cur) / (old + a)
                old = 1.0
        elif obs:
            w = cur
        out[i] = w
    return out


def _seeded(vals: list[float], length: int, count: int) -> list[float]:
    """pandas-ta's SMA seed (``presma``): the mean of the first ``length`` values (NaN
    counted as 0 in the sum, out of ``count``) at row length - 1, NaN before."""
    terms = [0.0 if v != v else v for v in vals[:length]]
    seed = _pairwise_floats(terms) / count if count else NAN
    return [NAN] * (length - 1) + [seed] + vals[length:]


def frame_true_range(
    high: list[float], low: list[float], close: list[float], *, prenan: bool
) -> list[float]:
    """pandas-ta's ``true_range`` over one frame (``non_zero_range``'s epsilon when
    the frame holds a zero range)."""
    zero = any(h - lo == 0 for h, lo in zip(high, low, strict=True))
    hl = [(h - lo) + EPS if zero else h - lo for h, lo in zip(high, low, strict=True)]
    out = [NAN if prenan else abs(hl[0])] if hl else []
    for t in range(1, len(hl)):
        pc = close[t - 1]
        out.append(max(abs(hl[t]), abs(high[t] - pc), abs(pc - low[t])))
    return out


def frame_atr(
    high: list[float], low: list[float], close: list[float], length: int, *, prenan: bool = False
) -> list[float]:
    """``indicators.atr`` (``prenan``: as ``ta.adx`` asks it) over one frame."""
    n = len(close)
    if n < length + 1:
        return [NAN] * n
    tr = frame_true_range(high, low, close, prenan=prenan)
    seeded = _seeded(tr, length, length - 1 if prenan else length)
    return _ewm_floats(seeded, rma_weights(length))


def frame_ema(close: list[float], length: int) -> list[float]:
    """``indicators.ema`` over one frame."""
    if len(close) < length:
        return [NAN] * len(close)
    return _ewm_floats(_seeded(close, length, length), ema_weights(length))


def frame_adx(
    high: list[float], low: list[float], close: list[float], length: int
) -> tuple[list[float], list[float], list[float]]:
    """``indicators.adx`` (ADX, +DI, -DI) over one frame."""
    n = len(close)
    nan = [NAN] * n
    if n < max(length, 2) or n < length + 1:
        return nan, nan, list(nan)
    atr_ = frame_atr(high, low, close, length, prenan=True)
    pos, neg = [NAN], [NAN]
    for t in range(1, n):
        up = high[t] - high[t - 1]
        dn = low[t - 1] - low[t]
        p = up if (up > dn and up > 0) else 0.0
        m = dn if (dn > up and dn > 0) else 0.0
        pos.append(0.0 if abs(p) < EPS else p)
        neg.append(0.0 if abs(m) < EPS else m)
    weights = rma_weights(length)
    rp, rn = _ewm_floats(pos, weights), _ewm_floats(neg, weights)
    dmp, dmn, dx = [], [], []
    for t in range(n):
        a = atr_[t]
        k = 100.0 / a if a == a and a != 0 else (NAN if a != a else math_inf(a))
        p_, m_ = k * rp[t], k * rn[t]
        dmp.append(p_)
        dmn.append(m_)
        s = p_ + m_
        d = abs(p_ - m_)
        if s == s and d == d and s != 0:
            dx.append(100.0 * d / s)
        else:
            dx.append(_divide(100.0 * d, s))
    return _ewm_floats(dx, weights), dmp, dmn


def math_inf(a: float) -> float:
    """100 / 0 as numpy computes it (inf, signed as the zero)."""
    return float(np.float64(100.0) / np.float64(a))


def _divide(x: float, y: float) -> float:
    """``x / y`` as numpy computes it (NaN or inf instead of ZeroDivisionError)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(x) / np.float64(y))
