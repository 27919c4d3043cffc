"""SqlitePaperStore: the paper exchange's state survives a reopen and stays per user."""

from __future__ import annotations

from decimal import Decimal

from nija_tg.core.models import OrderRequest, OrderStatus, OrderType, Role, Side
from nija_tg.exchange.paper import PaperAccount, PaperState
from nija_tg.storage import paper_store, users
from nija_tg.storage.db import Database
from nija_tg.storage.paper_store import SqlitePaperStore
from tests.engine.kill_points import FixedPrices


async def add_users(db, *uids: int) -> None:
    async with db.transaction() as tx:
        for uid in uids:
            await users.upsert_user(tx, uid, uid, None, None, Role.TRADER)


async def test_round_trip_and_isolation(db):
    await add_users(db, 1, 2)
    store = SqlitePaperStore(db)
    assert await store.load_paper_state(1) is None
    state = PaperState(balances={"USDT": {"free": "10", "used": "0"}}, seq=3)
    await store.save_paper_state(1, state)
    await store.save_paper_state("2", PaperState())
    got = await store.load_paper_state(1)
    assert got.balances == {"USDT": {"free": "10", "used": "0"}} and got.seq == 3
    assert (await store.load_paper_state(2)).balances == {}
    async with db.transaction() as tx:
        assert await paper_store.reset(tx, 1)
    assert await store.load_paper_state(1) is None
    assert await store.load_paper_state(2) is not None


async def test_paper_account_state_survives_reopen(settings):
    db = await Database.open(settings.db_path)
    await add_users(db, 7)
    acct = PaperAccount(7, "bingx", FixedPrices(), SqlitePaperStore(db), slippage=Decimal(0))
    req = OrderRequest(
        "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.01"), "cid1", Decimal(1000)
    )
    await acct.create_order(req)
    await db.close()

    db = await Database.open(settings.db_path)
    try:
        again = PaperAccount(7, "bingx", FixedPrices(), SqlitePaperStore(db))
        found = await again.fetch_order_by_client_id("BTC/USDT", "cid1")
        assert found is not None and found.status is OrderStatus.OPEN
        usdt = {b.currency: b for b in await again.fetch_balance()}["USDT"]
        assert usdt.used > 0 and usdt.total == Decimal(10000)
    finally:
        await db.close()


def test_paper_state_to_dict_is_a_deep_copy_equal_to_asdict():
    from dataclasses import asdict

    from nija_tg.exchange.paper import PaperOrder, PaperState

    order = PaperOrder("paper-1", "c1", "BTC/USD", "buy", "market", "0.5", None, fills=[{"a": "1"}])
    state = PaperState(balances={"USD": {"free": "10", "used": "0"}}, orders=[order], seq=1)
    copy = state.to_dict()
    assert copy == asdict(state)
    copy["orders"][0]["fills"][0]["a"] = "2"
    copy["balances"]["USD"]["free"] = "0"
    assert order.fills[0]["a"] == "1" and state.balances["USD"]["free"] == "10"
    assert PaperState.from_dict(state.to_dict()) == state


async def test_saved_text_is_the_whole_state_while_finished_orders_are_encoded_once(db):
    """The text saved equals ``json.dumps(state.to_dict())`` (compact) after every order
    (market fills, a limit left open, then cancelled), though a finished order's JSON is
    made once and reused by the next saves (the same text object)."""
    import json

    await add_users(db, 7)
    store = SqlitePaperStore(db)
    acct = PaperAccount(7, "bingx", FixedPrices(), store, slippage=Decimal(0))

    async def saved() -> str:
        row = await db.fetchone("SELECT state FROM paper_accounts WHERE user_id = 7")
        return row["state"]

    def whole() -> str:
        return json.dumps(acct._state.to_dict(), separators=(",", ":"))

    texts: dict[str, str] = {}
    for i in range(4):
        side = Side.BUY if i % 2 == 0 else Side.SELL
        await acct.create_order(
            OrderRequest("BTC/USDT", side, OrderType.MARKET, Decimal("0.01"), f"m{i}")
        )
        assert await saved() == whole()
        for o, _, _, text in store._finished[7].values():
            assert texts.setdefault(o.client_order_id, text) is text  # encoded once
    limit = OrderRequest(
        "BTC/USDT", Side.BUY, OrderType.LIMIT, Decimal("0.01"), "lim", price=Decimal(40000)
    )
    await acct.create_order(limit)
    assert await saved() == whole()
    assert "lim" not in {o.client_order_id for o, *_ in store._finished[7].values()}
    await acct.cancel_order("BTC/USDT", "lim")
    assert await saved() == whole()
    assert len(store._finished[7]) == 5
    again = await SqlitePaperStore(db).load_paper_state(7)
    assert again.to_dict() == acct._state.to_dict()
