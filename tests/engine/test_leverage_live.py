"""Leverage bounded by default at the NIJA seed's 5x, live (issue 12): a LIVE user of the
real daemon on the BingX emulator stores leverage_cap 8; without an admin bound the
engine trades at 5x (exchange leverage and entry size); an admin's ``/bound leverage_cap
..10`` lets the running loop use 8x from its next entry; lifting the bound brings it back
to 5x for the entry after that. Entries are sized by the leverage cap (10 % risk at a
1 % stop would be 10x the equity)."""

from __future__ import annotations

from decimal import Decimal

from nija_tg.core.events import SettingChange
from nija_tg.core.models import Role
from nija_tg.services.bounds_service import BoundsService
from nija_tg.storage import users
from tests.engine.rig_fixtures import rig_fixture, strategies_fixture
from tests.engine.swap_support import SWAPFLIP, SwapFlipParams, SwapRig, SwapUser, swap_settings
from tests.engine.test_swap_live import ONE_WAY, Tracker

ADMIN = 90
ETH = "ETH/USDT:USDT"


_drop_test_strategy = strategies_fixture(None, None, SWAPFLIP)


rig = rig_fixture(SwapRig)


async def next_entry(rig: SwapRig, track: Tracker, uid: int) -> tuple[Decimal, Decimal]:
    """Step until a new entry; (its notional / the equity it was sized on, the
    exchange's leverage for ETH then)."""
    seen = len(track.entries[uid])
    for _ in range(6):
        await rig.step(1, track)
        if len(track.entries[uid]) > seen:
            order, equity = track.entries[uid][-1]
            u = rig.users[uid]
            lev = rig.emu.ledger.leverage[(u.acct.api_key, ETH)]
            return order.amount * order.avg_price / equity, Decimal(max(lev.values()))
    raise AssertionError("no entry")


async def test_leverage_above_5x_only_while_an_admin_bound_allows_it(rig, db):
    u = SwapUser(
        ONE_WAY,
        swap_settings(
            leverage_cap=8,  # stored; 5x applies until an admin allows more
            max_position_usd=Decimal(100000),
            risk_per_trade_pct=Decimal(10),
            strategy_params=SwapFlipParams(stop_pct=1.0),
        ),
    )
    async with db.transaction() as tx:
        await users.upsert_user(tx, ADMIN, ADMIN, None, None, Role.ADMIN)
    await rig.start(u)
    track = Tracker(rig)
    ratio, lev = await next_entry(rig, track, u.uid)
    assert lev == 5 and Decimal("4.9") < ratio <= 5

    await BoundsService(db).set_from_text(ADMIN, None, "leverage_cap", "..10")
    ratio, lev = await next_entry(rig, track, u.uid)
    assert lev == 8 and Decimal("7.9") < ratio <= 8

    change = await BoundsService(db).set_from_text(ADMIN, None, "leverage_cap", "off")
    assert change.clamped == {u.uid: [SettingChange("leverage_cap", ("8",), ("5",))]}
    ratio, lev = await next_entry(rig, track, u.uid)
    assert lev == 5 and Decimal("4.9") < ratio <= 5
