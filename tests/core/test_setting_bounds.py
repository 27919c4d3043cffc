"""Admin bounds typed by admins, and settings moved inside them."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nija_tg.core.errors import ValidationError
from nija_tg.core.risk_settings import SPECS, RiskSettings
from nija_tg.core.setting_bounds import bound_names, clamp_to_bounds, describe, parse_bound
from nija_tg.core.setting_parse import Bound
from nija_tg.messages.errors import text as error_text

TIMEFRAMES = frozenset({"5m", "15m"})


@pytest.mark.parametrize(
    ("name", "text", "key", "bound"),
    [
        ("max_position_usd", "..500", "max_position_usd", Bound(hi=Decimal(500))),
        ("Max-Position-USD", "20..", "max_position_usd", Bound(lo=Decimal(20))),
        ("leverage_cap", "1..3", "leverage_cap", Bound(lo=Decimal(1), hi=Decimal(3))),
        ("allowed_pairs", "btc, eth", "allowed_pairs", Bound(choices=frozenset({"BTC", "ETH"}))),
        ("position_mode", "one_way", "position_mode", Bound(choices=frozenset({"one_way"}))),
        ("adx_threshold", "20..30", "strategy.adx_threshold", Bound(Decimal(20), Decimal(30))),
        ("strategy.timeframe", "5m,15m", "strategy.timeframe", Bound(choices=TIMEFRAMES)),
        ("leverage_cap", "off", "leverage_cap", None),
    ],
)  # fmt: skip
def test_parse_bound_accepts_ranges_choices_and_off(name, text, key, bound):
    assert parse_bound(name, text) == (key, bound)


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("everything", "1..2", "Unknown setting"),
        ("trailing_stop", "on", "Unknown setting"),  # on/off settings are not bounded
        ("max_position_usd", "500", "range like"),
        ("max_position_usd", "..", "at least one end"),
        ("max_position_usd", "abc..5", "not a number"),
        ("leverage_cap", "1.5..3", "whole number"),
        ("leverage_cap", "60..70", "only be narrowed within 1..50"),
        ("position_mode", "sideways", "one or more of: one_way, hedge"),
        ("allowed_pairs", "BTC,<b>", "asset symbols"),
        ("max_position_usd", "1e9..", "not a number"),
    ],
)
def test_parse_bound_refuses_with_a_clear_message(name, text, says):
    with pytest.raises(ValidationError) as err:
        parse_bound(name, text)
    assert says in error_text(err.value)
    assert "<b>" not in error_text(err.value)  # echoed input is escaped


def test_clamp_moves_only_what_is_outside():
    s = dataclasses.replace(RiskSettings(), allowed_pairs=("BTC", "SOL", "ADA"))
    bounds = {
        "max_position_usd": Bound(hi=Decimal(100)),
        "max_open_positions": Bound(hi=Decimal(3)),
        "daily_loss_pct": Bound(hi=Decimal(10)),  # 5 is inside: unchanged
        "allowed_pairs": Bound(choices=frozenset({"BTC", "ETH", "ADA"})),
        "position_mode": Bound(choices=frozenset({"hedge"})),
        "strategy.adx_threshold": Bound(lo=Decimal(30)),
        "strategy.atr_length": Bound(hi=Decimal(10)),
    }
    out = clamp_to_bounds(s, bounds)
    assert out.max_position_usd == 100 and out.max_open_positions == 3
    assert out.daily_loss_pct == s.daily_loss_pct
    assert out.allowed_pairs == ("BTC", "ADA") and out.position_mode == "hedge"
    assert out.strategy_params.adx_threshold == 30.0
    assert isinstance(out.strategy_params.adx_threshold, float)
    assert out.strategy_params.atr_length == 10 and isinstance(out.strategy_params.atr_length, int)
    assert clamp_to_bounds(out, bounds) == out  # idempotent
    assert clamp_to_bounds(s, {}) is s


def test_pairs_outside_every_allowed_choice_fall_back_to_the_bound():
    s = dataclasses.replace(RiskSettings(), allowed_pairs=("DOGE",))
    out = clamp_to_bounds(s, {"allowed_pairs": Bound(choices=frozenset({"ETH", "BTC"}))})
    assert out.allowed_pairs == ("BTC", "ETH")


def test_describe():
    assert describe(Bound(hi=Decimal(500))) == "..500"
    assert describe(Bound(lo=Decimal("1.5"), hi=Decimal(3))) == "1.5..3"
    assert describe(Bound(choices=frozenset({"ETH", "BTC"}))) == "BTC, ETH"


NUMERIC = [n for n, s in SPECS.items() if s.kind in ("decimal", "int")]


@settings(max_examples=200, deadline=None)
@given(
    name=st.sampled_from(NUMERIC),
    a=st.decimals(min_value=0, max_value=200000, places=2),
    b=st.decimals(min_value=0, max_value=200000, places=2),
)
def test_clamped_values_always_satisfy_the_bound_and_the_hard_limits(name, a, b):
    spec = SPECS[name]
    lo, hi = min(a, b), max(a, b)
    if spec.kind == "int":
        lo, hi = lo.to_integral_value(), hi.to_integral_value()
    if max(lo, spec.lo) > min(hi, spec.hi):
        return  # parse_bound refuses such a bound
    out = getattr(clamp_to_bounds(RiskSettings(), {name: Bound(lo=lo, hi=hi)}), name)
    assert max(lo, spec.lo) <= out <= min(hi, spec.hi)
    assert name in bound_names()
