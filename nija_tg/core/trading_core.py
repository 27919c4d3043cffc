"""The trading core: what one user's account should do at a closed candle. Pure and
synchronous (no I/O, no asyncio, no SQLite, no pandas): the live engine's loop
(``engine/trading.py``) and the backtest call these same functions, so a strategy, its
stops and the risk check decide alike in both; only the clock and the venue differ.

A close is decided in two phases, as the live loop runs it:

1. :func:`stop_or_trail`, per position held in a market whose candle closed: the candle
   touched the stop -> :class:`Close` (``purpose="stop"``); else the trailing stop
   moves -> :class:`MoveStop`; else nothing.
2. :func:`strategy_intents`, per market, after the stops' exits filled and the limits
   were measured: the strategy's exit -> :class:`Close` (``"exit"``) for each position
   held there; an entry while flat -> :class:`EntryWanted`, which the caller sizes with
   :func:`size_entry` (the risk check, given the account's figures) into
   :class:`Enter`; anything the gate or the limits forbid -> :class:`Refusal` (counted
   by the caller, never sent).

After an entry fills, :func:`stop_after_entry` sets its first stop from the fill price.
The callers own the I/O around these decisions: reading the account, reconciling
positions changed outside the bot, sending orders, booking fills.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from nija_tg.core import risk
from nija_tg.core.risk_settings import RiskSettings
from nija_tg.core.signals import Action, Signal, StrategyPosition
from nija_tg.core.trading_gate import Gate

LONG, SHORT = "long", "short"


@dataclass(frozen=True, slots=True)
class Holding:
    """One position the loop holds (its own, not the user's other coins)."""

    symbol: str
    side: str  # "long" | "short"
    amount: Decimal
    entry_price: Decimal
    stop_price: Decimal | None = None
    trail_anchor: Decimal | None = None  # best price since entry (high: long, low: short)


# --- intents -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Close:
    """Close the whole position ``side`` on ``symbol`` at market."""

    symbol: str
    side: str
    purpose: str  # "stop" | "exit"


@dataclass(frozen=True, slots=True)
class MoveStop:
    """The position's stop (and the best price it trails from) is now this."""

    symbol: str
    side: str
    stop: Decimal | None
    anchor: Decimal | None


@dataclass(frozen=True, slots=True)
class EntryWanted:
    """The strategy enters while flat and the gate allows it: size it (:func:`size_entry`)."""

    symbol: str
    side: str
    stop_distance: Decimal


@dataclass(frozen=True, slots=True)
class Enter:
    """Open ``amount`` (base units, on the market's step) at market."""

    symbol: str
    side: str
    amount: Decimal
    stop_distance: Decimal


@dataclass(frozen=True, slots=True)
class Refusal:
    """Nothing is sent: ``reason`` is counted; ``decision`` is the risk check's when it
    refused (its message may be told to the user)."""

    symbol: str
    reason: str
    decision: risk.RiskDecision | None = None


# --- phase 1: stops --------------------------------------------------------------------


def trail_distance(settings: RiskSettings, signal: Signal) -> Decimal | None:
    """How far the stop trails: the ATR x the user's multiplier, else the strategy's
    stop distance; None while neither is known (warm-up)."""
    atr = signal.indicators.get("atr")
    if atr is not None and atr == atr and atr > 0:
        return Decimal(str(atr)) * settings.trailing_atr_multiplier
    return Decimal(str(signal.stop_distance)) if signal.stop_distance > 0 else None


def stop_or_trail(
    settings: RiskSettings, held: Holding, low: Decimal, high: Decimal, signal: Signal
) -> Close | MoveStop | None:
    """The closed candle's effect on one position's stop."""
    if held.stop_price is not None and risk.stop_hit(held.side, held.stop_price, low, high):
        return Close(held.symbol, held.side, "stop")
    distance = trail_distance(settings, signal)
    if distance is None:
        return None
    best = high if held.side == LONG else low
    anchor = held.trail_anchor if held.trail_anchor is not None else held.entry_price
    anchor = max(anchor, best) if held.side == LONG else min(anchor, best)
    stop = held.stop_price
    if settings.trailing_stop:
        stop = risk.update_trailing_stop(held.side, held.entry_price, stop, anchor, distance)
    elif stop is None:
        stop = risk.initial_stop(held.side, held.entry_price, distance)
    if stop != held.stop_price or anchor != held.trail_anchor:
        return MoveStop(held.symbol, held.side, stop, anchor)
    return None


# --- phase 2: the strategy -------------------------------------------------------------


def strategy_position(held: dict[str, Holding]) -> StrategyPosition | None:
    """The position a strategy is told about in one market (long first)."""
    pos = held.get(LONG) or held.get(SHORT)
    return None if pos is None else StrategyPosition(pos.side, float(pos.entry_price))


def wants_action(signal: Signal) -> bool:
    """Whether ``strategy_intents`` can want anything for ``signal``: a hold wants
    nothing, whatever is held and whatever the gate (the shell skips the market)."""
    return signal.action is not Action.HOLD


def strategy_intents(
    symbol: str,
    signal: Signal,
    held: list[Holding],
    gate: Gate,
    *,
    stopping: bool,
    blocked: bool,
) -> list[Close] | EntryWanted | Refusal | None:
    """The strategy's part at this close, as the gate allows: exits (ACTIVE and
    EXITS_ONLY) and entries (ACTIVE, not while the loop is stopping or the day's loss
    limit blocks). Stops ran before, whatever the gate."""
    if signal.action is Action.EXIT:
        if not gate.strategy_exits:
            return Refusal(symbol, f"gate_{gate.value}")
        return [Close(p.symbol, p.side, "exit") for p in held]
    if not signal.is_entry or held:
        return None
    if not gate.entries:
        return Refusal(symbol, f"gate_{gate.value}")
    if stopping:
        return Refusal(symbol, "stopping")
    if blocked:
        return Refusal(symbol, "daily_loss")
    side = LONG if signal.action is Action.ENTER_LONG else SHORT
    return EntryWanted(symbol, side, Decimal(str(signal.stop_distance)))


def size_entry(want: EntryWanted, ctx: risk.RiskContext) -> Enter | Refusal:
    """The risk check's answer for ``want`` (``ctx`` holds the account's figures)."""
    decision = risk.check_entry(ctx)
    if not decision.approved:
        return Refusal(want.symbol, decision.reason.value, decision)
    return Enter(want.symbol, want.side, decision.amount, want.stop_distance)


def stop_after_entry(enter: Enter | EntryWanted, fill_price: Decimal) -> MoveStop:
    """The first stop of a filled entry: the stop distance from the fill price; the
    trail starts from the fill."""
    stop = risk.initial_stop(enter.side, fill_price, enter.stop_distance)
    return MoveStop(enter.symbol, enter.side, stop, fill_price)
