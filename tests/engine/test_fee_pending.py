"""Issue 12 "fees not yet known are not booked as zero": a filled order whose answer
carries no fee (``OrderState.fee_known`` False, even after the adapter re-read it) is
left open for the executor's next look-up instead of being booked with fee 0; after
``FEE_WAITS`` such reads it is booked with the fee reported, so a venue that never
reports fees cannot block the loop.

The real daemon trades a LIVE user on the Kraken emulator (tests/engine/kraken_live.py).
The executor is the real one, except that the answers to the order it sends (not its
later look-ups) come back as a venue that reports no fee there: fee 0, fee unknown, no
trades (``FeelessAnswers``); ``always`` makes every look-up answer so too."""

from __future__ import annotations

import functools
from dataclasses import replace
from decimal import Decimal

from nija_tg.core.risk_settings import RiskSettings
from nija_tg.engine.execution import FEE_WAITS, Executor
from tests.engine.kraken_live import (
    ALWAYS_IN,
    AlwaysInParams,
    KrakenLive,
    register_test_strategies,
    unregister_test_strategies,
)
from tests.engine.rig_fixtures import strategies_fixture

UID = 73


def feeless(state):
    return replace(state, fee=Decimal(0), fee_known=state.filled <= 0, fills=())


class FeelessAnswers(Executor):
    def __init__(self, *args, always: bool = False, **kw) -> None:
        super().__init__(*args, **kw)
        self.always = always

    async def _send(self, request):
        return feeless(await super()._send(request))

    async def _lookup(self, order, attempts):
        state, answered = await super()._lookup(order, attempts)
        if self.always and state is not None:
            state = feeless(state)
        return state, answered


_test_strategies = strategies_fixture(register_test_strategies, unregister_test_strategies)


def risk() -> RiskSettings:
    return RiskSettings(
        strategy=ALWAYS_IN,
        strategy_params=AlwaysInParams(stop_pct=50.0),
        allowed_pairs=("ETH",),
        max_drawdown_pct=Decimal(90),
        daily_loss_pct=Decimal(50),
        daily_loss_usd=Decimal(100000),
        trailing_stop=False,
    )


async def make_rig(settings, db, vault, always: bool) -> KrakenLive:
    r = KrakenLive(settings, db, vault, UID)
    r.executor_factory = functools.partial(
        FeelessAnswers, always=always, lookup_attempts=3, lookup_backoff=0.05
    )
    await r.start(risk())
    return r


async def entry_fills(rig: KrakenLive) -> list:
    return await rig.db.fetchall(
        "SELECT f.* FROM fills f JOIN orders o ON o.order_id = f.order_id "
        "WHERE f.user_id = ? AND o.side = 'buy' AND o.trigger_price IS NULL",
        (UID,),
    )


async def test_a_fill_without_its_fee_waits_for_the_look_up_that_has_it(settings, db, vault):
    rig = await make_rig(settings, db, vault, always=False)
    try:
        await rig.step()  # the entry fills; its answer has no fee: nothing booked yet
        (buy,) = [o for o in rig.exchange_orders() if o.side == "buy"]
        assert buy.status == "closed" and buy.fee > 0
        assert await entry_fills(rig) == [], "a fill without its fee is not booked as free"
        await rig.step()  # the executor's look-up reads the fee
        fills = await entry_fills(rig)
        fee = sum(Decimal(f["fee"]) for f in fills)
        assert fills and fee > 0 and abs(fee - buy.fee) < Decimal("0.0001")  # as reported
        assert "ETH/USD" in await rig.positions()
    finally:
        await rig.close()


async def test_a_venue_that_never_reports_the_fee_does_not_hold_the_order_for_good(
    settings, db, vault
):
    rig = await make_rig(settings, db, vault, always=True)
    try:
        await rig.step(FEE_WAITS + 2)
        fills = await entry_fills(rig)
        assert fills and all(Decimal(f["fee"]) == 0 for f in fills)  # booked in the end
        assert "ETH/USD" in await rig.positions()
        rows = [r for r in await rig.orders() if r["side"] == "buy"]
        assert rows and rows[0]["status"] == "filled"
    finally:
        await rig.close()
