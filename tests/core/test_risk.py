"""Pre-trade risk checks, sizing and stops."""

import dataclasses
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nija_tg.core import liquidation, risk
from nija_tg.core.models import PositionInfo
from nija_tg.core.risk import RiskContext, RiskReason, check_entry
from nija_tg.core.risk_settings import RiskSettings

R = RiskReason


def ctx(**kw) -> RiskContext:
    base = dict(
        settings=RiskSettings(),
        equity=D("10000"),
        start_of_day_equity=D("10000"),
        peak_equity=D("10000"),
        starting_equity=D("10000"),
        realized_pnl_today=D("0"),
        symbol="BTC/USDT",
        base="BTC",
        quote="USDT",
        market_kind="spot",
        price=D("50000"),
        stop_distance=D("1000"),
    )
    base.update(kw)
    return RiskContext(**base)


def wide(**kw) -> RiskSettings:
    """Settings whose max_position_usd does not bind."""
    return dataclasses.replace(RiskSettings(), max_position_usd=D("100000"), **kw)


def pos(symbol: str = "ETH/USDT", side: str = "long") -> PositionInfo:
    return PositionInfo(symbol=symbol, side=side, contracts=D(1), entry_price=D(1))


# --- approvals and sizing -------------------------------------------------------------


def test_default_entry_is_capped_by_max_position_usd() -> None:
    d = check_entry(ctx())
    assert d.approved and d.reason == R.OK
    assert d.amount == D("300") / D("50000")  # 0.006 BTC, risk sizing wanted 0.2
    assert d.notional == D("300") and d.capped_by == "max_position_usd"
    assert d.risk_amount == d.amount * D("1000")


def test_size_from_risk_and_stop_distance() -> None:
    d = check_entry(ctx(settings=wide(), price=D("100"), stop_distance=D("5")))
    assert d.approved and d.capped_by == ""
    assert d.amount == D("40")  # 2% of 10000 = 200 at risk / 5 per unit
    assert d.risk_amount == D("200")


def test_auto_compound_off_sizes_from_starting_equity() -> None:
    c = ctx(settings=wide(auto_compound=False), equity=D("20000"), peak_equity=D("20000"))
    d = check_entry(dataclasses.replace(c, price=D("100"), stop_distance=D("5")))
    assert d.amount == D("40")  # from 10000, not 20000
    on = dataclasses.replace(c, settings=wide(), price=D("100"), stop_distance=D("5"))
    assert check_entry(on).amount == D("80")


def test_auto_compound_off_never_sizes_above_current_equity() -> None:
    c = ctx(settings=wide(auto_compound=False), equity=D("9000"), price=D("100"))
    d = check_entry(dataclasses.replace(c, stop_distance=D("5")))
    assert d.amount == D("36")


def test_swap_leverage_cap() -> None:
    c = ctx(
        settings=wide(leverage_cap=5),
        market_kind="swap",
        equity=D("100"),
        start_of_day_equity=D("100"),
        peak_equity=D("100"),
        starting_equity=D("100"),
        price=D("100"),
        stop_distance=D("0.1"),
    )
    d = check_entry(c)  # risk sizing: 2 / 0.1 = 20 units = 2000 USD > 5 x 100
    assert d.approved and d.capped_by == "leverage"
    # 5 x equity, less the fee buffer
    assert d.amount == D("5") / (1 + c.cost_buffer) and d.notional < D("500")


def test_swap_leverage_caps_the_whole_book() -> None:
    from nija_tg.core.models import PositionInfo

    open_eth = PositionInfo("ETH/USDT:USDT", "long", D("3"), D("100"))  # 300 USD open
    c = ctx(
        settings=wide(),
        market_kind="swap",
        equity=D("100"),
        starting_equity=D("100"),
        price=D("100"),
        stop_distance=D("0.1"),
        open_positions=[open_eth],
        start_of_day_equity=D("100"),
        peak_equity=D("100"),
    )
    d = check_entry(c)  # room: 5 x 100 / 1.01 - 300
    assert d.capped_by == "leverage"
    assert d.notional + D("300") <= D("500")
    assert d.amount == (D("500") / (1 + c.cost_buffer) - D("300")) / D("100")


def test_spot_is_capped_by_cash() -> None:
    c = ctx(settings=wide(), price=D("100"), stop_distance=D("0.5"), free_quote=D("1000"))
    d = check_entry(c)  # wants 400 units = 40000 USD
    assert d.capped_by == "balance" and d.amount < D("10")
    # room for the fee: amount x price x (1 + buffer) fits in the cash
    assert d.amount * D("100") * (1 + c.cost_buffer) <= D("1000")
    assert d.amount * D("100") >= D("1000") / (1 + c.cost_buffer) - D("0.01")
    d2 = check_entry(dataclasses.replace(c, free_quote=None))
    assert d2.capped_by == "balance"  # equity 10000 / 100, less the fee buffer
    assert d2.amount * D("100") * (1 + c.cost_buffer) <= D("10000") and d2.amount > D("99")


def test_swap_amount_in_contracts_and_rounded_down_to_step() -> None:
    c = ctx(
        settings=wide(),
        market_kind="swap",
        price=D("100"),
        stop_distance=D("3"),
        contract_size=D("0.1"),
        amount_step=D("1"),
    )
    d = check_entry(c)  # 200 / 3 = 66.66 units = 666.6 contracts -> 666
    assert d.amount == D("666")
    assert d.notional == D("666") * D("0.1") * D("100")


def test_rounding_to_fractional_step() -> None:
    d = check_entry(ctx(amount_step=D("0.001")))  # 0.006 exactly
    assert d.amount == D("0.006")
    d = check_entry(ctx(amount_step=D("0.004")))
    assert d.amount == D("0.004")


@pytest.mark.parametrize(
    "kw",
    [
        {"min_amount": D("0.01")},
        {"min_cost": D("301")},
        {"amount_step": D("0.01")},  # rounds 0.006 down to 0
    ],
)
def test_below_minimum(kw: dict) -> None:
    d = check_entry(ctx(**kw))
    assert not d.approved and d.reason == R.BELOW_MINIMUM and d.amount == 0
    assert d.figures.symbol == "BTC/USDT" and d.figures.notional is not None


def test_at_minimum_is_approved() -> None:
    assert check_entry(ctx(min_amount=D("0.006"), min_cost=D("300"))).approved


# --- each rejection reason ------------------------------------------------------------


def test_global_halt_comes_first() -> None:
    d = check_entry(ctx(global_halted=True, user_paused=True, base="XRP"))
    assert d.reason == R.GLOBAL_HALT and not d.approved


def test_paused() -> None:
    assert check_entry(ctx(user_paused=True, base="XRP")).reason == R.PAUSED


@pytest.mark.parametrize("base,quote", [("XRP", "USDT"), ("BTC", "EUR"), ("BTC", "BTC")])
def test_pair_not_allowed(base: str, quote: str) -> None:
    d = check_entry(ctx(base=base, quote=quote, symbol=f"{base}/{quote}"))
    assert d.reason == R.PAIR_NOT_ALLOWED


@pytest.mark.parametrize("quote", ["USD", "USDT", "USDC", "usdc"])
def test_any_dollar_quote_allowed(quote: str) -> None:
    assert check_entry(ctx(quote=quote, base="btc")).approved


def test_short_needs_swap() -> None:
    assert check_entry(ctx(side="short")).reason == R.SHORT_NOT_ALLOWED
    assert check_entry(ctx(side="short", market_kind="swap")).approved


def test_already_open_in_one_way_mode() -> None:
    d = check_entry(ctx(open_positions=[pos("BTC/USDT", "short")], market_kind="swap"))
    assert d.reason == R.ALREADY_OPEN


def test_hedge_mode_allows_opposite_side_only() -> None:
    s = dataclasses.replace(RiskSettings(), position_mode="hedge")
    c = ctx(settings=s, market_kind="swap", open_positions=[pos("BTC/USDT", "short")])
    assert check_entry(c).approved
    assert check_entry(dataclasses.replace(c, side="short")).reason == R.ALREADY_OPEN


def test_max_open_positions() -> None:
    two = dataclasses.replace(RiskSettings(), max_open_positions=2)
    d = check_entry(ctx(settings=two, open_positions=[pos("ETH/USDT"), pos("SOL/USDT")]))
    assert d.reason == R.MAX_OPEN_POSITIONS
    assert check_entry(ctx(settings=two, open_positions=[pos("ETH/USDT")])).approved
    held = [pos(f"{a}/USDT") for a in ("ETH", "SOL", "AVAX", "POL", "DOT", "LINK")]
    assert check_entry(ctx(open_positions=held)).approved  # the default is 7
    d = check_entry(ctx(open_positions=[*held, pos("ADA/USDT")]))
    assert d.reason == R.MAX_OPEN_POSITIONS


def test_daily_loss_by_percent_first() -> None:
    # start of day 1000: 5% = 50 comes before USD 150
    c = ctx(equity=D("950"), start_of_day_equity=D("1000"), peak_equity=D("1000"))
    assert check_entry(dataclasses.replace(c, realized_pnl_today=D("-50"))).reason == (R.DAILY_LOSS)
    assert check_entry(dataclasses.replace(c, realized_pnl_today=D("-49.99"))).approved


def test_daily_loss_by_usd_first() -> None:
    # start of day 10000: USD 150 comes before 5% = 500
    d = check_entry(ctx(realized_pnl_today=D("-150")))
    assert d.reason == R.DAILY_LOSS and d.figures.loss == d.figures.loss_limit == D(150)
    assert check_entry(ctx(realized_pnl_today=D("-149.99"))).approved


def test_daily_loss_counts_unrealized() -> None:
    c = ctx(realized_pnl_today=D("-100"), unrealized_pnl=D("-50"))
    assert check_entry(c).reason == R.DAILY_LOSS
    assert check_entry(dataclasses.replace(c, unrealized_pnl=D("60"))).approved


def test_max_drawdown() -> None:
    assert check_entry(ctx(equity=D("8500"), peak_equity=D("10000"))).reason == R.MAX_DRAWDOWN
    assert check_entry(ctx(equity=D("8501"), peak_equity=D("10000"))).approved


def test_daily_loss_checked_before_drawdown() -> None:
    c = ctx(equity=D("8000"), realized_pnl_today=D("-2000"))
    assert check_entry(c).reason == R.DAILY_LOSS


@pytest.mark.parametrize(
    "kw",
    [
        {"stop_distance": D("0")},
        {"stop_distance": D("-1")},
        {"price": D("0")},
        {"equity": D("0"), "peak_equity": D("0")},
        {"contract_size": D("0")},
    ],
)
def test_invalid_input(kw: dict) -> None:
    assert check_entry(ctx(**kw)).reason == R.INVALID_INPUT


def test_reason_values_are_stable_strings() -> None:
    assert {r.value for r in R} >= {"daily_loss", "max_drawdown", "below_minimum", "ok"}


@settings(max_examples=200, deadline=None)
@given(
    equity=st.decimals(min_value=1, max_value=10**6, places=2),
    price=st.decimals(min_value=D("0.0001"), max_value=10**5, places=4),
    stop_frac=st.decimals(min_value=D("0.001"), max_value=D("0.5"), places=3),
    kind=st.sampled_from(["spot", "swap"]),
)
def test_approved_entries_respect_caps(equity: D, price: D, stop_frac: D, kind: str) -> None:
    s = RiskSettings()
    c = ctx(
        equity=equity,
        start_of_day_equity=equity,
        peak_equity=equity,
        starting_equity=equity,
        price=price,
        stop_distance=price * stop_frac,
        market_kind=kind,
        amount_step=D("0.0001"),
    )
    d = check_entry(c)
    if d.approved:
        assert 0 < d.amount
        assert d.notional <= s.max_position_usd
        assert d.notional <= equity * (s.leverage_cap if kind == "swap" else 1)
        assert d.risk_amount <= equity * s.risk_per_trade_pct / 100
    else:  # a swap's stop must also sit inside the liquidation price (core/liquidation.py)
        stop = price - price * stop_frac
        beyond = kind == "swap" and not liquidation.stop_inside("long", price, stop, s.leverage_cap)
        assert d.reason == (R.STOP_BEYOND_LIQUIDATION if beyond else R.BELOW_MINIMUM)


# --- helpers --------------------------------------------------------------------------


def test_daily_loss_helpers() -> None:
    assert risk.daily_loss_limit(D("1000"), D("5"), D("150")) == D("50")
    assert risk.daily_loss_limit(D("10000"), D("5"), D("150")) == D("150")
    assert risk.daily_loss_limit(D("0"), D("5"), D("150")) == D("150")
    assert risk.daily_loss_breached(D("-50"), D("1000"), D("5"), D("150"))
    assert not risk.daily_loss_breached(D("10"), D("1000"), D("5"), D("150"))
    assert not risk.daily_loss_breached(D("0"), D("0"), D("5"), D("0.0"))


def test_drawdown_helpers() -> None:
    assert risk.drawdown_pct(D("85"), D("100")) == D("15")
    assert risk.drawdown_pct(D("120"), D("100")) == 0
    assert risk.drawdown_pct(D("10"), D("0")) == 0
    assert risk.drawdown_breached(D("85"), D("100"), D("15"))
    assert not risk.drawdown_breached(D("85.01"), D("100"), D("15"))


def test_round_down() -> None:
    assert risk.round_down(D("1.23456"), D("0.01")) == D("1.23")
    assert risk.round_down(D("7"), D("5")) == D("5")
    assert risk.round_down(D("1.5"), None) == D("1.5")


# --- stops ----------------------------------------------------------------------------


def test_initial_stop() -> None:
    assert risk.initial_stop("long", D("100"), D("4")) == D("96")
    assert risk.initial_stop("short", D("100"), D("4")) == D("104")


def test_trailing_stop_long_only_rises() -> None:
    stop = risk.update_trailing_stop("long", D("100"), D("96"), D("110"), D("4"))
    assert stop == D("106")
    # price falls back: the stop does not loosen
    assert risk.update_trailing_stop("long", D("100"), stop, D("103"), D("4")) == D("106")
    # without a stop, start from entry - distance
    assert risk.update_trailing_stop("long", D("100"), None, D("100"), D("4")) == D("96")


def test_trailing_stop_short_only_falls() -> None:
    stop = risk.update_trailing_stop("short", D("100"), D("104"), D("90"), D("4"))
    assert stop == D("94")
    assert risk.update_trailing_stop("short", D("100"), stop, D("97"), D("4")) == D("94")
    assert risk.update_trailing_stop("short", D("100"), None, D("100"), D("4")) == D("104")


def test_trailing_stop_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        risk.update_trailing_stop("flat", D(1), None, D(1), D(1))
    with pytest.raises(ValueError):
        risk.update_trailing_stop("long", D(1), None, D(1), D(-1))


def test_stop_hit() -> None:
    assert risk.stop_hit("long", D("96"), D("95.9"), D("101"))
    assert risk.stop_hit("long", D("96"), D("96"), D("101"))
    assert not risk.stop_hit("long", D("96"), D("96.1"), D("101"))
    assert risk.stop_hit("short", D("104"), D("99"), D("104"))
    assert not risk.stop_hit("short", D("104"), D("99"), D("103.9"))


def test_core_imports_no_io_libraries() -> None:
    import subprocess
    import sys

    code = (
        "import sys, nija_tg.core.risk, nija_tg.core.pnl, nija_tg.strategies;"
        "bad = {'asyncio', 'aiosqlite', 'aiohttp', 'ccxt', 'telegram', 'sqlite3'};"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
