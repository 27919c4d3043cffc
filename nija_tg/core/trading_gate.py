"""What a user's loop may do right now: one gate, derived from the desired state.

Protection never depends on whether trading is on: every open position keeps its stop
enforced whatever the gate; only an explicit close ends it.

| gate         | new entries | strategy exits | stops, explicit closes |
|--------------|-------------|----------------|------------------------|
| ACTIVE       | yes         | yes            | yes                    |
| EXITS_ONLY   | no          | yes            | yes                    |
| PROTECT      | no          | no             | yes                    |

The user's switch (``/trade on|exits|off``), a pause (admin, drawdown, key) and the global
halt combine to the most restrictive of them: a pause protects only, the halt allows
exits only, the user's own switch says the rest.
"""

from __future__ import annotations

import enum


class TradingSwitch(enum.StrEnum):
    """The user's own choice: ``/trade on``, ``/trade exits``, ``/trade off``."""

    ON = "on"
    EXITS = "exits"
    OFF = "off"


class Gate(enum.StrEnum):
    ACTIVE = "active"
    EXITS_ONLY = "exits_only"
    PROTECT = "protect"

    @property
    def entries(self) -> bool:
        return self is Gate.ACTIVE

    @property
    def strategy_exits(self) -> bool:
        return self is not Gate.PROTECT


_ORDER = (Gate.PROTECT, Gate.EXITS_ONLY, Gate.ACTIVE)  # most restrictive first


def gate_for(switch: TradingSwitch, *, paused: bool, halted: bool) -> Gate:
    """The gate for a user's switch, pause and the global halt."""
    wanted = {
        TradingSwitch.ON: Gate.ACTIVE,
        TradingSwitch.EXITS: Gate.EXITS_ONLY,
        TradingSwitch.OFF: Gate.PROTECT,
    }[switch]
    limits = [wanted]
    if paused:
        limits.append(Gate.PROTECT)
    if halted:
        limits.append(Gate.EXITS_ONLY)
    return min(limits, key=_ORDER.index)


def needs_loop(switch: TradingSwitch, *, paused: bool, holds_positions: bool) -> bool:
    """A loop runs for anyone who trades, and for anyone who holds a position we opened
    (to protect it), whatever their switch or pause."""
    return holds_positions or (switch is not TradingSwitch.OFF and not paused)
