"""Limits blind to cash flows (issue 12): a LIVE user of the real daemon on the Kraken
emulator (tests/engine/kraken_live.py) deposits or withdraws between two candle closes
(the emulator's balance changes, as the exchange's does when money moves): a deposit
does not hide a loss, a withdrawal does not pause the user for a drawdown nor block
entries for a daily loss, and a restart of the engine keeps the drawdown peak."""

from __future__ import annotations

from decimal import Decimal

from nija_tg.core.models import UserStatus
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.core.trading_gate import TradingSwitch
from nija_tg.services.trading_service import TradingService
from nija_tg.storage import cash_flows, snapshots, users
from tests.engine.kraken_live import (
    ALWAYS_IN,
    AlwaysInParams,
    KrakenLive,
    register_test_strategies,
    unregister_test_strategies,
)
from tests.engine.live_rig import until
from tests.engine.rig_fixtures import rig_fixture, strategies_fixture

UID = 81


_test_strategies = strategies_fixture(register_test_strategies, unregister_test_strategies)


rig = rig_fixture(lambda s, d, v: KrakenLive(s, d, v, UID))


def always_in(stop_pct: float = 50.0, **limits) -> RiskSettings:
    return RiskSettings(
        strategy=ALWAYS_IN,
        strategy_params=AlwaysInParams(stop_pct=stop_pct),
        allowed_pairs=("ETH",),
        trailing_stop=False,
        **limits,
    )


async def flows_of(db) -> list[Decimal]:
    return [f.amount for f in reversed(await cash_flows.recent(db, UID))]


async def test_a_withdrawal_neither_pauses_for_drawdown_nor_blocks_entries(rig, db):
    """10,000 USD, one ETH position of at most 300 USD; 6,000 USD withdrawn between two
    closes (60 % of the equity, far over the 15 % drawdown and the 150 USD daily loss):
    recorded as a withdrawal, the user stays active and nothing is blocked."""
    await rig.start(
        always_in(max_drawdown_pct=Decimal(15), daily_loss_pct=Decimal(5)), Decimal(10000)
    )
    await rig.step()
    assert set(await rig.positions()) == {"ETH/USD"}
    await rig.step()
    rig.acct.balances["USD"] -= Decimal(6000)
    await rig.step(2)
    assert (await users.get_user(db, UID)).status is UserStatus.ACTIVE
    assert await rig.outbox("drawdown") == [] and await rig.outbox("daily_loss") == []
    flows = await flows_of(db)
    assert len(flows) == 1 and flows[0] == Decimal(-6000)
    loop = rig.loop
    assert loop is not None and loop.blocked_day != loop.day
    assert loop.marks.cash_flow_today == Decimal(-6000)
    # the snapshot's start of day is the day's P&L base: its P&L is trading only
    snap = await snapshots.get(db, UID)
    assert abs(snap.equity - snap.start_of_day_equity) < Decimal(50)


async def test_a_deposit_does_not_hide_a_loss(rig, db):
    """1,000 USD; the 300 USD entry fills 5 % dearer than the close the loop sized it on:
    about 15 USD lost at once, over the 5 USD daily limit. 1,000 USD are deposited before the
    next close: the equity is up 985, but the daily loss limit is reached all the same."""
    await rig.start(
        always_in(
            10.0,
            risk_per_trade_pct=Decimal(5),
            max_drawdown_pct=Decimal(90),
            daily_loss_pct=Decimal(50),
            daily_loss_usd=Decimal(5),
        ),
        Decimal(1000),
    )
    rig.pin_prices, rig.pin_factor = True, Decimal("1.05")
    await rig.step()
    assert set(await rig.positions()) == {"ETH/USD"}
    rig.acct.balances["USD"] += Decimal(1000)
    rig.pin_factor = Decimal(1)
    await rig.step()
    (alert,) = await rig.outbox("daily_loss")
    assert "Daily loss limit reached" in alert
    (flow,) = await flows_of(db)
    assert abs(flow - Decimal(1000)) < Decimal("0.01")  # fees rounded by the exchange
    assert rig.loop.blocked_day == rig.loop.day


async def test_a_restart_keeps_the_drawdown_peak(rig, db):
    """1,000 USD, max drawdown 1 %; the 300 USD entry fills 5 % dear (about 1.5 % of the
    equity lost); the engine restarts before the next close: the new session judges the
    drawdown from the peak before the restart (the user is paused), not from the equity
    it starts with. (The engine kept the peak over a restart before, read back from the
    snapshot; now it comes from ``limit_marks``.)"""
    await rig.start(
        always_in(10.0, risk_per_trade_pct=Decimal(5), max_drawdown_pct=Decimal(1)),
        Decimal(1000),
    )
    rig.pin_prices, rig.pin_factor = True, Decimal("1.05")
    await rig.step()
    assert set(await rig.positions()) == {"ETH/USD"}
    rig.pin_factor = Decimal(1)
    await rig.restart()
    await rig.step()
    assert (await users.get_user(db, UID)).status is UserStatus.PAUSED
    assert len(await rig.outbox("drawdown")) == 1
    assert await flows_of(db) == []  # the restart saw no cash flow


async def test_trading_off_and_on_again_keeps_the_drawdown_peak(rig, db):
    """1,000 USD, max drawdown 2.5 %; an entry filled 5 % dear (about 1.5 % lost) is
    closed with /close and trading switched off (the loop ends); /trade on starts a new
    loop and session, and a second dear entry takes the drawdown from the first peak over
    2.5 %: paused. Measured from the equity of the new session it would be 1.5 %."""
    await rig.start(
        always_in(10.0, risk_per_trade_pct=Decimal(5), max_drawdown_pct=Decimal("2.5")),
        Decimal(1000),
    )
    trading = TradingService(db)
    rig.pin_prices, rig.pin_factor = True, Decimal("1.05")
    await rig.step()
    assert set(await rig.positions()) == {"ETH/USD"}
    rig.pin_factor = Decimal(1)
    rig.pin()
    assert (await trading.set_switch(UID, TradingSwitch.OFF)).ok
    assert (await trading.request_close(UID, "all")).ok
    assert await until(lambda: rig.hub.subscribers == 0, 10), "the loop did not end"
    assert await rig.positions() == {}
    assert (await users.get_user(db, UID)).status is UserStatus.ACTIVE
    assert (await trading.set_switch(UID, TradingSwitch.ON)).ok
    assert await until(lambda: rig.hub.subscribers == 1, 10), "no new loop"
    rig.pin_factor = Decimal("1.05")
    await rig.step()
    rig.pin_factor = Decimal(1)
    await rig.step()
    assert (await users.get_user(db, UID)).status is UserStatus.PAUSED
    assert len(await rig.outbox("drawdown")) == 1
