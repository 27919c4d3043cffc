"""The Coinbase emulator driven by unmodified ccxt (``ccxt.async_support.coinbase``)."""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import aiohttp
import ccxt.async_support as ccxt
import jwt
import pytest

from tests.fakes.coinbase import CoinbaseEmulator
from tests.fakes.emulator_base import EmuAccount

ORDERS_PATH = "/api/v3/brokerage/orders"


def make_client(
    emu: CoinbaseEmulator, creds: dict[str, str], timeout_ms: int = 10000
) -> ccxt.coinbase:
    client = ccxt.coinbase({**creds, "enableRateLimit": False, "timeout": timeout_ms})
    urls = copy.deepcopy(client.urls)
    urls["api"]["rest"] = emu.base_url
    client.urls = urls
    return client


@pytest.fixture
async def emu() -> AsyncIterator[CoinbaseEmulator]:
    server = CoinbaseEmulator()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def account(emu: CoinbaseEmulator) -> EmuAccount:
    return emu.add_account({"USD": Decimal(10000), "ETH": Decimal(2)})


@pytest.fixture
async def client(emu: CoinbaseEmulator, account: EmuAccount) -> AsyncIterator[ccxt.coinbase]:
    ex = make_client(emu, emu.credentials(account))
    await ex.load_markets()
    yield ex
    await ex.close()


async def test_credentials_have_cdp_format(emu: CoinbaseEmulator, account: EmuAccount) -> None:
    creds = emu.credentials(account)
    assert creds["apiKey"].startswith("organizations/") and "/apiKeys/" in creds["apiKey"]
    assert creds["secret"].startswith("-----BEGIN EC PRIVATE KEY-----")


async def test_load_markets_serves_everything_ccxt_asks_for(
    emu: CoinbaseEmulator, client: ccxt.coinbase
) -> None:
    assert sorted(client.symbols) == sorted(emu.symbols)
    btc = client.market("BTC/USD")
    assert btc["id"] == "BTC-USD" and btc["spot"] and btc["active"]
    assert btc["precision"]["price"] == 0.01 and btc["limits"]["cost"]["min"] == 1.0
    assert btc["taker"] == 0.006
    paths = {p for _, p in emu.requests}
    assert {"/v2/currencies", "/v2/currencies/crypto", "/v2/exchange-rates"} <= paths
    assert "/api/v3/brokerage/transaction_summary" in paths
    assert "POL" in client.currencies


async def test_balance_v2_default_and_v3_paged_with_holds(
    emu: CoinbaseEmulator, client: ccxt.coinbase
) -> None:
    v2 = await client.fetch_balance()
    assert v2["USD"]["total"] == 10000 and v2["ETH"]["total"] == 2
    emu.accounts_page_size = 3
    await client.create_order("ETH/USD", "limit", "sell", 0.5, 99999, {"client_order_id": "h1"})
    emu.requests.clear()
    v3 = await client.fetch_balance({"v3": True})
    assert v3["ETH"]["free"] == 1.5 and v3["ETH"]["used"] == 0.5 and v3["ETH"]["total"] == 2
    assert v3["USD"]["free"] == 10000
    assert emu.requests.count(("GET", "/api/v3/brokerage/accounts")) >= 3


async def test_ticker_and_ohlcv(emu: CoinbaseEmulator, client: ccxt.coinbase) -> None:
    ticker = await client.fetch_ticker("BTC/USD")
    assert Decimal(str(ticker["last"])) == emu.price("BTC/USD")
    assert ticker["bid"] < ticker["last"] < ticker["ask"]
    latest = await client.fetch_ohlcv("BTC/USD", "5m", limit=10)
    assert len(latest) == 10 and latest[-1][4] == ticker["last"]
    assert [r[0] for r in latest] == sorted(r[0] for r in latest)
    first_ts = emu.candles["ETH/USD"][0][0]
    hourly = await client.fetch_ohlcv("ETH/USD", "1h", since=first_ts, limit=5)
    assert len(hourly) == 5 and all(r[0] % 3_600_000 == 0 for r in hourly)
    assert hourly[1][0] - hourly[0][0] == 3_600_000


async def test_ohlcv_respects_replay_clock(emu: CoinbaseEmulator, client: ccxt.coinbase) -> None:
    rows = emu.candles["SOL/USD"]
    emu.clock_ms = lambda: rows[100][0] + 1000
    latest = await client.fetch_ohlcv("SOL/USD", "5m", limit=3)
    assert latest[-1][0] == rows[100][0]


async def test_market_buy_and_sell_with_our_client_id(
    emu: CoinbaseEmulator, account: EmuAccount, client: ccxt.coinbase
) -> None:
    emu.set_price("ETH/USD", Decimal("2000"))
    buy = await client.create_order(
        "ETH/USD", "market", "buy", 0.5, 2000, {"client_order_id": "buy-1"}
    )
    assert buy["clientOrderId"] == "buy-1"
    [order] = emu.orders_for_client_id(account, "buy-1")
    assert order.status == "closed" and order.avg_price == Decimal("2000")
    # quote_size 1000 includes the 0.6 % fee (base size rounds down to the increment)
    assert Decimal(9000) <= account.balances["USD"] < Decimal("9000.01")
    fetched = await client.fetch_order(buy["id"])
    assert fetched["status"] == "closed" and fetched["filled"] == float(order.amount)
    sell = await client.create_order(
        "ETH/USD", "market", "sell", 1, None, {"client_order_id": "sell-1"}
    )
    assert (await client.fetch_order(sell["id"]))["status"] == "closed"
    trades = await client.fetch_my_trades("ETH/USD")
    assert {t["order"] for t in trades} == {buy["id"], sell["id"]}
    assert all(t["fee"]["currency"] == "USD" for t in trades)


async def test_unified_client_order_id_param_is_dropped_by_ccxt(
    emu: CoinbaseEmulator, account: EmuAccount, client: ccxt.coinbase
) -> None:
    order = await client.create_order(
        "ETH/USD", "market", "sell", 0.01, None, {"clientOrderId": "mine"}
    )
    assert emu.orders_for_client_id(account, "mine") == []
    assert (await client.fetch_order(order["id"]))["clientOrderId"].startswith("ccxt-")


async def test_market_buy_by_cost(emu: CoinbaseEmulator, client: ccxt.coinbase) -> None:
    order = await client.create_order(
        "SOL/USD", "market", "buy", 50, None, {"cost": 50, "client_order_id": "cost-1"}
    )
    fetched = await client.fetch_order(order["id"])
    assert fetched["status"] == "closed"
    assert fetched["info"]["size_in_quote"] is True
    assert float(fetched["info"]["total_value_after_fees"]) == pytest.approx(50, abs=0.01)


async def test_limit_rests_then_fills_when_price_crosses(
    emu: CoinbaseEmulator, account: EmuAccount, client: ccxt.coinbase
) -> None:
    emu.set_price("BTC/USD", Decimal("60000"))
    order = await client.create_order(
        "BTC/USD", "limit", "buy", 0.01, 55000, {"client_order_id": "lim-1"}
    )
    open_orders = await client.fetch_open_orders("BTC/USD")
    assert [o["clientOrderId"] for o in open_orders] == ["lim-1"]
    assert open_orders[0]["price"] == 55000 and open_orders[0]["amount"] == 0.01
    emu.set_price("BTC/USD", Decimal("54000"))
    done = await client.fetch_order(order["id"])
    assert done["status"] == "closed" and done["average"] == 55000
    assert await client.fetch_open_orders("BTC/USD") == []
    assert account.balances["BTC"] == Decimal("0.01")


async def test_fetch_by_client_id_and_cancel(emu: CoinbaseEmulator, client: ccxt.coinbase) -> None:
    emu.set_price("ETH/USD", Decimal("2000"))
    await client.create_order("ETH/USD", "limit", "buy", 0.1, 1500, {"client_order_id": "c-9"})
    by_cid = await client.fetch_order("0", None, {"client_order_id": "c-9"})
    assert by_cid["clientOrderId"] == "c-9" and by_cid["status"] == "open"
    canceled = await client.cancel_order(by_cid["id"])
    assert canceled["id"] == by_cid["id"]
    assert (await client.fetch_order(by_cid["id"]))["status"] == "canceled"
    with pytest.raises(ccxt.BadRequest):
        await client.cancel_order(by_cid["id"])


async def test_duplicate_client_id_returns_the_existing_order(
    emu: CoinbaseEmulator, account: EmuAccount, client: ccxt.coinbase
) -> None:
    emu.set_price("ETH/USD", Decimal("2000"))
    first = await client.create_order(
        "ETH/USD", "limit", "buy", 0.1, 1500, {"client_order_id": "dup"}
    )
    again = await client.create_order(
        "ETH/USD", "limit", "buy", 0.2, 1400, {"client_order_id": "dup"}
    )
    assert again["id"] == first["id"]
    assert len(emu.orders_for_client_id(account, "dup")) == 1


async def test_insufficient_funds(
    emu: CoinbaseEmulator, account: EmuAccount, client: ccxt.coinbase
) -> None:
    emu.set_price("BTC/USD", Decimal("60000"))
    with pytest.raises(ccxt.InsufficientFunds):
        await client.create_order(
            "BTC/USD", "limit", "buy", 1, 59000, {"client_order_id": "too-big"}
        )
    with pytest.raises(ccxt.InsufficientFunds):
        await client.create_order("ETH/USD", "market", "sell", 3, None)
    assert emu.orders_for_client_id(account, "too-big") == []


async def test_unknown_order_is_a_plain_exchange_error(client: ccxt.coinbase) -> None:
    # Python ccxt's broad key reads "order with self orderID ..." (transpiled "this"),
    # so Coinbase's not-found answer surfaces as ExchangeError, not OrderNotFound.
    with pytest.raises(ccxt.ExchangeError) as info:
        await client.fetch_order(str(uuid.uuid4()))
    assert not isinstance(info.value, ccxt.OrderNotFound)
    assert "order with this orderID was not found" in str(info.value)


async def test_visibility_delay_hides_new_orders(
    emu: CoinbaseEmulator, account: EmuAccount, client: ccxt.coinbase
) -> None:
    emu.ledger.visibility_delay_ms = 60_000
    order = await client.create_order(
        "ETH/USD", "limit", "buy", 0.1, 100, {"client_order_id": "late"}
    )
    assert await client.fetch_open_orders() == []
    with pytest.raises(ccxt.ExchangeError):
        await client.fetch_order(order["id"])
    assert len(emu.orders_for_client_id(account, "late")) == 1


async def test_key_permissions(emu: CoinbaseEmulator) -> None:
    for can_withdraw in (False, True):
        acct = emu.add_account(can_withdraw=can_withdraw)
        ex = make_client(emu, emu.credentials(acct))
        try:
            perms = await ex.v3PrivateGetBrokerageKeyPermissions()
        finally:
            await ex.close()
        assert perms["can_view"] is True and perms["can_trade"] is True
        assert perms["can_transfer"] is can_withdraw
        assert perms["portfolio_type"] == "DEFAULT"
        assert set(perms) == {
            "can_view",
            "can_trade",
            "can_transfer",
            "portfolio_uuid",
            "portfolio_type",
        }


async def test_key_permissions_follow_the_keys_scopes(emu: CoinbaseEmulator) -> None:
    viewer = emu.add_account(permissions=["view"])
    ex = make_client(emu, emu.credentials(viewer))
    try:
        perms = await ex.v3PrivateGetBrokerageKeyPermissions()
        emu.faults.arm("malformed", only_paths=("/api/v3/brokerage/key_permissions",))
        garbled = await ex.v3PrivateGetBrokerageKeyPermissions()
    finally:
        await ex.close()
    assert (perms["can_view"], perms["can_trade"], perms["can_transfer"]) == (True, False, False)
    assert "can_transfer" not in garbled
    with pytest.raises(ValueError, match="not CDP key scopes"):
        emu.add_account(permissions=["withdraw"])


async def test_wrong_secret_unknown_key_and_revoked_key(emu: CoinbaseEmulator) -> None:
    good, other = emu.add_account(), emu.add_account()
    bad_sets = [
        {"apiKey": good.api_key, "secret": other.secret},
        {"apiKey": "organizations/x/apiKeys/y", "secret": good.secret},
    ]
    for creds in bad_sets:
        ex = make_client(emu, creds)
        try:
            with pytest.raises(ccxt.AuthenticationError):
                await ex.fetch_balance()
        finally:
            await ex.close()
    ex = make_client(emu, emu.credentials(good))
    try:
        await ex.fetch_balance()
        emu.revoke(good)
        with pytest.raises(ccxt.AuthenticationError):
            await ex.fetch_balance({"v3": True})
    finally:
        await ex.close()


async def test_jwt_claims_are_checked(emu: CoinbaseEmulator, account: EmuAccount) -> None:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(account.secret.encode(), None)
    path = "/api/v3/brokerage/key_permissions"
    host = emu.base_url.removeprefix("http://")

    def token(uri: str, nbf: int, life: int = 120, iss: str = "cdp") -> str:
        claims = {"sub": account.api_key, "iss": iss, "nbf": nbf, "exp": nbf + life, "uri": uri}
        headers = {"kid": account.api_key, "nonce": uuid.uuid4().hex}
        return jwt.encode(claims, key, algorithm="ES256", headers=headers)

    now = int(time.time())
    cases = {
        token(f"GET api.coinbase.com{path}", now): 200,
        token(f"GET {host}{path}", now): 200,
        token(f"POST {host}{path}", now): 401,
        token(f"GET {host}/api/v3/brokerage/accounts", now): 401,
        token(f"GET {host}{path}", now - 600): 401,
        token(f"GET {host}{path}", now, life=3600): 401,
        token(f"GET {host}{path}", now, iss="someone"): 401,
    }
    async with aiohttp.ClientSession() as http:
        for tok, status in cases.items():
            async with http.get(
                emu.base_url + path, headers={"Authorization": f"Bearer {tok}"}
            ) as resp:
                assert resp.status == status
                if status == 401:
                    assert (await resp.text()).strip() == "Unauthorized"


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("http_429", ccxt.RateLimitExceeded),
        ("http_500", ccxt.ExchangeNotAvailable),
        ("auth", ccxt.AuthenticationError),
        ("stale_nonce", ccxt.AuthenticationError),
    ],
)
async def test_faults_map_to_ccxt_errors(
    emu: CoinbaseEmulator, account: EmuAccount, client: ccxt.coinbase, kind, expected
) -> None:
    emu.faults.arm(kind, only_paths=(ORDERS_PATH,))
    with pytest.raises(expected):
        await client.create_order(
            "ETH/USD", "market", "sell", 0.1, None, {"client_order_id": "f-1"}
        )
    assert emu.orders_for_client_id(account, "f-1") == []


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("timeout_after_accept", ccxt.RequestTimeout), ("drop_response", ccxt.NetworkError)],
)
async def test_lost_answers_leave_the_order_placed(
    emu: CoinbaseEmulator, account: EmuAccount, kind, expected
) -> None:
    ex = make_client(emu, emu.credentials(account), timeout_ms=1000)
    try:
        await ex.load_markets()
        emu.faults.arm(kind, only_paths=(ORDERS_PATH,))
        with pytest.raises(expected):
            await ex.create_order(
                "ETH/USD", "market", "sell", 0.1, None, {"client_order_id": "lost-1"}
            )
    finally:
        await ex.close()
    [order] = emu.orders_for_client_id(account, "lost-1")
    assert order.status == "closed"


async def test_resting_limit_fills_when_replayed_candles_cross(
    emu: CoinbaseEmulator, account: EmuAccount, client: ccxt.coinbase
) -> None:
    rows = emu.candles["ETH/USD"]
    emu.clock_ms = lambda: rows[0][0]
    limit = Decimal(str(rows[0][4])) - Decimal("5")
    later = next(i for i, r in enumerate(rows) if Decimal(str(r[4])) < limit)
    order = await client.create_order(
        "ETH/USD", "limit", "buy", 0.1, float(limit), {"client_order_id": "replay"}
    )
    assert (await client.fetch_order(order["id"]))["status"] == "open"
    emu.clock_ms = lambda: rows[later][0]
    done = await client.fetch_order(order["id"])
    assert done["status"] == "closed" and done["average"] == float(limit)


async def test_one_minute_candles_are_refused(client: ccxt.coinbase) -> None:
    # The emulator only has 5m data; it refuses finer granularity like a bad argument.
    with pytest.raises(ccxt.BadRequest):
        await client.fetch_ohlcv("BTC/USD", "1m", limit=5)


async def test_market_buy_in_base_size_fills_exactly_that_size(
    emu: CoinbaseEmulator, account: EmuAccount, client: ccxt.coinbase
) -> None:
    # Coinbase's order guide: "To buy a product, provide a quote_size or base_size"
    emu.set_price("ADA/USD", Decimal("0.5"))
    config = {"market_market_ioc": {"base_size": "579"}}
    params = {"client_order_id": "base-1", "order_configuration": config}
    order = await client.create_order("ADA/USD", "market", "buy", 579, 0.5, params)
    fetched = await client.fetch_order(order["id"])
    assert fetched["info"]["order_configuration"] == config
    assert fetched["amount"] == 579 and fetched["filled"] == 579
    assert account.balances["ADA"] == Decimal(579)
    fee = Decimal("579") * Decimal("0.5") * Decimal("0.006")  # charged in USD
    assert account.balances["USD"] == Decimal(10000) - Decimal("289.5") - fee


async def test_last_fill_time_is_the_fill_not_the_placement(
    emu: CoinbaseEmulator, client: ccxt.coinbase
) -> None:
    t0 = emu.clock_ms()
    now = [t0]
    emu.clock_ms = lambda: now[0]
    emu.set_price("BTC/USD", Decimal("60000"))
    order = await client.create_order(
        "BTC/USD", "limit", "buy", 0.01, 55000, {"client_order_id": "lft"}
    )
    assert (await client.fetch_order(order["id"]))["info"]["last_fill_time"] is None
    now[0] = t0 + 146_000
    emu.set_price("BTC/USD", Decimal("54000"))
    done = await client.fetch_order(order["id"])
    assert done["timestamp"] == t0 and done["lastTradeTimestamp"] is None  # ccxt's parser
    filled_at = done["info"]["last_fill_time"]
    assert client.parse8601(filled_at) == t0 + 146_000
