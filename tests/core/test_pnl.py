"""P&L arithmetic."""

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from nija_tg.core import pnl


def ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


def test_realized_long_and_short_with_fees() -> None:
    assert pnl.realized_pnl("long", D("100"), D("110"), D("2"), D("0.5")) == D("19.5")
    assert pnl.realized_pnl("short", D("100"), D("110"), D("2"), D("0.5")) == D("-20.5")
    assert pnl.realized_pnl("short", D("100"), D("90"), D("2")) == D("20")
    assert pnl.realized_pnl("long", D("100"), D("90"), D("1"), contract_size=D("0.1")) == D("-1.0")


def test_realized_is_exact_decimal() -> None:
    got = pnl.realized_pnl("long", D("0.1"), D("0.3"), D("3"))
    assert got == D("0.6")


@pytest.mark.parametrize(
    "bad", [("long", D(-1), D(0)), ("long", D(1), D(-1)), ("flat", D(1), D(0))]
)
def test_realized_rejects_bad_input(bad: tuple) -> None:
    side, amount, fees = bad
    with pytest.raises(ValueError):
        pnl.realized_pnl(side, D(1), D(2), amount, fees)


def test_unrealized() -> None:
    assert pnl.unrealized_pnl("long", D("2000"), D("2100"), D("0.5")) == D("50")
    assert pnl.unrealized_pnl("short", D("2000"), D("2100"), D("0.5")) == D("-50")


def test_fee_for() -> None:
    assert pnl.fee_for(D("-1000"), D("0.001")) == D("1.000")


def test_average_entry() -> None:
    assert pnl.average_entry(D("1"), D("100"), D("1"), D("200")) == D("150")
    assert pnl.average_entry(D("0"), D("0"), D("2"), D("50")) == D("50")
    assert pnl.average_entry(D("3"), D("10"), D("1"), D("30")) == D("15")
    with pytest.raises(ValueError):
        pnl.average_entry(D(0), D(1), D(0), D(1))


def test_return_pct() -> None:
    assert pnl.return_pct(D("5"), D("200")) == D("2.5")
    assert pnl.return_pct(D("5"), D("0")) == 0


def test_win_rate() -> None:
    assert pnl.win_rate([]) is None
    assert pnl.win_rate([D(1), D(-1), D(0), D(2)]) == D("0.5")
    assert pnl.win_rate([D(1)]) == 1


def test_max_drawdown() -> None:
    dd = pnl.max_drawdown([D(100), D(120), D(90), D(130), D(117), D(125)])
    assert dd.peak == D(120) and dd.trough == D(90)
    assert dd.amount == D(30) and dd.pct == D(25)
    assert pnl.max_drawdown([]).amount == 0
    assert pnl.max_drawdown([D(1), D(2), D(3)]).pct == 0


def test_max_drawdown_is_by_percent_not_amount() -> None:
    # 100 -> 50 is 50%; 1000 -> 900 is a bigger amount but only 10%.
    dd = pnl.max_drawdown([D(100), D(50), D(1000), D(900)])
    assert dd.pct == D(50) and dd.amount == D(50)


def test_period_keys() -> None:
    ts = ms(2024, 3, 5, 23, 59)
    assert pnl.period_key(ts, "day") == "2024-03-05"
    assert pnl.period_key(ts, "week") == "2024-W10"
    assert pnl.period_key(ts, "month") == "2024-03"
    assert pnl.period_key(ts, "all") == "all"
    assert pnl.period_key(ms(2021, 1, 1), "week") == "2020-W53"  # ISO year
    with pytest.raises(ValueError):
        pnl.period_key(ts, "year")
    with pytest.raises(ValueError):
        pnl.period_key(datetime(2024, 1, 1), "day")  # naive


def test_period_start() -> None:
    now = ms(2024, 3, 7, 15, 30)  # a Thursday
    assert pnl.period_start(now, "day") == datetime(2024, 3, 7, tzinfo=UTC)
    assert pnl.period_start(now, "week") == datetime(2024, 3, 4, tzinfo=UTC)
    assert pnl.period_start(now, "month") == datetime(2024, 3, 1, tzinfo=UTC)
    assert pnl.period_start(now, "all") is None


def test_aggregate_by_day_week_month_all() -> None:
    items = [
        (ms(2024, 2, 28, 10), D("10")),
        (ms(2024, 3, 1, 0), D("-4")),
        (ms(2024, 3, 1, 23, 59), D("6")),
        (ms(2024, 3, 4, 1), D("0")),
    ]
    days = pnl.aggregate(items, "day")
    assert list(days) == ["2024-02-28", "2024-03-01", "2024-03-04"]
    assert days["2024-03-01"].total == D("2") and days["2024-03-01"].trades == 2
    assert days["2024-03-01"].win_rate == D("0.5")
    weeks = pnl.aggregate(items, "week")
    assert weeks["2024-W09"].total == D("12") and weeks["2024-W10"].trades == 1
    months = pnl.aggregate(items, "month")
    assert months["2024-02"].total == D("10") and months["2024-03"].total == D("2")
    everything = pnl.aggregate(items, "all")["all"]
    assert everything.total == D("12") and everything.trades == 4
    assert (everything.wins, everything.losses) == (2, 1)
    assert everything.best == D("10") and everything.worst == D("-4")
    assert pnl.aggregate([], "day") == {}


def test_current_period() -> None:
    items = [
        (ms(2024, 3, 6, 12), D("5")),
        (ms(2024, 3, 7, 1), D("-2")),
        (ms(2024, 3, 7, 9), D("3")),
        (ms(2024, 3, 8, 9), D("100")),  # after "now": ignored
    ]
    now = ms(2024, 3, 7, 12)
    assert pnl.current_period(items, "day", now).total == D("1")
    assert pnl.current_period(items, "week", now).total == D("6")
    assert pnl.current_period(items, "all", now).trades == 3
    assert pnl.current_period([], "day", now).win_rate is None


def test_quantize_money() -> None:
    assert pnl.quantize_money(D("1.005")) == D("1.00")
    assert pnl.quantize_money(D("1.015")) == D("1.02")
    assert str(pnl.quantize_money(D("3"), 4)) == "3.0000"
