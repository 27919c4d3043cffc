"""Equity chart as PNG bytes (matplotlib, Agg backend).

Uses ``Figure`` with the Agg canvas directly, never pyplot: no global figure state,
so charts can be rendered in worker threads (``asyncio.to_thread``) side by side.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import matplotlib

matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from nija_tg.core.number_format import money  # noqa: E402

LINE = "#1f77b4"
UP = "#2ca02c"
DOWN = "#d62728"
SIZE_INCHES = (8.0, 4.5)
DPI = 100
MAX_POINTS = 2000


def _clean(points: Sequence[tuple[float, Decimal]]) -> list[tuple[datetime, float]]:
    """Finite points, oldest first, as (UTC datetime, float)."""
    out = []
    for ts, value in points:
        number = float(value)
        if math.isfinite(number) and math.isfinite(ts):
            out.append((datetime.fromtimestamp(ts, tz=UTC), number))
    out.sort(key=lambda p: p[0])
    if len(out) > MAX_POINTS:  # thin evenly; always keep the newest point
        step = len(out) / MAX_POINTS
        out = [out[int(i * step)] for i in range(MAX_POINTS - 1)] + [out[-1]]
    return out


def _money(value: float, _pos: object = None) -> str:
    """An axis tick in the one money format (matplotlib hands floats)."""
    return money(Decimal(str(float(value))))


def render_equity_chart(points: Sequence[tuple[float, Decimal]], title: str = "Equity") -> bytes:
    """PNG of the equity series ``points`` ((epoch seconds, equity), any order).
    Raises ValueError when there is no finite point to draw."""
    data = _clean(points)
    if not data:
        raise ValueError("no equity points to draw")
    times = [t for t, _ in data]
    values = [v for _, v in data]
    fig = Figure(figsize=SIZE_INCHES, dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    colour = UP if values[-1] >= values[0] else DOWN
    if len(data) == 1:
        ax.plot(times, values, marker="o", color=LINE)
    else:
        ax.plot(times, values, color=LINE, linewidth=1.6)
        base = min(values)
        ax.fill_between(times, values, base, color=colour, alpha=0.12)
    low, high = min(values), max(values)
    pad = (high - low) * 0.08 or max(abs(high) * 0.01, 1.0)
    ax.set_ylim(low - pad, high + pad)
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.yaxis.set_major_formatter(FuncFormatter(_money))
    ax.grid(True, alpha=0.3)
    change = values[-1] - values[0]
    last, moved = _money(values[-1]), money(Decimal(str(float(change))), signed=True)
    ax.set_title(f"{title}   last {last}   change {moved}", fontsize=11)
    ax.set_xlabel("UTC")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
