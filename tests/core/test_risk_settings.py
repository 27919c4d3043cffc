"""Risk settings: defaults, bounds, strict parsing, presets, serialisation."""

import dataclasses
import json
from decimal import Decimal as D

import pytest

from nija_tg.core.errors import PermissionDeniedError, ValidationError
from nija_tg.core.number_format import exact
from nija_tg.core.risk_settings import (
    DEFAULT_PAIRS,
    PRESETS,
    SPECS,
    Bound,
    RiskSettings,
    apply_preset,
    apply_setting,
    setting_names,
)
from nija_tg.messages.errors import text
from nija_tg.strategies.adx_trend import AdxTrendParams

DEFAULT = RiskSettings()


def put(name: str, raw: str, settings: RiskSettings = DEFAULT, **kw) -> RiskSettings:
    kw.setdefault("can_change_strategy", True)
    return apply_setting(settings, name, raw, **kw)


def rejected(name: str, raw: str, **kw) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        put(name, raw, **kw)
    return info.value


def test_defaults() -> None:
    s = DEFAULT
    assert s.max_position_usd == D("300")
    assert s.max_open_positions == 7  # the NIJA seed's MAX_CONCURRENT_POSITIONS
    assert s.risk_per_trade_pct == D("2.0")
    assert (s.daily_loss_pct, s.daily_loss_usd) == (D("5.0"), D("150"))
    assert s.max_drawdown_pct == D("15.0")
    assert s.allowed_pairs == ("BTC", "ETH", "SOL", "AVAX", "POL", "DOT", "LINK", "ADA")
    assert s.leverage_cap == 5 and s.position_mode == "one_way"
    assert s.trailing_stop is True and s.trailing_atr_multiplier == D("2.0")
    assert s.auto_compound is True
    assert s.strategy == "adx_trend" and s.strategy_params == AdxTrendParams()


def test_allows_pair() -> None:
    assert DEFAULT.allows_pair("btc", "usdt") and DEFAULT.allows_pair("POL", "USD")
    assert DEFAULT.allows_pair("ETH", "USDC")
    assert not DEFAULT.allows_pair("XRP", "USDT") and not DEFAULT.allows_pair("BTC", "EUR")


# --- bounds of every numeric setting --------------------------------------------------

BOUNDS = {
    "max_position_usd": ("10", "100000", "9.99", "100000.01"),
    "max_open_positions": ("1", "20", "0", "21"),
    "risk_per_trade_pct": ("0.1", "10", "0.09", "10.01"),
    "daily_loss_pct": ("0.5", "50", "0.49", "50.1"),
    "daily_loss_usd": ("5", "100000", "4.99", "100001"),
    "max_drawdown_pct": ("1", "90", "0.99", "90.01"),
    "leverage_cap": ("1", "50", "0", "51"),
    "trailing_atr_multiplier": ("0.5", "10", "0.49", "10.01"),
}


def test_bounds_table_covers_every_numeric_setting() -> None:
    numeric = {n for n, s in SPECS.items() if s.kind in ("decimal", "int")}
    assert numeric == set(BOUNDS)


@pytest.mark.parametrize("name", sorted(BOUNDS))
def test_numeric_boundaries(name: str) -> None:
    lo, hi, below, above = BOUNDS[name]
    assert getattr(put(name, lo), name) == D(lo)
    assert getattr(put(name, hi), name) == D(hi)
    for bad in (below, above):
        err = rejected(name, bad)
        # the range as the bot writes numbers everywhere: ``100,000``
        assert f"between {exact(D(lo))} and {exact(D(hi))}" in text(err)
        assert f"(you sent '{bad}')" in text(err)


@pytest.mark.parametrize("name", sorted(BOUNDS))
@pytest.mark.parametrize(
    "garbage",
    [
        "abc",
        "nan",
        "NaN",
        "inf",
        "-inf",
        "Infinity",
        "-5",
        "1e3",
        "1_000",
        "1,5",  # a decimal comma: not the bot's thousands separator
        "1,0000",
        "10,00",
        ",100",
        "1,000,",
        "1.000,5",
        "",
        "  ",
        "0x10",
        "9" * 40,
        "1.2.3",
        "--1",
        "½",
        "١٢",
    ],
)
def test_numeric_garbage_rejected(name: str, garbage: str) -> None:
    err = rejected(name, garbage)
    assert text(err).startswith(f"{name} must be a")


def test_exact_error_message() -> None:
    err = rejected("max_position_usd", "abc")
    assert text(err) == (
        "max_position_usd must be a number between 10 and 100,000 (you sent 'abc')."
    )
    err = rejected("max_open_positions", "2.5")
    assert text(err) == (
        "max_open_positions must be a whole number between 1 and 20 (you sent '2.5')."
    )


def test_echo_is_truncated_and_escaped() -> None:
    err = rejected("max_position_usd", "<script>" + "A" * 100)
    sent = text(err).split("(you sent ", 1)[1]
    assert "<" not in sent and "&lt;script&gt;" in sent
    assert "A" * 12 in sent and "A" * 13 not in sent  # 8 + 12 = 20 characters kept
    assert "…" in sent
    err = rejected("max_position_usd", "1\n2\x00")
    assert "\n" not in text(err) and "\x00" not in text(err)


def test_another_currencys_code_is_refused_naming_the_accounts() -> None:
    """``250 USDC`` on a USD account is not 250 USD: refused, naming USD (and any code,
    ``EUR`` too); the account's own code and no code are taken."""
    for raw, currency in (("250 USDC", "USD"), ("250usd", "USDT"), ("$250 EUR", "USD")):
        err = rejected("max_position_usd", raw, currency=currency)
        assert err.code == "setting_other_currency"
        assert text(err) == (
            f"max_position_usd is counted in your account's currency, {currency}: send the "
            f"number alone or with {currency} (you sent '{raw}')."
        )
    assert put("daily_loss_usd", "90 usdt", currency="USDT").daily_loss_usd == D("90")
    assert put("daily_loss_usd", "90", currency="USDT").daily_loss_usd == D("90")
    # letters that are no code after a number are no number either
    assert rejected("max_position_usd", "abc", currency="USD").code == "setting_range"
    assert rejected("max_position_usd", "25 0usd").code == "setting_range"


def test_units_and_whitespace_accepted() -> None:
    assert put("max_position_usd", " $250 ").max_position_usd == D("250")
    assert put("max_position_usd", "250 USD").max_position_usd == D("250")
    # a money setting is in the account's currency: its code may follow
    usdt = {"currency": "USDT"}
    assert put("max_position_usd", "250 USDT", **usdt).max_position_usd == D("250")
    assert put("daily_loss_usd", "90usdc", currency="USDC").daily_loss_usd == D("90")
    # thousands separators as the bot shows numbers (``Allowed: 10 to 100,000 USDT``)
    assert put("max_position_usd", "1,000").max_position_usd == D("1000")
    assert put("max_position_usd", "100,000 USDT", **usdt).max_position_usd == D("100000")
    assert put("daily_loss_usd", "$1,234.5").daily_loss_usd == D("1234.5")
    assert put("risk_per_trade_pct", "1.5%").risk_per_trade_pct == D("1.5")
    assert put("leverage_cap", "3x").leverage_cap == 3
    assert put("max_open_positions", "3.0").max_open_positions == 3
    assert put("risk_per_trade_pct", ".5").risk_per_trade_pct == D("0.5")
    assert put("Max-Position USD", "20").max_position_usd == D("20")


def test_admin_bounds_narrow_but_never_widen() -> None:
    bounds = {"max_position_usd": Bound(hi=D("500")), "leverage_cap": Bound(lo=D(0), hi=D(100))}
    assert put("max_position_usd", "500", admin_bounds=bounds).max_position_usd == D("500")
    err = rejected("max_position_usd", "501", admin_bounds=bounds)
    assert "between 10 and 500" in text(err)
    assert "between 1 and 50" in text(rejected("leverage_cap", "60", admin_bounds=bounds))


def test_unknown_setting() -> None:
    err = rejected("max_everything", "1")
    assert "Unknown setting 'max_everything'" in text(err)
    assert "max_position_usd" in text(err)


# --- booleans, choices, pairs ---------------------------------------------------------


@pytest.mark.parametrize("name", ["trailing_stop", "auto_compound"])
def test_booleans(name: str) -> None:
    for raw in ("off", "False", "no", "0", "disabled"):
        assert getattr(put(name, raw), name) is False
    for raw in ("on", "TRUE", "yes", "1", "enable"):
        assert getattr(put(name, raw), name) is True
    assert "must be on or off" in text(rejected(name, "maybe"))


def test_position_mode() -> None:
    assert put("position_mode", "hedge").position_mode == "hedge"
    assert put("position_mode", "One-Way").position_mode == "one_way"
    assert "one_way, hedge" in text(rejected("position_mode", "both"))
    only_one_way = {"position_mode": Bound(choices=frozenset({"one_way"}))}
    assert "one of: one_way (" in text(
        rejected("position_mode", "hedge", admin_bounds=only_one_way)
    )


def test_allowed_pairs_full_list_in_many_forms() -> None:
    got = put("allowed_pairs", "btc, ETH/USDT  sol-usd;AVAX/USDC BTC/USDT:USDT").allowed_pairs
    assert got == ("BTC", "ETH", "SOL", "AVAX")


def test_allowed_pairs_edits() -> None:
    got = put("allowed_pairs", "+XRP -ADA +BTC").allowed_pairs
    assert got == ("BTC", "ETH", "SOL", "AVAX", "POL", "DOT", "LINK", "XRP")


@pytest.mark.parametrize(
    "raw",
    [
        "BTC/EUR",
        "",
        "-BTC -ETH -SOL -AVAX -POL -DOT -LINK -ADA",
        "B$C",
        "A" * 16,
        " ".join(f"A{i}" for i in range(51)),
    ],
)
def test_allowed_pairs_rejected(raw: str) -> None:
    rejected("allowed_pairs", raw)


def test_allowed_pairs_admin_choices() -> None:
    bounds = {"allowed_pairs": Bound(choices=frozenset({"BTC", "ETH"}))}
    assert put("allowed_pairs", "BTC", admin_bounds=bounds).allowed_pairs == ("BTC",)
    assert "XRP is not permitted" in text(rejected("allowed_pairs", "BTC XRP", admin_bounds=bounds))


# --- strategy and its parameters ------------------------------------------------------


def test_strategy_param_change() -> None:
    s = put("strategy.adx_threshold", "30")
    assert s.strategy_params.adx_threshold == 30.0
    assert put("min_confidence", "0.7").strategy_params.min_confidence == pytest.approx(0.7)
    assert put("strategy.timeframe", "15m").strategy_params.timeframe == "15m"


@pytest.mark.parametrize(
    "name,lo,hi",
    [
        ("adx_threshold", "10", "60"),
        ("adx_length", "5", "50"),
        ("atr_multiplier", "0.5", "10"),
        ("min_confidence", "0.5", "0.95"),
    ],
)
def test_strategy_param_bounds(name: str, lo: str, hi: str) -> None:
    base = DEFAULT
    if name == "adx_threshold":  # keep the exit threshold below the entry threshold
        base = put("adx_exit_threshold", "5")
    for ok in (lo, hi):
        assert getattr(put(name, ok, base).strategy_params, name) == pytest.approx(float(ok))
    for bad in (str(D(lo) - D("0.01")), str(D(hi) + D("0.01")), "nan", "x"):
        with pytest.raises(ValidationError) as info:
            put(name, bad, base)
        assert f"between {lo} and {hi}" in text(info.value)


def test_strategy_param_relations() -> None:
    err = rejected("strategy.ema_fast", "60")
    assert "must be below ema_slow" in text(err) and "(you sent '60')" in text(err)
    assert "must not exceed" in text(rejected("adx_threshold", "15"))


def test_strategy_param_admin_bounds() -> None:
    bounds = {"strategy.min_confidence": Bound(lo=D("0.7"))}
    assert "between 0.7 and 0.95" in text(rejected("min_confidence", "0.6", admin_bounds=bounds))


def test_trade_only_cannot_touch_strategy() -> None:
    for name, raw in [
        ("strategy.adx_threshold", "30"),
        ("adx_length", "20"),
        ("strategy", "adx_trend"),
    ]:
        with pytest.raises(PermissionDeniedError) as info:
            apply_setting(DEFAULT, name, raw, can_change_strategy=False)
        assert "trade-only" in text(info.value)
    # risk settings are still theirs
    s = apply_setting(DEFAULT, "max_position_usd", "50", can_change_strategy=False)
    assert s.max_position_usd == D("50")


def test_strategy_choice() -> None:
    changed = put("strategy.adx_threshold", "30")
    assert put("strategy", "adx_trend", changed) is changed  # same strategy: unchanged
    assert "one of: adx_trend" in text(rejected("strategy", "martingale"))


def test_setting_names() -> None:
    names = setting_names()
    assert "max_position_usd" in names and "strategy.adx_threshold" in names


# --- construction guards --------------------------------------------------------------


@pytest.mark.parametrize(
    "kw",
    [
        {"max_position_usd": D("5")},
        {"max_position_usd": D("NaN")},
        {"max_position_usd": 300},  # int where Decimal is required
        {"max_open_positions": True},
        {"leverage_cap": 0},
        {"position_mode": "both"},
        {"trailing_stop": "yes"},
        {"allowed_pairs": ()},
        {"allowed_pairs": ("btc/usdt",)},
    ],
)
def test_construction_rejects_bad_values(kw: dict) -> None:
    with pytest.raises((ValidationError, TypeError, ArithmeticError)):
        dataclasses.replace(DEFAULT, **kw)


def test_construction_rejects_foreign_params() -> None:
    from nija_tg.strategies.base import StrategyParams

    with pytest.raises(ValidationError):
        dataclasses.replace(DEFAULT, strategy_params=StrategyParams())
    with pytest.raises(ValidationError):
        dataclasses.replace(DEFAULT, strategy="nope")


# --- presets --------------------------------------------------------------------------


def test_moderate_preset_is_the_defaults() -> None:
    tweaked = put("max_position_usd", "1000")
    assert apply_preset(tweaked, "moderate") == DEFAULT


def test_presets_values_and_scope() -> None:
    base = put("allowed_pairs", "BTC")
    c = apply_preset(base, "Conservative")
    assert c.max_position_usd == D("100") and c.max_open_positions == 3
    assert c.risk_per_trade_pct == D("1.0") and c.leverage_cap == 2
    assert (c.daily_loss_pct, c.max_drawdown_pct) == (D("1.5"), D("5.0"))
    assert c.auto_compound is False
    assert c.allowed_pairs == ("BTC",) and c.strategy_params == base.strategy_params
    a = apply_preset(base, "aggressive")
    assert a.max_position_usd == D("1000") and a.max_drawdown_pct == D("25.0")
    assert a.max_open_positions == 10 and a.leverage_cap == 5  # the seed's 5x cap
    order = [apply_preset(DEFAULT, p).risk_per_trade_pct for p in PRESETS]
    assert order == sorted(order)


def test_preset_clamped_into_admin_bounds() -> None:
    bounds = {"max_position_usd": Bound(hi=D("500")), "leverage_cap": Bound(hi=D("3"))}
    a = apply_preset(DEFAULT, "aggressive", admin_bounds=bounds)
    assert a.max_position_usd == D("500") and a.leverage_cap == 3
    assert isinstance(a.leverage_cap, int)


def test_unknown_preset() -> None:
    with pytest.raises(ValidationError) as info:
        apply_preset(DEFAULT, "yolo")
    assert "conservative, moderate, aggressive" in text(info.value)


# --- serialisation --------------------------------------------------------------------


def test_round_trip_through_json() -> None:
    s = put("strategy.adx_threshold", "33.5", put("allowed_pairs", "BTC XRP"))
    s = apply_preset(s, "aggressive")
    data = json.loads(json.dumps(s.to_dict()))
    assert RiskSettings.from_dict(data) == s
    assert data["max_position_usd"] == "1000"


def test_from_dict_defaults_and_ignores() -> None:
    assert RiskSettings.from_dict({}) == DEFAULT
    assert RiskSettings.from_dict(None) == DEFAULT
    s = RiskSettings.from_dict({"bogus": 1, "max_open_positions": 3})
    assert s.max_open_positions == 3 and s.max_position_usd == D("300")


def test_from_dict_tolerates_bad_stored_values() -> None:
    s = RiskSettings.from_dict(
        {
            "max_position_usd": "garbage",
            "risk_per_trade_pct": 99,  # clamped
            "max_open_positions": 2.5,
            "leverage_cap": "0",
            "trailing_stop": "yes",
            "position_mode": "both",
            "allowed_pairs": ["eth", "SOL", 5, "SOL"],
            "strategy": "gone",
            "strategy_params": {"adx_threshold": 40},
        }
    )
    assert s.max_position_usd == D("300") and s.risk_per_trade_pct == D("10")
    assert s.max_open_positions == 7 and s.leverage_cap == 1
    assert s.trailing_stop is True and s.position_mode == "one_way"
    assert s.allowed_pairs == ("SOL",)
    assert s.strategy == "adx_trend" and s.strategy_params == AdxTrendParams()


def test_from_dict_salvages_strategy_params() -> None:
    s = RiskSettings.from_dict(
        {
            "strategy": "adx_trend",
            "strategy_params": {"adx_threshold": 30, "adx_length": 999, "unknown": 1},
        }
    )
    assert s.strategy_params.adx_threshold == 30.0 and s.strategy_params.adx_length == 14


def test_default_pairs_constant() -> None:
    assert DEFAULT_PAIRS == DEFAULT.allowed_pairs
