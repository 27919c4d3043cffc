"""The equity chart renders real PNGs for ordinary and awkward series."""

from __future__ import annotations

import asyncio
import struct
from decimal import Decimal

import pytest

from nija_tg.services.charts import render_equity_chart

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
T0 = 1_709_726_400.0  # 2024-03-06 12:00 UTC


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_MAGIC and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_week_of_points_is_a_png():
    points = [(T0 + i * 3600, Decimal(10000) + Decimal(i % 17) * 3) for i in range(168)]
    data = render_equity_chart(points, "Equity — this week")
    width, height = png_size(data)
    assert (width, height) == (800, 450)
    assert len(data) > 5000


@pytest.mark.parametrize(
    "points",
    [
        [(T0, Decimal("12345.67"))],  # one point
        [(T0, Decimal(100)), (T0 + 60, Decimal(100))],  # flat line
        [(T0 + 60, Decimal(5)), (T0, Decimal(7))],  # out of order
        [(T0, Decimal("1e15")), (T0 + 60, Decimal("2e15"))],  # huge
        [(T0, Decimal("-50")), (T0 + 60, Decimal("0.0001"))],  # negative and tiny
        [(T0, Decimal("NaN")), (T0 + 60, Decimal(3)), (T0 + 120, Decimal("Infinity"))],
    ],
)
def test_awkward_series(points):
    assert png_size(render_equity_chart(points))[0] == 800


def test_many_points_are_thinned():
    points = [(T0 + i, Decimal(i)) for i in range(20_000)]
    assert png_size(render_equity_chart(points))[0] == 800


def test_nothing_to_draw():
    with pytest.raises(ValueError):
        render_equity_chart([])
    with pytest.raises(ValueError):
        render_equity_chart([(T0, Decimal("NaN"))])


async def test_renders_in_parallel_threads():
    series = [[(T0 + i * 60, Decimal(100 + i * k)) for i in range(50)] for k in range(1, 5)]
    results = await asyncio.gather(
        *(asyncio.to_thread(render_equity_chart, s, f"chart {n}") for n, s in enumerate(series))
    )
    assert len({bytes(r) for r in results}) == 4
    assert all(r[:8] == PNG_MAGIC for r in results)
