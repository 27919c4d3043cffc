"""Real 5m candles for the exchange emulators: rows ``[ts_ms, open, high, low, close,
volume]`` read from ``tests/data/*.csv`` (once per session) and bucketing helpers."""

from __future__ import annotations

import csv
import functools
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def load_candles(name: str, scale: float = 1.0) -> list[list[float]]:
    """Rows ``[ts_ms, open, high, low, close, volume]`` from ``tests/data/<name>``."""
    rows = []
    with open(DATA_DIR / name, newline="") as fh:
        for rec in csv.DictReader(fh):
            prices = [float(rec[k]) * scale for k in ("open", "high", "low", "close")]
            rows.append([int(rec["timestamp"]), *prices, float(rec["volume"])])
    return rows


@functools.cache
def _raw_candles(name: str) -> tuple[tuple[float, ...], ...]:
    """Unscaled rows of one CSV, read once per test session."""
    return tuple(tuple(row) for row in load_candles(name))


def scaled_candles(name: str, scale: float) -> list[list[float]]:
    """The rows of ``load_candles(name, scale)``, from a CSV read once per session."""
    return [[r[0], *(x * scale for x in r[1:5]), r[5]] for r in _raw_candles(name)]


def aggregate_candles(rows: list[list[float]], width_ms: int) -> list[list]:
    """Rows in time order as UTC-aligned ``width_ms`` bars ``[start, o, h, l, c, v, count]``."""
    out: list[list] = []
    for ts, o, h, low, c, v in rows:
        start = int(ts) - int(ts) % width_ms
        if out and out[-1][0] == start:
            bar = out[-1]
            bar[2], bar[3], bar[4] = max(bar[2], h), min(bar[3], low), c
            bar[5] += v
            bar[6] += 1
        else:
            out.append([start, o, h, low, c, v, 1])
    return out
