"""Swaps done right, in the running daemon on the BingX emulator (see swap_support.py):
funding payments read from the venue, booked once each (across a restart too) and
counted in the realised P&L; an entry whose stop lies beyond the liquidation price is
refused."""

from __future__ import annotations

from decimal import Decimal

from nija_tg.core.risk import RiskReason
from nija_tg.messages.reports import pnl as pnl_text
from nija_tg.services.reports_service import ReportsService
from tests.engine.rig_fixtures import rig_fixture, strategies_fixture
from tests.engine.swap_support import SWAPFLIP, TF, SwapFlipParams, SwapRig, SwapUser, swap_settings
from tests.outbox_text import told as outbox_told

ETH = "ETH/USDT:USDT"
HOUR = 3_600_000


_drop_test_strategy = strategies_fixture(None, None, SWAPFLIP)


rig = rig_fixture(SwapRig)


def holder(uid: int, rig: SwapRig, **changes) -> SwapUser:
    """A one-way user who goes long on the first candle the rig closes and holds for
    ``period // 2`` candles (test_swapflip with its cycle aligned to the rig's start)."""
    first = int(rig.emu.candles[ETH][320][0]) // TF
    period = changes.pop("period", 200)
    params = SwapFlipParams(period=period, phase=(-first) % period, **changes)
    return SwapUser(uid, swap_settings(leverage_cap=5, strategy_params=params))


async def booked_rows(rig: SwapRig, uid: int) -> list[tuple[str, str, Decimal, float]]:
    rows = await rig.db.fetchall(
        "SELECT payment_id, symbol, amount, ts FROM funding_payments WHERE user_id = ? "
        "ORDER BY ts, payment_id",
        (uid,),
    )
    return [(r["payment_id"], r["symbol"], Decimal(r["amount"]), r["ts"]) for r in rows]


def payer_sign(rig: SwapRig, uid: int, rate_sign: int) -> int:
    """-1 when ``uid``'s open position pays at a rate of ``rate_sign`` (a long at a
    positive rate, a short at a negative one), +1 when it receives."""
    ((_, side, _),) = rig.exchange_positions(uid)
    return -rate_sign if side == "long" else rate_sign


def venue_rows(rig: SwapRig, uid: int) -> list[tuple[str, str, Decimal, float]]:
    key = rig.users[uid].acct.api_key
    return sorted(
        (str(r["tranId"]), ETH, Decimal(str(r["income"])), int(r["time"]) / 1000)
        for r in rig.emu.ledger.incomes
        if r["key"] == key
    )


async def test_funding_is_booked_once_and_counted_in_realised_pnl(rig):
    u = holder(1, rig, stop_pct=3.0)
    rig.emu.ledger.set_funding(ETH, "0.0005", interval_ms=HOUR)  # hourly, longs pay
    await rig.start(u)
    await rig.step(1)
    assert rig.exchange_positions(1), "the position did not open"
    sign = payer_sign(rig, 1, +1)
    wallet = u.acct.balances["USDT"]
    await rig.step(30)  # 2.5 hours: two or three settlements
    assert rig.exchange_positions(1), "the position closed early"

    venue = venue_rows(rig, 1)
    assert len(venue) >= 2 and all(amount * sign > 0 for _, _, amount, _ in venue)
    paid = sum(amount for _, _, amount, _ in venue)
    assert u.acct.balances["USDT"] == wallet + paid  # the venue took it from the wallet
    booked = await booked_rows(rig, 1)
    # every settlement up to the last hour's first close is booked, each once
    assert booked == venue

    # a restart re-reads the last day: nothing is booked twice
    await rig.restart()
    await rig.step(14)
    booked = await booked_rows(rig, 1)
    venue = venue_rows(rig, 1)
    assert booked == venue and len(venue) >= 3
    paid = sum(amount for _, _, amount, _ in venue)

    report = await ReportsService(rig.db, rig.runtime.settings).pnl(1, "all")
    stats = report.stats
    assert stats.funding == paid and stats.funding_payments == len(venue)
    assert stats.trades == 0 and stats.total == paid  # nothing closed yet: funding only
    text = pnl_text(report, "")
    assert "Funding: " in text and f"{len(venue)} payments" in text
    assert len(await rig.outbox(1, "funding")) == 0  # summarised, not told one by one


async def test_funding_reads_are_at_most_hourly_and_stop_after_the_close(rig):
    u = holder(1, rig, period=48, stop_pct=3.0)  # held for 24 candles (2 h), then flat
    rig.emu.ledger.set_funding(ETH, "-0.0005", interval_ms=HOUR)  # longs receive
    await rig.start(u)
    path = "/openApi/swap/v2/user/income"

    def reads() -> int:
        return sum(1 for _, p in rig.emu.requests if p == path)

    await rig.step(1)
    sign = payer_sign(rig, 1, -1)
    held = 1
    while rig.exchange_positions(1):
        await rig.step(1)
        held += 1
    assert held >= 24  # not stopped out early
    # while held: the first close, then the first close of each UTC hour (2 h: 2 more)
    assert 1 <= reads() <= 3
    await rig.step(12)  # flat: one more read, at the next hour's first close
    after_close = reads()
    await rig.step(10)  # still flat, before the next entry: no read
    assert reads() == after_close
    venue = venue_rows(rig, 1)
    assert venue and all(amount * sign > 0 for _, _, amount, _ in venue)
    assert await booked_rows(rig, 1) == venue


async def test_entry_refused_when_the_stop_lies_beyond_liquidation(rig):
    # leverage 5: liquidation about 19.6 % from the entry, the stop may use 80 % of it;
    # a 20 % stop is refused, a 5 % one trades
    wide, tight = holder(1, rig, stop_pct=20.0), holder(2, rig, stop_pct=5.0)
    await rig.start(wide, tight)
    await rig.step(2)
    assert rig.exchange_positions(2), "the tight stop's entry did not open"
    assert not rig.exchange_orders(1) and not rig.exchange_positions(1)
    assert await rig.db_positions(1) == set()
    refusals = rig.daemon.loops[1].refusals
    assert refusals[RiskReason.STOP_BEYOND_LIQUIDATION.value] >= 1
    assert rig.daemon.loops[2].refusals[RiskReason.STOP_BEYOND_LIQUIDATION.value] == 0
    # the user is told once (per symbol and day), with the reason, whatever the candles
    await rig.step(3)
    told = [t for _, t in await outbox_told(rig.db, 1) if "liquidat" in t]
    assert len(told) == 1 and "No entry on" in told[0]
    assert not [t for _, t in await outbox_told(rig.db, 2) if "liquidat" in t]
