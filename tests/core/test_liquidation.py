"""Liquidation price of swap positions and the entry check that keeps the stop inside it."""

import dataclasses
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nija_tg.core import liquidation as liq
from nija_tg.core.risk import RiskContext, RiskReason, check_entry
from nija_tg.core.risk_settings import RiskSettings


def test_long_liquidation_price_from_the_margin_rule() -> None:
    # 10x, mmr 0.5 %, fee 0.05 %: 100 x 0.9 / 0.9945
    p = liq.liquidation_price("long", D(100), 10, D("0.005"), D("0.0005"))
    assert p == D(100) * D("0.9") / D("0.9945")
    assert D("90.49") < p < D("90.50")


def test_short_liquidation_price_from_the_margin_rule() -> None:
    p = liq.liquidation_price("short", D(100), 10, D("0.005"), D("0.0005"))
    assert p == D(100) * D("1.1") / D("1.0055")
    assert D("109.39") < p < D("109.40")


@given(
    entry=st.decimals(min_value=D("0.0001"), max_value=D(100000), places=4),
    lev=st.integers(min_value=1, max_value=125),
    mmr=st.decimals(min_value=D(0), max_value=D("0.05"), places=4),
)
def test_at_the_liquidation_price_equity_equals_maintenance(entry, lev, mmr) -> None:
    """At the price found, the position's margin plus its open P&L is exactly the
    maintenance margin plus the closing fee at that price (per unit)."""
    fee = liq.DEFAULT_TAKER_FEE
    for side, sign in (("long", 1), ("short", -1)):
        p = liq.liquidation_price(side, entry, lev, mmr, fee)
        if p == 0:  # a 1x long is never liquidated above zero
            assert side == "long" and lev == 1
            continue
        left = entry / lev + sign * (p - entry)
        assert abs(left - (mmr + fee) * p) <= entry * D("1e-20")
        if D(1) / lev > mmr + fee:  # else the margin is used up at the entry already
            assert (p < entry) if side == "long" else (p > entry)
        else:
            assert not liq.stop_inside(side, entry, entry - sign * entry / 1000, lev, mmr)


def test_higher_leverage_moves_liquidation_towards_the_entry() -> None:
    longs = [liq.liquidation_price("long", D(100), lev) for lev in (2, 5, 20, 50)]
    shorts = [liq.liquidation_price("short", D(100), lev) for lev in (2, 5, 20, 50)]
    assert longs == sorted(longs) and shorts == sorted(shorts, reverse=True)


def test_stop_inside_keeps_a_margin_from_the_liquidation() -> None:
    entry, lev = D(100), 10
    p = liq.liquidation_price("long", entry, lev)
    farthest = liq.farthest_stop("long", entry, p)
    assert p < farthest < entry
    assert abs(farthest - p - liq.LIQUIDATION_MARGIN * (entry - p)) < D("1e-20")
    assert liq.stop_inside("long", entry, farthest, lev)
    assert not liq.stop_inside("long", entry, farthest - D("0.01"), lev)
    assert not liq.stop_inside("long", entry, p + D("0.01"), lev)  # beyond the margin
    ps = liq.liquidation_price("short", entry, lev)
    fs = liq.farthest_stop("short", entry, ps)
    assert entry < fs < ps
    assert liq.stop_inside("short", entry, fs, lev)
    assert not liq.stop_inside("short", entry, fs + D("0.01"), lev)


def test_refusal_gives_stop_and_liquidation() -> None:
    near = liq.refusal("long", D(2000), D(100), 50)
    assert near == (D(1900), liq.liquidation_price("long", D(2000), 50))
    assert liq.refusal("long", D(2000), D(10), 50) is None


def test_a_given_maintenance_rate_is_used() -> None:
    # 20x long: 100 x 0.95 / (1 - 0.005 - 0.0005) = 95.52; 80 % of the way = 96.42 (a
    # stop of 3.5 below fits); with a 4 % maintenance rate: 95 / 0.9595 = 99.01: refused
    assert liq.refusal("long", D(100), D("3.5"), 20) is None
    assert liq.refusal("long", D(100), D("3.5"), 20, D("0.04")) is not None


def ctx(**kw) -> RiskContext:
    base = dict(
        settings=dataclasses.replace(RiskSettings(), max_position_usd=D(100000)),
        equity=D(10000),
        start_of_day_equity=D(10000),
        peak_equity=D(10000),
        starting_equity=D(10000),
        realized_pnl_today=D(0),
        symbol="ETH/USDT:USDT",
        base="ETH",
        quote="USDT",
        market_kind="swap",
        price=D(2000),
        stop_distance=D(100),  # 5 %
    )
    base.update(kw)
    return RiskContext(**base)


def lev(n: int) -> RiskSettings:
    return dataclasses.replace(RiskSettings(), max_position_usd=D(100000), leverage_cap=n)


@pytest.mark.parametrize("side", ["long", "short"])
def test_check_entry_refuses_a_stop_beyond_liquidation(side) -> None:
    # 5 % stop: fine at 5x (liquidation ~19.6 % away), refused at 20x (~4.5 % away)
    assert check_entry(ctx(side=side, settings=lev(5))).approved
    d = check_entry(ctx(side=side, settings=lev(20)))
    assert not d.approved
    assert d.reason is RiskReason.STOP_BEYOND_LIQUIDATION
    f = d.figures
    assert f.leverage == 20 and f.side == side and f.entry == D(2000)
    assert f.liquidation == liq.liquidation_price(side, D(2000), 20)


def test_check_entry_ignores_liquidation_on_spot() -> None:
    d = check_entry(ctx(market_kind="spot", symbol="ETH/USDT", settings=lev(50)))
    assert d.approved


def test_check_entry_uses_the_context_maintenance_rate() -> None:
    # 10x, 5 % stop: liquidation at ~9.55 % with the default rate (80 % of it = 7.64 %)
    assert check_entry(ctx(settings=lev(10))).approved
    d = check_entry(ctx(settings=lev(10), maintenance_margin_rate=D("0.04")))
    assert d.reason is RiskReason.STOP_BEYOND_LIQUIDATION
