"""Kraken emulator, rate limits as Kraken documents them (opt-in: ``KrakenEmulator(
rate_tier="starter")`` or the environment variable ``KRAKEN_EMU_RATE_TIER``; off by
default so that no other test is slowed or refused).

REST call counter (Kraken's "Spot REST Rate Limits" guide): every API key has a counter
that starts at 0; ledger/trade-history calls (``Ledgers``, ``QueryLedgers``,
``TradesHistory``) add 2, every other private call adds 1, except the order calls, which
are on the trading limiter below. The counter decays continuously at the tier's rate
(Starter 15 / -0.33 per s, Intermediate 20 / -0.5, Pro 20 / -1). A call that would take
the counter above the tier's maximum is refused with HTTP 200
``{"error": ["EAPI:Rate limit exceeded"], "result": {}}`` (ccxt 4.5.90 matches that string
exactly and raises DDoSProtection) and adds nothing. Public calls are limited per IP by
Kraken, not per key, and are not counted here.

Trading counter (Kraken's "Spot Trading Limits" guide), per key *and pair*: Starter 60 /
-1 per s, Intermediate 125 / -2.34, Pro 180 / -3.75. ``AddOrder`` adds 1 and
``AmendOrder`` 1 (fixed, applied even when the order is then rejected); a cancel adds
8/6/5/4/2/1 and an amend a further 3/2/1 when the order rested less than
5/10/15/45/90/300 s (resp. 5/10/15 s), its age counted in real time from when this
limiter saw it placed or last amended. A transaction that would take the pair's counter
above the threshold is refused with ``EOrder:Rate limit exceeded``; a cancel is never
refused here (its pair is known only once it is found), its penalty is added after.

Simplifications: Kraken says the REST counter is "reduced every couple of seconds"; this
one decays continuously (a client must leave about one call of slack for the steps).
Kraken may keep a key refused for longer when calls go on while it is limited; here a
refused call neither adds nor extends anything. Where the docs name only AddOrder and
CancelOrder as off the REST counter, ``AmendOrder`` (in the trading table, cost 0 in
ccxt) is also kept off it. ``EService: Throttled`` (too many concurrent requests) is not
emulated.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

RATE_LIMIT_EXCEEDED = "EAPI:Rate limit exceeded"
TRADING_RATE_LIMIT_EXCEEDED = "EOrder:Rate limit exceeded"
TIER_ENV = "KRAKEN_EMU_RATE_TIER"

# Private methods on the trading limiter (not on the REST call counter).
TRADING_METHODS = frozenset(
    {"AddOrder", "AmendOrder", "EditOrder", "CancelOrder", "AddOrderBatch", "CancelOrderBatch"}
)
# Ledger / trade-history calls: +2 on the REST counter.
DOUBLE_COST = frozenset({"Ledgers", "QueryLedgers", "TradesHistory"})
# Seconds an order rested -> extra trading count (the guide's "decaying count").
CANCEL_PENALTY = ((5, 8), (10, 6), (15, 5), (45, 4), (90, 2), (300, 1))
AMEND_PENALTY = ((5, 3), (10, 2), (15, 1))


@dataclass(frozen=True, slots=True)
class KrakenTier:
    """One verification tier's documented limits."""

    name: str
    rest_max: float
    rest_decay_per_s: float
    trading_max: float
    trading_decay_per_s: float


TIERS = {
    "starter": KrakenTier("starter", 15, 0.33, 60, 1.0),
    "intermediate": KrakenTier("intermediate", 20, 0.5, 125, 2.34),
    "pro": KrakenTier("pro", 20, 1.0, 180, 3.75),
}


def rest_cost(method: str) -> int:
    """What ``method`` adds to the REST call counter (0: on the trading limiter)."""
    if method in TRADING_METHODS:
        return 0
    return 2 if method in DOUBLE_COST else 1


def penalty(table: tuple[tuple[int, int], ...], age_s: float) -> int:
    """The decaying count of ``table`` for an order that rested ``age_s`` seconds."""
    for below, extra in table:
        if age_s < below:
            return extra
    return 0


@dataclass
class DecayingCounter:
    """A counter that decays linearly to 0 and refuses an increment past ``maximum``."""

    maximum: float
    decay_per_s: float
    value: float = 0.0
    at: float = 0.0  # when ``value`` was last brought up to date (monotonic seconds)
    peak: float = 0.0  # the highest value it ever held

    def current(self, now: float) -> float:
        if now > self.at:
            self.value = max(0.0, self.value - (now - self.at) * self.decay_per_s)
            self.at = now
        return self.value

    def try_add(self, amount: float, now: float) -> bool:
        """Add ``amount`` unless that would exceed the maximum; False if refused."""
        if self.current(now) + amount > self.maximum + 1e-9:
            return False
        self.add(amount, now)
        return True

    def add(self, amount: float, now: float) -> None:
        """Add ``amount`` unconditionally (a fixed count, or a penalty applied after)."""
        self.value = self.current(now) + amount
        self.peak = max(self.peak, self.value)


@dataclass
class KrakenRateLimits:
    """Per-key REST counters and per-(key, pair) trading counters of one tier."""

    tier: KrakenTier
    now: Callable[[], float] = time.monotonic
    rest: dict[str, DecayingCounter] = field(default_factory=dict)
    trading: dict[tuple[str, str], DecayingCounter] = field(default_factory=dict)
    # every refused call: (api key, method, monotonic seconds)
    refused: list[tuple[str, str, float]] = field(default_factory=list)
    # every counted REST call: (api key, method, counter after it, monotonic seconds)
    counted: list[tuple[str, str, float, float]] = field(default_factory=list)
    _rested_since: dict[str, float] = field(default_factory=dict)  # txid -> placed/amended

    def rest_counter(self, api_key: str) -> DecayingCounter:
        counter = self.rest.get(api_key)
        if counter is None:
            counter = DecayingCounter(self.tier.rest_max, self.tier.rest_decay_per_s)
            counter.at = self.now()
            self.rest[api_key] = counter
        return counter

    def trading_counter(self, api_key: str, pair: str) -> DecayingCounter:
        counter = self.trading.get((api_key, pair))
        if counter is None:
            counter = DecayingCounter(self.tier.trading_max, self.tier.trading_decay_per_s)
            counter.at = self.now()
            self.trading[(api_key, pair)] = counter
        return counter

    def admit(self, api_key: str, method: str, pair: str | None) -> str | None:
        """Count a private call of ``api_key`` before it runs: None when it may run, else
        the Kraken error string to answer with."""
        now = self.now()
        cost = rest_cost(method)
        if cost:
            counter = self.rest_counter(api_key)
            if not counter.try_add(cost, now):
                self.refused.append((api_key, method, now))
                return RATE_LIMIT_EXCEEDED
            self.counted.append((api_key, method, counter.value, now))
            return None
        if method in ("AddOrder", "AmendOrder", "EditOrder") and pair is not None:
            counter = self.trading_counter(api_key, pair)
            if counter.current(now) + 1 > counter.maximum + 1e-9:
                self.refused.append((api_key, method, now))
                return TRADING_RATE_LIMIT_EXCEEDED
            counter.add(1, now)
        return None

    def placed(self, txid: str) -> None:
        """An order was accepted (its resting time starts now)."""
        self._rested_since[txid] = self.now()

    def amended(self, api_key: str, txid: str, pair: str) -> None:
        """An amend of ``txid`` succeeded: its decaying count, then its age restarts."""
        now = self.now()
        age = now - self._rested_since.get(txid, float("-inf"))
        self.trading_counter(api_key, pair).add(penalty(AMEND_PENALTY, age), now)
        self._rested_since[txid] = now

    def canceled(self, api_key: str, txid: str, pair: str) -> None:
        """A cancel of ``txid`` succeeded: its decaying count by the order's age."""
        now = self.now()
        age = now - self._rested_since.pop(txid, float("-inf"))
        self.trading_counter(api_key, pair).add(penalty(CANCEL_PENALTY, age), now)

    def rest_peak(self, api_key: str) -> float:
        """The highest REST counter ``api_key`` ever reached (0 if it made no call)."""
        counter = self.rest.get(api_key)
        return 0.0 if counter is None else counter.peak


def tier_from_env(explicit: str | KrakenTier | None) -> KrakenTier | None:
    """The tier to enforce: ``explicit`` if given (a name or a KrakenTier), else
    ``$KRAKEN_EMU_RATE_TIER``; None (limits off) when neither names one."""
    if isinstance(explicit, KrakenTier):
        return explicit
    name = explicit if explicit is not None else os.environ.get(TIER_ENV, "")
    name = name.strip().lower()
    if not name or name == "off":
        return None
    try:
        return TIERS[name]
    except KeyError:
        raise ValueError(f"unknown Kraken tier {name!r}; one of {sorted(TIERS)}") from None
