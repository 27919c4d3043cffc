"""Every word of the trading controls: /trade on|exits|off (and the dashboard's
Start/Stop toasts' companions), /close and the Close buttons' confirmation, /mode paper|live
and its live-money confirmation. The services' own answers (``Outcome.message``) arrive
as text and are escaped by the caller (``esc``)."""

from __future__ import annotations

from collections.abc import Sequence

from nija_tg.core.trading_gate import TradingSwitch
from nija_tg.messages.text import echo, esc

TRADE_USAGE = "Usage: /trade on, /trade exits or /trade off"
TRADE_MEANS = (
    "on: new positions as your strategy signals · exits: no new positions, exits and "
    "stops run · off: only stops run"
)
MODE_USAGE = "Usage: /mode paper or /mode live"
CLOSE_USAGE = "Usage: /close <symbol or asset> or /close all, e.g. /close ETH"
CLOSE_LISTS = "/positions lists what is open."
SWITCH_LABEL = {
    TradingSwitch.ON: "ON",
    TradingSwitch.EXITS: "EXITS ONLY",
    TradingSwitch.OFF: "OFF",
}
NOT_FOR_YOU = "This button is not for you."
KEEP_BUTTON = "No, keep it"
KEPT_TOAST = "Kept open."
KEPT = "Nothing closed: the position stays open and keeps its stop."
CLOSING_TOAST = "Closing…"
LIVE_YES_BUTTON = "Yes, trade real money"
STAY_PAPER_BUTTON = "No, stay in paper"
STAYING_PAPER = "Staying in paper mode."
SENT_SHOWN = 30  # characters of a wrong argument shown back


def _you_sent(args: Sequence[str]) -> str:
    return f" (you sent {echo(' '.join(args), SENT_SHOWN)})" if args else ""


def trade_usage(switch: TradingSwitch | None, args: Sequence[str] = ()) -> str:
    """/trade without a valid word: the current state, the usage and what each word means
    (``switch`` None: an unknown caller, shown as OFF)."""
    state = SWITCH_LABEL[switch] if switch is not None else SWITCH_LABEL[TradingSwitch.OFF]
    return f"Trading is {state}. {TRADE_USAGE}{_you_sent(args)}\n{TRADE_MEANS}"


def close_usage(args: Sequence[str] = ()) -> str:
    return f"{esc(CLOSE_USAGE)}{_you_sent(args)}\n{CLOSE_LISTS}"


def mode_usage(mode: str, args: Sequence[str] = ()) -> str:
    """/mode without paper or live: the current mode (``paper``/``live``) and the usage."""
    return f"You are in {esc(mode)} mode. {MODE_USAGE}{_you_sent(args)}"


def close_question(symbol: str, side: str) -> str:
    """The confirmation a Close button of /positions asks first."""
    return f"Close your <b>{esc(symbol)}</b> {esc(side)} at market now? Its stop-loss ends with it."


def close_yes_button(symbol: str, side: str) -> str:
    """The label of the confirming button (plain text)."""
    return f"Yes, close {symbol} {side}"


def live_question(allowed: str) -> str:
    """/mode live's confirmation; ``allowed`` is the service's word that live is possible."""
    return (
        f"⚠️ {esc(allowed)}\nIn live mode the engine places real orders with your "
        "money, within your risk limits (/settings). Confirm?"
    )
