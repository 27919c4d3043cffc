"""Every word of the trading controls: /trade on|exits|off (and the dashboard's
Start/Stop toasts' companions), /close and the Close buttons' confirmation, /mode paper|live
and its live-money confirmation, and the trading service's answers: it returns an
``Outcome`` (``core.trading_outcome``, data), ``outcome_text`` words it as plain text (a
toast shows it as is; the handlers escape it (``esc``) for a reply)."""

from __future__ import annotations

from collections.abc import Sequence

from nija_tg.core.trading_gate import TradingSwitch
from nija_tg.core.trading_outcome import Answer, Outcome
from nija_tg.messages.onboarding import START_FIRST_TOAST
from nija_tg.messages.text import echo, esc, plural

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


# what each switch position means, as told in the /trade reply
ON_MEANS = "new positions are opened as your strategy signals; exits and stops run"
REFUSALS = {
    Answer.START_FIRST: START_FIRST_TOAST,
    Answer.VIEWER_CANNOT_TRADE: "Viewers have read-only access and cannot trade.",
    Answer.LIVE_NEEDS_VERIFIED_KEYS: "Live trading needs verified exchange keys: /connect first.",
    Answer.HALTED: (
        "Trading is halted for everyone by an admin right now: no new positions. "
        "Stops and exits keep running; /trade exits is allowed."
    ),
    Answer.KEY_STOPPED: "Your exchange key stopped working: /connect first.",
    Answer.VIEWER_CANNOT_CLOSE: "Viewers have read-only access and cannot close positions.",
    Answer.KEY_CANNOT_CLOSE: (
        "Your exchange key stopped working, so the engine cannot reach your "
        "account to close anything. Close the position on the exchange, or "
        "/connect a working key first."
    ),
    Answer.NOTHING_OPEN: "You have no open positions: nothing to close.",
    Answer.LIVE_NEEDS_KEYS: "Live trading needs your exchange keys: /connect first.",
    Answer.KEYS_UNVERIFIED: "Your keys are not verified: /connect them again.",
    Answer.VIEWER_READ_ONLY: "Viewers have read-only access.",
    Answer.LIVE_UNCONFIRMED: "Live mode needs your confirmation.",
}  # the answers without a fact of their own (not all of them refusals)
ADMIN_PAUSE_NOTE = " Your account is paused by an admin: only stops run until they /resume it."
HALT_NOTE = " (A global halt is on: everyone is on exits only for now.)"
LIVE_ON = "LIVE mode is on: the engine trades real money on your account."
PAPER_ON = "Paper mode is on: simulated orders on live prices, no real money."


def _open_count(n: int) -> str:
    return plural(n, "open position")


def switched(o: Outcome) -> str:
    """/trade on|exits|off (or a dashboard button) done."""
    if o.switch is TradingSwitch.ON:
        return (
            f"Trading is ON ({o.mode}): {ON_MEANS}. The engine starts within "
            "a second; fills and alerts will come to this chat."
        )
    # neither switch opens a position: with none open, nothing is kept or exited
    kept = f"your {_open_count(o.held)}"
    if o.switch is TradingSwitch.EXITS and o.held:
        text = (
            f"Exits only: no new positions; stops and exits keep running for {kept}. "
            "/trade on opens new positions again, /trade off stops exits too."
        )
    elif o.switch is TradingSwitch.EXITS:
        text = (
            "Exits only: no new positions, and you have none open, so there is "
            "nothing to exit. /trade on opens new positions again."
        )
    elif o.held:
        text = (
            "Trading is OFF: no new positions and no strategy exits. Stops keep "
            f"protecting {kept} (the engine's check on every candle, and the "
            "exchange's stop order where it holds one); /close ends that."
        )
    else:
        text = "Trading is OFF: no new positions and no strategy exits; you have none open."
    if o.admin_pause:
        text += ADMIN_PAUSE_NOTE
    elif o.halted and o.switch is TradingSwitch.EXITS:
        text += HALT_NOTE
    return text


def mode_set(o: Outcome) -> str:
    """/mode paper|live done; ``o.held`` positions stay behind in ``o.other_mode``."""
    text = LIVE_ON if o.mode == "live" else PAPER_ON
    if o.held:
        old = o.other_mode
        text += (
            f" ⚠️ Your {_open_count(o.held)} opened in {old} mode are not managed while "
            f"you are in {o.mode} mode (no stop checks, no trailing; a stop order "
            f"resting on the exchange stays there): /mode {old} and /close them, or "
            "switch back to keep them protected."
        )
    return text


def _names(closing: Sequence[tuple[str, str]]) -> str:
    return ", ".join(f"{symbol} {side}" for symbol, side in closing)


def outcome_text(o: Outcome) -> str:
    """The trading service's answer, worded (plain text: the caller escapes it)."""
    if o.answer in REFUSALS:
        return REFUSALS[o.answer]
    if o.answer is Answer.ADMIN_PAUSED:
        reason = f" ({o.reason})" if o.reason else ""
        return f"Your trading is paused{reason}. An admin must /resume it first."
    if o.answer is Answer.SWITCHED:
        return switched(o)
    if o.answer is Answer.NONE_IN:
        return f"You have no open position in {o.target}: nothing to close."
    if o.answer is Answer.OTHER_MODE:
        return (
            f"Your {o.symbol} position was opened in {o.other_mode} mode and you are in "
            f"{o.mode} mode now: /mode {o.other_mode} first, then /close it."
        )
    if o.answer is Answer.GONE:
        return f"Your {o.symbol} {o.side} is not open any more (its stop may have closed it)."
    if o.answer is Answer.ALREADY_CLOSING:
        return f"Already closing {_names(o.closing)}: the fill comes here in a moment."
    if o.answer is Answer.CLOSING:
        return (
            f"Closing {_names(o.closing)} at market: the engine cancels any stop resting on "
            "the exchange and sends the order within a second; the fill comes here."
        )
    if o.answer is Answer.LIVE_ALLOWED:
        return f"Live trading on {o.exchange_id} with key ••••{o.key_tail}."
    if o.answer is Answer.MODE_SET:
        return mode_set(o)
    raise ValueError(f"no words for {o.answer!r}")
