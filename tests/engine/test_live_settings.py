"""Issue 12 item 1: settings reach a running loop. A user's /set and an admin's /bound
hold from the loop's next decision, not from the next restart of the engine.

The real daemon trades a LIVE user on the Kraken emulator (tests/engine/kraken_live.py);
the settings are changed through the services the bot's commands call
(``SettingsService.set_value`` for /set, ``BoundsService.set_from_text`` for /bound),
while the loop runs."""

from __future__ import annotations

from decimal import Decimal

from nija_tg.core.models import Role
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.services.bounds_service import BoundsService
from nija_tg.services.settings_service import SettingsService
from nija_tg.storage import settings_repo, users
from tests.engine.kraken_live import (
    ALWAYS_IN,
    AlwaysInParams,
    KrakenLive,
    register_test_strategies,
    unregister_test_strategies,
)
from tests.engine.live_child import FLIPFLOP, FlipFlopParams
from tests.engine.rig_fixtures import rig_fixture, strategies_fixture

UID = 61
ADMIN = 62


_test_strategies = strategies_fixture(register_test_strategies, unregister_test_strategies)


rig = rig_fixture(lambda s, d, v: KrakenLive(s, d, v, UID))


async def add_admin(db) -> None:
    async with db.transaction() as tx:
        await users.upsert_user(tx, ADMIN, 9062, "admin", None, Role.ADMIN)


async def next_buy(rig: KrakenLive, after: int, candles: int = 6):
    """Step until an entry order newer than order id ``after`` filled; that row."""
    for _ in range(candles):
        await rig.step()
        buys = [
            r
            for r in await rig.orders()
            if r["order_id"] > after and r["side"] == "buy" and r["status"] == "filled"
        ]
        if buys:
            return buys[0]
    raise AssertionError("no entry filled")


def notional(row) -> Decimal:
    return Decimal(row["filled"]) * Decimal(row["average"])


async def test_admin_bound_lowered_holds_for_the_very_next_entry(rig, db):
    """An entry every other candle, sized to the 300 USD cap; the admin bounds the user's
    max position to 50 USD while the loop runs: the next entry is at most 50 USD."""
    risk = RiskSettings(
        strategy=FLIPFLOP,
        strategy_params=FlipFlopParams(period=2, phase=0, stop_pct=0.2),
        allowed_pairs=("ETH",),
        max_drawdown_pct=Decimal(90),
        daily_loss_pct=Decimal(50),
        daily_loss_usd=Decimal(100000),
    )
    rig.pin_prices = True  # fills at the close the loop sized the order with
    await rig.start(risk)
    first = await next_buy(rig, 0)
    assert Decimal(250) < notional(first) <= Decimal(300)
    await add_admin(db)
    change = await BoundsService(db).set_from_text(ADMIN, UID, "max_position_usd", "..50")
    assert change.clamped[UID]  # the user is told "300 → 50"
    assert (await settings_repo.load(db, UID)).max_position_usd == Decimal(50)
    assert UID in rig.daemon.loops  # the same loop, not restarted
    loop = rig.loop
    second = await next_buy(rig, first["order_id"])
    assert rig.loop is loop
    assert notional(second) <= Decimal(50), notional(second)
    assert loop.settings.max_position_usd == Decimal(50)


async def test_max_open_positions_raised_opens_the_refused_entry_on_the_next_signal(rig, db):
    """Two pairs, both signalling an entry on every candle while flat; max one position:
    SOL is refused candle after candle. /set max_open_positions 2 while the loop runs:
    the next candle opens SOL."""
    risk = RiskSettings(
        strategy=ALWAYS_IN,
        strategy_params=AlwaysInParams(stop_pct=50.0),
        allowed_pairs=("ETH", "SOL"),
        max_open_positions=1,
        trailing_stop=False,
        max_drawdown_pct=Decimal(90),
        daily_loss_pct=Decimal(50),
        daily_loss_usd=Decimal(100000),
    )
    await rig.start(risk)
    await rig.step(3)
    assert set(await rig.positions()) == {"ETH/USD"}
    loop = rig.loop
    refused = loop.refusals["max_open_positions"]
    assert refused >= 2  # SOL, on every candle
    change = await SettingsService(db).set_value(UID, "max_open_positions", "2")
    assert (change.old, change.new) == (1, 2)  # the user is answered "1 -> 2" (as stored)
    await rig.step()
    assert set(await rig.positions()) == {"ETH/USD", "SOL/USD"}
    assert rig.loop is loop and loop.settings.max_open_positions == 2
    assert loop.refusals["max_open_positions"] == refused


async def test_settings_changes_cost_one_query_per_close_for_everyone(rig, db):
    """The watch reads the changed users once per close (not once per user), and a
    change of another user's settings does not make this loop reload."""
    risk = RiskSettings(
        strategy=ALWAYS_IN,
        strategy_params=AlwaysInParams(stop_pct=50.0),
        allowed_pairs=("ETH",),
        trailing_stop=False,
    )
    await rig.start(risk)
    await add_admin(db)
    await rig.step(2)
    watch = rig.daemon.deps.settings_watch
    loop = rig.loop
    queries, version = watch.queries, loop.settings_version
    await SettingsService(db).set_value(ADMIN, "max_open_positions", "3")  # someone else
    await rig.step(2)
    assert watch.queries == queries + 2
    assert loop.settings_version == version  # nothing of this user's changed
    await SettingsService(db).set_value(UID, "risk_per_trade_pct", "1")
    await rig.step()
    assert loop.settings_version > version
    assert loop.settings.risk_per_trade_pct == Decimal(1)


async def test_pairs_changed_while_running_move_the_loop_to_the_new_markets(rig, db):
    """/pairs add SOL: the running loop follows SOL/USD from the next close and enters
    it; /pairs remove ETH with an ETH position open: no new ETH entries, but the loop
    keeps managing the position it holds (its stop rests on the exchange)."""
    risk = RiskSettings(
        strategy=ALWAYS_IN,
        strategy_params=AlwaysInParams(stop_pct=50.0),
        allowed_pairs=("ETH",),
        trailing_stop=False,
        max_drawdown_pct=Decimal(90),
        daily_loss_pct=Decimal(50),
        daily_loss_usd=Decimal(100000),
    )
    await rig.start(risk)
    await rig.step()
    assert set(await rig.positions()) == {"ETH/USD"}
    loop = rig.loop
    await SettingsService(db).edit_pairs(UID, "add", ["SOL"])
    edit = await SettingsService(db).edit_pairs(UID, "remove", ["ETH"])
    assert edit.pairs == ("SOL",)
    await rig.step(2)  # the close that reloads, then the first close of SOL/USD
    assert rig.loop is loop
    assert {k.symbol for k in loop.keys} == {"ETH/USD", "SOL/USD"}  # ETH: held, managed
    assert set(await rig.positions()) == {"ETH/USD", "SOL/USD"}
    assert len(rig.exchange_orders(stops=True)) >= 2  # each position's stop on Kraken
