"""Issue 14 item 4: "/balance refreshed after each fill". The snapshot the bot reads
(/balance, /status) is written at the candle close before the close's orders; an order
that fills then (an entry, an exit, the user's /close between closes) makes the loop
read the balances again and write the snapshot again, so /balance shows the balances
after the fill at once, not a candle later. No second equity point: one per close.

The real daemon runs in-process against the Kraken emulator (``StopRig``: the first
close enters), with the user LIVE on the emulator's account or on a PAPER account
priced from the emulator; what /balance shows is read through ``ReportsService``."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from nija_tg.core.models import TradingMode
from nija_tg.services.reports_service import ReportsService
from nija_tg.storage import close_requests, snapshots, users
from tests.engine.live_child import FLIPFLOP
from tests.engine.live_rig import until
from tests.engine.rig_fixtures import rig_fixture, strategies_fixture
from tests.engine.test_exchange_stops import SYMBOL, UID, StopRig, entered

_drop_test_strategy = strategies_fixture(None, None, FLIPFLOP)


class PaperRig(StopRig):
    """``StopRig``'s user trading on a paper account (prices from the emulator)."""

    async def launch(self) -> None:
        async with self.db.transaction() as tx:
            await users.set_mode(tx, UID, TradingMode.PAPER)
        await super().launch()


live = rig_fixture(StopRig)
paper = rig_fixture(PaperRig)


async def shown(rig: StopRig) -> dict[str, Decimal]:
    """Currency -> total, as /balance shows it now (pending snapshots written first)."""
    await rig.daemon.deps.snapshots.flush()
    report = await ReportsService(rig.db, rig.runtime.settings).balances(UID)
    return {line.currency: line.total for line in report.lines}


async def shown_when(rig: StopRig, done, timeout: float = 5.0) -> dict[str, Decimal]:
    """What /balance shows once ``done`` holds of it, or at ``timeout`` (the clock is
    paced: no candle closes meanwhile)."""
    end = time.monotonic() + timeout
    while True:
        balances = await shown(rig)
        if done(balances) or time.monotonic() > end:
            return balances
        await asyncio.sleep(0.02)


def same(shown: Decimal, held: Decimal) -> bool:
    """Kraken reports balances to 4 decimals; the emulator keeps more."""
    return abs(shown - held) < Decimal("0.0001")


async def points(rig: StopRig) -> int:
    """Equity points written (pending ones written first)."""
    await rig.daemon.deps.snapshots.flush()
    return len(await snapshots.equity_history(rig.db, UID, limit=1000))


async def test_live_balance_shows_the_entry_fill_before_the_next_close(live):
    rig = live
    await rig.start(trailing_stop=False)  # one entry on the first close, then hold
    pos = await entered(rig)
    assert rig.acct.balances["ETH"] == pos.amount  # the emulator's account after the fill
    balances = await shown(rig)
    assert balances.keys() == {"ETH", "USD"} and balances["ETH"] == pos.amount
    assert same(balances["USD"], rig.acct.balances["USD"])
    assert rig.acct.balances["USD"] < Decimal(10000)
    assert await points(rig) == 1, "one equity point per close, the refresh adds none"
    await rig.step()  # a close without a fill: still one point per close
    assert await points(rig) == 2


async def test_live_balance_shows_a_close_asked_between_closes_at_once(live):
    rig = live
    await rig.start(trailing_stop=False)
    await entered(rig)
    loop = rig.daemon.loops[UID]
    async with rig.db.transaction() as tx:
        await close_requests.request(tx, UID, SYMBOL)
    assert await until(lambda: loop.closes_done == 1, 10), "request not answered"
    assert await rig.position() is None
    assert rig.acct.balances.get("ETH", Decimal(0)) == 0
    after = await shown_when(rig, lambda b: "ETH" not in b)  # the loop's step ends
    assert "ETH" not in after, "the balance still shows the coins sold on /close"
    assert same(after["USD"], rig.acct.balances["USD"])
    assert await points(rig) == 1  # no close happened since the entry's


async def test_paper_balance_shows_the_entry_fill_before_the_next_close(paper):
    rig = paper
    await rig.start(trailing_stop=False)
    pos = await entered(rig)
    assert rig.exchange_orders() == []  # a paper account: nothing reached the exchange
    balances = await shown(rig)
    assert balances["ETH"] == pos.amount
    assert balances["USD"] < Decimal(10000)
    snap = await snapshots.get(rig.db, UID)
    assert snap is not None and [p["symbol"] for p in snap.positions] == [SYMBOL]
    assert await points(rig) == 1
