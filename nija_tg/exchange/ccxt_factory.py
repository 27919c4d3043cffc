"""Which exchanges exist, what credentials they need, and how one ccxt client is built
(timeouts, rate limiting, no ccxt retries, sandbox switch, base-URL override).

Rate limiting is ccxt's own throttler, configured through its ``rateLimiterAlgorithm`` and
``tokenBucket`` options: a keyed client of an exchange with a documented per-key call
counter (Kraken) gets ccxt's rolling window sized to allow that counter's burst
(``token_bucket``); every other client keeps ccxt's default spacing."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import ccxt
import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro

from nija_tg.core.errors import ConfigError, UnknownExchangeError
from nija_tg.core.exchange_catalogue import credential_label

FIRST_CLASS = ("kraken", "bingx", "coinbase")


# Options per exchange applied on top of ccxt's defaults.
EXCHANGE_OPTIONS: dict[str, dict[str, Any]] = {
    "bingx": {"defaultType": "swap"},  # first-class use: USDT-M perpetual swaps
}


@dataclass(frozen=True, slots=True)
class CallCounter:
    """A venue's documented per-key call counter: each private call adds its weight (1 or
    more), the counter decays ``decay_per_s`` a second, and a call that would take it
    past ``maximum`` is refused. ``unit_cost`` is what ccxt's own table
    charges a weight-1 call of this exchange (its throttler's tokens)."""

    maximum: float
    decay_per_s: float
    unit_cost: float = 1


# Kraken's "Spot REST Rate Limits" per verification tier: ledger/trade-history calls weigh
# 2, every other private call 1, AddOrder/CancelOrder are on the per-pair trading limiter
# (ccxt 4.5.90 charges them 0). ccxt charges a weight-1 Kraken call 3 tokens (``Balance``,
# ``OpenOrders``, ``QueryOrders``: 3, ``TradesHistory``, ``Ledgers``: 6).
KRAKEN_TIERS: dict[str, CallCounter] = {
    "starter": CallCounter(maximum=15, decay_per_s=0.33, unit_cost=3),
    "intermediate": CallCounter(maximum=20, decay_per_s=0.5, unit_cost=3),
    "pro": CallCounter(maximum=20, decay_per_s=1.0, unit_cost=3),
}
# The counter a keyed client is paced by. Kraken's tier of a key cannot be read through
# the API, so the most restrictive one is assumed.
CALL_COUNTERS: dict[str, CallCounter] = {"kraken": KRAKEN_TIERS["starter"]}
# Kept unused below the counter's maximum: the venue may decay in steps ("every couple of
# seconds") rather than continuously, and a call is counted on arrival, not on release.
STEP_SLACK = 2.0
# ccxt's window lets calls through a little slower than the venue decays.
DECAY_MARGIN = 0.95


def token_bucket(counter: CallCounter) -> dict[str, Any]:
    """ccxt's ``tokenBucket`` option for a client paced by ``counter``: its rolling-window
    throttler, which allows the counter's burst and never exceeds it.

    Why not ccxt's default leaky bucket with a bigger capacity: in ccxt 4.5.90's async
    throttler the tokens refill only while a call waits, never while the client is idle,
    so a bucket never holds more than one call's worth and Kraken's calls stay 3 s apart
    whatever the capacity.

    The rolling window lets a call through when the costs released in the last
    ``windowSize`` ms plus its own stay within ``rateLimit``-derived ``maxWeight``
    (``windowSize / rateLimit`` tokens). With at most ``n`` weight units in any window of
    ``w`` seconds and ``n / w`` no faster than the decay, the venue's counter never exceeds
    ``n`` (plus its decay steps: ``STEP_SLACK``): over any stretch of time of k windows
    and a bit, at most (k + 1) n units arrive while k n have decayed. Kraken Starter: 13
    calls at once, then 13 per 41.5 s."""
    units = counter.maximum - STEP_SLACK
    window_ms = units / (counter.decay_per_s * DECAY_MARGIN) * 1000.0
    max_weight = units * counter.unit_cost
    return {
        "algorithm": "rollingWindow",
        "windowSize": window_ms,
        "rateLimit": window_ms / max_weight,  # ccxt: maxWeight = windowSize / rateLimit
    }


def supported_exchanges() -> list[str]:
    """Every ccxt exchange id that has an async REST client."""
    return sorted(eid for eid in ccxt.exchanges if hasattr(ccxt_async, eid))


def exchange_class(exchange_id: str) -> type:
    if not isinstance(exchange_id, str) or exchange_id not in ccxt.exchanges:
        raise UnknownExchangeError(f"unknown exchange id {exchange_id!r}")
    klass = getattr(ccxt_async, exchange_id, None)
    if klass is None:
        raise UnknownExchangeError(f"no async client for {exchange_id!r}")
    return klass


def stream_class(exchange_id: str) -> type | None:
    """The ccxt.pro (WebSocket) class of ``exchange_id`` when it watches candles
    (``has['watchOHLCV']``), else None."""
    exchange_class(exchange_id)
    klass = getattr(ccxt_pro, exchange_id, None)
    if klass is None or not klass().describe().get("has", {}).get("watchOHLCV"):
        return None
    return klass


def required_credentials(exchange_id: str) -> list[str]:
    """ccxt credential names the exchange needs, e.g. ``["apiKey", "secret"]``."""
    klass = exchange_class(exchange_id)
    required = klass().describe().get("requiredCredentials", {})
    return [name for name, needed in required.items() if needed]


def credential_fields(exchange_id: str) -> list[tuple[str, str]]:
    """``[(name, label), ...]`` in the order the user should be asked."""
    return [(n, credential_label(n)) for n in required_credentials(exchange_id)]


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """Settings shared by every client the gateway builds."""

    exchange_urls: dict[str, str] = field(default_factory=dict)
    sandbox: bool = False
    timeout_ms: int = 10_000
    enable_rate_limit: bool = True
    exchange_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    # keyed clients of these exchanges are paced by the venue's per-key call counter
    # (``token_bucket``) instead of ccxt's default spacing
    call_counters: dict[str, CallCounter] = field(default_factory=lambda: dict(CALL_COUNTERS))


def _rebase(url: str, base: str) -> str:
    parts = urlsplit(url)
    path = parts.path
    if parts.query:
        path += "?" + parts.query
    if parts.scheme in ("ws", "wss"):  # a WebSocket URL keeps a WebSocket scheme
        base = base.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    return base.rstrip("/") + path


def override_urls(api: Any, base_url: str, hostname: str | None) -> Any:
    """``urls['api']`` with every URL's scheme+host replaced by ``base_url``."""
    if isinstance(api, dict):
        return {k: override_urls(v, base_url, hostname) for k, v in api.items()}
    if isinstance(api, list):
        return [override_urls(v, base_url, hostname) for v in api]
    if isinstance(api, str) and "://" in api:
        if hostname and "{hostname}" in api:
            api = api.replace("{hostname}", hostname)
        return _rebase(api, base_url)
    return api


def build_client(
    exchange_id: str,
    settings: ClientSettings,
    credentials: dict[str, str] | None = None,
    *,
    klass: type | None = None,
) -> Any:
    """A configured ``ccxt.async_support`` client (or ``klass``: a ccxt.pro one). Never
    logs or echoes credentials."""
    klass = klass or exchange_class(exchange_id)
    options: dict[str, Any] = {
        # ccxt's own retries stay off: a submit is attempted exactly once.
        "maxRetriesOnFailure": 0,
        "maxRetriesOnFailureDelay": 0,
    }
    options.update(EXCHANGE_OPTIONS.get(exchange_id, {}))
    options.update(settings.exchange_options.get(exchange_id, {}))
    config: dict[str, Any] = {
        "enableRateLimit": settings.enable_rate_limit,
        "timeout": settings.timeout_ms,
        "options": options,
    }
    counter = settings.call_counters.get(exchange_id)
    if counter is not None and credentials:
        # ccxt's throttler is per client: one client per key (the gateway's registry)
        config["rateLimiterAlgorithm"] = "rollingWindow"
        config["tokenBucket"] = token_bucket(counter)
    for name, value in (credentials or {}).items():
        config[name] = value
    client = klass(config)
    if settings.sandbox:
        try:
            client.set_sandbox_mode(True)
        except ccxt.NotSupported:
            raise ConfigError(f"{exchange_id} has no sandbox; unset the sandbox switch") from None
        except Exception as exc:  # any failure here is a configuration problem
            name = type(exc).__name__
            raise ConfigError(f"{exchange_id}: sandbox switch failed ({name})") from None
    base = settings.exchange_urls.get(exchange_id)
    if base:
        urls = copy.deepcopy(client.urls)
        urls["api"] = override_urls(urls.get("api"), base, getattr(client, "hostname", None))
        client.urls = urls
    return client
