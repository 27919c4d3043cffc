"""Deposits and withdrawals are kept out of the daily loss and the drawdown
(nija_tg/core/cash_flows.py)."""

from decimal import Decimal as D

from nija_tg.core import risk
from nija_tg.core.cash_flows import (
    BookedFill,
    apply_cash_flow,
    detect_cash_flow,
    expected_change,
    fresh_marks,
    observe,
    roll,
)

DAY = "2026-12-04"
PCT, USD = D(5), D(150)


def test_a_deposit_never_hides_a_loss():
    marks = fresh_marks(DAY, D(1000))
    equity = D(940)  # lost 60: over 5 % of 1000
    assert risk.daily_loss_breached(marks.pnl_today(equity), marks.daily_loss_base, PCT, USD)
    marks = apply_cash_flow(marks, D(500), equity + 500)
    assert marks.pnl_today(equity + 500) == D(-60)
    assert risk.daily_loss_breached(marks.pnl_today(equity + 500), marks.daily_loss_base, PCT, USD)


def test_a_withdrawal_never_makes_a_loss_nor_lowers_the_limit():
    marks = fresh_marks(DAY, D(1000))
    equity = D(960)  # lost 40: under the 50 limit
    marks = apply_cash_flow(marks, D(-800), equity - 800)
    assert marks.pnl_today(equity - 800) == D(-40)
    assert marks.daily_loss_base == D(1000)  # the limit stays 50
    # a deposit does not raise it either
    assert apply_cash_flow(marks, D(5000), equity + 4200).daily_loss_base == D(1000)
    assert not risk.daily_loss_breached(
        marks.pnl_today(equity - 800), marks.daily_loss_base, PCT, USD
    )


def test_a_cash_flow_leaves_the_drawdown_where_it_was():
    marks = observe(fresh_marks(DAY, D(1000)), D(1000))
    equity = D(900)  # 10 % down
    for amount in (D(-800), D(500), D(-50)):
        equity += amount
        marks = apply_cash_flow(marks, amount, equity)
        assert abs(risk.drawdown_pct(equity, marks.peak_equity_flow_adjusted) - 10) < D("1e-20")
    # without the adjustment the withdrawal of 800 alone would read as a 90 % drawdown
    assert risk.drawdown_pct(D(100), D(1000)) == D(90)


def test_an_empty_account_funded_starts_its_peak_there():
    marks = fresh_marks(DAY, D(0))
    marks = apply_cash_flow(marks, D(500), D(500))
    assert marks.peak_equity_flow_adjusted == D(500)
    assert marks.starting_equity_plus_flows == D(500)


def test_a_new_day_starts_without_cash_flows():
    marks = apply_cash_flow(fresh_marks(DAY, D(1000)), D(200), D(1200))
    marks = roll(marks, "2026-12-05", D(1190))
    assert (marks.start_of_day_equity, marks.cash_flow_today) == (D(1190), D(0))
    assert marks.peak_equity_flow_adjusted == D(1200)


def test_detection_values_amounts_not_prices():
    prices = {"ETH": D(2000)}
    before = {"USD": D(1000), "ETH": D("0.5")}
    # the price doubled: no amount changed, no cash flow
    assert detect_cash_flow(before, before, {"ETH": D(4000)}, D(3000), expected={}) is None
    # 500 USD deposited
    found = detect_cash_flow(before, {**before, "USD": D(1500)}, prices, D(2500), expected={})
    assert found == (D(500), {"USD": D(500)})
    # 0.25 ETH withdrawn
    found = detect_cash_flow(before, {**before, "ETH": D("0.25")}, prices, D(1500), expected={})
    assert found == (D(-500), {"ETH": D("-0.25")})
    # a change under 1 % of the equity (a fee, a funding payment) is no cash flow
    assert (
        detect_cash_flow(before, {**before, "USD": D(1015)}, prices, D(2015), expected={}) is None
    )
    # no earlier read, or fills of unknown effect between the reads: not judged
    assert detect_cash_flow(None, before, prices, D(2000), expected={}) is None
    assert detect_cash_flow(before, {**before, "USD": D(9)}, prices, D(1009), expected=None) is None


def test_booked_fills_explain_their_change():
    prices = {"ETH": D(2000)}
    before = {"USD": D(1000), "ETH": D(0)}
    buy = BookedFill("ETH", "USD", True, D("0.25"), D(2000), D("0.5"), "USD")
    after = {"USD": D("499.5"), "ETH": D("0.25")}
    assert (
        detect_cash_flow(before, after, prices, D("999.5"), expected=expected_change([buy])) is None
    )
    # the coins bought, then withdrawn: the engine books a sale at the close (closed
    # outside the bot) that brought no USD in: a withdrawal of 500
    sold = BookedFill("ETH", "USD", False, D("0.25"), D(2000), D(0), None)
    found = detect_cash_flow(
        after,
        {"USD": D("499.5"), "ETH": D(0)},
        prices,
        D("499.5"),
        expected=expected_change([sold]),
    )
    assert found == (D(-500), {"USD": D(-500)})
