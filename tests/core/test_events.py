"""The events' outbox kinds and dedupe keys are those the call sites used before the
events existed (an outbox row written before an upgrade still dedupes the same event
told after it), and the events are frozen data."""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D

import pytest

from nija_tg.core import events as ev
from nija_tg.core.errors import ErrorReason
from nija_tg.core.risk import RiskFigures

FILL = ev.Fill(
    symbol="ETH/USD", base="ETH", quote="USD", buy=True, amount=D(1), price=D(2),
    fee=D(0), mode="live", exchange_id="kraken", trade_id="TX-1", opens=True,
)  # fmt: skip


@pytest.mark.parametrize(
    "event,kind,key",
    [
        (FILL, "fill", "fill:7:kraken:TX-1"),
        (dataclasses.replace(FILL, purpose="close"), "info", "fill:7:kraken:TX-1"),
        (ev.StopHit(FILL, D(1)), "stop", "fill:7:kraken:TX-1"),
        (
            ev.ClosedOutside("ETH/USD", "long", "ETH", D(1), D(1), D(2), "external:ETH/USD:1"),
            "fill",
            "external:7:external:ETH/USD:1",
        ),
        (
            ev.StopOrderRefused("ETH/USD", ErrorReason("r"), 3),
            "error",
            "refused:7:stop_order:ETH/USD:3",
        ),
        (
            ev.ExitRefused("ETH/USD", "exit", ErrorReason("r"), 3),
            "error",
            "refused:7:close:ETH/USD:3",
        ),
        (ev.EntryRefused("ETH/USD", ErrorReason("r"), 3), "error", "refused:7:entry:ETH/USD:3"),
        (
            ev.EntryBlocked("X", "stop_beyond_liquidation", RiskFigures(), "2026-12-05"),
            "error",
            "risk:7:stop_beyond_liquidation:X:2026-12-05",
        ),
        (ev.PositionModeRefused(ErrorReason("m"), True, 12), "error", "position-mode:7:12:True"),
        (ev.CloseNothing(9, None), "info", "close:7:9"),
        (ev.CloseExpired(9, None, 1.0), "info", "close:7:9"),
        (ev.DailyLossLimit(D(1), D(1), "2026-12-05"), "daily_loss", "daily_loss:7:2026-12-05"),
        (ev.DailySummary("2026-12-04", D(0), D(0), ()), "summary", "summary:7:2026-12-04"),
        (ev.DrawdownPaused(D(1), D(1)), "drawdown", None),
        (ev.KeyDead("kraken"), "connection", None),
        (ev.PausedByAdmin("r"), "pause", None),
        (ev.Halted(True), "halt", None),
        (ev.Broadcast("b"), "broadcast", None),
    ],
)
def test_kind_and_dedupe_key_as_before(event, kind, key):
    assert event.kind == kind
    assert event.dedupe_key(7) == key


def test_events_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        FILL.amount = D(2)  # type: ignore[misc]
