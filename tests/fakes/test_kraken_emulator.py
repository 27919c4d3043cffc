"""The Kraken emulator driven by unmodified ccxt (``ccxt.async_support.kraken``)."""

from __future__ import annotations

import base64
import copy
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import aiohttp
import ccxt.async_support as ccxt
import pytest

from tests.fakes.emulator_base import EmuAccount
from tests.fakes.kraken import DUPLICATE_CL_ORD_ID, KrakenEmulator, sign
from tests.fakes.kraken_auth import CREATE_ORDERS, QUERY_FUNDS, WITHDRAW_FUNDS

KRAKEN_HOST = "https://api.kraken.com"


def make_client(emu: KrakenEmulator, account: EmuAccount | None, **extra) -> ccxt.kraken:
    creds = emu.credentials(account) if account is not None else {}
    client = ccxt.kraken({**creds, "enableRateLimit": False, "timeout": 5000, **extra})
    urls = copy.deepcopy(client.urls)
    for name, url in urls["api"].items():
        if url.startswith(KRAKEN_HOST):
            urls["api"][name] = emu.base_url + url[len(KRAKEN_HOST) :]
    client.urls = urls
    return client


@pytest.fixture
async def emu() -> AsyncIterator[KrakenEmulator]:
    server = KrakenEmulator()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def clients(emu: KrakenEmulator) -> AsyncIterator[Callable[..., ccxt.kraken]]:
    made: list[ccxt.kraken] = []

    def factory(account: EmuAccount | None = None, **extra) -> ccxt.kraken:
        made.append(make_client(emu, account, **extra))
        return made[-1]

    yield factory
    for client in made:
        await client.close()


@pytest.fixture
async def trader(emu, clients) -> tuple[EmuAccount, ccxt.kraken]:
    account = emu.add_account({"USD": Decimal("100000"), "ETH": Decimal("5")})
    client = clients(account)
    await client.load_markets()
    return account, client


# --- markets and public data ---------------------------------------------------------


async def test_load_markets_serves_assets_and_pairs(emu, clients):
    client = clients()
    markets = await client.load_markets()
    assert sorted(markets) == sorted(emu.symbols)
    btc = markets["BTC/USD"]
    assert (btc["id"], btc["base"], btc["quote"], btc["active"]) == ("XXBTZUSD", "BTC", "USD", True)
    assert btc["precision"]["price"] == 0.1 and btc["limits"]["amount"]["min"] == 0.00005
    assert markets["ETH/USD"]["id"] == "XETHZUSD" and markets["SOL/USD"]["id"] == "SOLUSD"
    paths = {path for _, path in emu.requests}
    assert {"/0/public/Assets", "/0/public/AssetPairs"} <= paths


async def test_ticker_follows_set_price_and_candles_look_like_usd(emu, clients):
    client = clients()
    ticker = await client.fetch_ticker("BTC/USD")
    assert 10_000 < ticker["last"] < 200_000
    emu.set_price("BTC/USD", Decimal("65000.5"))
    ticker = await client.fetch_ticker("BTC/USD")
    assert ticker["last"] == 65000.5 and ticker["bid"] < ticker["ask"]


async def test_ohlcv_5m_and_aggregated_hourly(emu, clients):
    client = clients()
    rows = await client.fetch_ohlcv("ETH/USD", "5m", limit=10)
    assert len(rows) == 10
    assert all(b[0] - a[0] == 300_000 for a, b in zip(rows, rows[1:], strict=False))
    assert all(r[3] <= r[1] <= r[2] and r[3] <= r[4] <= r[2] for r in rows)
    hourly = await client.fetch_ohlcv("ETH/USD", "1h", limit=5)
    assert len(hourly) == 5 and all(r[0] % 3_600_000 == 0 for r in hourly)
    since = rows[0][0]
    later = await client.fetch_ohlcv("ETH/USD", "5m", since=since)
    assert later[0][0] == since


async def test_ohlcv_respects_the_emulator_clock(emu, clients):
    client = clients()
    cutoff = emu.candles["BTC/USD"][100][0]
    emu.clock_ms = lambda: cutoff
    rows = await client.fetch_ohlcv("BTC/USD", "5m", limit=5)
    assert rows[-1][0] == cutoff
    assert (await client.fetch_ticker("BTC/USD"))["last"] == pytest.approx(
        emu.candles["BTC/USD"][100][4], rel=1e-5
    )


# --- credentials and auth ------------------------------------------------------------


async def test_credentials_have_krakens_format(emu):
    account = emu.add_account()
    creds = emu.credentials(account)
    assert set(creds) == {"apiKey", "secret"}
    assert len(creds["apiKey"]) == 56
    assert len(base64.b64decode(creds["secret"])) == 64
    assert account.balances == {"USD": Decimal("10000")}


async def test_balance_shows_holds_of_open_orders(emu, trader):
    _, client = trader
    balance = await client.fetch_balance()
    assert balance["USD"]["total"] == 100000 and balance["ETH"]["total"] == 5
    assert balance["USD"]["used"] == 0
    await client.create_order("ETH/USD", "limit", "buy", 1, 100, {"clientOrderId": "hold-1"})
    balance = await client.fetch_balance()
    assert balance["USD"]["used"] == pytest.approx(100 * 1.0025)
    assert balance["USD"]["free"] == pytest.approx(100000 - 100 * 1.0025)


async def test_wrong_secret_is_krakens_invalid_signature_which_ccxt_leaves_unmapped(emu, clients):
    # Real Kraken answers a wrong secret with EAPI:Invalid signature; ccxt 4.5.90 has no entry
    # for that string, so it surfaces as a plain ExchangeError (the gateway must map it).
    account = emu.add_account()
    wrong = clients(None, apiKey=account.api_key, secret=base64.b64encode(b"x" * 64).decode())
    with pytest.raises(ccxt.ExchangeError, match="EAPI:Invalid signature") as caught:
        await wrong.fetch_balance()
    assert not isinstance(caught.value, ccxt.AuthenticationError)


async def test_unknown_key_and_revoked_key_are_auth_errors(emu, clients):
    account = emu.add_account()
    stranger = clients(None, apiKey="A" * 56, secret=account.secret)
    with pytest.raises(ccxt.AuthenticationError):
        await stranger.fetch_balance()
    good = clients(account)
    assert (await good.fetch_balance())["USD"]["total"] == 10000
    emu.revoke(account)
    with pytest.raises(ccxt.AuthenticationError):
        await good.fetch_balance()


async def test_bad_signature_and_replayed_nonce_answer_krakens_errors(emu):
    account = emu.add_account()
    path = "/0/private/Balance"
    nonce = str(int(time.time() * 1000))
    body = f"nonce={nonce}"
    headers = {
        "API-Key": account.api_key,
        "API-Sign": sign(account.secret, path, nonce, body),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    async with aiohttp.ClientSession() as session:
        async with session.post(emu.base_url + path, data=body, headers=headers) as resp:
            assert resp.status == 200
            assert (await resp.json())["error"] == []
        async with session.post(emu.base_url + path, data=body, headers=headers) as resp:
            assert (await resp.json()) == {"error": ["EAPI:Invalid nonce"], "result": {}}
        other_path = sign(account.secret, "/0/private/BalanceEx", nonce, body)
        tampered = {**headers, "API-Sign": other_path}
        async with session.post(emu.base_url + path, data=body, headers=tampered) as resp:
            assert (await resp.json())["error"] == ["EAPI:Invalid signature"]


async def test_a_second_client_with_an_older_nonce_gets_invalid_nonce(emu, clients):
    account = emu.add_account()
    await clients(account).fetch_balance()
    behind = clients(account)
    behind.options["timeDifference"] = 3_600_000  # its nonce runs an hour behind
    with pytest.raises(ccxt.InvalidNonce):
        await behind.fetch_balance()


# --- orders ----------------------------------------------------------------------------


async def test_market_buy_fills_at_the_set_price(emu, trader):
    account, client = trader
    emu.set_price("BTC/USD", Decimal("60000"))
    params = {"clientOrderId": "m-1"}
    placed = await client.create_order("BTC/USD", "market", "buy", 0.01, None, params)
    assert placed["id"].startswith("O") and len(placed["id"]) == 19
    order = await client.fetch_order(placed["id"])
    assert order["status"] == "closed" and order["clientOrderId"] == "m-1"
    assert order["filled"] == 0.01 and order["average"] == 60000
    assert account.balances["BTC"] == Decimal("0.01")
    assert account.balances["USD"] == Decimal("100000") - Decimal("600") * Decimal("1.0025")
    trades = await client.fetch_my_trades("BTC/USD")
    assert len(trades) == 1 and trades[0]["order"] == placed["id"]
    assert trades[0]["price"] == 60000 and trades[0]["fee"]["currency"] == "USD"
    assert [o.order_id for o in emu.orders_for_client_id(account, "m-1")] == [placed["id"]]


async def test_market_sell_of_held_asset(emu, trader):
    account, client = trader
    emu.set_price("ETH/USD", Decimal("3000"))
    await client.create_order("ETH/USD", "market", "sell", 2, None, {"clientOrderId": "s-1"})
    assert account.balances["ETH"] == Decimal("3")
    assert account.balances["USD"] == Decimal("100000") + Decimal("6000") * Decimal("0.9975")


async def test_limit_order_rests_then_fills_when_price_crosses(emu, trader):
    _, client = trader
    emu.set_price("ETH/USD", Decimal("3000"))
    placed = await client.create_order("ETH/USD", "limit", "buy", 1, 2900, {"clientOrderId": "l-1"})
    open_orders = await client.fetch_open_orders(params={"clientOrderId": "l-1"})
    assert [o["id"] for o in open_orders] == [placed["id"]]
    assert open_orders[0]["status"] == "open" and open_orders[0]["price"] == 2900
    emu.set_price("ETH/USD", Decimal("2899"))
    assert await client.fetch_open_orders() == []
    closed = await client.fetch_closed_orders(params={"clientOrderId": "l-1"})
    assert closed[0]["status"] == "closed" and closed[0]["average"] == 2900
    trades = await client.fetch_my_trades()
    assert trades[0]["takerOrMaker"] == "maker"


async def test_limit_sell_fills_on_rise(emu, trader):
    account, client = trader
    emu.set_price("ETH/USD", Decimal("3000"))
    await client.create_order("ETH/USD", "limit", "sell", 1, 3100, {"clientOrderId": "ls-1"})
    assert (await client.fetch_balance())["ETH"]["used"] == 1
    emu.set_price("ETH/USD", Decimal("3100"))
    assert emu.orders_for_client_id(account, "ls-1")[0].status == "closed"


async def test_cancel_by_client_id_and_by_exchange_id(emu, trader):
    _, client = trader
    emu.set_price("ETH/USD", Decimal("3000"))
    a = await client.create_order("ETH/USD", "limit", "buy", 1, 2000, {"clientOrderId": "c-1"})
    b = await client.create_order("ETH/USD", "limit", "buy", 1, 2100, {"clientOrderId": "c-2"})
    result = await client.cancel_order(None, params={"clientOrderId": "c-1"})
    assert result["info"]["result"]["count"] == 1
    await client.cancel_order(b["id"])
    statuses = {o["id"]: o["status"] for o in await client.fetch_closed_orders()}
    assert statuses == {a["id"]: "canceled", b["id"]: "canceled"}
    with pytest.raises(ccxt.OrderNotFound):
        await client.cancel_order(b["id"])
    with pytest.raises(ccxt.OrderNotFound):
        await client.cancel_order(None, params={"clientOrderId": "never"})


async def test_duplicate_client_id_rejected_only_while_open(emu, trader):
    account, client = trader
    emu.set_price("ETH/USD", Decimal("3000"))
    await client.create_order("ETH/USD", "limit", "buy", 1, 2000, {"clientOrderId": "dup"})
    with pytest.raises(ccxt.ExchangeError, match=DUPLICATE_CL_ORD_ID):
        await client.create_order("ETH/USD", "limit", "buy", 1, 2000, {"clientOrderId": "dup"})
    await client.cancel_order(None, params={"clientOrderId": "dup"})
    await client.create_order("ETH/USD", "market", "buy", 0.1, None, {"clientOrderId": "dup"})
    assert [o.status for o in emu.orders_for_client_id(account, "dup")] == ["canceled", "closed"]


async def test_client_id_formats_follow_kraken(emu, trader):
    _, client = trader
    emu.set_price("ETH/USD", Decimal("3000"))
    uuid = "6d1b345e-2821-40e2-ad83-4ecb18a06876"
    await client.create_order("ETH/USD", "limit", "buy", 1, 2000, {"clientOrderId": uuid})
    with pytest.raises(ccxt.ExchangeError, match="cl_ord_id"):
        await client.create_order("ETH/USD", "limit", "buy", 1, 2000, {"clientOrderId": "x" * 19})


async def test_userref_lookup_and_fetch_order_with_userref(emu, trader):
    _, client = trader
    emu.set_price("ETH/USD", Decimal("3000"))
    placed = await client.create_order("ETH/USD", "limit", "buy", 1, 2000, {"userref": 42})
    found = await client.fetch_open_orders(params={"userref": 42})
    assert [o["id"] for o in found] == [placed["id"]] and found[0]["clientOrderId"] == "42"
    order = await client.fetch_order(placed["id"], params={"clientOrderId": 42})
    assert order["id"] == placed["id"]
    with pytest.raises(ccxt.ExchangeError):
        await client.fetch_order(placed["id"], params={"clientOrderId": "text-id"})


async def test_rejections_map_to_ccxt_errors(emu, trader):
    _, client = trader
    emu.set_price("BTC/USD", Decimal("60000"))
    with pytest.raises(ccxt.InsufficientFunds):
        await client.create_order("BTC/USD", "market", "buy", 5, None, {"clientOrderId": "big"})
    with pytest.raises(ccxt.InsufficientFunds):
        await client.create_order("BTC/USD", "market", "sell", 1, None, {"clientOrderId": "nob"})
    with pytest.raises(ccxt.InvalidOrder):
        await client.create_order("BTC/USD", "market", "buy", 0.00001, None)
    with pytest.raises(ccxt.InvalidOrder):
        await client.fetch_order("OAAAAA-BBBBB-CCCCCC")


async def test_visibility_delay_hides_new_orders_until_the_clock_passes(emu, trader):
    account, client = trader
    now = [int(time.time() * 1000)]
    emu.clock_ms = lambda: now[0]
    emu.ledger.visibility_delay_ms = 5_000
    emu.set_price("ETH/USD", Decimal("3000"))
    placed = await client.create_order("ETH/USD", "limit", "buy", 1, 2000, {"clientOrderId": "v-1"})
    assert await client.fetch_open_orders(params={"clientOrderId": "v-1"}) == []
    with pytest.raises(ccxt.InvalidOrder):
        await client.fetch_order(placed["id"])
    assert len(emu.orders_for_client_id(account, "v-1")) == 1
    now[0] += 6_000
    assert (await client.fetch_order(placed["id"]))["status"] == "open"


async def test_replayed_clock_fills_resting_limit_when_candles_cross(emu, trader):
    account, client = trader
    rows = emu.candles["ETH/USD"]
    i = next(i for i in range(300, len(rows) - 1) if rows[i + 1][3] < rows[i][4] * 0.995)
    now = [rows[i][0]]
    emu.clock_ms = lambda: now[0]
    limit = float(f"{rows[i + 1][4]:.2f}") + 0.01
    assert limit < rows[i][4]
    await client.create_order("ETH/USD", "limit", "buy", 0.1, limit, {"clientOrderId": "r-1"})
    assert emu.orders_for_client_id(account, "r-1")[0].status == "open"
    now[0] = rows[i + 1][0]
    assert await client.fetch_open_orders() == []
    assert emu.orders_for_client_id(account, "r-1")[0].status == "closed"


# --- faults --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("http_429", ccxt.DDoSProtection),
        ("http_500", ccxt.ExchangeNotAvailable),
        ("auth", ccxt.AuthenticationError),
        ("stale_nonce", ccxt.InvalidNonce),
    ],
)
async def test_faults_map_to_ccxt_exceptions(emu, trader, kind, expected):
    account, client = trader
    emu.faults.arm(kind, only_paths=("/0/private/AddOrder",))
    with pytest.raises(expected):
        await client.create_order("ETH/USD", "market", "buy", 0.1, None, {"clientOrderId": "f-1"})
    assert emu.orders_for_client_id(account, "f-1") == []
    await client.create_order("ETH/USD", "market", "buy", 0.1, None, {"clientOrderId": "f-1"})
    assert len(emu.orders_for_client_id(account, "f-1")) == 1


async def test_timeout_after_accept_leaves_the_order_on_the_exchange(emu, clients):
    account = emu.add_account()
    client = clients(account, timeout=1000)
    await client.load_markets()
    emu.faults.arm("timeout_after_accept", only_paths=("/0/private/AddOrder",))
    with pytest.raises(ccxt.RequestTimeout):
        await client.create_order("ETH/USD", "market", "buy", 0.1, None, {"clientOrderId": "t-1"})
    assert [o.status for o in emu.orders_for_client_id(account, "t-1")] == ["closed"]
    closed = await client.fetch_closed_orders(params={"clientOrderId": "t-1"})
    assert closed[0]["clientOrderId"] == "t-1"


async def test_dropped_response_leaves_the_order_on_the_exchange(emu, trader):
    account, client = trader
    emu.faults.arm("drop_response", only_paths=("/0/private/AddOrder",))
    with pytest.raises(ccxt.NetworkError):
        await client.create_order("ETH/USD", "market", "buy", 0.1, None, {"clientOrderId": "d-1"})
    assert len(emu.orders_for_client_id(account, "d-1")) == 1


# --- key permissions and the funding methods -------------------------------------------


async def _raw_private(emu, account, method: str, params: str = "") -> dict:
    """One signed private POST made by hand, to see Kraken's exact JSON. Its nonce is the
    smallest valid one, so ccxt's millisecond nonces stay valid after it."""
    path = f"/0/private/{method}"
    nonce = str(account.last_nonce + 1)
    body = f"nonce={nonce}" + (f"&{params}" if params else "")
    headers = {
        "API-Key": account.api_key,
        "API-Sign": sign(account.secret, path, nonce, body),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    async with aiohttp.ClientSession() as session:
        async with session.post(emu.base_url + path, data=body, headers=headers) as resp:
            assert resp.status == 200  # Kraken answers API errors with HTTP 200
            return await resp.json()


async def test_withdraw_methods_answer_only_a_key_with_query_and_withdraw(emu, clients):
    trade_only = emu.add_account()
    assert WITHDRAW_FUNDS not in trade_only.permissions and not trade_only.can_withdraw
    assert await _raw_private(emu, trade_only, "WithdrawMethods") == {
        "error": ["EGeneral:Permission denied"]
    }
    with pytest.raises(ccxt.PermissionDenied):
        await clients(trade_only).privatePostWithdrawMethods()

    withdrawer = emu.add_account(can_withdraw=True)
    assert WITHDRAW_FUNDS in withdrawer.permissions and withdrawer.can_withdraw
    answer = await clients(withdrawer).privatePostWithdrawMethods()
    assert answer["error"] == [] and answer["result"]
    assert {"asset", "method", "method_id", "network", "network_id", "minimum"} <= set(
        answer["result"][0]
    )
    btc = await _raw_private(emu, withdrawer, "WithdrawMethods", "asset=XBT")
    assert {m["method"] for m in btc["result"]} == {"Bitcoin", "Bitcoin Lightning"}
    assert {m["asset"] for m in btc["result"]} == {"XXBT"}

    # Withdraw alone is not enough: the method also needs Query Funds.
    no_query = emu.add_account(permissions=[WITHDRAW_FUNDS])
    denied = await _raw_private(emu, no_query, "WithdrawMethods")
    assert denied == {"error": ["EGeneral:Permission denied"]}


async def test_withdraw_addresses_list_saved_addresses_for_a_withdraw_key(emu, clients):
    trade_only = emu.add_account()
    assert (await _raw_private(emu, trade_only, "WithdrawAddresses"))["error"] == [
        "EGeneral:Permission denied"
    ]
    withdrawer = emu.add_account(can_withdraw=True)
    assert await _raw_private(emu, withdrawer, "WithdrawAddresses") == {"error": [], "result": []}
    emu.add_withdraw_address(withdrawer, "XXBT", "Bitcoin", "cold", "bc1qexample")
    listed = await clients(withdrawer).privatePostWithdrawAddresses({"asset": "XBT"})
    assert listed["result"] == [
        {
            "address": "bc1qexample",
            "asset": "XXBT",
            "method": "Bitcoin",
            "key": "cold",
            "verified": True,
        }
    ]


async def test_every_private_method_needs_its_permission(emu, clients):
    no_trading = emu.add_account(permissions=[QUERY_FUNDS])
    client = clients(no_trading)
    await client.load_markets()
    assert (await client.fetch_balance())["USD"]["total"] == 10000
    with pytest.raises(ccxt.PermissionDenied):
        await client.create_order("ETH/USD", "market", "buy", 0.1)
    with pytest.raises(ccxt.PermissionDenied):
        await client.fetch_open_orders()
    assert emu.ledger.orders == []
    blind = emu.add_account(permissions=[CREATE_ORDERS])
    with pytest.raises(ccxt.PermissionDenied):
        await clients(blind).fetch_balance()
    with pytest.raises(ValueError, match="not Kraken key permissions"):
        emu.add_account(permissions=["trade"])


async def test_malformed_fault_answers_a_result_of_the_wrong_shape(emu):
    withdrawer = emu.add_account(can_withdraw=True)
    emu.faults.arm("malformed", only_paths=("/0/private/WithdrawMethods",))
    assert await _raw_private(emu, withdrawer, "WithdrawMethods") == {
        "error": [],
        "result": "unavailable",
    }
    assert (await _raw_private(emu, withdrawer, "WithdrawMethods"))["result"]
