"""Is the engine doing its job? Pure rules over the heartbeat rows the engine writes
(component name -> beat time and data) and the time now.

- ``engine``: no row, or none newer than ``ENGINE_STALE_S``: the engine is not running
  (or cannot write).
- ``market:<exchange>:<tf>``: the next candle close is more than two candles (plus
  ``LATE_GRACE_S``) overdue: trading on that group is late.
- ``venue:<exchange>``: its calls have failed for the venue's own reasons for more than
  ``VENUE_FAILING_S``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ENGINE_STALE_S = 30.0
LATE_CANDLES = 2
LATE_GRACE_S = 60.0
VENUE_FAILING_S = 300.0


@dataclass(frozen=True)
class Beat:
    beat_at: float
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Problem:
    key: str  # stable id: an alert is sent when it appears and when it clears
    text: str


@dataclass(frozen=True)
class HealthReport:
    now: float
    engine: Beat | None
    markets: dict[str, Beat] = field(default_factory=dict)
    venues: dict[str, Beat] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def data_age_s(self) -> float | None:
        """Age of the engine's last beat (None: it never ran here)."""
        return None if self.engine is None else max(0.0, self.now - self.engine.beat_at)


def evaluate(rows: Mapping[str, Beat], now: float) -> HealthReport:
    engine = rows.get("engine")
    markets = {k.split(":", 1)[1]: b for k, b in rows.items() if k.startswith("market:")}
    venues = {k.split(":", 1)[1]: b for k, b in rows.items() if k.startswith("venue:")}
    problems: list[Problem] = []
    if engine is None:
        problems.append(Problem("engine", "the engine has never reported (not started?)"))
    elif now - engine.beat_at > ENGINE_STALE_S:
        problems.append(
            Problem("engine", f"the engine last reported {age(now - engine.beat_at)} ago")
        )
    else:
        for name, beat in sorted(markets.items()):
            tf_s = beat.data.get("timeframe_ms", 0) / 1000
            last = beat.data.get("last_close", -1)
            if tf_s <= 0 or last is None or last < 0:
                continue
            behind = now - last / 1000
            if behind > LATE_CANDLES * tf_s + tf_s + LATE_GRACE_S:
                problems.append(
                    Problem(
                        f"market:{name}",
                        f"trading on {name} is late: the last candle close processed was "
                        f"{age(behind)} ago (one is due every {age(tf_s)})",
                    )
                )
        for name, beat in sorted(venues.items()):
            since = beat.data.get("failing_since")
            if since is not None and now - since > VENUE_FAILING_S:
                error = beat.data.get("last_error") or "errors"
                problems.append(
                    Problem(
                        f"venue:{name}", f"{name} has been failing for {age(now - since)} ({error})"
                    )
                )
    return HealthReport(now, engine, markets, venues, tuple(problems))


def age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} days"
