"""The executor's safe path on the paper exchange, a swap fake and the Kraken emulator
through the real ccxt gateway."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from nija_tg.core import errors as E
from nija_tg.core.models import (
    FillInfo,
    MarketInfo,
    OrderRequest,
    OrderState,
    OrderStatus,
    OrderType,
    Role,
    Side,
)
from nija_tg.engine.execution import (
    FUNDS,
    NOT_FOUND,
    NOT_PROCESSED,
    NOTHING_THERE,
    UNKNOWN,
    Executor,
    OrderDraft,
)
from nija_tg.engine.execution_record import MarketFacts, record_fills
from nija_tg.exchange.ccxt_gateway import CcxtGateway
from nija_tg.exchange.paper import PaperAccount
from nija_tg.storage import fills, orders, positions, sessions, users
from nija_tg.storage.paper_store import SqlitePaperStore
from tests.engine.kill_points import FaultyAccount, FixedPrices
from tests.outbox_text import text_of

UID = 101
SYM = "BTC/USDT"
SWAP = "BTC/USDT:USDT"


async def make_user(db, uid: int = UID) -> int:
    async with db.transaction() as tx:
        await users.upsert_user(tx, uid, uid, f"u{uid}", "U", Role.TRADER)
        return await sessions.start(tx, uid, "bingx", "paper", Decimal(10000), {"k": 1})


async def outbox_rows(db, uid: int = UID) -> list:
    return await db.fetchall("SELECT * FROM outbox WHERE user_id = ? ORDER BY outbox_id", (uid,))


@pytest.fixture
async def setup(db):
    session_id = await make_user(db)
    prices = FixedPrices()
    paper = PaperAccount(UID, "bingx", prices, SqlitePaperStore(db), slippage=Decimal(0))
    account = FaultyAccount(paper)
    ex = Executor(
        db,
        user_id=UID,
        exchange_id="bingx",
        mode="paper",
        account=account,
        session_id=session_id,
        lookup_attempts=3,
        lookup_backoff=0.01,
    )
    return ex, account, paper, prices, session_id


def buy(amount: str = "0.01", **kw) -> OrderDraft:
    return OrderDraft(SYM, Side.BUY, OrderType.MARKET, Decimal(amount), **kw)


def sell(amount: str = "0.01", **kw) -> OrderDraft:
    return OrderDraft(SYM, Side.SELL, OrderType.MARKET, Decimal(amount), purpose="exit", **kw)


async def paper_orders(paper: PaperAccount, cid: str) -> int:
    state = await paper._load()
    return sum(1 for o in state.orders if o.client_order_id == cid)


# --- happy paths -----------------------------------------------------------------------


async def test_market_buy_records_order_fill_position_and_notification(db, setup):
    ex, account, paper, _, session_id = setup
    r = await ex.submit(buy("0.01"))
    assert r.status is OrderStatus.FILLED and r.filled == Decimal("0.01")
    assert r.average == Decimal(50000) and r.fills_recorded == 1 and r.error is None
    assert len(account.creates) == 1 and await paper_orders(paper, r.client_order_id) == 1
    row = await orders.get(db, UID, r.order_id)
    assert row.status is OrderStatus.FILLED and row.exchange_order_id and row.session_id
    (fill,) = await fills.for_order(db, UID, r.order_id)
    assert fill.amount == Decimal("0.01") and fill.price == Decimal(50000)
    assert fill.fee == Decimal("0.5") and fill.realized_pnl is None
    (pos,) = await positions.list_for_user(db, UID)
    assert (pos.symbol, pos.side, pos.amount, pos.entry_price) == (
        SYM,
        "long",
        Decimal("0.01"),
        Decimal(50000),
    )
    (msg,) = await outbox_rows(db)
    assert msg["kind"] == "fill"
    assert text_of(msg) == (
        "📈 Opened long <b>BTC/USDT</b>: bought 0.01 BTC at 50,000.00\nfee 0.50 USDT · paper"
    )
    s = await sessions.get(db, UID, session_id)
    assert s.trades == 0  # nothing closed yet


async def test_round_trip_closes_position_and_counts_session_trade(db, setup):
    ex, _, _, prices, session_id = setup
    await ex.submit(buy("0.02"))
    prices.prices[SYM] = Decimal(51000)
    r = await ex.submit(sell("0.01"))
    (fill,) = await fills.for_order(db, UID, r.order_id)
    # gross 10, exit fee 0.51, half the entry fee 0.5
    assert fill.realized_pnl == Decimal("10") - Decimal("0.51") - Decimal("0.5")
    (pos,) = await positions.list_for_user(db, UID)
    assert pos.amount == Decimal("0.01") and pos.entry_fees == Decimal("0.5")
    assert (await sessions.get(db, UID, session_id)).trades == 0
    prices.prices[SYM] = Decimal(49000)
    await ex.submit(sell("0.01"))
    assert await positions.list_for_user(db, UID) == []
    s = await sessions.get(db, UID, session_id)
    total = (Decimal("8.99")) + (Decimal(-10) - Decimal("0.49") - Decimal("0.5"))
    assert (s.trades, s.wins, s.losses, s.pnl) == (1, 0, 1, total)
    texts = [text_of(m) for m in await outbox_rows(db)]
    assert len(texts) == 3 and texts[0].startswith("📈 Opened long <b>BTC/USDT</b>: bought 0.02")
    assert texts[1].startswith("🟢 Closed long") and "\nP&amp;L +8.99 USDT · fee" in texts[1]
    assert texts[2].startswith("🔴 Closed long") and "\nP&amp;L -10.99 USDT · fee" in texts[2]


async def test_limit_order_rests_then_fills_on_refresh(db, setup):
    ex, _, _, prices, _ = setup
    draft = OrderDraft(SYM, Side.BUY, OrderType.LIMIT, Decimal("0.01"), price=Decimal(49000))
    r = await ex.submit(draft)
    assert r.status is OrderStatus.OPEN and r.fills_recorded == 0
    assert await ex.refresh_open() == 0
    prices.prices[SYM] = Decimal(48900)
    assert await ex.refresh_open() == 1
    row = await orders.get(db, UID, r.order_id)
    assert row.status is OrderStatus.FILLED and row.average == Decimal(49000)
    assert len(await fills.for_order(db, UID, r.order_id)) == 1
    assert await ex.refresh_open() == 0
    assert len(await outbox_rows(db)) == 1


async def test_intent_and_submitted_are_committed_before_the_send(db, setup):
    ex, account, _, _, _ = setup
    seen = []

    async def look(request: OrderRequest) -> None:
        row = await db.fetchone(
            "SELECT status FROM orders WHERE client_order_id = ?", (request.client_order_id,)
        )
        seen.append(None if row is None else row["status"])

    account.on_create = look
    account.fail_before_send = E.OrderRejectedError("boom")
    r = await ex.submit(buy())
    assert seen == ["submitted"]  # committed (visible to another connection) before sending
    assert r.status is OrderStatus.REJECTED


async def test_one_commit_before_the_send(db, setup):
    """The order's row (SUBMITTED) is the one commit a submit waits for before sending:
    the intent and the SUBMITTED mark are not committed apart."""
    ex, account, _, _, _ = setup
    statements: list[str] = []
    commits_before_send = []

    async def look(request: OrderRequest) -> None:
        commits_before_send.append(sum(1 for s in statements if s.startswith("COMMIT")))

    await db.set_trace(statements.append)
    try:
        account.on_create = look
        r = await ex.submit(buy())
    finally:
        await db.set_trace(None)
    assert r.status is OrderStatus.FILLED
    assert commits_before_send == [1]
    inserts = [s for s in statements if s.startswith("INSERT INTO orders")]
    assert len(inserts) == 1 and "'submitted'" in inserts[0]


# --- rejections -----------------------------------------------------------------------


async def test_rejected_below_minimum(db, setup):
    ex, account, _, _, _ = setup
    r = await ex.submit(buy("0.00001"))
    assert r.status is OrderStatus.REJECTED and r.error and r.fills_recorded == 0
    row = await orders.get(db, UID, r.order_id)
    assert row.error and len(account.creates) == 1
    assert await positions.list_for_user(db, UID) == [] and await outbox_rows(db) == []


async def test_insufficient_funds(db, setup):
    ex, _, _, _, _ = setup
    r = await ex.submit(buy("5"))  # 250,000 USDT of 10,000
    assert r.status is OrderStatus.REJECTED
    assert r.error == E.InsufficientFundsError.code and r.refusal == FUNDS
    row = await orders.get(db, UID, r.order_id)
    assert "not enough" in row.error and row.refusal == FUNDS


async def test_auth_error_marks_rejected_and_raises(db, setup):
    ex, account, _, _, _ = setup
    account.fail_before_send = E.AuthenticationError("bad key")
    with pytest.raises(E.AuthenticationError):
        await ex.submit(buy())
    (row,) = await orders.list_for_user(db, UID)
    assert row.status is OrderStatus.REJECTED and row.error == "bad key"


# --- unknown outcomes -------------------------------------------------------------------


async def test_unknown_outcome_resolved_as_filled_without_resubmit(db, setup):
    ex, account, paper, _, _ = setup
    account.lose_answer = E.UnknownOutcomeError("timeout")
    account.hide_lookups = 2  # the exchange shows it only on the third lookup
    r = await ex.submit(buy())
    assert r.status is OrderStatus.FILLED and r.fills_recorded == 1
    assert len(account.creates) == 1 and account.lookups == 3
    assert await paper_orders(paper, r.client_order_id) == 1
    assert len(await outbox_rows(db)) == 1


async def test_unknown_outcome_resolved_as_open(db, setup):
    ex, account, _, _, _ = setup
    account.lose_answer = E.UnknownOutcomeError("connection reset after sending")
    draft = OrderDraft(SYM, Side.BUY, OrderType.LIMIT, Decimal("0.01"), price=Decimal(40000))
    r = await ex.submit(draft)
    assert r.status is OrderStatus.OPEN and len(account.creates) == 1


async def test_unknown_outcome_not_found_is_rejected(db, setup):
    ex, account, paper, _, _ = setup
    account.fail_before_send = E.UnknownOutcomeError("timeout before the exchange had it")
    r = await ex.submit(buy())
    assert r.status is OrderStatus.REJECTED and r.error == NOT_FOUND
    assert account.lookups == 3 and len(account.creates) == 1
    assert await paper_orders(paper, r.client_order_id) == 0


# --- not processed: the exchange's answer proves the order was not placed -----------------


@pytest.mark.parametrize(
    "err",
    [
        E.RateLimitedError("kraken: create_order failed (DDoSProtection)"),  # HTTP 429
        E.RetryableError("kraken: create_order failed (InvalidNonce)"),
        E.ExchangeUnreachableError("kraken: create_order failed (OnMaintenance)"),
    ],
    ids=type,
)
async def test_not_processed_entry_is_rejected_at_once_without_lookups(db, setup, err):
    ex, account, paper, _, _ = setup
    account.fail_before_send = err
    r = await ex.submit(buy())
    assert r.status is OrderStatus.REJECTED and r.error == NOT_PROCESSED
    assert r.refusal is None and r.attempts == 1  # not a refusal; an entry is not resent
    assert account.lookups == 0 and len(account.creates) == 1
    row = await orders.get(db, UID, r.order_id)
    assert row.error.startswith(NOT_PROCESSED) and str(err) in row.error
    assert await paper_orders(paper, r.client_order_id) == 0
    assert await outbox_rows(db) == []


async def test_not_processed_exit_is_sent_again_at_once_as_a_new_order(db, setup):
    ex, account, paper, _, _ = setup
    await ex.submit(buy("0.02"))
    refusals = [E.RateLimitedError("429 (test)"), E.RateLimitedError("429 (test)")]

    async def answer(request: OrderRequest) -> None:
        account.fail_before_send = refusals.pop() if refusals else None

    account.on_create = answer
    r = await ex.submit(sell("0.02"))
    assert r.status is OrderStatus.FILLED and r.attempts == 3
    sent = account.creates[1:]  # after the entry
    assert account.lookups == 0 and len(sent) == 3
    assert len({c.client_order_id for c in sent}) == 3  # one client order id per order
    rows = await orders.list_for_user(db, UID)
    exits = sorted((o for o in rows if o.side is Side.SELL), key=lambda o: o.order_id)
    assert [o.status for o in exits] == [OrderStatus.REJECTED] * 2 + [OrderStatus.FILLED]
    assert await positions.list_for_user(db, UID) == []


async def test_not_processed_exit_gives_up_after_its_retries(db, setup):
    ex, account, _, _, _ = setup
    await ex.submit(buy("0.02"))
    account.fail_before_send = E.RateLimitedError("429 (test)")
    ex.retry_backoff = 0.01
    r = await ex.submit(sell("0.02"))
    assert r.status is OrderStatus.REJECTED and r.error == NOT_PROCESSED
    assert r.attempts == 1 + ex.retries and len(account.creates) == 2 + ex.retries
    assert account.lookups == 0
    (pos,) = await positions.list_for_user(db, UID)
    assert pos.amount == Decimal("0.02")  # still open: the next candle tries again


async def test_unknown_outcome_with_failing_lookups_stays_submitted_until_reconcile(db, setup):
    ex, account, paper, _, _ = setup
    account.lose_answer = E.UnknownOutcomeError("timeout")
    account.lookup_errors = 3
    r = await ex.submit(buy())
    assert r.status is OrderStatus.SUBMITTED and r.error == UNKNOWN
    account.lose_answer = None
    assert await ex.reconcile() == 1
    row = await orders.get(db, UID, r.order_id)
    assert row.status is OrderStatus.FILLED and len(account.creates) == 1
    assert len(await fills.for_order(db, UID, r.order_id)) == 1
    assert await paper_orders(paper, r.client_order_id) == 1


# --- idempotent fills --------------------------------------------------------------------


async def test_same_trade_seen_twice_is_recorded_once(db, setup):
    ex, _, paper, _, _ = setup
    r = await ex.submit(buy())
    state = await paper.fetch_order_by_client_id(SYM, r.client_order_id)
    row = await orders.get(db, UID, r.order_id)
    facts = MarketFacts.guess(SYM)
    for _ in range(2):
        async with db.transaction() as tx:
            n = await record_fills(
                tx, user_id=UID, mode="paper", order=row, state=state, facts=facts, session_id=None
            )
        assert n == 0
    assert len(await fills.for_order(db, UID, r.order_id)) == 1
    (pos,) = await positions.list_for_user(db, UID)
    assert pos.amount == Decimal("0.01") and len(await outbox_rows(db)) == 1


async def test_cumulative_only_states_then_real_trade_book_each_unit_once(db, setup):
    """A venue that reports filled/average without trades, then (later) the trade."""
    ex, _, _, _, _ = setup
    async with db.transaction() as tx:
        oid = await orders.create(
            tx,
            user_id=UID,
            client_order_id="njtest000000000001",
            exchange_id="bingx",
            mode="live",
            symbol=SYM,
            side=Side.BUY,
            type=OrderType.MARKET,
            amount=Decimal(1),
            status=OrderStatus.SUBMITTED,
        )
    row = await orders.get(db, UID, oid)
    base = OrderState(
        "X1", row.client_order_id, SYM, Side.BUY, OrderType.MARKET, OrderStatus.OPEN,
        Decimal(1), Decimal("0.4"), average=Decimal(100), fee=Decimal("0.04"),
    )  # fmt: skip
    full = replace(base, status=OrderStatus.FILLED, filled=Decimal(1), average=Decimal(101))
    trade = FillInfo("T9", SYM, Side.BUY, Decimal(1), Decimal(101), Decimal("0.1"), "USDT", 1)
    counts = []
    for state in (base, base, full, full, replace(full, fills=(trade,))):
        async with db.transaction() as tx:
            counts.append(
                await record_fills(
                    tx,
                    user_id=UID,
                    mode="live",
                    order=row,
                    state=state,
                    facts=MarketFacts.guess(SYM),
                    session_id=None,
                )
            )
    assert counts == [1, 0, 1, 0, 0]
    rows = await fills.for_order(db, UID, oid)
    assert sum(f.amount for f in rows) == Decimal(1)
    assert sum(f.amount * f.price for f in rows) == Decimal(101)  # average 101 overall
    (pos,) = await positions.list_for_user(db, UID)
    assert pos.amount == Decimal(1) and pos.entry_price == Decimal(101)


# --- swaps through a fake venue -----------------------------------------------------------


class SwapVenue:
    """A tiny swap exchange: market orders fill at ``price`` with a 0.1 % fee."""

    exchange_id = "bingx"
    native_stops = False

    def __init__(self) -> None:
        self.price = Decimal(100)
        self.orders: dict[str, OrderState] = {}

    async def market(self, symbol: str) -> MarketInfo:
        return MarketInfo(symbol, "BTC", "USDT", "swap", contract_size=Decimal(1))

    async def create_order(self, request: OrderRequest) -> OrderState:
        n = len(self.orders) + 1
        fee = request.amount * self.price * Decimal("0.001")
        fill = FillInfo(f"t{n}", request.symbol, request.side, request.amount, self.price, fee,
                        "USDT", n, f"o{n}", request.client_order_id)  # fmt: skip
        state = OrderState(
            f"o{n}", request.client_order_id, request.symbol, request.side, request.type,
            OrderStatus.FILLED, request.amount, request.amount, average=self.price, fee=fee,
            fee_currency="USDT", fills=(fill,),
        )  # fmt: skip
        self.orders[request.client_order_id] = state
        return state

    async def fetch_order_by_client_id(self, symbol, cid):
        return self.orders.get(cid)

    async def fetch_open_orders(self, symbol=None):
        return []


@pytest.fixture
async def swap(db):
    session_id = await make_user(db)
    venue = SwapVenue()
    ex = Executor(
        db, user_id=UID, exchange_id="bingx", mode="live", account=venue, session_id=session_id
    )
    return ex, venue, session_id


def swap_order(side: Side, amount: str, **kw) -> OrderDraft:
    return OrderDraft(SWAP, side, OrderType.MARKET, Decimal(amount), **kw)


async def test_swap_one_way_short_then_flip_to_long(db, swap):
    ex, venue, session_id = swap
    await ex.submit(swap_order(Side.SELL, "2"))
    (pos,) = await positions.list_for_user(db, UID)
    assert (pos.side, pos.amount, pos.entry_price) == ("short", Decimal(2), Decimal(100))
    venue.price = Decimal(90)
    await ex.submit(swap_order(Side.BUY, "3"))  # closes the short, opens 1 long
    (pos,) = await positions.list_for_user(db, UID)
    assert (pos.side, pos.amount, pos.entry_price) == ("long", Decimal(1), Decimal(90))
    s = await sessions.get(db, UID, session_id)
    # short 2 @100 -> 90: +20 gross, entry fee 0.2, exit fee share 0.18
    assert (s.trades, s.wins, s.pnl) == (1, 1, Decimal(20) - Decimal("0.2") - Decimal("0.18"))


async def test_swap_reduce_only_never_opens(db, swap):
    ex, _, _ = swap
    await ex.submit(swap_order(Side.BUY, "1"))
    await ex.submit(swap_order(Side.SELL, "5", reduce_only=True))
    assert await positions.list_for_user(db, UID) == []


async def test_swap_hedge_mode_by_position_side(db, swap):
    ex, venue, session_id = swap
    await ex.submit(swap_order(Side.BUY, "1", position_side="LONG"))
    await ex.submit(swap_order(Side.SELL, "2", position_side="SHORT"))
    venue.price = Decimal(110)
    await ex.submit(swap_order(Side.BUY, "1", position_side="LONG"))  # add: average entry
    got = {p.side: p for p in await positions.list_for_user(db, UID)}
    assert got["long"].amount == Decimal(2) and got["long"].entry_price == Decimal(105)
    assert got["short"].amount == Decimal(2) and got["short"].entry_price == Decimal(100)
    await ex.submit(swap_order(Side.BUY, "2", position_side="SHORT"))  # closes the short
    got = {p.side: p for p in await positions.list_for_user(db, UID)}
    assert set(got) == {"long"}
    s = await sessions.get(db, UID, session_id)
    assert (s.trades, s.losses) == (1, 1) and s.pnl < Decimal(-20)


# --- Kraken emulator through the real gateway ----------------------------------------------


@pytest.fixture
async def kraken(db):
    from tests.fakes.kraken import KrakenEmulator

    emu = KrakenEmulator()
    await emu.start()
    gw = CcxtGateway(
        exchange_urls={"kraken": emu.base_url},
        enable_rate_limit=False,
        timeout_ms=1500,
        read_retries=0,
    )
    acct = emu.add_account()
    account = gw.account(UID, "kraken", emu.credentials(acct))
    session_id = await make_user(db)
    ex = Executor(
        db,
        user_id=UID,
        exchange_id="kraken",
        mode="live",
        account=account,
        session_id=session_id,
        lookup_attempts=5,
        lookup_backoff=0.1,
    )
    try:
        yield ex, emu, acct
    finally:
        await gw.close_all()
        await emu.stop()


def posts(emu) -> int:
    return sum(1 for m, p in emu.requests if m == "POST" and p == "/0/private/AddOrder")


async def test_kraken_market_buy_through_gateway(db, kraken):
    ex, emu, _ = kraken
    r = await ex.submit(OrderDraft("BTC/USD", Side.BUY, OrderType.MARKET, Decimal("0.01")))
    assert r.status is OrderStatus.FILLED and r.fills_recorded == 1, r
    assert posts(emu) == 1
    (pos,) = await positions.list_for_user(db, UID)
    assert pos.amount == Decimal("0.01") and len(await outbox_rows(db)) == 1
    assert await ex.reconcile() == 0


async def test_kraken_lost_answer_with_visibility_delay_is_sent_once(db, kraken):
    ex, emu, acct = kraken
    emu.ledger.visibility_delay_ms = 700
    emu.faults.arm("timeout_after_accept", only_paths=("/0/private/AddOrder",))
    r = await ex.submit(OrderDraft("BTC/USD", Side.BUY, OrderType.MARKET, Decimal("0.01")))
    assert r.status is OrderStatus.FILLED, r
    assert [k for k, _ in emu.faults.fired] == ["timeout_after_accept"]
    assert posts(emu) == 1 and len(emu.orders_for_client_id(acct, r.client_order_id)) == 1
    assert len(await fills.for_order(db, UID, r.order_id)) == 1
    assert await ex.reconcile() == 0 and len(await outbox_rows(db)) == 1


# --- bookkeeping rules (pure) ---------------------------------------------------------------


def test_spot_is_long_only():
    from nija_tg.engine.bookkeeping import Holding, apply_fill

    eff = apply_fill({}, side=Side.SELL, amount=Decimal(1), price=Decimal(10), fee=Decimal(0),
                     spot=True)  # fmt: skip
    assert eff.sides == {} and eff.realized is None  # selling coins held before: nothing
    long = {"long": Holding("long", Decimal(1), Decimal(10), Decimal("0.1"))}
    eff = apply_fill(long, side=Side.SELL, amount=Decimal(3), price=Decimal(12),
                     fee=Decimal("0.3"), spot=True)  # fmt: skip
    assert eff.sides == {"long": None} and eff.reduced == Decimal(1) and eff.opened == 0
    assert eff.realized == Decimal(2) - Decimal("0.1") - Decimal("0.1")
    assert eff.closed_trades == (eff.realized,)


def test_fee_in_base_is_converted_and_bad_position_side_refused():
    from nija_tg.engine.bookkeeping import apply_fill, fee_in_quote

    assert fee_in_quote(Decimal("0.001"), "BTC", "BTC", Decimal(50000)) == Decimal(50)
    assert fee_in_quote(Decimal("0.5"), "USDT", "BTC", Decimal(50000)) == Decimal("0.5")
    with pytest.raises(ValueError):
        apply_fill({}, side=Side.BUY, amount=Decimal(1), price=Decimal(1), fee=Decimal(0),
                   spot=False, position_side="BOTH")  # fmt: skip


# --- withdraw (cancelling a resting stop before the engine closes itself) -----------------


async def test_withdraw_cancels_a_resting_order_and_records_it(db, setup):
    ex, _, paper, _, _ = setup
    draft = OrderDraft(SYM, Side.BUY, OrderType.LIMIT, Decimal("0.01"), price=Decimal(40000))
    r = await ex.submit(draft)
    row = await orders.get(db, UID, r.order_id)
    after = await ex.withdraw(row)
    assert after.status is OrderStatus.CANCELED and after.filled == 0
    assert await paper.fetch_open_orders() == []
    again = await ex.withdraw(after)  # a finished order is left as it is
    assert again.status is OrderStatus.CANCELED


async def test_withdraw_waits_for_a_young_unknown_outcome_then_finds_it_filled(db, setup):
    ex, account, _, _, _ = setup
    account.lose_answer = E.UnknownOutcomeError("lost (test)")
    account.lookup_errors = 3  # the submit's own lookups all fail: outcome unknown
    r = await ex.submit(buy())
    assert r.error == UNKNOWN and r.status is OrderStatus.SUBMITTED
    account.lose_answer = None
    ex.lookup_backoff = 100.0  # the exchange may still be about to show it
    row = await orders.get(db, UID, r.order_id)
    lookups = account.lookups
    kept = await ex.withdraw(row)
    assert kept.status is OrderStatus.SUBMITTED and account.lookups == lookups  # no guess
    ex.lookup_backoff = 0.0  # the visibility window has passed
    done = await ex.withdraw(kept)
    assert done.status is OrderStatus.FILLED  # it had executed: nothing to cancel
    assert len(await fills.for_order(db, UID, r.order_id)) == 1


async def test_not_found_answer_on_submit_is_a_rejection_without_lookups(db, setup):
    ex, account, paper, _, _ = setup
    account.fail_before_send = E.NotFoundError("bingx: position not exist (test)")
    r = await ex.submit(sell(reduce_only=True))
    assert r.status is OrderStatus.REJECTED and r.error == NOTHING_THERE
    assert account.lookups == 0  # the exchange answered: nothing to look up
    assert await paper.fetch_open_orders() == []
