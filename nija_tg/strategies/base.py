"""Strategy building blocks: signals, positions, parameters with bounds, prepare/evaluate.

A strategy is pure: candles (and the caller's current position) in, a :class:`Signal` out.
Work is split so the engine can share it between users:

* ``prepare(candles, params) -> Prepared`` computes the indicator frame once per
  (symbol, timeframe, ``indicator_key(params)``);
* ``evaluate(prepared, position, params=..., allow_short=...) -> Signal`` is cheap and
  runs once per user against the shared frame.

Parameters are frozen dataclasses whose fields carry bounds in their metadata (see
:func:`param`), so settings screens and validation read one source of truth.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
import pandas as pd

from nija_tg.core.models import Candle
from nija_tg.core.signals import Action, Signal, StrategyPosition

if TYPE_CHECKING:
    from nija_tg.strategies.rolling import RollingIndicators

CANDLE_COLUMNS = ("ts", "open", "high", "low", "close", "volume")

# Closed candles the engine keeps per market and computes every signal over: the live
# MarketHub's window (engine/market_data.py) and the backtest's. At the default
# parameters it equals the default strategy's ``history_needed``.
CANDLE_WINDOW = 300


# --- parameters ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """Bounds of one strategy parameter (inclusive), or its allowed choices."""

    name: str
    kind: type  # int, float or str
    default: Any
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()
    indicator: bool = False  # part of indicator_key: changes the indicator frame

    def check(self, value: Any) -> Any:
        """Return ``value`` coerced to ``kind``; ValueError when it does not fit."""
        if self.kind is str:
            if not isinstance(value, str) or (self.choices and value not in self.choices):
                raise ValueError(f"{self.name} must be one of {', '.join(self.choices)}")
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{self.name} must be a number")
        if self.kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(f"{self.name} must be a whole number")
            value = int(value)
        else:
            value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{self.name} must be a finite number")
        lo = -math.inf if self.lo is None else self.lo
        hi = math.inf if self.hi is None else self.hi
        if not lo <= value <= hi:
            raise ValueError(f"{self.name} must be between {lo:g} and {hi:g}")
        return value


def param(
    default: Any,
    *,
    lo: float | None = None,
    hi: float | None = None,
    choices: Iterable[str] = (),
    indicator: bool = False,
) -> Any:
    """A dataclass field carrying its bounds (read back by :func:`param_specs`)."""
    meta = {"lo": lo, "hi": hi, "choices": tuple(choices), "indicator": indicator}
    return field(default=default, metadata={"nija_param": meta})


@dataclass(frozen=True, slots=True)
class StrategyParams:
    """Base of every strategy's parameter dataclass. Subclasses add :func:`param` fields;
    bounds are enforced on construction (ValueError)."""

    timeframe: str = param("5m", choices=("1m", "5m", "15m", "30m", "1h", "4h", "1d"))

    def __post_init__(self) -> None:
        for spec in param_specs(type(self)).values():
            object.__setattr__(self, spec.name, spec.check(getattr(self, spec.name)))
        self.check_relations()

    def check_relations(self) -> None:
        """Cross-field rules (override); raise ValueError."""

    @property
    def history_needed(self) -> int:
        """Candles of history after which a cold start gives the signals of a run over
        the whole history (override): the indicators' starting values have faded."""
        return 1

    @property
    def warmup(self) -> int:
        """Candles before the first signal: ``history_needed``, but at most the
        ``CANDLE_WINDOW`` the engine keeps per market (a longer warm-up would never
        end live)."""
        return min(self.history_needed, CANDLE_WINDOW)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Build from a stored dict: unknown keys ignored, missing ones default. A value
        that does not fit raises ValueError."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def with_value(self, name: str, value: Any) -> Self:
        if name not in param_specs(type(self)):
            raise KeyError(name)
        return dataclasses.replace(self, **{name: value})


@functools.cache
def param_specs(cls: type[StrategyParams]) -> dict[str, ParamSpec]:
    """Name -> :class:`ParamSpec` for every field of a params class, in field order
    (computed once per class; do not mutate the result)."""
    specs: dict[str, ParamSpec] = {}
    for f in dataclasses.fields(cls):
        meta = f.metadata.get("nija_param")
        if meta is None:
            continue
        default = f.default
        kind = str if meta["choices"] else (int if type(default) is int else float)
        specs[f.name] = ParamSpec(name=f.name, kind=kind, default=default, **meta)
    return specs


# --- candles ------------------------------------------------------------------------


def candles_to_frame(candles: Iterable[Candle]) -> pd.DataFrame:
    """Candles (oldest first) as a DataFrame with columns ts, open, high, low, close,
    volume (ts int64 milliseconds, prices float64), indexed 0..n-1."""
    rows = [(c.ts, c.open, c.high, c.low, c.close, c.volume) for c in candles]
    frame = pd.DataFrame(rows, columns=list(CANDLE_COLUMNS))
    return normalise_frame(frame)


def normalise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Check and coerce a candle frame (accepts ``timestamp`` for ``ts``): sorted by ts,
    duplicate ts dropped (last wins), float prices, RangeIndex. A frame that already is
    so is returned as it is (treat it as read-only, as every prepared frame)."""
    if "ts" not in frame.columns and "timestamp" in frame.columns:
        frame = frame.rename(columns={"timestamp": "ts"})
    if _already_normal(frame):  # the hub's frames: nothing to check or coerce (no copy)
        return frame
    missing = [c for c in CANDLE_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"candle frame lacks columns {missing}")
    out = frame.loc[:, list(CANDLE_COLUMNS)].copy()
    out["ts"] = out["ts"].astype("int64")
    for col in CANDLE_COLUMNS[1:]:
        out[col] = out[col].astype("float64")
    out = out.sort_values("ts", kind="stable").drop_duplicates("ts", keep="last")
    return out.reset_index(drop=True)


def _already_normal(frame: pd.DataFrame) -> bool:
    """Exactly the candle columns, ts int64 strictly increasing, float prices, a
    RangeIndex from 0: what ``normalise_frame`` would return (as the MarketHub builds
    its frames)."""
    if tuple(frame.columns) != CANDLE_COLUMNS:
        return False
    dtypes = frame.dtypes
    if dtypes.iloc[0] != np.int64 or any(d != np.float64 for d in dtypes.iloc[1:]):
        return False
    index = frame.index
    if not isinstance(index, pd.RangeIndex) or index.start != 0 or index.step != 1:
        return False
    ts = frame["ts"]
    return bool(ts.is_monotonic_increasing and ts.is_unique)


# --- strategy -----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Prepared:
    """An indicator frame computed once for a candle set and an indicator key.

    ``frame`` holds the candle columns plus the strategy's indicator columns. Treat it as
    read-only: many users evaluate against the same object.
    """

    strategy: str
    key: Hashable
    params: StrategyParams
    frame: pd.DataFrame

    @property
    def last_ts(self) -> int | None:
        return int(self.frame["ts"].iloc[-1]) if len(self.frame) else None


class Strategy(ABC):
    """Base class; subclasses set ``name`` and ``params_type`` and implement
    :meth:`compute` and :meth:`decide`. Instances are stateless."""

    name: ClassVar[str] = ""
    params_type: ClassVar[type[StrategyParams]] = StrategyParams

    def default_params(self) -> StrategyParams:
        return self.params_type()

    def params_from_dict(self, data: Mapping[str, Any]) -> StrategyParams:
        return self.params_type.from_dict(data)

    def indicator_key(self, params: StrategyParams) -> Hashable:
        """Hashable key of the fields that change the indicator frame."""
        specs = param_specs(type(params))
        fields = tuple((n, getattr(params, n)) for n, s in specs.items() if s.indicator)
        return (self.name, params.timeframe, fields)

    def prepare(self, candles: pd.DataFrame, params: StrategyParams) -> Prepared:
        """Compute the indicator frame once; share it between users with equal keys."""
        self._check_params(params)
        frame = self.compute(normalise_frame(candles), params)
        return Prepared(self.name, self.indicator_key(params), params, frame)

    def evaluate(
        self,
        prepared: Prepared,
        position: StrategyPosition | None = None,
        *,
        params: StrategyParams | None = None,
        allow_short: bool = False,
        index: int = -1,
    ) -> Signal:
        """The signal at row ``index`` (default: the last candle) for one user.

        ``params`` may differ from the prepared ones only in fields outside the
        indicator key (thresholds, multipliers); otherwise ValueError.
        """
        params = prepared.params if params is None else params
        self._check_params(params)
        if prepared.strategy != self.name or self.indicator_key(params) != prepared.key:
            raise ValueError("prepared frame was computed for other indicator parameters")
        n = len(prepared.frame)
        if n == 0 or not -n <= index < n:
            return Signal(Action.HOLD, reason="no candles")
        return self.decide(prepared.frame, index % n, position, params, allow_short)

    def signal(
        self,
        candles: pd.DataFrame,
        params: StrategyParams | None = None,
        position: StrategyPosition | None = None,
        *,
        allow_short: bool = False,
    ) -> Signal:
        """One-shot ``prepare`` + ``evaluate`` at the last candle."""
        params = self.default_params() if params is None else params
        return self.evaluate(self.prepare(candles, params), position, allow_short=allow_short)

    def series(
        self, candles: pd.DataFrame, params: StrategyParams, window: int = CANDLE_WINDOW
    ) -> SignalSeries:
        """The signal at every candle of ``candles`` as the live engine gives it, each
        from the last ``window`` candles up to it (a backtest's indicators, computed
        once). This generic one prepares each candle's window when asked (exact, slow);
        strategies override it with a vectorised computation."""
        self._check_params(params)
        return SignalSeries(self, normalise_frame(candles), params, window)

    def rolling(
        self, params: StrategyParams, window: int = CANDLE_WINDOW
    ) -> RollingIndicators | None:
        """The indicators of a rolling window of ``window`` candles, advanced one
        closed candle at a time (``strategies/rolling.py``), whose ``signal`` equals
        ``evaluate`` over ``prepare`` of the window; None (this default): the strategy
        has none, the engine prepares the window's frame on every close."""
        return None

    def _check_params(self, params: StrategyParams) -> None:
        if not isinstance(params, self.params_type):
            raise TypeError(f"{self.name} needs {self.params_type.__name__}")

    @abstractmethod
    def compute(self, frame: pd.DataFrame, params: StrategyParams) -> pd.DataFrame:
        """Return ``frame`` plus indicator columns (a new frame)."""

    @abstractmethod
    def decide(
        self,
        frame: pd.DataFrame,
        i: int,
        position: StrategyPosition | None,
        params: StrategyParams,
        allow_short: bool,
    ) -> Signal:
        """The signal at row ``i`` (0 <= i < len(frame))."""


class SignalSeries:
    """A strategy's signals over a whole candle series, as the live engine computes
    them: candle ``i``'s signal is ``evaluate`` at the last row of the frame of
    candles ``max(0, i - window + 1) .. i`` (the MarketHub keeps ``window`` closed
    candles per market). Generic version: each candle's window is prepared when its
    signal is asked for (the last one is kept)."""

    def __init__(
        self, strategy: Strategy, frame: pd.DataFrame, params: StrategyParams, window: int
    ) -> None:
        if window < 1:
            raise ValueError("window must be >= 1")
        self.strategy = strategy
        self.frame = frame
        self.params = params
        self.window = window
        self._prepared: tuple[int, Prepared] | None = None

    def __len__(self) -> int:
        return len(self.frame)

    def _check(self, params: StrategyParams | None) -> StrategyParams:
        params = self.params if params is None else params
        self.strategy._check_params(params)
        if self.strategy.indicator_key(params) != self.strategy.indicator_key(self.params):
            raise ValueError("series computed for other indicator parameters")
        return params

    def signal(
        self,
        i: int,
        position: StrategyPosition | None = None,
        *,
        params: StrategyParams | None = None,
        allow_short: bool = False,
    ) -> Signal:
        """The signal at candle ``i`` (0 <= i < len) for one position."""
        params = self._check(params)
        if self._prepared is None or self._prepared[0] != i:
            start = max(0, i - self.window + 1)
            rows = self.frame.iloc[start : i + 1]
            self._prepared = (i, self.strategy.prepare(rows, self.params))
        prepared = self._prepared[1]
        return self.strategy.evaluate(prepared, position, params=params, allow_short=allow_short)

    def may_enter(self, i: int) -> bool:
        """False only where no flat user's signal at candle ``i`` can be an entry (lets
        a backtest skip the evaluation of the candles nothing happens on)."""
        return True
