"""Exchange-native stop-market orders on the Kraken and BingX emulators, driven by
unmodified ccxt: placement, lookup by client id, reservation, triggering on a pinned price
and on replayed candles (gaps fill at the open), cancel, and BingX's closing-only rule."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import ccxt.async_support as ccxt
import pytest

from tests.fakes.bingx import BingXEmulator
from tests.fakes.emulator_base import EmuAccount, EmulatorServer
from tests.fakes.emulator_triggers import CANDLE_MS
from tests.fakes.kraken import DUPLICATE_CL_ORD_ID, KrakenEmulator
from tests.fakes.test_bingx_emulator import make_client as bingx_client
from tests.fakes.test_kraken_emulator import make_client as kraken_client

ETH = "ETH/USD"
SWAP = "ETH/USDT:USDT"


@pytest.fixture
async def kraken() -> AsyncIterator[KrakenEmulator]:
    async with KrakenEmulator() as emu:
        yield emu


@pytest.fixture
async def bingx() -> AsyncIterator[BingXEmulator]:
    async with BingXEmulator() as emu:
        yield emu


@pytest.fixture
async def kr(kraken: KrakenEmulator) -> AsyncIterator[tuple[EmuAccount, ccxt.kraken]]:
    account = kraken.add_account({"USD": Decimal("10000"), "ETH": Decimal("1")})
    client = kraken_client(kraken, account)
    await client.load_markets()
    yield account, client
    await client.close()


@pytest.fixture
async def bx(bingx: BingXEmulator) -> AsyncIterator[tuple[EmuAccount, ccxt.bingx]]:
    account = bingx.add_account()
    client = bingx_client(bingx, bingx.credentials(account))
    await client.load_markets()
    yield account, client
    await client.close()


# --- choosing triggers from the real candles ------------------------------------------


def _d(x: float, tick: Decimal) -> Decimal:
    return Decimal(str(x)).quantize(tick)


def dip_after(rows: list[list[float]], i: int, tick: Decimal) -> tuple[int, Decimal]:
    """(j, trigger): the first candle j > i whose low makes a new low below everything since
    candle i (close included), with room for a trigger strictly inside (low_j, open_j) and
    below the earlier lows: a sell stop there fills at the trigger in candle j."""
    floor = min(_d(rows[i][3], tick), _d(rows[i][4], tick))
    for j in range(i + 1, len(rows)):
        low, top = _d(rows[j][3], tick), min(floor, _d(rows[j][1], tick))
        if top - low > 4 * tick:
            return j, ((low + top) / 2).quantize(tick)
        floor = min(floor, low)
    raise AssertionError("no dip in the candles")


def gap_down(rows: list[list[float]], tick: Decimal, start: int = 100) -> tuple[int, Decimal]:
    """(j, trigger): a candle j opening below candle j-1's low, and a trigger between."""
    for j in range(start, len(rows)):
        open_, prev_low = _d(rows[j][1], tick), _d(rows[j - 1][3], tick)
        if prev_low - open_ > 4 * tick and _d(rows[j - 1][4], tick) >= prev_low:
            return j, ((open_ + prev_low) / 2).quantize(tick)
    raise AssertionError("no gap in the candles")


def replay_at(emu: EmulatorServer, ts: int) -> list[int]:
    """Drive ``emu`` by a settable clock starting at ``ts``; returns the clock cell."""
    now = [ts]
    emu.clock_ms = lambda: now[0]
    return now


# --- Kraken ---------------------------------------------------------------------------


async def test_kraken_sell_stop_rests_reserves_and_fills_at_trigger(kraken, kr):
    account, client = kr
    kraken.set_price(ETH, Decimal("3000"))
    params = {"clientOrderId": "sl-1", "stopLossPrice": 2900}
    placed = await client.create_order(ETH, "market", "sell", 1, None, params)
    [found] = await client.fetch_open_orders(params={"clientOrderId": "sl-1"})
    assert found["id"] == placed["id"] and found["status"] == "open"
    assert found["type"] == "market" and found["clientOrderId"] == "sl-1"
    assert found["stopLossPrice"] == 2900 and found["triggerPrice"] == 2900
    assert found["info"]["descr"]["ordertype"] == "stop-loss"
    assert found["info"]["descr"]["order"] == "sell 1.00000000 ETHUSD @ stop loss 2900.00"
    [order] = kraken.orders_for_client_id(account, "sl-1")
    assert order.trigger_price == Decimal("2900") and order.triggered_ms is None
    assert (await client.fetch_balance())["ETH"]["used"] == 1
    with pytest.raises(ccxt.InsufficientFunds):  # the stop holds the coin
        await client.create_order(ETH, "market", "sell", 1, None, {"clientOrderId": "m-2"})
    with pytest.raises(ccxt.ExchangeError, match=DUPLICATE_CL_ORD_ID):
        await client.create_order(ETH, "market", "sell", 1, None, params)
    kraken.set_price(ETH, Decimal("2950"))
    assert len(await client.fetch_open_orders(params={"clientOrderId": "sl-1"})) == 1
    kraken.set_price(ETH, Decimal("2850"))
    assert await client.fetch_open_orders() == []
    [done] = await client.fetch_closed_orders(params={"clientOrderId": "sl-1"})
    assert (done["status"], done["filled"], done["average"]) == ("closed", 1, 2900)
    assert done["type"] == "market" and done["stopLossPrice"] == 2900
    assert float(done["fee"]["cost"]) == 7.25 and done["info"]["misc"] == "stopped"
    [trade] = await client.fetch_my_trades(ETH)
    assert (trade["order"], trade["price"], trade["amount"]) == (placed["id"], 2900, 1)
    assert trade["takerOrMaker"] == "taker"
    assert account.balances == {"USD": Decimal("10000") + 2900 - Decimal("7.25"), "ETH": 0}


async def test_kraken_cancel_stop_releases_and_buy_stop_reserves_quote(kraken, kr):
    account, client = kr
    kraken.set_price(ETH, Decimal("3000"))
    stop = {"clientOrderId": "sl-c", "stopLossPrice": 2500}
    placed = await client.create_order(ETH, "market", "sell", 1, None, stop)
    await client.cancel_order(None, params={"clientOrderId": "sl-c"})
    [gone] = await client.fetch_closed_orders(params={"clientOrderId": "sl-c"})
    assert gone["id"] == placed["id"] and gone["status"] == "canceled"
    assert (await client.fetch_balance())["ETH"]["used"] == 0
    kraken.set_price(ETH, Decimal("2000"))
    assert kraken.orders_for_client_id(account, "sl-c")[0].status == "canceled"
    # a buy stop above the price reserves quote at the trigger plus fee; a too-big one fails
    with pytest.raises(ccxt.InsufficientFunds):
        await client.create_order(ETH, "market", "buy", 4, None, {"stopLossPrice": 2600})
    buy = {"clientOrderId": "bs-1", "stopLossPrice": 2100}
    await client.create_order(ETH, "market", "buy", 2, None, buy)
    assert (await client.fetch_balance())["USD"]["used"] == pytest.approx(2 * 2100 * 1.0025)
    kraken.set_price(ETH, Decimal("2200"))
    [done] = await client.fetch_closed_orders(params={"clientOrderId": "bs-1"})
    assert done["status"] == "closed" and done["average"] == 2100 and done["side"] == "buy"
    assert account.balances["ETH"] == 3


async def test_kraken_stop_already_reached_fills_at_once(kraken, kr):
    _, client = kr
    kraken.set_price(ETH, Decimal("3000"))
    params = {"clientOrderId": "now", "stopLossPrice": 3100}
    await client.create_order(ETH, "market", "sell", 1, None, params)
    [done] = await client.fetch_closed_orders(params={"clientOrderId": "now"})
    assert done["status"] == "closed" and done["average"] == 3000


async def test_kraken_replay_fills_at_trigger_in_the_dipping_candle(kraken, kr):
    account, client = kr
    rows, tick = kraken.candles[ETH], Decimal("0.01")
    i = 400
    now = replay_at(kraken, rows[i][0] + CANDLE_MS // 2)
    j, trigger = dip_after(rows, i, tick)
    params = {"clientOrderId": "rp-1", "stopLossPrice": float(trigger)}
    await client.create_order(ETH, "market", "sell", 1, None, params)
    now[0] = rows[j - 1][0] + CANDLE_MS + CANDLE_MS // 2  # j - 1 closed: not yet
    assert len(await client.fetch_open_orders(params={"clientOrderId": "rp-1"})) == 1
    now[0] = rows[j][0] + CANDLE_MS + 5 * CANDLE_MS  # candle j and five more closed
    [done] = await client.fetch_closed_orders(params={"clientOrderId": "rp-1"})
    assert done["status"] == "closed" and done["average"] == float(trigger)
    [order] = kraken.orders_for_client_id(account, "rp-1")
    [fill] = [f for f in kraken.ledger.fills if f.order_id == order.order_id]
    assert fill.price == trigger and fill.ts_ms == rows[j][0] + CANDLE_MS - 1
    assert account.balances["ETH"] == 0


async def test_kraken_replay_gap_fills_at_the_open(kraken, kr):
    _, client = kr
    rows, tick = kraken.candles[ETH], Decimal("0.01")
    j, trigger = gap_down(rows, tick)
    now = replay_at(kraken, rows[j - 1][0] + CANDLE_MS // 2)
    params = {"clientOrderId": "gap", "stopLossPrice": float(trigger)}
    await client.create_order(ETH, "market", "sell", 1, None, params)
    assert len(await client.fetch_open_orders()) == 1
    now[0] = rows[j][0] + CANDLE_MS + CANDLE_MS // 2  # candle j closed
    [done] = await client.fetch_closed_orders(params={"clientOrderId": "gap"})
    assert done["average"] == float(_d(rows[j][1], tick)) < float(trigger)


async def test_kraken_replay_ignores_candles_before_the_order(kraken, kr):
    account, client = kr
    rows, tick = kraken.candles[ETH], Decimal("0.01")
    i = 400
    while True:  # a dip at j, then candles j + 1 and j + 2 above its trigger
        j, trigger = dip_after(rows, i, tick)
        if min(_d(r[3], tick) for r in rows[j + 1 : j + 3]) > trigger:
            break
        i = j
    now = replay_at(kraken, rows[j + 1][0] + CANDLE_MS // 2)  # the dip is history
    params = {"clientOrderId": "late", "stopLossPrice": float(trigger)}
    await client.create_order(ETH, "market", "sell", 1, None, params)
    now[0] = rows[j + 2][0] + CANDLE_MS // 2  # candle j + 1 closed, above the trigger
    assert len(await client.fetch_open_orders()) == 1
    assert kraken.orders_for_client_id(account, "late")[0].status == "open"


# --- BingX ----------------------------------------------------------------------------


async def test_bingx_sell_stop_closes_a_long_at_trigger(bingx, bx):
    account, client = bx
    bingx.set_price(SWAP, Decimal("3000"))
    await client.create_order(SWAP, "market", "buy", 2, None, {"clientOrderId": "open-l"})
    params = {"clientOrderId": "SL-L", "stopLossPrice": 2900, "reduceOnly": True}
    placed = await client.create_order(SWAP, "market", "sell", 2, None, params)
    assert placed["info"]["type"] == "STOP_MARKET" and placed["stopLossPrice"] == 2900
    found = await client.fetch_order(None, SWAP, {"clientOrderId": "sl-l"})
    assert found["id"] == placed["id"] and found["status"] == "open"
    assert found["type"] == "market" and found["stopLossPrice"] == 2900
    assert found["info"]["status"] == "NEW" and found["info"]["stopPrice"] == "2900"
    [listed] = await client.fetch_open_orders(SWAP)
    assert listed["id"] == placed["id"]
    assert (await client.fetch_balance())["info"]["data"][0]["freezedMargin"] == "0.0000"
    with pytest.raises(ccxt.DuplicateOrderId):
        await client.create_order(SWAP, "market", "sell", 2, None, params)
    bingx.set_price(SWAP, Decimal("2950"))
    assert (await client.fetch_order(placed["id"], SWAP))["status"] == "open"
    bingx.set_price(SWAP, Decimal("2800"))
    done = await client.fetch_order(placed["id"], SWAP)
    assert (done["status"], done["filled"], done["average"]) == ("closed", 2, 2900)
    assert done["info"]["status"] == "FILLED" and done["info"]["profit"] == "-200.0000"
    assert done["fee"]["cost"] == pytest.approx(2.9)
    assert await client.fetch_positions([SWAP]) == []
    trades = await client.fetch_my_trades(SWAP)
    assert [(t["order"], t["price"]) for t in trades][-1] == (placed["id"], 2900)
    assert account.balances["USDT"] == Decimal("10000") - 200 - 3 - Decimal("2.9")


async def test_bingx_cancel_stop_and_refuse_opening_stops(bingx, bx):
    account, client = bx
    bingx.set_price(SWAP, Decimal("3000"))
    with pytest.raises(ccxt.InvalidOrder):  # 101205: no position for it to close
        await client.create_order(
            SWAP, "market", "sell", 1, None, {"stopLossPrice": 2900, "reduceOnly": True}
        )
    await client.create_order(SWAP, "market", "buy", 1, None)
    with pytest.raises(ccxt.InvalidOrder):  # a buy stop would grow the long
        await client.create_order(SWAP, "market", "buy", 1, None, {"stopLossPrice": 3100})
    params = {"clientOrderId": "c-1", "stopLossPrice": 2900, "reduceOnly": True}
    placed = await client.create_order(SWAP, "market", "sell", 1, None, params)
    canceled = await client.cancel_order(None, SWAP, {"clientOrderId": "c-1"})
    assert canceled["status"] == "canceled" and canceled["id"] == placed["id"]
    bingx.set_price(SWAP, Decimal("2000"))
    assert bingx.orders_for_client_id(account, "c-1")[0].status == "canceled"
    assert bingx.position_of(account, SWAP).size == 1


async def test_bingx_buy_stop_covers_a_short_one_way_and_hedged(bingx, bx):
    account, client = bx
    bingx.set_price(SWAP, Decimal("3000"))
    await client.create_order(SWAP, "market", "sell", 1, None)
    params = {"clientOrderId": "bs", "stopLossPrice": 3100, "reduceOnly": True}
    await client.create_order(SWAP, "market", "buy", 1, None, params)
    bingx.set_price(SWAP, Decimal("3050"))
    assert bingx.position_of(account, SWAP).size == -1
    bingx.set_price(SWAP, Decimal("3150"))
    assert bingx.position_of(account, SWAP).size == 0
    assert bingx.orders_for_client_id(account, "bs")[0].avg_price == 3100
    await client.set_position_mode(True)
    await client.create_order(SWAP, "market", "sell", 1, None, {"positionSide": "SHORT"})
    with pytest.raises(ccxt.OrderNotFound):  # 80017: no LONG position for it to close
        await client.create_order(
            SWAP, "market", "sell", 1, None, {"stopLossPrice": 3000, "positionSide": "LONG"}
        )
    params = {"clientOrderId": "hs", "stopLossPrice": 3300, "positionSide": "SHORT"}
    placed = await client.create_order(SWAP, "market", "buy", 1, None, params)
    assert (await client.fetch_order(placed["id"], SWAP))["status"] == "open"
    bingx.set_price(SWAP, Decimal("3400"))
    done = await client.fetch_order(placed["id"], SWAP)
    assert done["status"] == "closed" and done["average"] == 3300
    assert bingx.position_of(account, SWAP, "SHORT").size == 0


async def test_bingx_replay_triggers_on_the_candle_low(bingx, bx):
    account, client = bx
    rows, tick = bingx.candles[SWAP], Decimal("0.01")
    i = 400
    now = replay_at(bingx, rows[i][0] + CANDLE_MS // 2)
    await client.create_order(SWAP, "market", "buy", 1, None)
    j, trigger = dip_after(rows, i, tick)
    params = {"clientOrderId": "rp", "stopLossPrice": float(trigger), "reduceOnly": True}
    await client.create_order(SWAP, "market", "sell", 1, None, params)
    now[0] = rows[j][0] + CANDLE_MS + 7 * CANDLE_MS  # candle j and a few more closed
    assert await client.fetch_open_orders(SWAP) == []
    [order] = bingx.orders_for_client_id(account, "rp")
    assert order.status == "closed" and order.avg_price == trigger
    assert order.triggered_ms == rows[j][0] + CANDLE_MS - 1  # in candle j, not later
    assert bingx.position_of(account, SWAP).size == 0


async def test_bingx_replay_gap_fills_at_the_open(bingx, bx):
    account, client = bx
    rows, tick = bingx.candles[SWAP], Decimal("0.01")
    j, trigger = gap_down(rows, tick)
    now = replay_at(bingx, rows[j - 1][0] + CANDLE_MS // 2)
    await client.create_order(SWAP, "market", "buy", 1, None)
    params = {"clientOrderId": "gp", "stopLossPrice": float(trigger), "reduceOnly": True}
    await client.create_order(SWAP, "market", "sell", 1, None, params)
    now[0] = rows[j][0] + CANDLE_MS  # candle j just closed
    done = await client.fetch_order(None, SWAP, {"clientOrderId": "gp"})
    assert done["status"] == "closed" and done["average"] == float(Decimal(str(rows[j][1])))
    assert bingx.orders_for_client_id(account, "gp")[0].triggered_ms == now[0] - 1


# --- what a stop watches, and when it filled ------------------------------------------


async def test_bingx_stop_without_working_type_triggers_on_the_mark_price(bingx, bx):
    account, client = bx
    bingx.set_price(SWAP, Decimal("3000"))
    await client.create_order(SWAP, "market", "buy", 1, None)
    params = {"clientOrderId": "mk", "stopLossPrice": 2900, "reduceOnly": True}
    placed = await client.create_order(SWAP, "market", "sell", 1, None, params)
    assert placed["info"]["workingType"] == "MARK_PRICE"  # BingX's default
    bingx.set_mark_price(SWAP, Decimal("2890"))  # the last price stays at 3000
    done = await client.fetch_order(placed["id"], SWAP)
    assert done["status"] == "closed" and done["info"]["workingType"] == "MARK_PRICE"
    assert done["average"] == 3000  # a market order at the last price
    assert bingx.position_of(account, SWAP).size == 0


async def test_bingx_contract_price_stop_ignores_the_mark_and_follows_the_last_price(bingx, bx):
    account, client = bx
    bingx.set_price(SWAP, Decimal("3000"))
    await client.create_order(SWAP, "market", "buy", 1, None)
    params = {
        "clientOrderId": "cp",
        "stopLossPrice": 2900,
        "reduceOnly": True,
        "workingType": "CONTRACT_PRICE",
    }
    placed = await client.create_order(SWAP, "market", "sell", 1, None, params)
    assert placed["info"]["workingType"] == "CONTRACT_PRICE"
    bingx.set_mark_price(SWAP, Decimal("2800"))
    found = await client.fetch_order(placed["id"], SWAP)
    assert found["status"] == "open" and found["info"]["workingType"] == "CONTRACT_PRICE"
    bingx.set_mark_price(SWAP, None)
    bingx.set_price(SWAP, Decimal("2950"))
    assert (await client.fetch_order(placed["id"], SWAP))["status"] == "open"
    bingx.set_price(SWAP, Decimal("2850"))
    done = await client.fetch_order(placed["id"], SWAP)
    assert (done["status"], done["average"]) == ("closed", 2900)
    with pytest.raises(ccxt.BadRequest):  # an unknown workingType is refused
        await client.create_order(
            SWAP, "market", "buy", 1, None, {"stopLossPrice": 3100, "workingType": "FAIR"}
        )


async def test_bingx_stop_placed_at_t0_filled_at_t1_reports_both_times(bingx, bx):
    account, client = bx
    t0 = bingx.clock_ms()
    now = replay_at(bingx, t0)
    bingx.set_price(SWAP, Decimal("3000"))
    await client.create_order(SWAP, "market", "buy", 1, None)
    params = {"clientOrderId": "tt", "stopLossPrice": 2900, "reduceOnly": True}
    placed = await client.create_order(SWAP, "market", "sell", 1, None, params)
    now[0] = t0 + 146_000
    bingx.set_price(SWAP, Decimal("2800"))
    done = await client.fetch_order(placed["id"], SWAP)
    assert done["status"] == "closed"
    assert (done["timestamp"], done["lastTradeTimestamp"]) == (t0, t0 + 146_000)


async def test_kraken_stop_placed_at_t0_filled_at_t1_reports_both_times(kraken, kr):
    account, client = kr
    t0 = kraken.clock_ms()
    now = replay_at(kraken, t0)
    kraken.set_price(ETH, Decimal("3000"))
    params = {"clientOrderId": "tt", "stopLossPrice": 2900}
    placed = await client.create_order(ETH, "market", "sell", 1, None, params)
    now[0] = t0 + 146_000
    kraken.set_price(ETH, Decimal("2800"))
    [done] = await client.fetch_closed_orders(params={"clientOrderId": "tt"})
    assert done["id"] == placed["id"] and done["status"] == "closed"
    assert done["timestamp"] == t0 and done["lastUpdateTimestamp"] == t0 + 146_000
