"""What a strategy tells the trading core: its action at the last closed candle, with
the stop distance and an indicator snapshot, and the position it is told about. Pure
values (no pandas): the trading core (``core/trading_core.py``) reads them in the live
engine and in the backtest alike; the strategies (``nija_tg/strategies``) make them."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field


class Action(enum.StrEnum):
    ENTER_LONG = "enter_long"
    ENTER_SHORT = "enter_short"
    EXIT = "exit"
    HOLD = "hold"


@dataclass(frozen=True, slots=True)
class Signal:
    """What a strategy wants done at the last evaluated candle.

    ``stop_distance`` is in price units (ATR x multiplier); 0.0 when it is unknown
    (warm-up). ``indicators`` is a snapshot for logs and the user's /status.
    """

    action: Action
    confidence: float = 0.0
    stop_distance: float = 0.0
    reason: str = ""
    indicators: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "action", Action(self.action))
        if not 0.0 <= self.confidence <= 1.0 or math.isnan(self.confidence):
            raise ValueError(f"confidence must be within 0..1, got {self.confidence!r}")
        if not self.stop_distance >= 0.0 or math.isinf(self.stop_distance):
            raise ValueError(f"stop_distance must be >= 0, got {self.stop_distance!r}")

    @property
    def is_entry(self) -> bool:
        return self.action in (Action.ENTER_LONG, Action.ENTER_SHORT)


@dataclass(frozen=True, slots=True)
class StrategyPosition:
    """The caller's open position in the evaluated symbol, as a strategy sees it."""

    side: str  # "long" | "short"
    entry_price: float = 0.0

    def __post_init__(self) -> None:
        if self.side not in ("long", "short"):
            raise ValueError(f"side must be 'long' or 'short', got {self.side!r}")
