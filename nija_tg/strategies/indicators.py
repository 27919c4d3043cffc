"""Indicator computation over candle frames (pandas-ta), with stable column names, and a
small in-memory cache of prepared frames keyed by (symbol, timeframe, indicator key).

pandas-ta names its outputs after the parameters (``ADX_14``, ``DMP_14``, ``DMN_14``,
``EMA_50``, ``ATRr_14`` in 0.4.71b0) and returns ``None`` when there are too few rows;
the helpers here hide both: they always return float Series aligned with the input,
NaN where not yet defined.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandas_ta as ta

from nija_tg.strategies.base import Prepared, Strategy, StrategyParams


def _nan_series(frame: pd.DataFrame) -> pd.Series:
    return pd.Series(np.nan, index=frame.index, dtype="float64")


def _pick(result: pd.DataFrame | None, prefix: str, frame: pd.DataFrame) -> pd.Series:
    if result is None:
        return _nan_series(frame)
    for col in result.columns:
        if str(col).split("_", 1)[0] == prefix:
            return result[col].astype("float64")
    raise KeyError(f"pandas-ta result lacks a {prefix}_* column: {list(result.columns)}")


def adx(frame: pd.DataFrame, length: int) -> pd.DataFrame:
    """ADX with +DI / -DI: columns ``adx``, ``dmp``, ``dmn`` (0..100)."""
    res = ta.adx(frame["high"], frame["low"], frame["close"], length=length)
    return pd.DataFrame(
        {
            "adx": _pick(res, "ADX", frame),
            "dmp": _pick(res, "DMP", frame),
            "dmn": _pick(res, "DMN", frame),
        },
        index=frame.index,
    )


def ema(frame: pd.DataFrame, length: int, column: str = "close") -> pd.Series:
    res = ta.ema(frame[column], length=length)
    return _nan_series(frame) if res is None else res.astype("float64")


def atr(frame: pd.DataFrame, length: int) -> pd.Series:
    """Average true range (Wilder smoothing), in price units."""
    res = ta.atr(frame["high"], frame["low"], frame["close"], length=length)
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
