"""Per-user risk settings: defaults, hard bounds, presets, strict parsing, JSON round-trip.

Hard bounds (inclusive) and defaults (= the "moderate" preset), with where each default
comes from: the NIJA seed (github.com/dantelrharrell-debug/Nija, file named) or, where
the seed has no such value, the earlier designs of MISSION.md::

    max_position_usd         10 .. 100000    300     USD notional per position
                             (MISSION.md; the seed caps by share of balance instead)
    max_open_positions        1 .. 20        7       seed .env.example
                             MAX_CONCURRENT_POSITIONS=7 (MISSION.md said 2; issue 12: 7)
    risk_per_trade_pct      0.1 .. 10        2.0     % of equity lost if the stop is hit
                             (seed RISK_PROFILES_GUIDE.md, RETAIL profile: 2 %)
    daily_loss_pct          0.5 .. 50        5.0     % of start-of-day equity ...
                             (seed RISK_PROFILES_GUIDE.md, MASTER profile: 5 %)
    daily_loss_usd            5 .. 100000    150     ... or USD, whichever comes first
                             (MISSION.md; no USD limit in the seed)
    max_drawdown_pct          1 .. 90        15.0    from peak equity: pause and alert
                             (seed bot/adaptive_leverage_system.py max_drawdown_pct 0.15)
    leverage_cap              1 .. 50        5       swaps only; users up to 5 unless an
                             admin bound allows more (setting_bounds.DEFAULT_BOUNDS)
                             (seed bot/adaptive_leverage_system.py absolute_max_leverage 5)
    trailing_atr_multiplier 0.5 .. 10        2.0     trailing distance = ATR x this
                             (this project's; the seed trails at ATR x 1.2-1.5,
                             bot/apex_config.py TRAILING_STOP, STOP_LOSS)
    position_mode            one_way | hedge          one_way   (MISSION.md)
    trailing_stop / auto_compound  on | off           on / on   (MISSION.md)
    allowed_pairs            base assets, quoted in USD, USDT or USDC
                             BTC ETH SOL AVAX POL DOT LINK ADA   (MISSION.md; the seed's
                             bot/apex_config.py TRADING_PAIRS start with BTC ETH SOL)
    strategy                 a registered strategy    adx_trend (params: its defaults)

Presets touch risk fields only (never strategy, pairs or position mode), so trade-only
users may apply them. Conservative follows the seed's INVESTOR_SAFE profile, aggressive
its MASTER profile (RISK_PROFILES_GUIDE.md, the version with MASTER / RETAIL /
INVESTOR_SAFE), leverage the seed's adaptive leverage modes (CONSERVATIVE up to 2x, the
hard cap 5x); the values marked * have no seed counterpart and are this project's::

                      conservative  moderate  aggressive
    max_position_usd      100*        300       1000*
    max_open_positions      3           7         10
    risk_per_trade_pct    1.0         2.0        3.0
    daily_loss_pct        1.5         5.0        8.0*  (MASTER: 5)
    daily_loss_usd         50*        150        400*
    max_drawdown_pct      5.0        15.0       25.0*  (MASTER: 15)
    leverage_cap            2           5          5   (above 5 only by an admin bound)
    trailing_atr_mult     1.5*        2.0        2.5*
    auto_compound         off          on         on

Admins narrow the hard bounds per user with ``admin_bounds`` (name -> :class:`Bound`);
strategy parameters are addressed as ``strategy.<param>`` (or the bare param name).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from nija_tg.core.errors import PermissionDeniedError, ValidationError
from nija_tg.core.setting_parse import (
    QUOTE_ASSETS,
    Bound,
    SettingSpec,
    choice_allowed,
    effective_range,
    is_asset,
    load_value,
    normalise_name,
    parse_choice,
    parse_param,
    parse_value,
)
from nija_tg.strategies import DEFAULT_STRATEGY, StrategyParams, available, get_strategy
from nija_tg.strategies.base import param_specs

DEFAULT_PAIRS = ("BTC", "ETH", "SOL", "AVAX", "POL", "DOT", "LINK", "ADA")
POSITION_MODES = ("one_way", "hedge")


def _d(lo: str, hi: str) -> dict[str, Decimal]:
    return {"lo": Decimal(lo), "hi": Decimal(hi)}


SPECS: dict[str, SettingSpec] = {
    s.name: s
    for s in (
        SettingSpec("max_position_usd", "decimal", **_d("10", "100000"), unit="usd"),
        SettingSpec("max_open_positions", "int", **_d("1", "20")),
        SettingSpec("risk_per_trade_pct", "decimal", **_d("0.1", "10"), unit="%"),
        SettingSpec("daily_loss_pct", "decimal", **_d("0.5", "50"), unit="%"),
        SettingSpec("daily_loss_usd", "decimal", **_d("5", "100000"), unit="usd"),
        SettingSpec("max_drawdown_pct", "decimal", **_d("1", "90"), unit="%"),
        SettingSpec("leverage_cap", "int", **_d("1", "50"), unit="x"),
        SettingSpec("trailing_atr_multiplier", "decimal", **_d("0.5", "10"), unit="x"),
        SettingSpec("position_mode", "choice", choices=POSITION_MODES),
        SettingSpec("trailing_stop", "bool"),
        SettingSpec("auto_compound", "bool"),
        SettingSpec("allowed_pairs", "pairs"),
        SettingSpec("strategy", "strategy"),
    )
}


def _default_params() -> StrategyParams:
    return get_strategy(DEFAULT_STRATEGY).default_params()


@dataclass(frozen=True, slots=True)
class RiskSettings:
    """One user's limits. Construction checks hard bounds (ValidationError)."""

    max_position_usd: Decimal = Decimal("300")
    max_open_positions: int = 7  # the NIJA seed's MAX_CONCURRENT_POSITIONS
    risk_per_trade_pct: Decimal = Decimal("2.0")
    daily_loss_pct: Decimal = Decimal("5.0")
    daily_loss_usd: Decimal = Decimal("150")
    max_drawdown_pct: Decimal = Decimal("15.0")
    leverage_cap: int = 5
    trailing_atr_multiplier: Decimal = Decimal("2.0")
    position_mode: str = "one_way"
    trailing_stop: bool = True
    auto_compound: bool = True
    allowed_pairs: tuple[str, ...] = DEFAULT_PAIRS
    strategy: str = DEFAULT_STRATEGY
    strategy_params: StrategyParams = field(default_factory=_default_params)

    def __post_init__(self) -> None:
        for spec in SPECS.values():
            value = getattr(self, spec.name)
            if spec.kind in ("decimal", "int"):
                want = Decimal if spec.kind == "decimal" else int
                if isinstance(value, bool) or not isinstance(value, want):
                    raise ValidationError(f"{spec.name} must be {want.__name__}")
                if not (value.is_finite() if isinstance(value, Decimal) else True):
                    raise ValidationError(f"{spec.name} must be finite")
                if not spec.lo <= value <= spec.hi:
                    raise ValidationError(
                        f"{spec.name} outside {spec.lo}..{spec.hi}",
                        code="setting_out_of_range",
                        params={"name": spec.name, "lo": spec.lo, "hi": spec.hi},
                    )
            elif spec.kind == "bool" and not isinstance(value, bool):
                raise ValidationError(f"{spec.name} must be a bool")
            elif spec.kind == "choice" and value not in spec.choices:
                raise ValidationError(f"{spec.name} must be one of {', '.join(spec.choices)}")
        if not self.allowed_pairs or any(not is_asset(a) for a in self.allowed_pairs):
            raise ValidationError("allowed_pairs must be a non-empty list of asset symbols")
        if self.strategy not in available():
            raise ValidationError(f"unknown strategy {self.strategy!r}")
        strategy = get_strategy(self.strategy)
        if not isinstance(self.strategy_params, strategy.params_type):
            raise ValidationError(f"strategy_params do not belong to {self.strategy}")

    # --- helpers -------------------------------------------------------------------
    def allows_pair(self, base: str, quote: str) -> bool:
        return base.upper() in self.allowed_pairs and quote.upper() in QUOTE_ASSETS

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: Decimals as strings, pairs as a list, params as a dict."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Decimal):
                v = str(v)
            elif isinstance(v, tuple):
                v = list(v)
            elif isinstance(v, StrategyParams):
                v = v.to_dict()
            out[f.name] = v
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> RiskSettings:
        """Tolerant load: unknown keys ignored, missing or unreadable ones default,
        out-of-range numbers clamped into the hard bounds."""
        data = data or {}
        kwargs: dict[str, Any] = {}
        for spec in SPECS.values():
            if spec.name in data and spec.kind != "strategy":
                value = load_value(spec, data[spec.name])
                if value is not None:
                    kwargs[spec.name] = value
        name = data.get("strategy")
        if isinstance(name, str) and name in available():
            kwargs["strategy"] = name
            kwargs["strategy_params"] = _load_params(name, data.get("strategy_params"))
        return cls(**kwargs)


def _load_params(name: str, raw: Any) -> StrategyParams:
    strategy = get_strategy(name)
    params = strategy.default_params()
    if not isinstance(raw, Mapping):
        return params
    try:
        return strategy.params_from_dict(raw)
    except (ValueError, TypeError):
        pass
    for key, value in raw.items():  # salvage what fits, one key at a time
        try:
            params = params.with_value(key, value)
        except (KeyError, ValueError, TypeError):
            continue
    return params


# --- presets ------------------------------------------------------------------------

_PRESET_FIELDS = (
    "max_position_usd",
    "max_open_positions",
    "risk_per_trade_pct",
    "daily_loss_pct",
    "daily_loss_usd",
    "max_drawdown_pct",
    "leverage_cap",
    "trailing_atr_multiplier",
    "trailing_stop",
    "auto_compound",
)


def _preset(*values: Any) -> dict[str, Any]:
    conv = [Decimal(v) if isinstance(v, str) else v for v in values]
    return dict(zip(_PRESET_FIELDS, conv, strict=True))


_MODERATE = RiskSettings()
PRESETS: dict[str, dict[str, Any]] = {
    "conservative": _preset("100", 3, "1.0", "1.5", "50", "5.0", 2, "1.5", True, False),
    "moderate": {n: getattr(_MODERATE, n) for n in _PRESET_FIELDS},
    "aggressive": _preset("1000", 10, "3.0", "8.0", "400", "25.0", 5, "2.5", True, True),
}


def apply_preset(
    settings: RiskSettings, preset: str, *, admin_bounds: Mapping[str, Bound] | None = None
) -> RiskSettings:
    """Settings with a preset's risk values, each clamped into the admin bounds."""
    values = PRESETS.get(preset.strip().lower())
    if values is None:
        raise ValidationError(
            "unknown preset",
            code="unknown_preset",
            params={"presets": ", ".join(PRESETS), "sent": preset},
        )
    changes: dict[str, Any] = {}
    for name, value in values.items():
        spec = SPECS[name]
        if spec.kind in ("decimal", "int"):
            lo, hi = effective_range(spec.lo, spec.hi, (admin_bounds or {}).get(name))
            value = min(max(Decimal(value), lo), hi)
            value = int(value) if spec.kind == "int" else value
        changes[name] = value
    return dataclasses.replace(settings, **changes)


# --- one setting from user text -----------------------------------------------------


def setting_names(settings: RiskSettings | None = None) -> list[str]:
    """Names ``apply_setting`` accepts (strategy params of ``settings``' strategy too)."""
    settings = settings or RiskSettings()
    params = [f"strategy.{n}" for n in param_specs(type(settings.strategy_params))]
    return [*SPECS, *params]


def apply_setting(
    settings: RiskSettings,
    name: str,
    raw_text: str,
    *,
    admin_bounds: Mapping[str, Bound] | None = None,
    can_change_strategy: bool,
    currency: str = "USD",
) -> RiskSettings:
    """Return ``settings`` with one value changed from user-typed text (a money
    setting's counted in ``currency``, the account's: another currency's code is
    refused).

    Raises ValidationError (a code with the setting's name, its allowed range or choices
    and what was typed: ``setting_parse``) or PermissionDeniedError for trade-only users
    touching the strategy.
    """
    bounds = admin_bounds or {}
    key = normalise_name(name)
    param_names = param_specs(type(settings.strategy_params))
    pname = key.removeprefix("strategy.") if key not in SPECS else None
    if key in SPECS and key != "strategy":
        value = parse_value(SPECS[key], raw_text, bounds.get(key), settings.allowed_pairs, currency)
        return dataclasses.replace(settings, **{key: value})
    if key != "strategy" and pname not in param_names:
        raise ValidationError(
            "unknown setting",
            code="unknown_setting_listed",
            params={"names": ", ".join(setting_names(settings)), "sent": name},
        )
    if not can_change_strategy:
        raise PermissionDeniedError(
            "trade-only user tried to change the strategy", code="strategy_admin_managed"
        )
    if key == "strategy":
        allowed = [n for n in available() if choice_allowed(n, bounds.get("strategy"))]
        choice = parse_choice("strategy", raw_text, tuple(allowed))
        if choice == settings.strategy:
            return settings
        params = get_strategy(choice).default_params()
        return dataclasses.replace(settings, strategy=choice, strategy_params=params)
    assert pname is not None
    pbound = bounds.get(f"strategy.{pname}") or bounds.get(pname)
    value = parse_param(param_names[pname], raw_text, pbound)
    try:
        params = settings.strategy_params.with_value(pname, value)
    except ValueError as exc:  # a cross-field rule of the strategy's (its own words)
        raise ValidationError(
            str(exc), code="strategy_param_rule", params={"rule": exc, "sent": raw_text}
        ) from None
    return dataclasses.replace(settings, strategy_params=params)
