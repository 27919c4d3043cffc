"""Candle series for the benchmarks, built from the real 5m candles in tests/data.

Only three real 5m spot series exist (ETH, LTC, ADA against BTC, ~5,760 candles each, on
the same timestamps). More symbols are made from them by taking a later stretch of one
series and re-stamping it onto the common timeline, at a different price scale: real
price action, distinct per symbol.
"""

from __future__ import annotations

import pandas as pd

from nija_tg.core.models import Candle
from tests.fakes.emulator_base import scaled_candles

SOURCES = ("ETH-BTC-5m.csv", "LTC-BTC-5m.csv", "ADA-BTC-5m.csv")
TF_MS = 300_000


def series(index: int, length: int, *, stride: int = 157) -> list[Candle]:
    """Synthetic symbol number ``index``: ``length`` real 5m candles of one source from an
    offset depending on ``index``, re-stamped to start at the common first timestamp."""
    name = SOURCES[index % len(SOURCES)]
    rows = scaled_candles(name, 100_000.0 * (1 + index % 7))
    if length > len(rows):
        raise ValueError(f"at most {len(rows)} candles per series")
    span = len(rows) - length
    offset = (index // len(SOURCES)) * stride % (span + 1) if span else 0
    start_ts = int(rows[0][0])
    out = []
    for i, r in enumerate(rows[offset : offset + length]):
        out.append(Candle(start_ts + i * TF_MS, r[1], r[2], r[3], r[4], r[5]))
    return out


def frame(candles: list[Candle]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ts": [c.ts for c in candles],
            "open": [c.open for c in candles],
            "high": [c.high for c in candles],
            "low": [c.low for c in candles],
            "close": [c.close for c in candles],
            "volume": [c.volume for c in candles],
        }
    )
