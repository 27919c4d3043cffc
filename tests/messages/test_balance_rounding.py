"""/balance: each figure is the nearest to the exchange's; when the shown parts then
miss the shown total by their rounding, the line says they were rounded separately."""

from __future__ import annotations

from decimal import Decimal as D

from nija_tg.messages import report_samples as s
from nija_tg.messages.reports import balances


def line_of(*lines: s.BalanceLine) -> list[str]:
    text = balances(s.OWN, s.Balances(D(1), list(lines), s.NOW))
    return [row for row in text.split("\n") if row.startswith(tuple(b.currency for b in lines))]


def test_parts_rounded_apart_from_their_total_say_so():
    (shown,) = line_of(s.BalanceLine("USD", D("8123.456"), D("1173.4567"), D("9296.9127")))
    assert shown == "USD: 9,296.91 (free 8,123.46, in use 1,173.46; rounded separately)"


def test_parts_that_add_up_as_shown_carry_no_note():
    shown = line_of(
        s.BalanceLine("USD", D("8123.45"), D("1173.46"), D("9296.91")),
        s.BalanceLine("ETH", D("0.123456789"), D("0.5"), D("0.623456789")),
    )
    assert shown == [
        "USD: 9,296.91 (free 8,123.45, in use 1,173.46)",
        "ETH: 0.62345679 (free 0.12345679, in use 0.5)",
    ]


def test_a_total_the_parts_do_not_make_is_not_blamed_on_rounding():
    """The exchange's own total (not free + used): shown as reported, no note."""
    shown = line_of(
        s.BalanceLine("USD", D("100"), D("50"), D("160")),
        s.BalanceLine("USDT", None, None, D("-0.004")),
    )
    assert shown == ["USD: 160.00 (free 100.00, in use 50.00)", "USDT: 0.00 (free —, in use —)"]
