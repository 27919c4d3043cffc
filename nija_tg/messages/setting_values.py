"""The words of the settings service's answers: each setting's label, a value with its
unit (a money setting's in the account's currency, USD or USDT), the allowed range, the
inline editor's button labels and the errors' user messages (HTML-safe: what a user typed
is shown back escaped). Numbers are ``core.number_format.exact``'s (``100,000``), as the
parser's error texts write them. The service decides the numbers (bounds, steps,
presets); this module words them."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from nija_tg.core.number_format import exact as number
from nija_tg.messages import report_data as rd

LABELS = {
    "max_position_usd": "Max position size",
    "max_open_positions": "Max open positions",
    "risk_per_trade_pct": "Risk per trade (of equity)",
    "daily_loss_pct": "Daily loss limit (%)",
    "daily_loss_usd": "Daily loss limit (amount)",
    "max_drawdown_pct": "Max drawdown from peak",
    "leverage_cap": "Leverage cap (swaps)",
    "trailing_atr_multiplier": "Trailing stop distance (x ATR)",
    "position_mode": "Position mode (swaps)",
    "trailing_stop": "Trailing stops",
    "auto_compound": "Auto-compound",
    "allowed_pairs": "Allowed pairs",
    "strategy": "Strategy",
}
# a value's unit as shown; ``usd`` is a money setting's (its /set name keeps "usd" for
# compatibility): shown in the account's currency (``_unit_text``)
UNITS = {"%": "%", "x": "x"}
MONEY = "usd"
ECHO = 20  # characters of a user's input shown back
ON_OR_OFF = "on or off"
ANY_PAIRS = "asset symbols, e.g. BTC ETH (see /pairs)"
OWN_SETTINGS_ONLY = "You can change only your own settings."
VIEWERS_READ_ONLY = "Viewers have read-only access: settings stay as set."
FORGET_LAST_ADMIN = (
    "You are the last admin: /forget would leave the bot without one. Make another user "
    "admin first (/role <id> admin), then send /forget again."
)


def quoted(raw: object) -> str:
    """A user's input shown back: printable only, at most ``ECHO`` characters, escaped,
    in quotes."""
    text = "".join(ch if ch.isprintable() else "?" for ch in str(raw))
    cut = text[:ECHO] + ("…" if len(text) > ECHO else "")
    return f"'{html.escape(cut, quote=False)}'"


def label(name: str) -> str:
    """A risk setting's name for people (its /set name when it has none)."""
    return LABELS.get(name, name)


def param_label(name: str) -> str:
    """A strategy parameter's name for people: ``fast_period`` → ``fast period``."""
    return name.replace("_", " ")


def _unit_text(unit: str, currency: str) -> str:
    """What follows a setting's number: ``%``, ``x``, a money setting's `` USDT`` (the
    account's ``currency``), nothing."""
    if unit == MONEY:
        return f" {currency}" if currency else ""
    return UNITS.get(unit, "")


def value_text(value: Any, unit: str = "", currency: str = "") -> str:
    """A setting's value as text: on/off, lists joined, numbers (``100,000``) with their
    unit (a money setting's in ``currency``: ``250 USDT``)."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, Decimal | int | float):
        return f"{number(value)}{_unit_text(unit, currency)}"
    return str(value)


def numeric_range(lo: Decimal, hi: Decimal, whole: bool, unit: str = "", currency: str = "") -> str:
    """``whole number 1 to 10``, ``0.1 to 5%``, ``10 to 100,000 USDT``."""
    span = f"{number(lo)} to {number(hi)}{_unit_text(unit, currency)}"
    return f"{'whole number ' if whole else ''}{span}"


def either(choices: Iterable[str]) -> str:
    """``one-way or hedge``."""
    return " or ".join(choices)


def one_of(choices: Iterable[str]) -> str:
    return "one of: " + ", ".join(choices)


def pairs_range(permitted: Iterable[str] | None) -> str:
    """The assets a user may pick: those an admin permitted, or any."""
    if permitted is None:
        return ANY_PAIRS
    return "from " + ", ".join(sorted(permitted)) + " (see /pairs)"


def allowed(spec: rd.SettingAllowed, unit: str = "", currency: str = "") -> str:
    """What a setting accepts (``settings_service.Allowed``): ``whole number 1 to 10``,
    ``10 to 100,000 USDT``, ``on or off``, ``one-way or hedge``, ``one of: a, b``, the
    pairs' range."""
    if spec.kind == "range" and spec.lo is not None and spec.hi is not None:
        return numeric_range(spec.lo, spec.hi, spec.whole, unit, currency)
    if spec.kind == "on_off":
        return ON_OR_OFF
    if spec.kind == "either":
        return either(spec.choices or ())
    if spec.kind == "pairs":
        return pairs_range(spec.choices)
    return one_of(spec.choices or ())


def _target_text(target: str) -> str:
    """An editor's value as its button shows it: a number as ``number`` writes it
    (``100000`` -> ``100,000``), anything else as it is."""
    try:
        value = Decimal(target)
    except ArithmeticError:
        return target
    return number(value) if value.is_finite() else target


def step_label(up: bool, delta: Decimal, target: str) -> str:
    """An editor's +/- button: ``+50 → 300``, ``+250 → 1,250``."""
    return f"{'+' if up else '-'}{number(delta)} → {_target_text(target)}"


def preset_label(preset: str, target: str) -> str:
    """An editor's preset value button: ``moderate 250``."""
    return f"{preset} {_target_text(target)}"


def unknown_setting(typed: str, known: Sequence[str]) -> str:
    return f"Unknown setting {quoted(typed)}. Settings: {', '.join(known)}."


def pairs_usage(max_assets: int) -> str:
    return f"Usage: /pairs add SOL or /pairs remove ADA (1 to {max_assets} assets)."


def notify_usage(groups: Sequence[str], sent: str) -> str:
    return (
        f"Usage: /notify &lt;group&gt; on|silent|off — groups: "
        f"{', '.join(groups)}, all (you sent {quoted(sent)})."
    )
