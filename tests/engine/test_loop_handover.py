"""A user's next loop starts only once their previous loop, and the step it was running,
have finished (engine/daemon.py): stop and start trading while an order of the loop is
in flight, and the exchange sees nothing of a second loop until that order's answer
came back and was recorded; nothing of it is lost (the order, its fill, the position,
the session's trade counters).

The real daemon trades a LIVE user on the Kraken emulator (tests/engine/kraken_live.py);
the emulator holds the answer of one AddOrder (the order is placed, its answer waits
until the test lets it go): the loop's step is slow at the boundary, as a slow venue
makes it. The loop's drain time (0.3 s) is shorter than the hold, so the loop itself
ends (its session closed) while its step still waits for the answer."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from nija_tg.core.models import TradingMode
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.storage import users
from tests.engine.kraken_live import (
    ALWAYS_IN,
    TF,
    AlwaysInParams,
    KrakenLive,
    register_test_strategies,
    unregister_test_strategies,
)
from tests.engine.live_child import FLIPFLOP, FlipFlopParams
from tests.engine.live_rig import live_gateway, start_live_daemon, until
from tests.engine.rig_fixtures import strategies_fixture
from tests.fakes.kraken import KrakenEmulator

UID = 73
DRAIN_S = 0.3  # shorter than the hold: the loop's own wait for its step gives up
HOLD_S = 1.0  # how long the answer is held once trading is back on

_test_strategies = strategies_fixture(register_test_strategies, unregister_test_strategies)


class HeldKraken(KrakenEmulator):
    """The Kraken emulator whose next AddOrder answer can be held: the order is placed
    (and filled, for a market order) as usual, the answer waits for ``release``. Every
    private request that arrives meanwhile is kept in ``during_hold``."""

    def __init__(self) -> None:
        super().__init__()
        self.hold_next_order = False
        self.holding = asyncio.Event()
        self.release = asyncio.Event()
        self.during_hold: list[str] = []

    async def _private(self, request):
        method = request.match_info["method"]
        if self.holding.is_set() and not self.release.is_set():
            self.during_hold.append(method)
        response = await super()._private(request)
        if method == "AddOrder" and self.hold_next_order:
            self.hold_next_order = False
            self.holding.set()
            await self.release.wait()
        return response


class HeldKrakenLive(KrakenLive):
    """The rig on ``HeldKraken``, its gateway waiting up to 5 s for an answer (longer
    than the hold: the held order's outcome is its answer, not a look-up)."""

    async def _run(self) -> None:
        self.gateway = live_gateway("kraken", self.emu.base_url, 5000)
        self.stop_event = asyncio.Event()
        self.hub, self.daemon, self.task = start_live_daemon(
            self.runtime, self.gateway, self.clock, self.stop_event
        )
        self.daemon.deps.executor_factory = self.executor_factory
        assert await until(lambda: self.hub.subscribers == 1), "the user's loop did not start"


@pytest.fixture
def drain_s() -> float:
    return DRAIN_S


@pytest.fixture
async def rig(settings, db, vault, drain_s):
    r = HeldKrakenLive(settings, db, vault, UID, drain_s=drain_s)
    r.emu = HeldKraken()
    r.emu.clock_ms = r.clock.now_ms
    yield r
    r.emu.release.set()
    await r.close()


def risk(strategy: str, params) -> RiskSettings:
    return RiskSettings(
        strategy=strategy,
        strategy_params=params,
        allowed_pairs=("ETH",),
        max_drawdown_pct=Decimal(90),
        daily_loss_pct=Decimal(50),
        daily_loss_usd=Decimal(100000),
    )


async def set_trading(rig: KrakenLive, on: bool) -> None:
    """/trade off with /mode paper (a live position no longer keeps the loop), or back:
    /mode live with /trade on."""
    async with rig.db.transaction() as tx:
        await users.set_mode(tx, UID, TradingMode.LIVE if on else TradingMode.PAPER)
        await users.set_trading(tx, UID, on)


async def stop_and_start_while_held(rig: KrakenLive) -> None:
    """The next candle's order is held at the exchange; meanwhile the user's trading is
    switched off (the reconciler cancels the loop) and on again (it wants a loop)."""
    emu: HeldKraken = rig.emu
    emu.hold_next_order = True
    assert await until(lambda: rig.hub.waiting_for is not None)
    rig.clock.set(rig.clock.now_ms() + TF)
    assert await until(emu.holding.is_set, 10), "no order went out"
    reconciler = rig.daemon.reconciler
    old, old_loop = reconciler.slots[UID].task, rig.loop
    assert old is not None and old_loop is not None
    await set_trading(rig, False)
    assert await until(lambda: old.done() or old.cancelling() > 0, 5), "the loop was not stopped"
    await asyncio.sleep(0.5)  # time for the loop to end, were it let go at once
    await set_trading(rig, True)
    assert await until(lambda: UID in reconciler.desired, 5)
    await asyncio.sleep(HOLD_S)  # time for a second loop to start and reach the exchange
    emu.release.set()
    # the held step ends, then the next loop starts and subscribes
    assert await until(lambda: rig.loop not in (None, old_loop) and rig.hub.subscribers == 1, 10)
    assert await until(lambda: rig.loop.executor is not None, 10)


@pytest.mark.parametrize("drain_s", [DRAIN_S, 4.0])
async def test_exit_in_flight_is_recorded_once_and_the_next_loop_waits_for_it(rig, drain_s):
    """Enter on one candle, exit on the next: the exit's answer is held while the user
    stops and starts trading. The next loop starts only after the exit was recorded:
    one exit order, its fill, no position, one trade counted in the session it closed.
    With a drain time longer than the hold (4 s) the loop itself waits for its step
    before it closes its session (the reconciler's repeated cancels do not cut that
    wait short); with a shorter one (0.3 s) the session is closed first, and the daemon
    still waits for the step before the next loop starts."""
    await rig.start(risk(FLIPFLOP, FlipFlopParams(period=2, phase=0, stop_pct=3.0)))
    for _ in range(4):
        await rig.step()
        if "ETH/USD" in await rig.positions():
            break
    assert "ETH/USD" in await rig.positions(), "no entry"
    first_session = (await rig.db.fetchone("SELECT MAX(session_id) AS s FROM trading_sessions"))[
        "s"
    ]
    await stop_and_start_while_held(rig)

    assert rig.emu.during_hold == []  # nothing reached the exchange from a second loop
    market = rig.exchange_orders()
    assert [o.side for o in market] == ["buy", "sell"]
    assert all(o.status == "closed" for o in market)
    orders = await rig.orders()
    assert [(o["purpose"], o["status"]) for o in orders] == [
        ("entry", "filled"),
        ("exit", "filled"),
    ]
    exit_order = orders[1]
    assert exit_order["session_id"] == first_session
    assert Decimal(exit_order["filled"]) == market[1].filled
    fills = await rig.db.fetchall(
        "SELECT * FROM fills WHERE order_id = ? ORDER BY fill_id", (exit_order["order_id"],)
    )
    assert len(fills) == 1 and Decimal(fills[0]["amount"]) == market[1].filled
    assert await rig.positions() == {}
    assert rig.emu.ledger.accounts[rig.acct.api_key].balances.get("ETH", Decimal(0)) == 0
    sessions = await rig.db.fetchall(
        "SELECT * FROM trading_sessions WHERE user_id = ? ORDER BY session_id", (UID,)
    )
    by_id = {s["session_id"]: s for s in sessions}
    closed = by_id[first_session]
    assert closed["status"] == "stopped"
    waits = rig.daemon.step_waits
    if drain_s > HOLD_S + 1.0:
        assert closed["ended_at"] >= exit_order["updated_at"]  # closed after the exit
        assert waits.warnings == 0  # the loop itself waited for its step
    else:
        assert closed["ended_at"] < exit_order["updated_at"]  # the drain time ran out
        assert waits.warnings >= 1  # the daemon waited for the step, and said so
    assert waits.waiting == 0
    assert (closed["trades"], closed["wins"] + closed["losses"]) == (1, 1)
    assert Decimal(closed["pnl"]) == Decimal(fills[0]["realized_pnl"])
    assert sum(s["trades"] for s in sessions) == 1
    assert [s["status"] for s in sessions][-1] == "running"  # the next loop's session
    assert "crashed" not in [s["status"] for s in sessions]
    # the next loop trades on: its first entry
    for _ in range(3):
        await rig.step()
    assert "ETH/USD" in await rig.positions()


async def test_entry_in_flight_is_recorded_once_and_the_next_loop_waits_for_it(rig):
    """A flat user's entry is in flight while the user stops and starts trading: the
    next loop starts only after the entry was recorded; it adopts the position (one
    order, one fill, the position the exchange holds) and sends no second entry."""
    await rig.start(risk(ALWAYS_IN, AlwaysInParams(stop_pct=50.0)))
    await stop_and_start_while_held(rig)

    assert rig.emu.during_hold == []
    market = rig.exchange_orders()
    assert [o.side for o in market] == ["buy"] and market[0].status == "closed"
    orders = await rig.orders()
    assert [(o["purpose"], o["status"]) for o in orders] == [("entry", "filled")]
    fills = await rig.db.fetchall("SELECT * FROM fills WHERE user_id = ?", (UID,))
    assert len(fills) == 1 and Decimal(fills[0]["amount"]) == market[0].filled
    held = rig.emu.ledger.accounts[rig.acct.api_key].balances["ETH"]
    assert (await rig.positions())["ETH/USD"].amount == held
    await rig.step()
    assert [o.side for o in rig.exchange_orders()] == ["buy"]  # no second entry
