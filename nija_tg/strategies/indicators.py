"""Indicator computation over candle frames (pandas-ta), with stable column names, and a
small in-memory cache of prepared frames keyed by (symbol, timeframe, indicator key).

pandas-ta returns ``None`` when there are too few rows; the helpers here always return
float Series (or frames with stable column names) aligned with the input, NaN where
not yet defined.

TA-Lib never takes part: pandas-ta uses it, where installed, for every indicator not
called with ``talib=False`` (its seeding differs, so signals would depend on whether the
C library happens to be installed). Every call below passes ``talib=False``, and the ADX
is assembled from pandas-ta's own pieces because ``ta.adx`` computes its internal ATR
without passing that flag on (pandas-ta 0.4.71b0): same formula and numbers as
``ta.adx(..., talib=False)`` without TA-Lib.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nija_tg.strategies.base import Prepared, Strategy, StrategyParams


def _ta():
    """pandas-ta, imported on first use (it imports numba: a backtest computing its
    indicators with ``strategies/series.py`` never needs it)."""
    import pandas_ta

    return pandas_ta


def _nan_series(frame: pd.DataFrame) -> pd.Series:
    return pd.Series(np.nan, index=frame.index, dtype="float64")


def adx(frame: pd.DataFrame, length: int) -> pd.DataFrame:
    """ADX with +DI / -DI: columns ``adx``, ``dmp``, ``dmn`` (0..100).

    pandas-ta's ADX (Wilder: RMA smoothing, scalar 100, drift 1) from its ATR and RMA
    with TA-Lib kept out (see the module docstring)."""
    nan = pd.DataFrame({c: _nan_series(frame) for c in ("adx", "dmp", "dmn")})
    high, low, close = frame["high"], frame["low"], frame["close"]
    if len(frame) < max(length, 2):
        return nan
    ta = _ta()
    atr_ = ta.atr(high, low, close, length=length, prenan=True, talib=False)
    if atr_ is None or bool(atr_.isna().all()):
        return nan
    k = 100.0 / atr_
    up = high - high.shift(1)
    dn = low.shift(1) - low
    pos = (((up > dn) & (up > 0)) * up).apply(ta.zero)
    neg = (((dn > up) & (dn > 0)) * dn).apply(ta.zero)
    dmp = k * ta.rma(pos, length=length)
    dmn = k * ta.rma(neg, length=length)
    dx = 100.0 * (dmp - dmn).abs() / (dmp + dmn)
    return pd.DataFrame(
        {
            "adx": ta.rma(dx, length=length).astype("float64"),
            "dmp": dmp.astype("float64"),
            "dmn": dmn.astype("float64"),
        },
        index=frame.index,
    )


def ema(frame: pd.DataFrame, length: int, column: str = "close") -> pd.Series:
    ta = _ta()
    res = ta.ema(frame[column], length=length, talib=False)
    return _nan_series(frame) if res is None else res.astype("float64")


def atr(frame: pd.DataFrame, length: int) -> pd.Series:
    """Average true range (Wilder smoothing), in price units."""
    ta = _ta()
    res = ta.atr(frame["high"], frame["low"], frame["close"], length=length, talib=False)
    return _nan_series(frame) if res is None else res.astype("float64")


_ROWS: dict[int, dict[tuple[tuple[str, ...], int], dict[str, float]]] = {}


def row_values(frame: pd.DataFrame, columns: tuple[str, ...], i: int) -> dict[str, float]:
    """``{column: float}`` of row ``i``, read once per shared (prepared) frame: every user
    evaluating the same frame gets a copy of the same row instead of re-reading pandas."""
    rows = _ROWS.get(id(frame))
    if rows is None:
        rows = _ROWS[id(frame)] = {}
        weakref.finalize(frame, _ROWS.pop, id(frame), None)
    key = (columns, i)
    row = rows.get(key)
    if row is None:
        row = rows[key] = {c: value_at(frame, c, i) for c in columns}
    return dict(row)


def value_at(frame: pd.DataFrame, column: str, i: int) -> float:
    """``frame[column][i]`` as a Python float (NaN when missing)."""
    v = frame[column].iat[i]
    return float(v) if v is not None else float("nan")


# --- cache --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CacheKey:
    symbol: str
    timeframe: str
    indicator_key: Hashable
    last_ts: int  # ts of the newest candle
    rows: int


class IndicatorCache:
    """LRU of :class:`Prepared` frames. The engine asks once per candle close and every
    user with the same indicator key gets the same object. Thread-safe, synchronous."""

    def __init__(self, max_entries: int = 256) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self._max = max_entries
        self._items: OrderedDict[CacheKey, Prepared] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def get_or_prepare(
        self,
        symbol: str,
        timeframe: str,
        candles: pd.DataFrame,
        indicator_key: Hashable,
        prepare: Callable[[], Prepared],
    ) -> Prepared:
        """Return the cached frame for this candle set, or call ``prepare()`` and keep it.

        The candle set is identified by its newest ts and row count, so a new candle
        (or a reloaded history) computes afresh.
        """
        col = "ts" if "ts" in candles.columns else "timestamp"
        last_ts = int(candles[col].max()) if len(candles) else -1
        key = CacheKey(symbol, timeframe, indicator_key, last_ts, len(candles))
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return found
        prepared = prepare()
        with self._lock:
            self.misses += 1
            self._items[key] = prepared
            self._items.move_to_end(key)
            while len(self._items) > self._max:
                self._items.popitem(last=False)
        return prepared

    def prepare(
        self, strategy: Strategy, symbol: str, candles: pd.DataFrame, params: StrategyParams
    ) -> Prepared:
        """``strategy.prepare(candles, params)``, computed once per candle set and key."""
        return self.get_or_prepare(
            symbol,
            params.timeframe,
            candles,
            strategy.indicator_key(params),
            lambda: strategy.prepare(candles, params),
        )

    def drop_symbol(self, symbol: str) -> None:
        with self._lock:
            for key in [k for k in self._items if k.symbol == symbol]:
                del self._items[key]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
