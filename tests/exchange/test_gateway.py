"""Gateway registry, exchange discovery, client settings and URL override (no network)."""

from __future__ import annotations

import asyncio

import pytest

from nija_tg.core.errors import ConfigError, UnknownExchangeError
from nija_tg.exchange.ccxt_factory import (
    ClientSettings,
    build_client,
    credential_fields,
    override_urls,
)
from nija_tg.exchange.ccxt_gateway import CcxtGateway, required_credentials, supported_exchanges


def test_supported_and_required_credentials():
    ids = supported_exchanges()
    assert {"kraken", "bingx", "coinbase", "okx"} <= set(ids)
    assert required_credentials("kraken") == ["apiKey", "secret"]
    assert "password" in required_credentials("okx")
    assert ("password", "passphrase") in credential_fields("kucoin")
    assert credential_fields("kraken") == [("apiKey", "API key"), ("secret", "API secret")]
    with pytest.raises(UnknownExchangeError):
        required_credentials("no-such-exchange")


async def test_client_settings_no_retries_rate_limit_timeout():
    client = build_client("kraken", ClientSettings(timeout_ms=1234))
    try:
        assert client.enableRateLimit is True
        assert client.timeout == 1234
        assert client.options["maxRetriesOnFailure"] == 0
    finally:
        await client.close()
    bingx = build_client("bingx", ClientSettings())
    try:
        assert bingx.options["defaultType"] == "swap"
    finally:
        await bingx.close()


def test_override_urls_keeps_paths_and_substitutes_hostname():
    api = {
        "a": "https://open-api.{hostname}/openApi",
        "b": {"c": "https://api.x.com/v3/x?y=1", "d": 5},
        "e": ["https://h/p"],
    }
    out = override_urls(api, "http://127.0.0.1:5555/", "bingx.com")
    assert out == {
        "a": "http://127.0.0.1:5555/openApi",
        "b": {"c": "http://127.0.0.1:5555/v3/x?y=1", "d": 5},
        "e": ["http://127.0.0.1:5555/p"],
    }


async def test_sandbox_then_override_applies_to_every_client():
    settings = ClientSettings(exchange_urls={"bingx": "http://127.0.0.1:9"}, sandbox=True)
    client = build_client("bingx", settings)
    try:
        assert all(u == "http://127.0.0.1:9/openApi" for u in client.urls["api"].values())
        assert client.options.get("sandboxMode") is True
    finally:
        await client.close()
    with pytest.raises(ConfigError):
        build_client("kraken", ClientSettings(sandbox=True))


async def test_registry_caches_per_user_and_rebuilds_on_new_credentials():
    gw = CcxtGateway(exchange_urls={"kraken": "http://127.0.0.1:9"})
    try:
        a = gw.account(1, "kraken", {"apiKey": "k", "secret": "c2VjcmV0"})
        assert gw.account(1, "kraken", {"apiKey": "k", "secret": "c2VjcmV0"}) is a
        assert gw.account(2, "kraken", {"apiKey": "k", "secret": "c2VjcmV0"}) is not a
        b = gw.account(1, "kraken", {"apiKey": "k2", "secret": "c2VjcmV0"})
        assert b is not a and b._c.apiKey == "k2"  # noqa: SLF001
        assert gw.public("kraken") is gw.public("kraken")
        assert gw.public("kraken").client.urls["api"]["public"] == "http://127.0.0.1:9"
        await gw.release(1, "kraken")
        assert gw.account(1, "kraken", {"apiKey": "k2", "secret": "c2VjcmV0"}) is not b
        with pytest.raises(UnknownExchangeError):
            gw.public("nope")
    finally:
        await gw.close_all()


async def test_unreachable_exchange_read_is_exchange_unreachable():
    from nija_tg.core.errors import ExchangeUnreachableError

    gw = CcxtGateway(exchange_urls={"kraken": "http://127.0.0.1:9"}, read_retries=0)
    try:
        with pytest.raises(ExchangeUnreachableError):
            await gw.fetch_ticker("kraken", "BTC/USD")
    finally:
        await gw.close_all()


async def test_close_all_closes_the_clients_together():
    """ccxt sleeps 250 ms in each client's close: one by one, an engine with 1,000 users'
    clients would spend minutes shutting down. Every client starts closing at once."""
    gateway = CcxtGateway()
    markets = [gateway.public(exchange_id) for exchange_id in ("kraken", "bingx", "coinbase")]
    closing = asyncio.create_task(gateway.close_all())
    for _ in range(1000):  # loop turns until the first client starts closing
        if any(md.client.closed_by_user for md in markets):
            break
        await asyncio.sleep(0)
    assert [md.client.closed_by_user for md in markets] == [True, True, True]
    await closing
