"""A close's spot entries are sized on one read of the account (engine/free_quote.py):
the pure estimate, and a live Kraken user entering on three pairs at one close."""

from __future__ import annotations

from decimal import Decimal

from nija_tg.core.models import BalanceLine, OrderStatus
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.engine.free_quote import FEE_MARGIN, FreeQuote
from tests.engine.kraken_live import (
    ALWAYS_IN,
    AlwaysInParams,
    KrakenLive,
    register_test_strategies,
    unregister_test_strategies,
)
from tests.engine.rig_fixtures import rig_fixture, strategies_fixture

UID = 63
BALANCE = "/0/private/BalanceEx"

_test_strategies = strategies_fixture(register_test_strategies, unregister_test_strategies)
rig = rig_fixture(lambda s, d, v: KrakenLive(s, d, v, UID))


def line(currency: str, free: str) -> BalanceLine:
    return BalanceLine(currency, Decimal(free), Decimal(0), Decimal(free))


def test_the_estimate_spends_the_close_s_buys_with_a_fee_margin_and_never_goes_below_zero():
    quote = FreeQuote()
    assert quote.free("USD") is None  # nothing read: the entry reads the account
    quote.read([line("USD", "1000"), line("ETH", "2")])
    assert quote.free("USD") == Decimal(1000)
    assert quote.free("EUR") == Decimal(0)
    quote.bought("USD", Decimal(500))
    assert quote.free("USD") == Decimal(1000) - Decimal(500) * (1 + FEE_MARGIN)
    quote.bought("USD", Decimal(1000))
    assert quote.free("USD") == Decimal(0)
    quote.read([line("USD", "300")])  # a new read: spending counts from it
    assert quote.free("USD") == Decimal(300)
    quote.forget()  # an outcome not known: read again
    assert quote.free("USD") is None


def _balance_reads(rig: KrakenLive) -> int:
    return sum(1 for _, path in rig.emu.requests if path == BALANCE)


async def _step_until_entries(rig: KrakenLive, count: int) -> int:
    """Step until ``count`` entry orders exist; the balance reads of that last step."""
    for _ in range(6):
        before = _balance_reads(rig)
        await rig.step()
        if len(await rig.orders()) >= count:
            return _balance_reads(rig) - before
    raise AssertionError("the entries did not come")


async def test_three_entries_at_one_close_read_the_balance_once_before_and_once_after(rig):
    """Every pair signals an entry at the same close: the close's own read sizes them
    all (it used to read the account again before each entry), and /balance's read after
    the fills is the only other one."""
    risk = RiskSettings(
        strategy=ALWAYS_IN,
        strategy_params=AlwaysInParams(stop_pct=50.0),
        allowed_pairs=("ETH", "SOL", "BTC"),
        max_open_positions=3,
        trailing_stop=False,
        max_drawdown_pct=Decimal(90),
        daily_loss_pct=Decimal(50),
        daily_loss_usd=Decimal(100000),
    )
    await rig.start(risk)
    reads = await _step_until_entries(rig, 3)
    assert set(await rig.positions()) == {"ETH/USD", "SOL/USD", "BTC/USD"}
    assert reads == 2  # the close's read of the account, and the one after the fills


async def test_entries_after_a_buy_are_sized_on_what_it_left_not_on_the_close_s_read(rig):
    """The first entry spends nearly all the cash: the next ones of the same close are
    sized against the read less that buy (and its fee), so the exchange refuses nothing
    for funds; sized on the close's read alone they would have asked for it all again."""
    risk = RiskSettings(
        strategy=ALWAYS_IN,
        strategy_params=AlwaysInParams(stop_pct=0.5),  # a near stop: sizes above the cash
        allowed_pairs=("ETH", "SOL", "BTC"),
        max_open_positions=3,
        max_position_usd=Decimal(100000),
        trailing_stop=False,
        max_drawdown_pct=Decimal(90),
        daily_loss_pct=Decimal(50),
        daily_loss_usd=Decimal(100000),
    )
    rig.pin_prices = True  # filled at the close the loop sized on (no drift to the next)
    await rig.start(risk, usd=Decimal(1000))
    for _ in range(4):
        await rig.step()
        if await rig.positions():
            break
    await rig.step()
    orders = await rig.orders()
    assert orders, "no entry was sent"
    assert all(o["status"] != OrderStatus.REJECTED for o in orders), [
        (o["symbol"], o["status"], o["error"]) for o in orders
    ]
    assert len(orders) >= 2  # a later entry came after the first buy, and was affordable
