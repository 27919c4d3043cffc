"""Admin bounds as admins type them, and users' settings brought inside them. Pure.

``/bound max_position_usd ..500`` narrows a numeric setting (``lo..hi``, ``lo..`` or
``..hi``); ``/bound allowed_pairs BTC,ETH`` and ``/bound position_mode one_way`` narrow
choices; ``off`` lifts a bound. Strategy parameters are ``strategy.<param>``. A bound
may only narrow the hard bounds; on/off settings cannot be bounded. ``DEFAULT_BOUNDS``
hold where no admin bound does (leverage up to 5x).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from nija_tg.core.errors import ValidationError
from nija_tg.core.risk_settings import SPECS, RiskSettings
from nija_tg.core.setting_parse import (
    Bound,
    choice_allowed,
    effective_range,
    fmt,
    is_asset,
    normalise_name,
    parse_number,
)
from nija_tg.strategies import available, get_strategy
from nija_tg.strategies.base import ParamSpec, param_specs

LIFT = frozenset({"off", "none", "lift", "remove"})
MAX_CHOICES = 50

# Bounds that hold for everyone until an admin bounds the same setting: leverage up to
# 5x, the NIJA seed's hard cap (bot/adaptive_leverage_system.py, absolute_max_leverage
# 5.0). An admin's bound with an upper end replaces it (``/bound leverage_cap ..20``, for
# everyone or one user, allows up to 20x); one with only a lower end keeps the 5x ceiling
# unless its lower end is above it.
DEFAULT_BOUNDS: dict[str, Bound] = {"leverage_cap": Bound(hi=Decimal(5))}


def with_default_bounds(bounds: Mapping[str, Bound]) -> dict[str, Bound]:
    """``bounds`` (what admins set, merged for one user) with ``DEFAULT_BOUNDS`` filled in
    where no admin bound gives the same end."""
    out = dict(bounds)
    for name, default in DEFAULT_BOUNDS.items():
        given = out.get(name)
        if given is None:
            out[name] = default
        elif given.hi is None and default.hi is not None:
            if given.lo is None or Decimal(given.lo) <= default.hi:
                out[name] = Bound(lo=given.lo, hi=default.hi, choices=given.choices)
    return out


def bound_names() -> list[str]:
    """Every name a bound can be set on (numeric and choice settings, strategy params)."""
    names = [n for n, s in SPECS.items() if s.kind != "bool"]
    for strategy in available():
        params = param_specs(type(get_strategy(strategy).default_params()))
        names += [f"strategy.{p}" for p in params if f"strategy.{p}" not in names]
    return names


def _param_spec(pname: str) -> ParamSpec | None:
    for strategy in available():
        spec = param_specs(type(get_strategy(strategy).default_params())).get(pname)
        if spec is not None:
            return spec
    return None


def _range(name: str, text: str, lo: Decimal, hi: Decimal, whole: bool) -> Bound:
    left, sep, right = text.partition("..")
    if not sep:
        raise ValidationError(
            f"bad range for {name}", code="bound_range_syntax", params={"name": name, "sent": text}
        )
    ends = []
    for part in (left, right):
        if not part.strip():
            ends.append(None)
            continue
        value = parse_number(part, "")
        if value is None or (whole and value != value.to_integral_value()):
            raise ValidationError(
                f"bad range end for {name}",
                code="bound_not_whole_number" if whole else "bound_not_number",
                params={"name": name, "sent": part},
            )
        ends.append(value)
    b_lo, b_hi = ends
    if b_lo is None and b_hi is None:
        raise ValidationError(
            f"empty range for {name}", code="bound_range_empty", params={"name": name}
        )
    eff_lo, eff_hi = effective_range(lo, hi, Bound(b_lo, b_hi))
    if eff_lo > eff_hi:
        raise ValidationError(
            f"range outside the hard bounds of {name}",
            code="bound_outside_hard",
            params={"name": name, "lo": lo, "hi": hi},
        )
    return Bound(lo=b_lo, hi=b_hi)


def _choices(name: str, text: str, allowed: tuple[str, ...] | None, upper: bool) -> Bound:
    items = [t.strip() for t in text.replace(" ", ",").split(",") if t.strip()]
    picked = [t.upper() if upper else t.lower() for t in items][:MAX_CHOICES]
    bad = [t for t in picked if (allowed is not None and t not in allowed)]
    if upper:
        bad += [t for t in picked if not is_asset(t)]
    if not picked or bad:
        raise ValidationError(
            f"bad choices for {name}",
            code="bound_choices" if allowed else "bound_assets",
            params={"name": name, "allowed": ", ".join(allowed or ()), "sent": text},
        )
    return Bound(choices=frozenset(picked))


def parse_bound(name: str, text: str) -> tuple[str, Bound | None]:
    """(normalised name, bound) from what an admin typed; None lifts the bound."""
    key = normalise_name(name)
    if key not in SPECS and not key.startswith("strategy."):
        key = f"strategy.{key}" if _param_spec(key) is not None else key
    if key not in bound_names():
        raise ValidationError(
            f"unknown bound {key}",
            code="unknown_bound_listed",
            params={"sent": name, "names": ", ".join(bound_names())},
        )
    raw = str(text).strip()
    if raw.lower() in LIFT:
        return key, None
    spec = SPECS.get(key)
    if spec is None:
        pspec = _param_spec(key.removeprefix("strategy."))
        assert pspec is not None
        if pspec.kind is str:
            return key, _choices(key, raw, pspec.choices, upper=False)
        lo, hi = Decimal(str(pspec.lo)), Decimal(str(pspec.hi))
        return key, _range(key, raw, lo, hi, pspec.kind is int)
    if spec.kind in ("decimal", "int"):
        assert spec.lo is not None and spec.hi is not None
        return key, _range(key, raw, spec.lo, spec.hi, spec.kind == "int")
    if spec.kind == "choice":
        return key, _choices(key, raw, spec.choices, upper=False)
    if spec.kind == "strategy":
        return key, _choices(key, raw, tuple(available()), upper=False)
    return key, _choices(key, raw, None, upper=True)  # allowed_pairs


def describe(bound: Bound) -> str:
    """``1..3``, ``..500``, ``BTC, ETH``."""
    parts = []
    if bound.lo is not None or bound.hi is not None:
        lo = "" if bound.lo is None else fmt(bound.lo)
        hi = "" if bound.hi is None else fmt(bound.hi)
        parts.append(f"{lo}..{hi}")
    if bound.choices is not None:
        parts.append(", ".join(sorted(bound.choices)))
    return " ".join(parts) or "(none)"


def _clamp_number(value: Any, lo: Decimal, hi: Decimal, whole: bool, as_float: bool) -> Any:
    clamped = min(max(Decimal(str(value)), lo), hi)
    if whole:
        return int(clamped)
    return float(clamped) if as_float else clamped


def clamp_to_bounds(settings: RiskSettings, bounds: Mapping[str, Bound]) -> RiskSettings:
    """``settings`` moved inside ``bounds`` (values already inside stay as they are)."""
    changes: dict[str, Any] = {}
    for name, spec in SPECS.items():
        bound = bounds.get(name)
        if bound is None:
            continue
        value = getattr(settings, name)
        if spec.kind in ("decimal", "int"):
            assert spec.lo is not None and spec.hi is not None
            lo, hi = effective_range(spec.lo, spec.hi, bound)
            new = _clamp_number(value, lo, hi, spec.kind == "int", False)
        elif spec.kind == "choice":
            allowed = [c for c in spec.choices if choice_allowed(c, bound)]
            new = value if value in allowed or not allowed else allowed[0]
        elif spec.kind == "pairs" and bound.choices is not None:
            kept = tuple(a for a in value if a in bound.choices)
            new = kept or tuple(sorted(bound.choices))
        else:
            continue
        if new != value:
            changes[name] = new
    out = dataclasses.replace(settings, **changes) if changes else settings
    strategy_bound = bounds.get("strategy")
    if strategy_bound is not None and not choice_allowed(out.strategy, strategy_bound):
        allowed = [s for s in available() if choice_allowed(s, strategy_bound)]
        if allowed:
            params = get_strategy(allowed[0]).default_params()
            out = dataclasses.replace(out, strategy=allowed[0], strategy_params=params)
    params = out.strategy_params
    for pname, pspec in param_specs(type(params)).items():
        bound = bounds.get(f"strategy.{pname}") or bounds.get(pname)
        if bound is None:
            continue
        value = getattr(params, pname)
        if pspec.kind is str:
            allowed = [c for c in pspec.choices if choice_allowed(c, bound)]
            new = value if value in allowed or not allowed else allowed[0]
        else:
            lo, hi = effective_range(Decimal(str(pspec.lo)), Decimal(str(pspec.hi)), bound)
            new = _clamp_number(value, lo, hi, pspec.kind is int, pspec.kind is float)
        if new != value:
            params = params.with_value(pname, new)
    if params is not out.strategy_params:
        out = dataclasses.replace(out, strategy_params=params)
    return out
