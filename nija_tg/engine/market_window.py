"""The pieces of market data the hub keeps per market: its key, the rolling window of
closed candles (as the strategies' frame when one is asked for), the strategies'
indicators advanced with it, and the signals of its latest candle."""

from __future__ import annotations

import functools
import re
from collections import deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

import numpy as np
import pandas as pd

from nija_tg.core.models import Candle
from nija_tg.strategies import Signal
from nija_tg.strategies.rolling import RollingIndicators

_UNITS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}


def timeframe_ms(timeframe: str) -> int:
    """``"5m"`` -> 300000. Minutes, hours and days."""
    m = re.fullmatch(r"(\d+)([mhd])", timeframe.strip())
    if not m or int(m.group(1)) <= 0:
        raise ValueError(f"unsupported timeframe {timeframe!r}")
    return int(m.group(1)) * _UNITS[m.group(2)]


def candle_frame(candles: Sequence[Candle]) -> pd.DataFrame:
    """Candles (sorted, unique) as the strategies' frame: ts int64, prices float64."""
    n = len(candles)
    cols: dict[str, np.ndarray] = {"ts": np.fromiter((c.ts for c in candles), np.int64, n)}
    for name in ("open", "high", "low", "close", "volume"):
        cols[name] = np.fromiter((getattr(c, name) for c in candles), np.float64, n)
    return pd.DataFrame(cols)


class MarketKey(NamedTuple):
    exchange: str
    symbol: str
    timeframe: str


@dataclass(frozen=True, eq=False)
class ClosedCandles:
    """The rolling window of closed candles of one market, oldest first."""

    key: MarketKey
    candles: tuple[Candle, ...]
    closed_at: int  # boundary (ms) at which the newest candle closed

    @functools.cached_property
    def frame(self) -> pd.DataFrame:
        """ts, open, high, low, close, volume: built when first asked for (the signals
        come from the indicators advanced with the window, ``KeyState.rolling``)."""
        return candle_frame(self.candles)

    @functools.cached_property
    def last(self) -> Candle:
        c = self.candles[-1]
        return Candle(
            int(c.ts), *(float(getattr(c, n)) for n in ("open", "high", "low", "close", "volume"))
        )

    @functools.cached_property
    def last_close(self) -> Decimal:
        return Decimal(str(self.last.close))


@dataclass
class KeyState:
    candles: deque[Candle]
    last_ts: int | None = None
    closed: ClosedCandles | None = None
    updated_at: int = -1  # boundary of the last update
    appended: int = 0  # candles appended to ``candles`` since it began
    # indicators of the window by (strategy, indicator key), advanced once per close
    # (None: the strategy has none, its frame is prepared on every close)
    rolling: dict[Hashable, RollingIndicators | None] = field(default_factory=dict)
    # signals of the latest closed candle, by (strategy, params, position, allow_short)
    signals: dict[tuple, Signal] = field(default_factory=dict)
