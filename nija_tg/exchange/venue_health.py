"""How each venue answers, as the engine's clients see it: when a call last succeeded
(private calls apart: they prove the venue trades for our users) and since when calls
fail for the venue's own reasons (network, timeouts, unavailable, rate limits). A call
refused for the caller's reasons (a bad key, insufficient funds) still proves the venue
answers. Read by the engine's heartbeat."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from nija_tg.core.errors import RetryableError


@dataclass
class VenueState:
    last_ok: float | None = None
    last_private_ok: float | None = None
    failing_since: float | None = None  # first failure of the current streak
    last_error: str | None = None
    calls: int = 0
    failures: int = 0


@dataclass
class VenueHealth:
    clock: Callable[[], float] = time.time
    venues: dict[str, VenueState] = field(default_factory=dict)

    def ok(self, exchange_id: str, *, private: bool) -> None:
        state = self.venues.setdefault(exchange_id, VenueState())
        now = self.clock()
        state.calls += 1
        state.last_ok = now
        if private:
            state.last_private_ok = now
        state.failing_since = None

    def failed(self, exchange_id: str, error: BaseException) -> None:
        """Record ``error`` (already mapped) against the venue when it is the venue's
        fault; an answer refusing the caller counts as the venue answering."""
        if not isinstance(error, RetryableError):
            self.ok(exchange_id, private=False)
            return
        state = self.venues.setdefault(exchange_id, VenueState())
        state.calls += 1
        state.failures += 1
        state.last_error = type(error).__name__
        if state.failing_since is None:
            state.failing_since = self.clock()
