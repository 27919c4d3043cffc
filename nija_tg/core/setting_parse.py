"""Strict parsing of setting values typed by users, and the specs it works from.

Everything here is pure: text in, a typed value (or a ValidationError) out. An error
says what went wrong as a code and params, never a sentence: the setting's ``name``, its
range (``lo``, ``hi``) or ``choices``, and what was typed (``sent``, echoed by
``messages.errors`` at most 20 characters, escaped); the words are
``nija_tg/messages/errors.py``'s.

A money setting (unit ``usd``) is counted in the account's currency: its value may carry
``$`` or that currency's code (``250 USDT`` on a USDT account); another currency's code
(``250 USDC`` there) is refused (``setting_other_currency``), never taken as if it were
the account's.
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
# a money setting's value may end with a currency code (letters after the number)
MONEY_CODE = re.compile(r"(?P<number>.*?[0-9.$])\s*(?P<code>[a-z]{2,10})")
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


def _invalid(log_text: str, code: str, name: str, raw: object, **params: object) -> ValidationError:
    return ValidationError(log_text, code=code, params={"name": name, "sent": raw, **params})


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


def money_code(raw: str) -> tuple[str, str | None]:
    """A money value split into its number and the currency code typed after it
    (upper case; None without one): ``250 usdt`` -> (``250``, ``USDT``), ``$250`` ->
    (``$250``, None)."""
    text = raw.strip()
    match = MONEY_CODE.fullmatch(text.lower())
    if match is None:
        return text, None
    return match["number"], match["code"].upper()


def parse_number(raw: str, unit: str) -> Decimal | None:
    """A plain non-negative decimal (no exponent, NaN or inf; thousands separators only
    as the bot shows them: ``100,000``), else None. A money setting (unit ``usd``) may
    carry ``$``: ``$250``, ``250$`` (its currency code is ``parse_numeric``'s to check)."""
    text = raw.strip().lower()
    if unit == "%":
        text = text.removesuffix("%").strip()
    elif unit == "usd":
        text = text.removeprefix("$").strip()
        text = text.removesuffix("$").strip()
    elif unit == "x":
        text = text.removesuffix("x").strip()
    if GROUPED.fullmatch(text):
        text = text.replace(",", "")
    if not NUMBER.fullmatch(text):
        return None
    return Decimal(text)


def parse_numeric(
    name: str, kind: str, lo: Any, hi: Any, raw: str, unit: str, currency: str = "USD"
) -> Decimal:
    """A number within ``lo``..``hi`` (whole if ``kind`` is ``int``). A money setting's
    (unit ``usd``) may end with the account's ``currency`` code; another code is refused
    (``setting_other_currency``)."""
    text = raw
    if unit == "usd":
        text, code = money_code(raw)
        if code is not None and code != currency.upper():
            raise _invalid(
                f"other currency for {name}", "setting_other_currency", name, raw, currency=currency
            )
    value = parse_number(text, unit)
    ok = value is not None and lo <= value <= hi
    if ok and kind == "int":
        ok = value == value.to_integral_value()
    if not ok or value is None:
        code = "setting_range_whole" if kind == "int" else "setting_range"
        raise _invalid(f"bad value for {name}", code, name, raw, lo=lo, hi=hi)
    return value


def parse_choice(name: str, raw: str, choices: tuple[str, ...]) -> str:
    text = raw.strip().lower().replace("-", "_").replace(" ", "_")
    if text not in choices:
        raise _invalid(
            f"bad value for {name}", "setting_choice", name, raw, choices=", ".join(choices)
        )
    return text


def parse_bool(name: str, raw: str) -> bool:
    text = raw.strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise _invalid(f"bad value for {name}", "setting_on_off", name, raw)


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
    name = "allowed_pairs"
    edits = bool(tokens) and all(t[0] in "+-" for t in tokens)
    result = list(current) if edits else []
    for token in tokens:
        sign = token[0] if edits else "+"
        base = parse_pair_token(token[1:] if edits else token)
        if base is None:
            quotes = ", ".join(sorted(QUOTE_ASSETS))
            raise _invalid("bad pair", "pairs_symbols", name, token, quotes=quotes)
        if sign == "+" and base not in result:
            if not choice_allowed(base, bound):
                raise _invalid("pair not permitted", "pair_not_permitted", name, token, asset=base)
            result.append(base)
        elif sign == "-" and base in result:
            result.remove(base)
    if not result or len(result) > MAX_PAIRS:
        raise _invalid("bad pair list", "pairs_count", name, raw, max=MAX_PAIRS)
    return tuple(result)


def parse_value(
    spec: SettingSpec,
    raw: str,
    bound: Bound | None,
    pairs: tuple[str, ...],
    currency: str = "USD",
) -> Any:
    """``raw`` as ``spec``'s value (a money setting's counted in ``currency``, the
    account's)."""
    raw = str(raw)
    if spec.kind in ("decimal", "int"):
        lo, hi = effective_range(spec.lo, spec.hi, bound)
        value = parse_numeric(spec.name, spec.kind, lo, hi, raw, spec.unit, currency)
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
