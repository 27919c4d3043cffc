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
not recomputed: the ``window`` windows in flight are advanced together, their
recursions stacked in arrays (a fixed number of numpy calls per close, each over
<= ``window`` values, plus the seeds of the windows reaching their seed row; instead of
``window`` Python steps per recursion). Each window sees the
same floating-point operations, in the same order, as the full computation over its
candles (``series.frame_*``), so the values are bitwise equal
(tests/strategies/test_rolling.py, every candle of the shared ETH file).

:class:`EwmStack` holds recursions (pandas' ``ewm(adjust=False)``) of every window in
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


class EwmStack:
    """pandas' ``ewm(adjust=False, ignore_na=False).mean()`` of ``k`` recursions (rows)
    for every window in flight (columns: the window starting at candle ``s`` is column
    ``s - base``), advanced together: one numpy call per operation for all of them.

    A window's column is opened (``open``) at its first candle and each row is seeded
    (``seed``) at the row its recursion starts; until then the column holds a
    placeholder (0, old weight 1) that ``step`` may advance harmlessly: the seed
    overwrites it. The update is ``series._Ewm.step``'s, operation for operation (x /
    1.0 is x, so every row is divided by its f + a)."""

    def __init__(self, weights: Sequence[tuple[float, float]], window: int) -> None:
        self.k = len(weights)
        self.f = np.array([w[0] for w in weights]).reshape(self.k, 1)
        self.a = np.array([w[1] for w in weights]).reshape(self.k, 1)
        self.den = self.f + self.a
        self.cap = 2 * window + 2
        self.w = np.zeros((self.k, self.cap))
        self.old = np.ones((self.k, self.cap))
        self.base = 0  # the start of column 0
        self.simple = True  # the last stepped columns: old weight 1, no NaN

    def open(self, t: int, lo: int) -> None:
        """A column for the window starting at candle ``t`` (the ones from ``lo`` on
        are kept: moved to the front when the array is full)."""
        if t - self.base >= self.cap:
            i, j = lo - self.base, t - self.base
            self.w[:, : j - i] = self.w[:, i:j]
            self.old[:, : j - i] = self.old[:, i:j]
            self.base = lo
        c = t - self.base
        self.w[:, c] = 0.0
        self.old[:, c] = 1.0

    def view(self, lo: int, hi: int) -> np.ndarray:
        """Every row of the windows starting at ``lo .. hi - 1`` (a view)."""
        return self.w[:, lo - self.base : hi - self.base]

    def at(self, row: int, s: int) -> float:
        return float(self.w[row, s - self.base])

    def seed(self, row: int, s: int, value: float) -> None:
        """Start recursion ``row`` of the window starting at ``s`` with ``value``."""
        self.w[row, s - self.base] = value
        self.old[row, s - self.base] = 1.0
        if value != value:
            self.simple = False

    def step(self, cur: np.ndarray, lo: int, hi: int) -> None:
        """Advance the windows starting at ``lo .. hi - 1`` by one row; ``cur``: the
        row's value per recursion (shape (k, 1)) or per recursion and window."""
        if hi <= lo:
            return
        i, j = lo - self.base, hi - self.base
        w = self.w[:, i:j]
        if self.simple and not np.isnan(cur).any():
            # (f * w + a * cur) / (f + a) where w != cur (series._Ewm's simple path)
            new = self.f * w
            new += self.a * cur
            new /= self.den
            np.copyto(w, new, where=w != cur)
            return
        old = self.old[:, i:j]
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
        if self.starts_over(candles, appended):
            self.reset()
            fresh: Sequence[Candle] | itertools.islice = candles
        else:
            fresh = itertools.islice(candles, len(candles) - missing, None)
        for candle in fresh:
            self.push(candle)
        self.synced = appended

    def starts_over(self, candles: Sequence[Candle] | deque[Candle], appended: int) -> bool:
        """Whether ``catch_up`` would start again from the whole window (a push per
        candle of it) rather than push the few appended since the last call."""
        missing = appended - self.synced
        return missing != 0 and (missing < 0 or missing > len(candles) or self.pushed == 0)

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
