"""ccxt's bingx client, unmodified, against the BingX swap emulator."""

from __future__ import annotations

import copy
import hashlib
import hmac
import re
import time
from collections.abc import AsyncIterator
from decimal import Decimal

import aiohttp
import ccxt
import ccxt.async_support as ccxt_async
import pytest

from tests.fakes.bingx import BingXEmulator
from tests.fakes.emulator_base import EmuAccount

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
ORDER_PATH = "/openApi/swap/v2/trade/order"


@pytest.fixture
async def emu() -> AsyncIterator[BingXEmulator]:
    emulator = BingXEmulator()
    await emulator.start()
    yield emulator
    await emulator.stop()


def make_client(emu: BingXEmulator, creds: dict[str, str] | None = None, timeout: int = 5000):
    """ccxt bingx whose API hosts point at the emulator (paths unchanged)."""
    client = ccxt_async.bingx(
        {
            "enableRateLimit": False,
            "timeout": timeout,
            "options": {"defaultType": "swap"},
            **(creds or {}),
        }
    )
    urls = copy.deepcopy(client.urls)
    for name, url in urls["api"].items():
        url = url.replace("{hostname}", client.hostname)
        urls["api"][name] = re.sub(r"^https?://[^/]+", emu.base_url, url)
    client.urls = urls
    return client


@pytest.fixture
async def account(emu: BingXEmulator) -> EmuAccount:
    return emu.add_account()


@pytest.fixture
async def ex(emu: BingXEmulator, account: EmuAccount) -> AsyncIterator[ccxt_async.bingx]:
    client = make_client(emu, emu.credentials(account))
    yield client
    await client.close()


async def test_load_markets_lists_the_eight_swaps(emu: BingXEmulator, ex) -> None:
    markets = await ex.load_markets()
    swaps = sorted(s for s, m in markets.items() if m["swap"])
    assert swaps == sorted(emu.symbols)
    btc = markets[BTC]
    assert btc["id"] == "BTC-USDT" and btc["linear"] and btc["active"] and btc["settle"] == "USDT"
    assert btc["precision"]["amount"] == 0.0001 and btc["limits"]["amount"]["min"] == 0.0001
    assert btc["limits"]["cost"]["min"] == 2
    paths = {path for _, path in emu.requests}
    assert {
        "/openApi/swap/v2/quote/contracts",
        "/openApi/spot/v1/common/symbols",
        "/openApi/cswap/v1/market/contracts",
        "/openApi/wallets/v1/capital/config/getall",
    } <= paths


async def test_public_data_without_credentials(emu: BingXEmulator) -> None:
    client = make_client(emu)
    try:
        candles = await client.fetch_ohlcv(BTC, "5m", limit=10)
        assert len(candles) == 10
        assert candles[-1][4] == pytest.approx(float(emu.last_price(BTC)), rel=1e-6)
        assert all(a[0] < b[0] for a, b in zip(candles, candles[1:], strict=False))
        hourly = await client.fetch_ohlcv(ETH, "1h", limit=5)
        assert len(hourly) == 5 and all(c[0] % 3_600_000 == 0 for c in hourly)
        since = candles[0][0]
        later = await client.fetch_ohlcv(BTC, "5m", since=since, limit=3)
        assert later[0][0] == since and len(later) == 3
        emu.set_price(BTC, Decimal("61234.5"))
        ticker = await client.fetch_ticker(BTC)
        assert ticker["last"] == 61234.5 and ticker["symbol"] == BTC
        assert ticker["bid"] < ticker["last"] < ticker["ask"]
        assert 20000 < candles[-1][4] < 200000  # USD-like BTC price
    finally:
        await client.close()


async def test_balance_market_order_and_position(emu: BingXEmulator, ex, account) -> None:
    emu.set_price(BTC, Decimal("50000"))
    balance = await ex.fetch_balance()
    assert balance["USDT"]["free"] == 10000
    await ex.set_leverage(5, BTC, {"side": "BOTH"})
    order = await ex.create_order(BTC, "market", "buy", 0.1, None, {"clientOrderId": "open-1"})
    assert order["clientOrderId"] == "open-1" and order["id"]
    fetched = await ex.fetch_order(order["id"], BTC)
    assert (
        fetched["status"] == "closed" and fetched["filled"] == 0.1 and fetched["average"] == 50000
    )
    assert fetched["fee"]["cost"] == pytest.approx(2.5)  # 0.05 % of 5000
    [pos] = await ex.fetch_positions([BTC])
    assert pos["contracts"] == 0.1 and pos["entryPrice"] == 50000 and pos["side"] == "long"
    assert pos["leverage"] == 5 and pos["initialMargin"] == 1000
    emu.set_price(BTC, Decimal("51000"))
    [pos] = await ex.fetch_positions([BTC])
    assert pos["unrealizedPnl"] == 100
    balance = await ex.fetch_balance()
    assert balance["USDT"]["used"] == 1000
    # as in ccxt's recorded real answer: available margin leaves the open profit out, so
    # ccxt's total (free + used) is the wallet; the open profit is only in ``equity``
    assert balance["USDT"]["free"] == pytest.approx(10000 - 2.5 - 1000)
    assert balance["USDT"]["total"] == pytest.approx(10000 - 2.5)
    [row] = balance["info"]["data"]
    assert "maxWithdrawAmount" not in row
    assert (row["balance"], row["equity"], row["unrealizedProfit"]) == (
        "9997.5000",
        "10097.5000",
        "100.0000",
    )
    trades = await ex.fetch_my_trades(BTC)
    assert [(t["order"], t["amount"], t["price"]) for t in trades] == [(order["id"], 0.1, 50000)]


async def test_reduce_only_close_realises_pnl(emu: BingXEmulator, ex, account) -> None:
    emu.set_price(ETH, Decimal("3000"))
    await ex.create_order(ETH, "market", "sell", 2, None, {"clientOrderId": "s1"})
    emu.set_price(ETH, Decimal("2900"))
    close = await ex.create_order(ETH, "market", "buy", 2, None, {"reduceOnly": True})
    assert (await ex.fetch_positions([ETH])) == []
    fees = Decimal("3000") * 2 * Decimal("0.0005") + Decimal("2900") * 2 * Decimal("0.0005")
    assert account.balances["USDT"] == Decimal("10000") + 200 - fees
    fetched = await ex.fetch_order(close["id"], ETH)
    assert fetched["reduceOnly"] is True and fetched["info"]["profit"] == "200.0000"
    with pytest.raises(ccxt.InvalidOrder):  # 101205: nothing left to reduce
        await ex.create_order(ETH, "market", "buy", 1, None, {"reduceOnly": True})


async def test_hedge_mode_long_and_short(emu: BingXEmulator, ex) -> None:
    emu.set_price(BTC, Decimal("40000"))
    await ex.set_position_mode(True)
    assert (await ex.fetch_position_mode())["hedged"] is True
    with pytest.raises(ccxt.BadRequest):  # BOTH is refused in hedge mode
        await ex.create_order(BTC, "market", "buy", 0.01)
    await ex.create_order(BTC, "market", "buy", 0.02, None, {"hedged": True})
    await ex.create_order(BTC, "market", "sell", 0.01, None, {"hedged": True})
    positions = {p["side"]: p["contracts"] for p in await ex.fetch_positions()}
    assert positions == {"long": 0.02, "short": 0.01}
    await ex.create_order(BTC, "market", "sell", 0.02, None, {"hedged": True, "reduceOnly": True})
    assert [p["side"] for p in await ex.fetch_positions()] == ["short"]
    with pytest.raises(ccxt.BadRequest):  # cannot switch mode while a position is open
        await ex.set_position_mode(False)


async def test_insufficient_margin(emu: BingXEmulator, ex) -> None:
    emu.set_price(BTC, Decimal("50000"))
    await ex.set_leverage(2, BTC, {"side": "BOTH"})
    with pytest.raises(ccxt.InsufficientFunds):  # 25000 margin > 10000 available
        await ex.create_order(BTC, "market", "buy", 1)
    with pytest.raises(ccxt.InsufficientFunds):  # a resting limit order reserves margin too
        await ex.create_order(BTC, "limit", "buy", 1, 45000)
    assert emu.ledger.orders == []


async def test_limit_order_lifecycle_by_client_id(emu: BingXEmulator, ex, account) -> None:
    emu.set_price(ETH, Decimal("3000"))
    placed = await ex.create_order(ETH, "limit", "buy", 1, 2900, {"clientOrderId": "Lim-A"})
    assert placed["clientOrderId"] == "lim-a"  # BingX lower-cases client ids
    with pytest.raises(ccxt.DuplicateOrderId):
        await ex.create_order(ETH, "limit", "buy", 1, 2800, {"clientOrderId": "lim-a"})
    by_cid = await ex.fetch_order(None, ETH, {"clientOrderId": "lim-a"})
    assert by_cid["id"] == placed["id"] and by_cid["status"] == "open" and by_cid["price"] == 2900
    [open_order] = await ex.fetch_open_orders(ETH)
    assert open_order["id"] == placed["id"]
    balance = await ex.fetch_balance()
    assert balance["info"]["data"][0]["freezedMargin"] == "290.0000"
    emu.set_price(ETH, Decimal("2899"))
    filled = await ex.fetch_order(placed["id"], ETH)
    assert filled["status"] == "closed" and filled["average"] == 2900
    assert await ex.fetch_open_orders(ETH) == []
    [order] = emu.orders_for_client_id(account, "LIM-A")
    assert order.status == "closed"
    again = await ex.create_order(ETH, "limit", "sell", 1, 3100, {"clientOrderId": "lim-a"})
    canceled = await ex.cancel_order(again["id"], ETH)
    assert canceled["status"] == "canceled"
    with pytest.raises(ccxt.OrderNotFound):
        await ex.cancel_order(again["id"], ETH)
    by_cid_cancel = await ex.create_order(ETH, "limit", "sell", 1, 3200, {"clientOrderId": "c2"})
    await ex.cancel_order(None, ETH, {"clientOrderId": "c2"})
    assert emu.orders_for_client_id(account, "c2")[0].status == "canceled"
    assert by_cid_cancel["id"] != again["id"]
    with pytest.raises(ccxt.OrderNotFound):
        await ex.fetch_order("1", ETH)


async def test_order_minimums(emu: BingXEmulator, ex) -> None:
    with pytest.raises(ccxt.InvalidOrder):
        await ex.create_order(BTC, "market", "buy", 0.00001, None, {"clientOrderId": "tiny"})


async def test_visibility_delay_hides_new_orders(emu: BingXEmulator, ex, account) -> None:
    emu.ledger.visibility_delay_ms = 60_000
    await ex.create_order(ETH, "limit", "buy", 1, 100, {"clientOrderId": "late"})
    with pytest.raises(ccxt.OrderNotFound):
        await ex.fetch_order(None, ETH, {"clientOrderId": "late"})
    assert await ex.fetch_open_orders(ETH) == []
    assert len(emu.orders_for_client_id(account, "late")) == 1


async def test_wrong_secret_and_revoked_key(emu: BingXEmulator, account) -> None:
    bad = make_client(emu, {"apiKey": account.api_key, "secret": "x" * 64})
    try:
        await bad.load_markets()  # ccxt loads currencies signed, so this already fails
        raise AssertionError("expected AuthenticationError")
    except ccxt.AuthenticationError as exc:
        assert "100001" in str(exc) and account.secret not in str(exc)
    finally:
        await bad.close()
    good = make_client(emu, emu.credentials(account))
    try:
        await good.load_markets()
        emu.revoke(account)
        with pytest.raises(ccxt.AuthenticationError):
            await good.fetch_balance()
    finally:
        await good.close()


async def test_signature_and_timestamp_rules(emu: BingXEmulator, account) -> None:
    """Raw HTTP: the signature covers the query in the order sent; stale timestamps fail."""

    async def call(query: str) -> dict:
        sig = hmac.new(account.secret.encode(), query.encode(), hashlib.sha256).hexdigest()
        url = f"{emu.base_url}/openApi/swap/v3/user/balance?{query}&signature={sig}"
        async with aiohttp.ClientSession() as session:
            async with session.get(url, headers={"X-BX-APIKEY": account.api_key}) as resp:
                return await resp.json()

    now = int(time.time() * 1000)
    assert (await call(f"timestamp={now}&recvWindow=5000"))["code"] == 0
    assert (await call(f"recvWindow=5000&timestamp={now}"))["code"] == 0  # any order, as sent
    assert (await call(f"timestamp={now - 60_000}"))["code"] == 100421
    assert (await call(f"timestamp={now - 60_000}&recvWindow=120000"))["code"] == 0


async def test_api_permissions_reflect_withdrawal(emu: BingXEmulator) -> None:
    for can_withdraw in (False, True):
        acct = emu.add_account(can_withdraw=can_withdraw)
        client = make_client(emu, emu.credentials(acct))
        try:
            resp = await client.account_v1_private_get_account_apipermissions()
        finally:
            await client.close()
        assert resp["code"] == 0
        data = resp["data"]
        assert set(data) == {"apiKey", "permissions", "ipAddresses", "note"}
        assert data["apiKey"] == acct.api_key
        assert (5 in data["permissions"]) is can_withdraw and 3 in data["permissions"]
        # BingX binds a key with withdraw permission to an IP address
        assert bool(data["ipAddresses"]) is can_withdraw


async def test_api_permissions_list_the_keys_own_codes(emu: BingXEmulator) -> None:
    acct = emu.add_account(permissions=[1, 2, 3, 4, 7])
    assert not acct.can_withdraw
    client = make_client(emu, emu.credentials(acct))
    try:
        resp = await client.account_v1_private_get_account_apipermissions()
        emu.faults.arm("malformed", only_paths=("/openApi/v1/account/apiPermissions",))
        garbled = await client.account_v1_private_get_account_apipermissions()
    finally:
        await client.close()
    assert resp["data"]["permissions"] == [1, 2, 3, 4, 7]
    assert garbled == {"unexpected": "shape"}  # no code, no data: ccxt passes it through


async def test_credentials_have_bingx_shape(emu: BingXEmulator) -> None:
    creds = emu.credentials(emu.add_account({"USDT": Decimal("5")}))
    assert set(creds) == {"apiKey", "secret"}
    assert all(re.fullmatch(r"[A-Za-z0-9]{64}", v) for v in creds.values())


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("http_429", ccxt.RateLimitExceeded),
        ("http_500", ccxt.ExchangeNotAvailable),
        ("auth", ccxt.AuthenticationError),
        ("stale_nonce", ccxt.BadSymbol),  # ccxt maps BingX 100421 to BadSymbol
    ],
)
async def test_fault_kinds_map_to_ccxt_errors(emu: BingXEmulator, ex, kind, expected) -> None:
    await ex.load_markets()
    emu.faults.arm(kind, only_paths=("/user/balance",))
    with pytest.raises(expected):
        await ex.fetch_balance()
    assert (await ex.fetch_balance())["USDT"]["free"] == 10000


async def test_timeout_after_accept_places_the_order(emu: BingXEmulator, account) -> None:
    client = make_client(emu, emu.credentials(account), timeout=1000)
    try:
        await client.load_markets()
        emu.faults.arm("timeout_after_accept", only_paths=(ORDER_PATH,))
        with pytest.raises(ccxt.RequestTimeout):
            await client.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "t-1"})
        [order] = emu.orders_for_client_id(account, "t-1")
        assert order.status == "closed"
    finally:
        await client.close()


async def test_drop_response_places_the_order(emu: BingXEmulator, ex, account) -> None:
    await ex.load_markets()
    emu.faults.arm("drop_response", only_paths=(ORDER_PATH,))
    with pytest.raises(ccxt.NetworkError):
        await ex.create_order(BTC, "limit", "buy", 0.01, 1000, {"clientOrderId": "d-1"})
    [order] = emu.orders_for_client_id(account, "d-1")
    assert order.status == "open"
    found = await ex.fetch_order(None, BTC, {"clientOrderId": "d-1"})
    assert found["id"] == order.order_id


async def test_create_answer_is_filled_without_commission_the_query_and_fills_carry_it(
    emu: BingXEmulator, ex, account
) -> None:
    emu.set_price(BTC, Decimal("50000"))
    order = await ex.create_order(BTC, "market", "buy", 0.1, None, {"clientOrderId": "fee-1"})
    # like ccxt's newest recorded answer: status, average and quantity, no commission
    assert "commission" not in order["info"] and order["fee"]["cost"] is None
    assert (order["status"], order["filled"], order["average"]) == ("closed", 0.1, 50000)
    assert order["timestamp"] is None  # the create answer has no time either
    fetched = await ex.fetch_order(order["id"], BTC)
    assert fetched["fee"] == {"currency": "USDT", "cost": pytest.approx(2.5)}
    trades = await ex.fetch_my_trades(BTC, None, None, {"orderId": order["id"]})
    assert [(t["order"], t["fee"]["cost"]) for t in trades] == [(order["id"], pytest.approx(2.5))]


async def test_balance_with_an_open_loss(emu: BingXEmulator, ex, account) -> None:
    emu.set_price(BTC, Decimal("50000"))
    await ex.set_leverage(5, BTC, {"side": "BOTH"})
    await ex.create_order(BTC, "market", "buy", 0.1, None)
    emu.set_price(BTC, Decimal("49000"))
    balance = await ex.fetch_balance()
    [row] = balance["info"]["data"]
    assert (row["balance"], row["equity"], row["unrealizedProfit"]) == (
        "9997.5000",
        "9897.5000",
        "-100.0000",
    )
    assert row["usedMargin"] == "1000.0000" and row["availableMargin"] == "8897.5000"


async def test_mark_price_marks_positions(emu: BingXEmulator, ex, account) -> None:
    emu.set_price(BTC, Decimal("50000"))
    await ex.create_order(BTC, "market", "buy", 0.1, None)
    emu.set_mark_price(BTC, Decimal("50500"))
    [pos] = await ex.fetch_positions([BTC])
    assert pos["markPrice"] == 50500 and pos["unrealizedPnl"] == 50
    assert (await ex.fetch_ticker(BTC))["last"] == 50000


async def test_position_mode_switch_refused_while_an_order_or_position_is_open(
    emu: BingXEmulator, ex, account
) -> None:
    emu.set_price(ETH, Decimal("3000"))
    await ex.create_order(ETH, "limit", "buy", 1, 2500, {"clientOrderId": "rest"})
    with pytest.raises(ccxt.BadRequest):  # a pending order blocks the switch
        await ex.set_position_mode(True)
    assert (await ex.fetch_position_mode())["hedged"] is False
    await ex.cancel_order(None, ETH, {"clientOrderId": "rest"})
    await ex.create_order(ETH, "market", "buy", 1, None)
    with pytest.raises(ccxt.BadRequest):  # so does a position
        await ex.set_position_mode(True)
    await ex.create_order(ETH, "market", "sell", 1, None, {"reduceOnly": True})
    await ex.set_position_mode(True)
    assert (await ex.fetch_position_mode())["hedged"] is True


async def test_positions_report_the_cross_margin_liquidation_price(
    emu: BingXEmulator, ex, account
) -> None:
    """Cross margin: liquidated where wallet + open P&L = (maintenance 0.5 % + taker
    0.05 %) x notional at the mark. A 10x short of 1 BTC at 50000 on a 10000 USDT wallet
    (less the 25 USDT fee): (9975 + 50000) / 1.0055 = 59646.9; a long backed by more
    than its notional cannot be liquidated above zero: 0, as BingX answers."""
    emu.set_price(BTC, Decimal("50000"))
    await ex.set_leverage(10, BTC, {"side": "BOTH"})
    await ex.create_order(BTC, "market", "sell", 1, None)
    [pos] = await ex.fetch_positions([BTC])
    assert pos["side"] == "short"
    assert pos["liquidationPrice"] == pytest.approx(59646.9, abs=0.1)
    assert pos["info"]["liquidationPrice"] == "59646.9"
    emu.set_price(ETH, Decimal("3000"))
    await ex.create_order(ETH, "market", "buy", 1, None)
    by_symbol = {p["symbol"]: p for p in await ex.fetch_positions()}
    assert by_symbol[ETH]["info"]["liquidationPrice"] == "0"
    assert by_symbol[ETH]["liquidationPrice"] is None  # how ccxt parses BingX's 0
    # the ETH long's fee and its margin share the wallet: the short's liquidation moves
    short_now = by_symbol[BTC]["liquidationPrice"]
    assert short_now == pytest.approx((9975 - 1.5 - 0.0055 * 3000 + 50000) / 1.0055, abs=0.1)
