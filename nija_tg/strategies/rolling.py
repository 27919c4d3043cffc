"""A strategy's indicators over the live window, advanced one closed candle at a time.

The MarketHub keeps the last ``window`` closed candles of a market and the strategy acts
on the LAST row of its indicators computed over that window (pandas-ta's values:
``Strategy.compute``). Wilder's RMA and the EMAs start from a seed at the window's first
rows, so that value is not an infinite-history recursion: when the window slides by one
candle its seed moves, and the value of the new window cannot be had from the previous
window's value alone, bit for bit.

What can be kept is every window that is still in flight. The window that will be the
hub's at candle ``s + window - 1`` starts at candle ``s``; from candle ``s`` on, each
close advances its recursions by one row. So the hub's window at each close is finished,
not recomputed: the ``window`` windows in flight are advanced together, one vectorised
step per recursion and close (numpy over <= ``window`` values: a fixed number of numpy
calls per close, instead of ``window`` Python steps per recursion). Each window sees the
same floating-point operations, in the same order, as the full computation over its
candles (``series.frame_*``), so the values are bitwise equal
(tests/strategies/test_rolling.py, every candle of the shared ETH file).

:class:`EwmRing` holds one recursion (pandas' ``ewm(adjust=False)``) of every window in
flight; :class:`RollingIndicators` is what a strategy returns from ``Strategy.rolling``
and the hub feeds (``catch_up``: the candles appended since the last close; more than
a window's worth, or a window it never saw: rebuilt from the window itself).
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Sequence

import numpy as np

from nija_tg.core.models import Candle
from nija_tg.core.signals import Signal, StrategyPosition

NAN = float("nan")


class EwmRing:
    """pandas' ``ewm(adjust=False, ignore_na=False).mean()`` of every window in flight:
    the window starting at candle ``s`` is slot ``s - base``. Live windows are the
    consecutive starts ``lo .. hi - 1``; each is seeded once (``seed``, at the row its
    recursion starts) and then advanced one row per candle (``step``). The update is
    ``series._Ewm.step``'s, operation for operation."""

    def __init__(self, weights: tuple[float, float], window: int) -> None:
        self.f, self.a = weights
        self.den = self.f + self.a
        self.cap = 2 * window + 2
        self.w = np.full(self.cap, np.nan)
        self.old = np.ones(self.cap)
        self.base = self.lo = self.hi = 0
        self.simple = True  # every live window: old weight 1, value not NaN
        self._new = np.empty(self.cap)
        self._part = np.empty(self.cap)
        self._moved = np.empty(self.cap, dtype=bool)

    def __len__(self) -> int:
        return self.hi - self.lo

    def drop_before(self, start: int) -> None:
        """Forget the windows starting before ``start`` (no longer the hub's)."""
        if start > self.lo:
            self.lo = min(start, self.hi)

    def view(self, lo: int, hi: int) -> np.ndarray:
        """The values of the windows starting at ``lo .. hi - 1`` (live ones)."""
        assert self.lo <= lo <= hi <= self.hi
        return self.w[lo - self.base : hi - self.base]

    def at(self, s: int) -> float:
        return float(self.w[s - self.base]) if self.lo <= s < self.hi else NAN

    def step(self, cur: float | np.ndarray) -> None:
        """Advance every live window by one row; ``cur`` is the row's value (one for all
        windows, or one per live window)."""
        n = self.hi - self.lo
        if not n:
            return
        i, j = self.lo - self.base, self.hi - self.base
        w = self.w[i:j]
        if isinstance(cur, np.ndarray):
            assert len(cur) == n
            nan_cur = bool(np.isnan(cur).any())
        else:
            nan_cur = cur != cur
        if self.simple and not nan_cur:
            # (f * w + a * cur) / (f + a) where w != cur (series._Ewm's simple path)
            new, part, moved = self._new[:n], self._part[:n], self._moved[:n]
            np.multiply(self.f, w, out=new)
            np.multiply(self.a, cur, out=part)
            np.add(new, part, out=new)
            if self.den != 1.0:
                np.divide(new, self.den, out=new)
            np.not_equal(w, cur, out=moved)
            np.copyto(w, new, where=moved)
            return
        old = self.old[i:j]
        valid = w == w
        obs = cur == cur
        old_next = np.where(valid, old * self.f, old)
        new = (old_next * w + self.a * cur) / (old_next + self.a)
        w_next = np.where(valid & obs & (w != cur), new, w)
        old_next = np.where(valid & obs, 1.0, old_next)
        w_next = np.where(~valid & obs, cur, w_next)
        w[:] = w_next
        old[:] = old_next
        self.simple = bool((old_next == 1.0).all()) and not bool(np.isnan(w_next).any())

    def seed(self, s: int, value: float) -> None:
        """Start the recursion of the window starting at candle ``s`` (the next start)."""
        if self.lo == self.hi:
            self.base = self.lo = self.hi = s
        assert s == self.hi
        if s - self.base >= self.cap:  # compact: the live windows to the front
            i, j = self.lo - self.base, self.hi - self.base
            self.w[: j - i] = self.w[i:j]
            self.old[: j - i] = self.old[i:j]
            self.base = self.lo
        self.w[s - self.base] = value
        self.old[s - self.base] = 1.0
        self.hi = s + 1
        if value != value:
            self.simple = False


class RollingIndicators(ABC):
    """A strategy's indicators over the hub's rolling window (the last ``window``
    candles pushed), advanced by ``push`` one closed candle at a time; ``signal`` is
    the strategy's ``evaluate`` at the window's last row, without a frame."""

    def __init__(self, window: int) -> None:
        if window < 1:
            raise ValueError("window must be >= 1")
        self.window = window
        self.pushed = 0  # candles pushed since the last reset
        self.synced = 0  # the hub's count of appended candles last caught up with

    @property
    def rows(self) -> int:
        """Candles in the window now."""
        return min(self.pushed, self.window)

    def catch_up(self, candles: Sequence[Candle] | deque[Candle], appended: int) -> None:
        """Follow the hub's window ``candles`` (its last ``window`` appended candles,
        ``appended`` of them since it began): push the ones appended since the last
        call; when some of those already left the window (a gap longer than it, the
        window replaced) or none was seen yet, start again from the window itself.
        Either way the state is the one of pushing every appended candle in order: only
        the windows starting inside the last ``window`` candles matter."""
        missing = appended - self.synced
        if missing == 0:
            return
        if missing < 0 or missing > len(candles) or self.pushed == 0:
            self.reset()
            fresh: Sequence[Candle] | itertools.islice = candles
        else:
            fresh = itertools.islice(candles, len(candles) - missing, None)
        for candle in fresh:
            self.push(candle)
        self.synced = appended

    def reset(self) -> None:
        """Forget every candle (``push`` starts a new window)."""
        self.pushed = 0
        self.synced = 0
        self._reset()

    @abstractmethod
    def _reset(self) -> None:
        """Clear the strategy's own state."""

    @abstractmethod
    def push(self, candle: Candle) -> None:
        """Append one closed candle to the window (``pushed`` += 1)."""

    @abstractmethod
    def row(self) -> dict[str, float]:
        """The indicator values at the window's last row (do not mutate)."""

    @abstractmethod
    def signal(self, position: StrategyPosition | None, *, params, allow_short: bool) -> Signal:
        """The strategy's signal at the window's last candle for one position (``params``
        differing from the rolling ones only outside the indicator key)."""
