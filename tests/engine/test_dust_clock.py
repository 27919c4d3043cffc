"""A pseudo-fill the loop books itself (dust too small to sell, a position closed
outside the bot) is stamped with the loop's clock, not the wall clock: a replay or a
backtest over history books the same fills, at the simulated time of the candle, on
every run. The real daemon runs against the Kraken emulator on a paced simulated clock
(``StopRig``), whose time is years before the wall clock."""

from __future__ import annotations

import time
from decimal import Decimal

from nija_tg.storage import positions
from tests.engine.live_child import FLIPFLOP
from tests.engine.rig_fixtures import rig_fixture, strategies_fixture
from tests.engine.test_exchange_stops import SYMBOL, UID, StopRig

_drop_test_strategy = strategies_fixture(None, None, FLIPFLOP)

rig = rig_fixture(StopRig)


async def test_dust_is_booked_at_the_loops_clock_time_of_the_close(rig):
    await rig.start(period=4, trailing_stop=False)
    dust = Decimal("0.0005")  # below Kraken's ETH minimum (0.002): cannot be sold
    rig.acct.balances["ETH"] = dust
    async with rig.db.transaction() as tx:
        await positions.upsert(
            tx,
            UID,
            SYMBOL,
            "long",
            amount=dust,
            entry_price=Decimal(2000),
            entry_fees=Decimal(0),
            realized_pnl=Decimal(0),
        )
    await rig.step(3)  # the exit at slot 2 (the third close) finds dust
    closed_at = rig.clock.now_ms()  # the clock stands still between closes
    assert closed_at < (time.time() - 86400) * 1000, "the rig's clock is simulated history"
    row = await rig.db.fetchone(
        "SELECT trade_id, ts FROM fills WHERE user_id = ? AND trade_id LIKE 'dust:%'", (UID,)
    )
    assert row is not None
    assert round(row["ts"] * 1000) == closed_at
    assert row["trade_id"] == f"dust:{SYMBOL}:long:{closed_at}"
    assert await rig.position() is None
