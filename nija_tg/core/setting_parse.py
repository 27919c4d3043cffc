"""Strict parsing of setting values typed by users, and the specs it works from.

Everything here is pure: text in, a typed value (or a ValidationError whose
``user_message`` names the allowed range and echoes at most 20 characters) out.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from nija_tg.core.errors import ValidationError
from nija_tg.core.number_format import exact
from nija_tg.strategies.base import ParamSpec

QUOTE_ASSETS = frozenset({"USD", "USDT", "USDC"})
MAX_PAIRS = 50
ECHO_LIMIT = 20


@dataclass(frozen=True, slots=True)
class Bound:
    """An admin's narrowing of one setting: a numeric range and/or allowed choices."""

    lo: Decimal | None = None
    hi: Decimal | None = None
    choices: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class SettingSpec:
    name: str
    kind: str  # "decimal" | "int" | "bool" | "choice" | "pairs" | "strategy"
    lo: Decimal | None = None
    hi: Decimal | None = None
    choices: tuple[str, ...] = ()
    unit: str = ""  # "%", "usd" or "x": accepted as a suffix/prefix when parsing


NUMBER = re.compile(r"\+?(?:[0-9]{1,12}(?:\.[0-9]{1,10})?|\.[0-9]{1,10})")
# thousands separators as the bot shows numbers (``100,000``, ``1,234.5``): groups of
# exactly three digits after the first one to three, so ``1,5`` is no number
GROUPED = re.compile(r"\+?[0-9]{1,3}(?:,[0-9]{3}){1,3}(?:\.[0-9]{1,10})?")
MONEY_CODES = ("usdt", "usdc", "usd")  # a money setting's value may end with one
ASSET = re.compile(r"[A-Z0-9]{1,15}")
TRUE = frozenset({"on", "true", "yes", "1", "enable", "enabled"})
FALSE = frozenset({"off", "false", "no", "0", "disable", "disabled"})


def echo(raw: object) -> str:
    """User input quoted for a reply: at most 20 characters, control characters replaced,
    HTML-escaped (safe under parse_mode HTML and as plain text)."""
    text = str(raw)
    cut = text[:ECHO_LIMIT]
    cut = "".join(ch if ch.isprintable() else "?" for ch in cut)
    suffix = "…" if len(text) > ECHO_LIMIT else ""
    return f"'{html.escape(cut, quote=False)}{suffix}'"


# a setting's number for people: the one format (``100,000``, ``0.5``); the name ``fmt``
# is what ``setting_bounds`` imports
fmt = exact


def range_message(name: str, kind: str, lo: Any, hi: Any, raw: object = None) -> str:
    what = "a whole number" if kind == "int" else "a number"
    sent = f" (you sent {echo(raw)})" if raw is not None else ""
    return f"{name} must be {what} between {fmt(lo)} and {fmt(hi)}{sent}."


def normalise_name(name: str) -> str:
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    return key.removeprefix("/")


def is_asset(text: object) -> bool:
    return isinstance(text, str) and ASSET.fullmatch(text) is not None


def effective_range(lo: Decimal, hi: Decimal, bound: Bound | None) -> tuple[Decimal, Decimal]:
    """Hard bounds narrowed by an admin bound (never widened)."""
    if bound is not None and bound.lo is not None:
        lo = max(lo, Decimal(bound.lo))
    if bound is not None and bound.hi is not None:
        hi = min(hi, Decimal(bound.hi))
    return lo, hi


def choice_allowed(choice: str, bound: Bound | None) -> bool:
    return bound is None or bound.choices is None or choice in bound.choices


def parse_number(raw: str, unit: str) -> Decimal | None:
    """A plain non-negative decimal (no exponent, NaN or inf; thousands separators only
    as the bot shows them: ``100,000``), else None. A money setting (unit ``usd``: the
    account's currency) may carry ``$`` or a code: ``$250``, ``250 USDT``."""
    text = raw.strip().lower()
    if unit == "%":
        text = text.removesuffix("%").strip()
    elif unit == "usd":
        text = text.removeprefix("$").strip()
        for code in MONEY_CODES:
            if text.endswith(code):
                text = text.removesuffix(code)
                break
        text = text.removesuffix("$").strip()
    elif unit == "x":
        text = text.removesuffix("x").strip()
    if GROUPED.fullmatch(text):
        text = text.replace(",", "")
    if not NUMBER.fullmatch(text):
        return None
    return Decimal(text)


def parse_numeric(name: str, kind: str, lo: Any, hi: Any, raw: str, unit: str) -> Decimal:
    value = parse_number(raw, unit)
    ok = value is not None and lo <= value <= hi
    if ok and kind == "int":
        ok = value == value.to_integral_value()
    if not ok or value is None:
        raise ValidationError(
            f"bad value for {name}", user_message=range_message(name, kind, lo, hi, raw)
        )
    return value


def parse_choice(name: str, raw: str, choices: tuple[str, ...]) -> str:
    text = raw.strip().lower().replace("-", "_").replace(" ", "_")
    if text not in choices:
        raise ValidationError(
            f"bad value for {name}",
            user_message=f"{name} must be one of: {', '.join(choices)} (you sent {echo(raw)}).",
        )
    return text


def parse_bool(name: str, raw: str) -> bool:
    text = raw.strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValidationError(
        f"bad value for {name}", user_message=f"{name} must be on or off (you sent {echo(raw)})."
    )


def parse_pair_token(token: str) -> str | None:
    """``BTC``, ``btc/usdt``, ``BTC-USD`` or ``BTC/USDT:USDT`` -> ``BTC``; None if bad."""
    token = token.upper().split(":", 1)[0]
    for sep in ("/", "-"):
        if sep in token:
            base, _, quote = token.partition(sep)
            return base if quote in QUOTE_ASSETS and is_asset(base) else None
    return token if is_asset(token) else None


def parse_pairs(raw: str, current: tuple[str, ...], bound: Bound | None) -> tuple[str, ...]:
    """A full list (``BTC, ETH``) or edits of the current one (``+SOL -ADA``)."""
    tokens = [t for t in re.split(r"[\s,;]+", raw.strip()) if t]
    help_text = (
        "allowed_pairs must be asset symbols such as BTC, ETH or BTC/USDT (quotes: "
        f"{', '.join(sorted(QUOTE_ASSETS))}), or +SOL / -ADA to add or remove"
    )
    edits = bool(tokens) and all(t[0] in "+-" for t in tokens)
    result = list(current) if edits else []
    for token in tokens:
        sign = token[0] if edits else "+"
        base = parse_pair_token(token[1:] if edits else token)
        if base is None:
            raise ValidationError("bad pair", user_message=f"{help_text} (you sent {echo(token)}).")
        if sign == "+" and base not in result:
            if not choice_allowed(base, bound):
                raise ValidationError(
                    "pair not permitted", user_message=f"{base} is not permitted for you."
                )
            result.append(base)
        elif sign == "-" and base in result:
            result.remove(base)
    if not result or len(result) > MAX_PAIRS:
        raise ValidationError(
            "bad pair list",
            user_message=f"allowed_pairs needs 1 to {MAX_PAIRS} assets (you sent {echo(raw)}).",
        )
    return tuple(result)


def parse_value(spec: SettingSpec, raw: str, bound: Bound | None, pairs: tuple[str, ...]) -> Any:
    raw = str(raw)
    if spec.kind in ("decimal", "int"):
        lo, hi = effective_range(spec.lo, spec.hi, bound)
        value = parse_numeric(spec.name, spec.kind, lo, hi, raw, spec.unit)
        return int(value) if spec.kind == "int" else value
    if spec.kind == "bool":
        return parse_bool(spec.name, raw)
    if spec.kind == "choice":
        choices = tuple(c for c in spec.choices if choice_allowed(c, bound))
        return parse_choice(spec.name, raw, choices)
    return parse_pairs(raw, pairs, bound)


def parse_param(pspec: ParamSpec, raw: str, bound: Bound | None) -> Any:
    name = f"strategy.{pspec.name}"
    raw = str(raw)
    if pspec.kind is str:
        choices = tuple(c for c in pspec.choices if choice_allowed(c, bound))
        return parse_choice(name, raw, choices)
    lo, hi = effective_range(Decimal(str(pspec.lo)), Decimal(str(pspec.hi)), bound)
    kind = "int" if pspec.kind is int else "decimal"
    value = parse_numeric(name, kind, lo, hi, raw, "")
    return int(value) if pspec.kind is int else float(value)


def load_value(spec: SettingSpec, raw: Any) -> Any:
    """A stored value, tolerantly: None when unreadable, numbers clamped to bounds."""
    if spec.kind in ("decimal", "int"):
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            return None
        value = parse_number(str(raw), "") if not isinstance(raw, int) else Decimal(raw)
        if value is None or (spec.kind == "int" and value != value.to_integral_value()):
            return None
        value = min(max(value, spec.lo), spec.hi)
        return int(value) if spec.kind == "int" else value
    if spec.kind == "bool":
        return raw if isinstance(raw, bool) else None
    if spec.kind == "choice":
        return raw if raw in spec.choices else None
    if spec.kind == "pairs" and isinstance(raw, list | tuple):
        pairs = tuple(dict.fromkeys(a for a in raw if is_asset(a)))
        return pairs[:MAX_PAIRS] or None
    return None
