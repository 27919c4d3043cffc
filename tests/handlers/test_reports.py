"""Reports end to end: the real bot, the fake Bot API, engine-like rows in the DB."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from telegram.ext import CommandHandler

from nija_tg.core.models import (
    FillInfo,
    OrderState,
    OrderStatus,
    OrderType,
    Role,
    Side,
    TradingMode,
    UserStatus,
)
from nija_tg.core.trading_gate import TradingSwitch
from nija_tg.engine.execution_record import MarketFacts, record_fills
from nija_tg.handlers.callback_data import RefreshButton, TradeButton
from nija_tg.handlers.reports import send_dashboard
from nija_tg.messages import text as fmt
from nija_tg.storage import audit, credentials, fills, orders, positions, snapshots, users
from nija_tg.storage.db import Database
from tests.handlers.harness import ADMIN_ID, BotHarness
from tests.services.test_reports_service import arrange_trader

TRADER, STRANGER_TRADER, VIEWER = 2001, 2002, 2003
NOT_VISIBLE = "No such user, or you may not see them."
TRADE_ON = TradeButton(TradingSwitch.ON).pack()
TRADE_OFF = TradeButton(TradingSwitch.OFF).pack()
REFRESH_OWN = RefreshButton().pack()
REFRESH_TRADER = RefreshButton(TRADER).pack()
# Values only TRADER's rows hold: none of them may reach anyone else.
MARKERS = ("12,345", "BTC/USDT", "ETH/USDT", "kraken", "abcd", "3,000.5", "10,000", "Name")


def db_of(bot: BotHarness) -> Database:
    return bot.app.bot_data["runtime"].db


async def register(bot: BotHarness, user_id: int, role: Role | None = None) -> None:
    await bot.say(user_id, "/start")
    if role is not None:
        async with db_of(bot).transaction() as tx:
            await users.set_role(tx, user_id, role)


async def trader_with_data(bot: BotHarness) -> None:
    await register(bot, TRADER)
    db = db_of(bot)
    await arrange_trader(db, TRADER)
    async with db.transaction() as tx:
        await credentials.store(tx, TRADER, "kraken", b"sealed", "abcd", verified=True)


def buttons(record) -> list[tuple[str, str]]:
    markup = record.params.get("reply_markup") or {}
    return [(b["text"], b["callback_data"]) for row in markup["inline_keyboard"] for b in row]


async def test_status_dashboard_for_trader(bot):
    await trader_with_data(bot)
    record = await bot.ask(TRADER, "/status")
    text = record.params["text"]
    assert "📊 <b>Dashboard</b>" in text and "Trading: ⚪ off" in text and "paper" in text
    assert "Exchange: kraken ••••abcd ✅ verified" in text
    assert "Equity: <b>12,345.68 USD</b>" in text and "Open positions: 1" in text
    # equity in the account's USD (Kraken), the ETH/USDT trades' P&L in their USDT
    assert "Today's P&amp;L: +345.68 USD 🟢 (realised +25.00 USDT in 3 trades)" in text
    assert "  🟢 BTC/USDT LONG +50.00 USDT (+1.67%)" in text
    assert "Last signal: BTC/USDT: buy (72%) — ADX 31" in text
    assert "Updated: " in text and "just now" in text
    assert buttons(record) == [("▶️ Start trading", TRADE_ON), ("🔄 Refresh", REFRESH_OWN)]
    async with db_of(bot).transaction() as tx:
        await users.set_trading(tx, TRADER, True)
    record = await bot.ask(TRADER, "/status")
    assert "Trading: 🟢 on" in record.params["text"]
    assert buttons(record) == [("⏸ Stop trading", TRADE_OFF), ("🔄 Refresh", REFRESH_OWN)]


async def test_refresh_edits_the_dashboard(bot):
    await trader_with_data(bot)
    record = await bot.ask(TRADER, "/status")
    message_id = record.result["message_id"]
    async with db_of(bot).transaction() as tx:
        snap = await snapshots.get(tx, TRADER)
        assert snap is not None
        await snapshots.save(
            tx, TRADER, snapshots.Snapshot(**{**_fields(snap), "equity": Decimal("13000")})
        )
    edit = await bot.press(TRADER, REFRESH_OWN, message_id, method="editMessageText")
    assert edit.params["message_id"] == message_id
    assert "Equity: <b>13,000.00 USD</b>" in edit.params["text"]
    assert ("🔄 Refresh", REFRESH_OWN) in buttons(edit)
    await bot.settle()
    assert any(a.get("text") == "Updated" for a in bot.api.callback_answers.values())
    since = bot.api.mark()
    bot.api.user_callback(TRADER, REFRESH_OWN, message_id=message_id)
    answer = await bot.api.wait_for("answerCallbackQuery", since=since)
    assert answer.params.get("text") == "Already up to date"
    assert not bot.api.sent_to(TRADER, "editMessageText", since=since)


def _fields(snap: snapshots.Snapshot) -> dict:
    return {name: getattr(snap, name) for name in snapshots.Snapshot.__slots__}


async def test_other_reports_for_trader(bot):
    await trader_with_data(bot)
    text = await bot.say(TRADER, "/balance")
    assert "Equity: <b>12,345.68 USD</b>" in text
    assert "USDT: 10,000.00 (free 9,000.00, in use 1,000.00)" in text
    assert "BTC: 0.051234568 (free 0.05, in use 0)" in text and "DOGE" not in text
    text = await bot.say(TRADER, "/positions")
    assert "🟢 <b>BTC/USDT</b> LONG 0.05 @ 60,000 → 61,000" in text
    assert "unrealised P&amp;L +50.00 USDT (+1.67%) · stop 58,000" in text
    assert "Total unrealised: <b>+50.00 USDT</b> 🟢" in text
    text = await bot.say(TRADER, "/trades")
    assert "Last 4 trades" in text and text.count("ETH/USDT @ 3,000.5") == 4
    assert "SELL to close long 0.5 ETH/USDT @ 3,000.5 · fee 0.15 USDT · P&amp;L -10.00 USDT" in text
    text = await bot.say(TRADER, "/trades 2")
    assert "Last 2 trades" in text and text.count("ETH/USDT") == 2
    text = await bot.say(TRADER, "/sessions")
    assert "running" in text and "still running" in text and "stopped" in text
    assert "trades 2 · wins 1 · losses 1 · win rate 50.0% · P&amp;L <b>+60.00 USD</b>" in text
    assert text.index("running") < text.index("stopped")  # newest first
    assert text.count("<b>#") == 1 + (await bot.say(TRADER, "/sessions 1")).count("<b>#")


async def test_trades_say_which_fills_closed_a_position(bot):
    """A fill that reduced a position (it carries a realised P&L) says so: buying back a
    short is not read as a new buy."""
    await register(bot, TRADER)
    async with db_of(bot).transaction() as tx:
        for i, (side, pnl) in enumerate(((Side.SELL, None), (Side.BUY, "-4.21"))):
            fill = FillInfo(
                f"s{i}", "ETH/USDT:USDT", side, Decimal("0.09"), Decimal("2391.15"),
                Decimal("0.11"), "USDT", int(time.time() * 1000) - 60_000 + i,
            )  # fmt: skip
            fill_id = await fills.insert(tx, TRADER, None, "bingx", fill)
            if pnl is not None and fill_id is not None:
                await fills.set_realized_pnl(tx, TRADER, fill_id, Decimal(pnl))
    text = await bot.say(TRADER, "/trades")
    closed, opened = text.split("\n")[1:]
    assert " BUY to close short 0.09 ETH/USDT:USDT @ 2,391.15 · " in closed
    assert closed.endswith("P&amp;L -4.21 USDT 🔴")
    assert " SELL 0.09 ETH/USDT:USDT @ 2,391.15 · fee 0.11 USDT" in opened
    assert "close" not in opened


async def test_pnl_text_then_chart_photo(bot):
    await trader_with_data(bot)
    since = bot.api.mark()
    text = await bot.say(TRADER, "/pnl")
    assert "P&amp;L — today" in text and "Realised P&amp;L: <b>+25.00 USDT</b>" in text
    assert "Trades: 3 · wins 2 · losses 1 · win rate 66.7%" in text
    assert "Best +30.00 USDT · worst -10.00 USDT" in text
    photo = await bot.next(TRADER, since=since, method="sendPhoto")
    assert photo.params["photo"]["size"] > 1000
    assert photo.params["photo"]["filename"] == "equity.png"
    assert "Equity — today" in photo.params["caption"]
    action = await bot.api.wait_for("sendChatAction", since=since)
    assert action.params["action"] == "typing" and action.ts <= photo.ts
    for period in ("week", "MONTH", "all"):
        since = bot.api.mark()
        text = await bot.say(TRADER, f"/pnl {period}")
        assert "Trades: 3" in text
        assert (await bot.next(TRADER, since=since, method="sendPhoto")).params["photo"]["size"]


async def test_positions_say_when_the_stop_rests_on_the_exchange(bot):
    await trader_with_data(bot)
    async with db_of(bot).transaction() as tx:
        await orders.create(
            tx,
            user_id=TRADER,
            client_order_id="njstoprestingthere",
            exchange_id="bingx",
            mode="live",
            symbol="BTC/USDT",
            side=Side.SELL,
            type=OrderType.MARKET,
            amount=Decimal("0.05"),
            purpose="stop",
            status=OrderStatus.OPEN,
            trigger_price=Decimal(58000),
        )
    text = await bot.say(TRADER, "/positions")
    assert "· stop 58,000 (on the exchange) ·" in text


async def test_empty_new_user(bot):
    await register(bot, TRADER)
    since = bot.api.mark()
    record = await bot.ask(TRADER, "/status")
    text = record.params["text"]
    # a paper user needs no exchange: no report sends them to /connect
    assert "Exchange: none needed for paper trading (/connect links one for live)" in text
    assert "Equity: <b>—</b>" in text and "Open positions: 0" in text
    assert "no data from the trading engine yet" in text
    assert "Press ▶️ Start trading" in text
    assert buttons(record)[0] == ("▶️ Start trading", TRADE_ON)
    for command in ("/balance", "/positions", "/trades", "/sessions", "/daily", "/performance"):
        reply = await bot.say(TRADER, command)
        assert "Paper trading needs no exchange account: /trade on starts it." in reply
        assert "Send /connect" not in reply
    async with db_of(bot).transaction() as tx:
        await users.set_mode(tx, TRADER, TradingMode.LIVE)
    assert "Send /connect to link your exchange." in await bot.say(TRADER, "/trades")
    assert "Exchange: not connected — Send /connect" in await bot.say(TRADER, "/status")
    assert "No equity history yet" in await bot.say(TRADER, "/pnl week")
    await bot.settle()
    assert not bot.api.sent_to(TRADER, "sendPhoto", since=since)


async def test_viewer_without_and_with_grant(bot):
    await trader_with_data(bot)
    await register(bot, VIEWER, Role.VIEWER)
    record = await bot.ask(VIEWER, "/status")
    assert "read-only access" in record.params["text"] and "grant" in record.params["text"]
    assert buttons(record) == [("🔄 Refresh", REFRESH_OWN)]
    assert "/connect" not in record.params["text"]
    for command in ("/status", "/balance", "/pnl week", "/trades 5"):
        assert await bot.say(VIEWER, f"{command} {TRADER}") == NOT_VISIBLE
    async with db_of(bot).transaction() as tx:
        await users.grant(tx, VIEWER, TRADER, ADMIN_ID)
    assert f"/status {TRADER}" in await bot.say(VIEWER, "/status")
    record = await bot.ask(VIEWER, f"/status {TRADER}")
    text = record.params["text"]
    assert f"({TRADER})" in text and "12,345.68" in text and "kraken" in text
    assert "abcd" not in text  # the key tail is for the owner and admins
    assert buttons(record) == [("🔄 Refresh", REFRESH_TRADER)]
    edit = await bot.press(
        VIEWER, REFRESH_TRADER, record.result["message_id"], method="editMessageText"
    )
    assert "12,345.68" in edit.params["text"]
    assert "10,000.00" in await bot.say(VIEWER, f"/balance {TRADER}")
    since = bot.api.mark()
    assert "Trades: 3" in await bot.say(VIEWER, f"/pnl all {TRADER}")
    await bot.next(VIEWER, since=since, method="sendPhoto")
    async with db_of(bot).transaction() as tx:
        await users.revoke(tx, VIEWER, TRADER)
    since = bot.api.mark()
    bot.api.user_callback(VIEWER, REFRESH_TRADER, message_id=record.result["message_id"])
    answer = await bot.api.wait_for("answerCallbackQuery", since=since)
    assert answer.params["text"] == NOT_VISIBLE
    assert await bot.say(VIEWER, f"/positions {TRADER}") == NOT_VISIBLE


async def test_admin_views_another_user_audited(bot):
    await trader_with_data(bot)
    await register(bot, ADMIN_ID)
    record = await bot.ask(ADMIN_ID, f"/status {TRADER}")
    assert "12,345.68" in record.params["text"] and "••••abcd" in record.params["text"]
    assert buttons(record) == [("🔄 Refresh", REFRESH_TRADER)]
    assert "BTC/USDT" in await bot.say(ADMIN_ID, f"/positions {TRADER}")
    assert await bot.say(ADMIN_ID, "/status 999999") == NOT_VISIBLE
    rows = [r for r in await audit.recent(db_of(bot), 50) if r.action == "admin.view"]
    assert [(r.actor_id, r.target_id, r.detail["report"]) for r in rows] == [
        (ADMIN_ID, TRADER, "positions"),
        (ADMIN_ID, TRADER, "status"),
    ]
    assert "Open positions: 0" in await bot.say(ADMIN_ID, "/status")  # own: not audited
    assert len([r for r in await audit.recent(db_of(bot), 50) if r.action == "admin.view"]) == 2


async def say_each(bot: BotHarness, user_id: int, commands: list[str]) -> list[str]:
    """One user's commands in order (the bot sends at most 1 message/s per chat, so
    tests spread their cases over several users and run those side by side)."""
    return [await bot.say(user_id, command) for command in commands]


async def test_another_user_learns_nothing(bot):
    await trader_with_data(bot)
    snoops = (STRANGER_TRADER, 2004, 2005)
    await asyncio.gather(*(register(bot, uid) for uid in snoops))
    since = bot.api.mark()
    commands = [
        f"/status {TRADER}",
        f"/balance {TRADER}",
        f"/positions {TRADER}",
        f"/trades 10 {TRADER}",
        f"/pnl {TRADER}",
        f"/pnl all {TRADER}",
        f"/sessions 5 {TRADER}",
    ]
    missing = [c.replace(str(TRADER), "987654321") for c in commands]
    own = ["/status", "/balance", "/positions", "/trades 100", "/pnl all", "/sessions"]
    to_trader, to_missing, to_own = await asyncio.gather(
        say_each(bot, snoops[0], commands),
        say_each(bot, snoops[1], missing),
        say_each(bot, snoops[2], own),
    )
    assert to_trader == to_missing == [NOT_VISIBLE] * len(commands)
    for command, text in zip(own, to_own, strict=True):
        assert not any(marker in text for marker in MARKERS), (command, text)
    await bot.settle()
    for uid in snoops:
        assert not bot.api.sent_to(uid, "sendPhoto", since=since)
    assert not any(r.action == "admin.view" for r in await audit.recent(db_of(bot), 50))


async def test_malformed_arguments_get_usage(bot):
    cases = list(MALFORMED.items())
    people = (TRADER, 2101, 2102, 2103)
    await asyncio.gather(*(register(bot, uid) for uid in people))
    shares = [cases[i :: len(people)] for i in range(len(people))]
    pairs = zip(people, shares, strict=True)
    answers = await asyncio.gather(*(say_each(bot, u, [c for c, _ in sh]) for u, sh in pairs))
    for share, texts in zip(shares, answers, strict=True):
        for (command, usage), text in zip(share, texts, strict=True):
            assert text.startswith(usage), (command, text)


MALFORMED = {
    "/trades abc": "Usage: /trades [n] [user id] — n between 1 and 100",
    "/trades 0": "Usage: /trades",
    "/trades 1000": "Usage: /trades",
    "/trades -5": "Usage: /trades",
    "/trades 10 x": "Usage: /trades",
    "/trades 1 2 3": "Usage: /trades",
    "/trades 99999999999999999999999999": "Usage: /trades",
    "/pnl yearly": "Usage: /pnl [day|week|month|all] [user id]",
    "/pnl day week": "Usage: /pnl",
    "/pnl NaN": "Usage: /pnl",
    "/status 12abc": "Usage: /status [user id]",
    "/status 99999999999999999999999": "Usage: /status",
    "/status 0": "Usage: /status",
    "/status 1 2": "Usage: /status",
    "/status ١٢٣": "Usage: /status",
    "/balance <b>": "Usage: /balance [user id]",
    "/positions -1": "Usage: /positions [user id]",
    "/sessions 51": "Usage: /sessions [n] [user id] — n between 1 and 50",
    "/sessions 1.5": "Usage: /sessions",
}


async def test_reports_refused_in_groups(bot):
    await trader_with_data(bot)
    text = await bot.say(TRADER, "/status", chat_type="group", chat_id=-TRADER)
    assert "private chat" in text and "12,345" not in text


async def test_send_dashboard_for_the_start_handler(bot):
    await trader_with_data(bot)
    await register(bot, VIEWER, Role.VIEWER)

    async def dash(update, context):
        await send_dashboard(update, context, int(context.args[0]) if context.args else None)

    bot.app.handlers[0].insert(0, CommandHandler("dash", dash))
    assert "Equity: <b>12,345.68 USD</b>" in await bot.say(TRADER, "/dash")
    assert await bot.say(VIEWER, f"/dash {TRADER}") == NOT_VISIBLE
    assert "read-only access" in await bot.say(VIEWER, "/dash")


async def test_dynamic_text_is_escaped(bot):
    await trader_with_data(bot)
    await register(bot, VIEWER, Role.VIEWER)
    db = db_of(bot)
    async with db.transaction() as tx:
        await users.set_status(tx, TRADER, UserStatus.PAUSED, "<b>drawdown</b> & co")
        await tx.execute("UPDATE users SET first_name = '<i>Eve</i>' WHERE user_id = ?", (TRADER,))
        await snapshots.set_last_signal(tx, TRADER, {"X/<Y>": {"action": "<a href='x'>"}})
        await users.grant(tx, VIEWER, TRADER, ADMIN_ID)
    record = await bot.ask(VIEWER, f"/status {TRADER}")
    assert record.ok, record.error
    text = record.params["text"]
    assert "paused (&lt;b&gt;drawdown&lt;/b&gt; &amp; co)" in text
    assert "&lt;i&gt;Eve&lt;/i&gt;" in text and "X/&lt;Y&gt;: &lt;a href='x'&gt;" in text


def test_number_formatting():
    assert fmt.money(Decimal("1234567.891")) == "1,234,567.89"
    assert fmt.money(Decimal("-0.001")) == "0.00"
    assert fmt.money(Decimal("-12.345"), signed=True) == "-12.34"
    assert fmt.money(Decimal("5"), signed=True) == "+5.00"
    assert fmt.money(Decimal("1e30")) == "1.000E+30"
    assert fmt.money(None) == fmt.money(Decimal("NaN")) == "—"
    assert fmt.amount(Decimal("1234567890.123")) == "1,234,567,890"
    assert fmt.amount(Decimal("0.000123456789")) == "0.00012345679"
    assert fmt.amount(Decimal("65000.12345")) == "65,000.123"
    assert fmt.amount(Decimal("0.50000")) == "0.5"
    assert fmt.amount(Decimal("-2")) == "-2" and fmt.amount(Decimal(0)) == "0"
    assert (
        fmt.balance(Decimal("0.5"), "usdt") == "0.50"
        and fmt.balance(Decimal("0.5"), "BTC") == "0.5"
    )
    assert fmt.share(Decimal(2) / Decimal(3)) == "66.7%" and fmt.share(None) == "—"


async def test_dashboard_shows_exits_only_and_that_stops_keep_protecting(bot):
    await trader_with_data(bot)  # one open position
    async with db_of(bot).transaction() as tx:
        await users.set_switch(tx, TRADER, TradingSwitch.EXITS)
    record = await bot.ask(TRADER, "/status")
    text = record.params["text"]
    assert "Trading: 🟡 exits only (no new positions)" in text
    assert "Stops keep protecting the open positions." in text
    assert buttons(record) == [
        ("▶️ Start trading", TRADE_ON),
        ("⏸ Stop trading", TRADE_OFF),
        ("🔄 Refresh", REFRESH_OWN),
    ]
    async with db_of(bot).transaction() as tx:
        await users.set_switch(tx, TRADER, TradingSwitch.ON)
        await users.set_halted(tx, True)
    text = (await bot.ask(TRADER, "/status")).params["text"]
    assert "halted (global kill switch): exits only" in text
    assert "Stops keep protecting the open positions." in text


async def test_money_shows_the_accounts_currency(bot):
    """Equity and P&L carry the currency the engine counts them in: the quote of the
    key's exchange (USDT on BingX), else the snapshot's cash; unknown stays a dash."""
    await register(bot, TRADER)
    db = db_of(bot)
    await arrange_trader(db, TRADER)
    async with db.transaction() as tx:
        await credentials.store(tx, TRADER, "bingx", b"sealed", "abcd", verified=True)
    status = await bot.say(TRADER, "/status")
    assert "Equity: <b>12,345.68 USDT</b>" in status
    assert "Today's P&amp;L: +345.68 USDT 🟢" in status
    assert "Equity: <b>12,345.68 USDT</b>" in await bot.say(TRADER, "/balance")
    pnl = await bot.say(TRADER, "/pnl")
    assert "Realised P&amp;L: <b>+25.00 USDT</b>" in pnl
    assert "Best +30.00 USDT · worst -10.00 USDT" in pnl
    daily = await bot.say(TRADER, "/daily")
    assert "Total: <b>+25.00 USDT</b> 🟢" in daily and "amounts in USDT;" in daily
    assert "P&amp;L <b>+25.00 USDT</b> 🟢" in await bot.say(TRADER, "/performance")
    await register(bot, ADMIN_ID)
    users_page = await bot.say(ADMIN_ID, "/users")
    assert "bingx · eq 12,345.68 USDT · today +345.68 USDT" in users_page
    assert "Equity: 12,345.68 USDT" in await bot.say(ADMIN_ID, f"/user {TRADER}")
    async with db.transaction() as tx:  # a key on Kraken: USD
        await credentials.store(tx, TRADER, "kraken", b"sealed", "abcd", verified=True)
    assert "Equity: <b>12,345.68 USD</b>" in await bot.say(TRADER, "/status")
    async with db.transaction() as tx:  # no key: the snapshot's cash (USDT here)
        await credentials.delete(tx, TRADER)
    assert "Equity: <b>12,345.68 USDT</b>" in await bot.say(TRADER, "/balance")
    await register(bot, STRANGER_TRADER)  # nothing known: a dash, no code
    assert "Equity: <b>—</b>" in await bot.say(STRANGER_TRADER, "/status")


async def test_users_totals_per_currency_never_added_together(bot):
    """/users totals equity and today's P&L per currency, each with its code: a USDT
    account (BingX) and a USD one (Kraken) are never summed into one number."""
    await register(bot, TRADER)
    await register(bot, STRANGER_TRADER)
    db = db_of(bot)
    await arrange_trader(db, TRADER)  # 12,345.68, +345.68 today
    today = time.strftime("%Y-%m-%d", time.gmtime())
    async with db.transaction() as tx:
        await credentials.store(tx, TRADER, "bingx", b"sealed", "abcd", verified=True)
        await credentials.store(tx, STRANGER_TRADER, "kraken", b"sealed", "wxyz", verified=True)
        await snapshots.save(
            tx,
            STRANGER_TRADER,
            snapshots.Snapshot(
                equity=Decimal("1000"), start_of_day_equity=Decimal("1010.5"), day=today
            ),
        )
    await register(bot, ADMIN_ID)
    page = await bot.say(ADMIN_ID, "/users")
    assert (
        "balance 1,000.00 USD, 12,345.68 USDT · P&amp;L today -10.50 USD 🔴, +345.68 USDT 🟢"
    ) in page
    assert "13,345.68" not in page and "335.18" not in page  # no sum across currencies


async def test_users_and_user_agree_with_status_for_a_user_without_a_key(bot):
    """No key: /status counts the equity in the snapshot's cash currency (USDT here);
    /users (the line and the totals) and /user say the same, not the default
    exchange's USD."""
    await register(bot, TRADER)
    await arrange_trader(db_of(bot), TRADER)  # USDT cash, no key; 12,345.68, +345.68
    assert "Equity: <b>12,345.68 USDT</b>" in await bot.say(TRADER, "/status")
    await register(bot, ADMIN_ID)
    page = await bot.say(ADMIN_ID, "/users")
    assert "no exchange · eq 12,345.68 USDT · today +345.68 USDT 🟢" in page
    assert "balance 12,345.68 USDT · P&amp;L today +345.68 USDT 🟢" in page
    assert "12,345.68 USD " not in page and "12,345.68 USD," not in page
    detail = await bot.say(ADMIN_ID, f"/user {TRADER}")
    assert "Equity: 12,345.68 USDT · today +345.68 USDT 🟢" in detail


async def test_a_position_line_shows_one_precision_when_the_market_s_is_unknown(bot):
    """No fill of the market and a mark with more places than any step (a computed
    price): its precision is unknown, so the line's entry, mark and stop share one, the
    most places 8 significant digits show either price with."""
    await trader_with_data(bot)
    async with db_of(bot).transaction() as tx:
        await positions.upsert(
            tx, TRADER, "SOL/USD", "long", amount=Decimal(2),
            entry_price=Decimal("142.123"), entry_fees=Decimal(0), realized_pnl=Decimal(0),
        )  # fmt: skip
        await positions.set_stop(tx, TRADER, "SOL/USD", "long", Decimal("138.04"))
        snap = await snapshots.get(tx, TRADER)
        assert snap is not None
        mark = {"symbol": "SOL/USD", "side": "long", "mark_price": "145.5000000000001"}
        await snapshots.save(
            tx,
            TRADER,
            snapshots.Snapshot(**{**_fields(snap), "positions": [*snap.positions, mark]}),
        )
    text = await bot.say(TRADER, "/positions")
    assert "<b>SOL/USD</b> LONG 2 @ 142.123 → 145.500\n" in text
    assert "· stop 138.040 ·" in text
    assert "🟢 <b>BTC/USDT</b> LONG 0.05 @ 60,000 → 61,000" in text  # its market's step


async def test_realised_pnl_per_currency_on_pnl_and_status(bot):
    """Closed trades in USDT (ETH/USDT) and in USD (BTC/USD) on one account: /pnl and
    the dashboard show each currency's realised P&L with its code, never their sum."""
    await trader_with_data(bot)  # ETH/USDT today: +30, -10, +5 USDT
    async with db_of(bot).transaction() as tx:
        fill = FillInfo(
            "usd1", "BTC/USD", Side.SELL, Decimal("0.01"), Decimal("61000"), Decimal("0.1"),
            "USD", int(time.time() * 1000),
        )  # fmt: skip
        fill_id = await fills.insert(tx, TRADER, None, "kraken", fill)
        assert fill_id is not None
        await fills.set_realized_pnl(tx, TRADER, fill_id, Decimal("-7.5"))
    pnl = await bot.say(TRADER, "/pnl")
    assert "Realised P&amp;L: <b>-7.50 USD</b> 🔴, <b>+25.00 USDT</b> 🟢" in pnl
    assert "Trades: 4 · wins 2 · losses 2" in pnl
    assert "Best -7.50 USD · worst -7.50 USD" in pnl
    assert "Best +30.00 USDT · worst -10.00 USDT" in pnl
    assert "17.50" not in pnl
    status = await bot.say(TRADER, "/status")
    assert "(realised -7.50 USD, +25.00 USDT in 4 trades)" in status
    daily = await bot.say(TRADER, "/daily")
    today = daily.split("<pre>")[1].split("</pre>")[0].splitlines()[1].split()
    assert today[:6] == ["⚪", today[1], "-7.50", "USD,", "+25.00", "USDT"]
    assert "Total: <b>-7.50 USD</b> 🔴, <b>+25.00 USDT</b> 🟢 in 4 closed trades" in daily
    assert "P&amp;L in each pair's quote, equity in USD;" in daily


async def test_one_fill_shows_the_markets_precision(bot):
    """A market with a single fill: the exchange's float drops the price's trailing zero
    (2,500.10 arrives as 2500.1), the engine records it with the places of the market's
    step (0.01), so /trades and /positions show 2,500.10, not 2,500.1."""
    await register(bot, TRADER)
    db = db_of(bot)
    ts = int(time.time() * 1000)
    quoted = Decimal(str(2500.10))  # what ccxt's float gives: Decimal('2500.1')
    assert str(quoted) == "2500.1"
    async with db.transaction() as tx:
        order = await orders.insert(
            tx, user_id=TRADER, client_order_id="njprecision00000001", exchange_id="kraken",
            mode="paper", symbol="SOL/USD", side=Side.BUY, type=OrderType.MARKET,
            amount=Decimal(2), status=OrderStatus.SUBMITTED,
        )  # fmt: skip
        trade = FillInfo("t1", "SOL/USD", Side.BUY, Decimal(2), quoted, Decimal("0.5"), "USD", ts)
        state = OrderState(
            "x1", order.client_order_id, "SOL/USD", Side.BUY, OrderType.MARKET,
            OrderStatus.FILLED, Decimal(2), Decimal(2), fills=(trade,),
        )  # fmt: skip
        facts = MarketFacts(spot=True, base="SOL", quote="USD", price_step=Decimal("0.01"))
        recorded = await record_fills(
            tx, user_id=TRADER, mode="paper", order=order, state=state, facts=facts,
            session_id=None,
        )  # fmt: skip
    assert recorded == 1
    trades = await bot.say(TRADER, "/trades")
    assert "BUY 2 SOL/USD @ 2,500.10 ·" in trades
    assert "<b>SOL/USD</b> LONG 2 @ 2,500.10" in await bot.say(TRADER, "/positions")


async def test_prices_at_the_markets_precision(bot):
    """Prices show the places the market's stored prices show (fills and marks as the
    exchange returned them: 2401.2 and 2345.67 -> 0.01), not 8 significant digits: an
    averaged entry and a computed stop are rounded to them."""
    await trader_with_data(bot)
    db = db_of(bot)
    ts = int(time.time() * 1000)
    async with db.transaction() as tx:
        for i, (side, price) in enumerate(((Side.BUY, "2345.67"), (Side.BUY, "2401.2"))):
            fill = FillInfo(
                f"e{i}", "ETH/USD", side, Decimal("0.5"), Decimal(price), Decimal("0.5"), "USD",
                ts - 60_000 + i,
            )  # fmt: skip
            await fills.insert(tx, TRADER, None, "kraken", fill)
        await positions.upsert(
            tx, TRADER, "ETH/USD", "long", amount=Decimal(1),
            entry_price=Decimal("2373.438"), entry_fees=Decimal(1), realized_pnl=Decimal(0),
        )  # fmt: skip
        await positions.set_stop(tx, TRADER, "ETH/USD", "long", Decimal("2290.123456789012345678"))
        snap = await snapshots.get(tx, TRADER)
        assert snap is not None
        marks = [*snap.positions, {"symbol": "ETH/USD", "side": "long", "mark_price": "2410"}]
        await snapshots.save(
            tx, TRADER, snapshots.Snapshot(**{**_fields(snap), "positions": marks})
        )
    text = await bot.say(TRADER, "/positions")
    assert "<b>ETH/USD</b> LONG 1 @ 2,373.44 → 2,410.00" in text
    assert "unrealised P&amp;L +36.56 USD (+1.54%) · stop 2,290.12 ·" in text
    assert "2,373.438" not in text and "2,290.1235" not in text
    assert "🟢 <b>BTC/USDT</b> LONG 0.05 @ 60,000 → 61,000" in text  # whole-number marks
    # a USD and a USDT position: one total per currency, never one sum of both
    assert "Total unrealised: <b>+36.56 USD</b> 🟢, <b>+50.00 USDT</b> 🟢" in text
    assert "86.56" not in text
    trades = await bot.say(TRADER, "/trades")
    assert "BUY 0.5 ETH/USD @ 2,401.20 · fee 0.50 USD" in trades  # as the fill alert reads it
    assert "BUY 0.5 ETH/USD @ 2,345.67 ·" in trades
    assert "ETH/USDT @ 3,000.5 ·" in trades  # that market's prices show one place
