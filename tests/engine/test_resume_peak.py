"""A drawdown peak stored by an earlier session must not pause a user the engine starts
after they were resumed. A running loop that sees its user resumed (/trade on after a
drawdown pause, an admin's /resume) measures the drawdown from the equity then; a user
resumed while no loop ran (the loop had ended: paused with nothing to protect, or a
dead key) got the stored peak back at the next start: the peak they were paused at, or
one raised while paused (after a drawdown pause the peak restarts from the next close's
equity), and the first close paused them again for the same fall.

The real daemon runs against the Kraken emulator (``StopRig``); the earlier session and
the account's stored marks are arranged in the database before the engine starts."""

from __future__ import annotations

from decimal import Decimal

from nija_tg.core.cash_flows import LimitMarks
from nija_tg.core.models import UserStatus
from nija_tg.engine.clock import utc_day
from nija_tg.storage import cash_flows, sessions, users
from tests.engine.live_child import FLIPFLOP
from tests.engine.rig_fixtures import rig_fixture, strategies_fixture
from tests.engine.test_exchange_stops import UID, StopRig

_drop_test_strategy = strategies_fixture(None, None, FLIPFLOP)

KEY = (UID, "live", "kraken")
PEAK = Decimal(20000)  # the account holds 10000 USD: 50 % below it


class EarlierSessionRig(StopRig):
    """``StopRig`` whose user had an earlier session on this account that ended
    ``ended`` with the peak at ``PEAK``; the user is active (resumed) now."""

    ended = "paused"

    async def launch(self) -> None:
        day = utc_day(self.clock.now_ms())
        marks = LimitMarks(
            day=day,
            start_of_day_equity=Decimal(10000),
            cash_flow_today=Decimal(0),
            peak_equity_flow_adjusted=PEAK,
            starting_equity_plus_flows=Decimal(10000),
            last_balances={"USD": Decimal(10000)},  # no deposit or withdrawal since
            last_fill_id=0,
        )
        async with self.db.transaction() as tx:
            sid = await sessions.start(tx, UID, "kraken", "live", PEAK)
            await sessions.finish(tx, UID, sid, status=self.ended, end_balance=Decimal(10000))
            await cash_flows.save_marks(tx, KEY, marks)
            await users.set_status(tx, UID, UserStatus.ACTIVE)
        await super().launch()


class EarlierStopRig(EarlierSessionRig):
    ended = "stopped"


resumed = rig_fixture(EarlierSessionRig)
stopped = rig_fixture(EarlierStopRig)


async def drawdown_told(rig: StopRig) -> list[str]:
    return [t for k, t in await rig.outbox() if k == "drawdown"]


async def test_a_user_resumed_while_no_loop_ran_is_not_paused_again_at_start(resumed):
    rig = resumed
    await rig.start(max_drawdown_pct=Decimal(10), trailing_stop=False)
    await rig.step()  # the first close: limits judged, then the entry of slot 0
    user = await users.get_user(rig.db, UID)
    assert user.status is UserStatus.ACTIVE, f"paused for {user.pause_reason}"
    assert await drawdown_told(rig) == []
    assert await rig.position() is not None, "the resumed user trades"
    await rig.daemon.deps.snapshots.flush()
    marks = await cash_flows.get_marks(rig.db, *KEY)
    assert marks is not None and marks.peak_equity_flow_adjusted < PEAK


async def test_after_a_plain_stop_the_stored_peak_still_holds(stopped):
    """Trading stopped and started again (no pause, no resume): the peak carries over by
    design (core/cash_flows.py), so a fall below it the engine did not see is judged."""
    rig = stopped
    await rig.start(max_drawdown_pct=Decimal(10), trailing_stop=False)
    await rig.step()
    user = await users.get_user(rig.db, UID)
    assert user.status is UserStatus.PAUSED and user.pause_reason == "drawdown"
    assert len(await drawdown_told(rig)) == 1
