"""Which exchanges exist, what credentials they need, and how one ccxt client is built
(timeouts, rate limiting, no ccxt retries, sandbox switch, base-URL override)."""

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
