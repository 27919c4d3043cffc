"""/daily, /performance, per-position % and leverage, gain/loss markers and "last seen"
end to end through the real Application and the fake Bot API."""

from __future__ import annotations

import re
import time
from decimal import Decimal

import pytest

from nija_tg.core.models import FillInfo, OrderType, Role, Side
from nija_tg.storage import fills, orders, positions, sessions, snapshots, users
from tests.handlers.harness import ADMIN_ID
from tests.handlers.tap import tap
from tests.handlers.test_reports import _fields, db_of, register, trader_with_data

TRADER, VIEWER = 2001, 2003
NOT_VISIBLE = "No such user, or you may not see them."


async def test_daily_table(bot):
    await trader_with_data(bot)
    text = await bot.say(TRADER, "/daily")
    assert "📅 <b>Daily P&amp;L — last 7 days</b>" in text
    table = text.split("<pre>")[1].split("</pre>")[0].splitlines()
    assert table[0].split() == ["Day", "P&amp;L", "Trades", "Equity"]
    assert len(table) == 8  # the header and 7 days, newest first
    today = table[1].split()
    assert today[0] == "🟢" and today[2:] == ["+25.00", "3", "12,345.68"]
    assert all(row.split()[0] in ("🟢", "🔴", "⚪") for row in table[1:])
    # ETH/USDT's P&L is in USDT, the Kraken account's equity in USD
    assert "Total: <b>+25.00 USDT</b> 🟢 in 3 closed trades" in text
    assert "P&amp;L in USDT, equity in USD;" in text
    assert "last 30 days" in await bot.say(TRADER, "/daily 30")
    for bad in ("/daily 0", "/daily 91", "/daily x", "/daily 7 x", "/daily 1 2 3"):
        assert "Usage: /daily [days] [user id]" in await bot.say(TRADER, bad)


async def test_performance_table(bot):
    await trader_with_data(bot)
    text = await bot.say(TRADER, "/performance")
    assert "🏆 <b>Performance by pair — all time</b>" in text
    rows = text.split("<pre>")[1].split("</pre>")[0].splitlines()
    assert rows[1].split() == ["🟢", "ETH/USDT", "3", "66.7%", "+25.00"]
    # ETH/USDT's P&L is in USDT (its quote), on a Kraken (USD) account too
    assert "Total: 3 trades · win rate 66.7% · P&amp;L <b>+25.00 USDT</b> 🟢" in text
    assert "this week" in await bot.say(TRADER, "/performance week")
    for bad in ("/performance yesterday", "/performance week x", "/performance 1 2 3"):
        assert "Usage: /performance" in await bot.say(TRADER, bad)


async def test_performance_totals_each_quote_on_its_own(bot):
    """Pairs quoted in USD and in USDT: each row's P&L with its code and one total per
    currency, never one sum of both."""
    await trader_with_data(bot)  # ETH/USDT: +25.00 USDT in 3 closed trades
    db = db_of(bot)
    async with db.transaction() as tx:
        fill = FillInfo(
            "usd1", "BTC/USD", Side.SELL, Decimal("0.01"), Decimal("61000"), Decimal("0.1"),
            "USD", int(time.time() * 1000),
        )  # fmt: skip
        fill_id = await fills.insert(tx, TRADER, None, "kraken", fill)
        assert fill_id is not None
        await fills.set_realized_pnl(tx, TRADER, fill_id, Decimal("-7.5"))
    text = await bot.say(TRADER, "/performance")
    rows = text.split("<pre>")[1].split("</pre>")[0].splitlines()
    assert rows[1].split() == ["🟢", "ETH/USDT", "3", "66.7%", "+25.00", "USDT"]
    assert rows[2].split() == ["🔴", "BTC/USD", "1", "0.0%", "-7.50", "USD"]
    assert "P&amp;L <b>-7.50 USD</b> 🔴, <b>+25.00 USDT</b> 🟢" in text
    assert "17.50" not in text


async def test_tables_for_viewers_follow_the_grants(bot):
    await trader_with_data(bot)
    await register(bot, VIEWER, Role.VIEWER)
    for command in (f"/daily 7 {TRADER}", f"/performance all {TRADER}", f"/performance {TRADER}"):
        assert await bot.say(VIEWER, command) == NOT_VISIBLE
    async with db_of(bot).transaction() as tx:
        await users.grant(tx, VIEWER, TRADER, ADMIN_ID)
    assert f"({TRADER})" in await bot.say(VIEWER, f"/performance {TRADER}")
    assert "+25.00" in await bot.say(VIEWER, f"/daily 7 {TRADER}")
    assert "No closed trades" in await bot.say(VIEWER, "/performance")


async def _add_swap_short(bot) -> None:
    db = db_of(bot)
    async with db.transaction() as tx:
        await positions.upsert(
            tx, TRADER, "ETH/USDT:USDT", "short", amount=Decimal("0.09"),
            entry_price=Decimal("3000"), entry_fees=Decimal(0), realized_pnl=Decimal(0),
        )  # fmt: skip
        snap = await snapshots.get(tx, TRADER)
        assert snap is not None
        marks = [*snap.positions, {"symbol": "ETH/USDT:USDT", "side": "short",
                                   "mark_price": "3030", "unrealized_pnl": "-2.7"}]  # fmt: skip
        await snapshots.save(
            tx, TRADER, snapshots.Snapshot(**{**_fields(snap), "positions": marks})
        )


async def test_positions_and_dashboard_show_percent_leverage_and_markers(bot):
    await trader_with_data(bot)
    await _add_swap_short(bot)
    text = await bot.say(TRADER, "/positions")
    assert "🔴 <b>ETH/USDT:USDT</b> SHORT 5x 0.09 @ 3,000 → 3,030" in text
    assert "unrealised P&amp;L -2.70 USDT (-1.00%, -5.00% on margin)" in text
    assert "🟢 <b>BTC/USDT</b> LONG 0.05" in text and "(+1.67%)" in text
    assert "Total unrealised: <b>+47.30 USDT</b> 🟢" in text
    text = await bot.say(TRADER, "/status")
    # each line with its P&L's currency (the symbol's quote), as /positions shows it
    assert "  🔴 ETH/USDT:USDT SHORT 5x -2.70 USDT (-1.00%, -5.00% on margin)" in text
    assert "  🟢 BTC/USDT LONG +50.00 USDT (+1.67%)" in text
    await bot.say(TRADER, "/set leverage_cap 2")
    assert "SHORT 2x" in await bot.say(TRADER, "/positions")


async def test_trades_mark_gains_and_losses_never_a_check_mark(bot):
    await trader_with_data(bot)
    text = await bot.say(TRADER, "/trades")
    assert "P&amp;L -10.00 USDT 🔴" in text and "P&amp;L +30.00 USDT 🟢" in text
    assert "✅" not in text
    assert "P&amp;L <b>+60.00 USD</b> 🟢" in await bot.say(TRADER, "/sessions")


@pytest.mark.parametrize("via", ["/status", "button"])
async def test_last_seen_moves_when_the_user_writes_or_taps(bot, via):
    await trader_with_data(bot)
    record = await bot.ask(TRADER, "/status")
    async with db_of(bot).transaction() as tx:
        await tx.execute("UPDATE users SET last_seen_at = 1000 WHERE user_id = ?", (TRADER,))
    if via == "/status":
        await bot.say(TRADER, "/status")
    else:
        await tap(bot, TRADER, record, "🔄", method="editMessageText")
    seen = (await users.get_user(db_of(bot), TRADER)).last_seen_at
    assert seen > 1_700_000_000
    await bot.say(TRADER, "/balance")  # within a minute: not written again
    assert (await users.get_user(db_of(bot), TRADER)).last_seen_at == seen


async def test_sessions_show_each_quote_on_its_own(bot):
    """A session that closed a BTC/USD and an ETH/USDT trade: its P&L per currency (the
    symbol's quote, as /pnl counts it), never one sum labelled with the exchange's."""
    await trader_with_data(bot)
    db = db_of(bot)
    async with db.transaction() as tx:
        sid = await sessions.start(tx, TRADER, "kraken", "paper", Decimal("12000"))
        for n, (symbol, pnl) in enumerate((("BTC/USD", "-7.5"), ("ETH/USDT", "25"))):
            order = await orders.insert(
                tx, user_id=TRADER, client_order_id=f"s{n}", exchange_id="kraken",
                mode="paper", symbol=symbol, side=Side.SELL, type=OrderType.MARKET,
                amount=Decimal("0.01"), purpose="exit", session_id=sid,
            )  # fmt: skip
            fill = FillInfo(
                f"s{n}", symbol, Side.SELL, Decimal("0.01"), Decimal("100"), Decimal(0),
                None, int(time.time() * 1000),
            )  # fmt: skip
            fill_id = await fills.insert(tx, TRADER, order.order_id, "kraken", fill)
            assert fill_id is not None
            await fills.set_realized_pnl(tx, TRADER, fill_id, Decimal(pnl))
            await sessions.add_trade_result(tx, TRADER, sid, Decimal(pnl))
    text = await bot.say(TRADER, "/sessions 1")
    assert f"<b>#{sid}</b> running" in text
    assert "P&amp;L <b>-7.50 USD</b> 🔴, <b>+25.00 USDT</b> 🟢" in text
    assert "17.50" not in text


def _number_ends(table_rows: list[str]) -> set[int]:
    """Where the last signed amount of each row ends (its column in monospace)."""
    return {[m.end() for m in re.finditer(r"[+-][\d,]+\.\d\d", row)][-1] for row in table_rows}


async def test_tables_with_usd_and_usdt_keep_the_numbers_in_one_column(bot):
    """With codes of different lengths (USD, USDT) in the P&L column, each amount ends
    where the others do: the shorter code is padded, not the number shifted."""
    await trader_with_data(bot)  # ETH/USDT: +25.00 USDT today
    async with db_of(bot).transaction() as tx:
        fill = FillInfo(
            "usd1", "BTC/USD", Side.SELL, Decimal("0.01"), Decimal("61000"), Decimal("0.1"),
            "USD", int((time.time() - 2 * 86400) * 1000),
        )  # fmt: skip
        fill_id = await fills.insert(tx, TRADER, None, "kraken", fill)
        assert fill_id is not None
        await fills.set_realized_pnl(tx, TRADER, fill_id, Decimal("-7.5"))
    for command in ("/performance", "/daily 3"):
        text = await bot.say(TRADER, command)
        rows = text.split("<pre>")[1].split("</pre>")[0].splitlines()[1:]
        assert any(re.search(r"\d USD\b", r) for r in rows), (command, rows)
        assert any(re.search(r"\d USDT\b", r) for r in rows), (command, rows)
        assert len(_number_ends(rows)) == 1, (command, rows)


async def test_trades_show_a_fee_without_currency_in_the_quote_as_the_alert_does(bot):
    """A fill whose fee came without a currency: the engine books it in the quote, the
    fill alert says 'fee 0.59 USD', and /trades says the same (not 'fee 0.5864'); one
    trade is 'Last trade', one day is 'today'."""
    await trader_with_data(bot)
    async with db_of(bot).transaction() as tx:
        fill = FillInfo(
            "nofee", "ETH/USD", Side.BUY, Decimal("0.5"), Decimal("2345.67"), Decimal("0.5864"),
            None, int(time.time() * 1000) + 60_000,
        )  # fmt: skip
        assert await fills.insert(tx, TRADER, None, "kraken", fill) is not None
    text = await bot.say(TRADER, "/trades 1")
    assert "🧾 <b>Last trade</b>" in text
    assert "BUY 0.5 ETH/USD @ 2,345.67 · fee 0.59 USD" in text and "0.5864" not in text
    assert "📅 <b>Daily P&amp;L — today</b>" in await bot.say(TRADER, "/daily 1")
