"""Reports end to end: the real bot, the fake Bot API, engine-like rows in the DB."""

from __future__ import annotations

from decimal import Decimal

from telegram.ext import CommandHandler

from nija_tg.core.models import Role
from nija_tg.handlers.reports import send_dashboard
from nija_tg.storage import audit, credentials, snapshots, users
from nija_tg.storage.db import Database
from tests.handlers.harness import ADMIN_ID, BotHarness
from tests.services.test_reports_service import arrange_trader

TRADER, STRANGER_TRADER, VIEWER = 2001, 2002, 2003
NOT_VISIBLE = "No such user, or you may not see them."
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
    assert "Equity: <b>12,345.68</b>" in text and "Open positions: 1" in text
    assert "Today's P&amp;L: +345.68 (realised +25.00 in 3 trades)" in text
    assert "Last signal: BTC/USDT: buy (72%) — ADX 31" in text
    assert "Updated: " in text and "just now" in text
    assert buttons(record) == [("▶️ Start trading", "trade:on"), ("🔄 Refresh", "status:refresh")]
    async with db_of(bot).transaction() as tx:
        await users.set_trading(tx, TRADER, True)
    record = await bot.ask(TRADER, "/status")
    assert "Trading: 🟢 on" in record.params["text"]
    assert buttons(record) == [("⏸ Stop trading", "trade:off"), ("🔄 Refresh", "status:refresh")]


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
    edit = await bot.press(TRADER, "status:refresh", message_id, method="editMessageText")
    assert edit.params["message_id"] == message_id
    assert "Equity: <b>13,000.00</b>" in edit.params["text"]
    assert ("🔄 Refresh", "status:refresh") in buttons(edit)
    await bot.settle()
    assert any(a.get("text") == "Updated" for a in bot.api.callback_answers.values())
    since = bot.api.mark()
    bot.api.user_callback(TRADER, "status:refresh", message_id=message_id)
    answer = await bot.api.wait_for("answerCallbackQuery", since=since)
    assert answer.params.get("text") == "Already up to date"
    assert not bot.api.sent_to(TRADER, "editMessageText", since=since)


def _fields(snap: snapshots.Snapshot) -> dict:
    return {name: getattr(snap, name) for name in snapshots.Snapshot.__slots__}


async def test_other_reports_for_trader(bot):
    await trader_with_data(bot)
    text = await bot.say(TRADER, "/balance")
    assert "Equity: <b>12,345.68</b>" in text
    assert "USDT: 10,000.00 (free 9,000.00, in use 1,000.00)" in text
    assert "BTC: 0.051234568 (free 0.05, in use 0)" in text and "DOGE" not in text
    text = await bot.say(TRADER, "/positions")
    assert "<b>BTC/USDT</b> LONG 0.05 @ 60,000 → 61,000" in text
    assert "unrealised P&amp;L +50.00 · stop 58,000" in text
    assert "Total unrealised: <b>+50.00</b>" in text
    text = await bot.say(TRADER, "/trades")
    assert "Last 4 trades" in text and text.count("ETH/USDT @ 3,000.5") == 4
    assert "SELL 0.5 ETH/USDT @ 3,000.5 · fee 0.15 USDT · P&amp;L -10.00" in text
    text = await bot.say(TRADER, "/trades 2")
    assert "Last 2 trades" in text and text.count("ETH/USDT") == 2
    text = await bot.say(TRADER, "/sessions")
    assert "running" in text and "still running" in text and "stopped" in text
    assert "trades 2 · wins 1 · losses 1 · win rate 50.0% · P&amp;L <b>+60.00</b>" in text
    assert text.index("running") < text.index("stopped")  # newest first
    assert text.count("<b>#") == 1 + (await bot.say(TRADER, "/sessions 1")).count("<b>#")


async def test_pnl_text_then_chart_photo(bot):
    await trader_with_data(bot)
    since = bot.api.mark()
    text = await bot.say(TRADER, "/pnl")
    assert "P&amp;L — today" in text and "Realised P&amp;L: <b>+25.00</b>" in text
    assert "Trades: 3 · wins 2 · losses 1 · win rate 66.7%" in text
    assert "Best +30.00 · worst -10.00" in text
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


async def test_empty_new_user(bot):
    await register(bot, TRADER)
    since = bot.api.mark()
    record = await bot.ask(TRADER, "/status")
    text = record.params["text"]
    assert "Exchange: not connected — Send /connect to link your exchange." in text
    assert "Equity: <b>—</b>" in text and "Open positions: 0" in text
    assert "no data from the trading engine yet" in text
    assert buttons(record)[0] == ("▶️ Start trading", "trade:on")
    for command in ("/balance", "/positions", "/trades", "/sessions"):
        assert "Send /connect to link your exchange." in await bot.say(TRADER, command)
    assert "No equity history yet" in await bot.say(TRADER, "/pnl week")
    await bot.settle()
    assert not bot.api.sent_to(TRADER, "sendPhoto", since=since)


async def test_viewer_without_and_with_grant(bot):
    await trader_with_data(bot)
    await register(bot, VIEWER, Role.VIEWER)
    record = await bot.ask(VIEWER, "/status")
    assert "read-only access" in record.params["text"] and "grant" in record.params["text"]
    assert buttons(record) == [("🔄 Refresh", "status:refresh")]
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
    assert buttons(record) == [("🔄 Refresh", f"status:refresh:{TRADER}")]
    edit = await bot.press(
        VIEWER, f"status:refresh:{TRADER}", record.result["message_id"], method="editMessageText"
    )
    assert "12,345.68" in edit.params["text"]
    assert "10,000.00" in await bot.say(VIEWER, f"/balance {TRADER}")
    since = bot.api.mark()
    assert "Trades: 3" in await bot.say(VIEWER, f"/pnl all {TRADER}")
    await bot.next(VIEWER, since=since, method="sendPhoto")
    async with db_of(bot).transaction() as tx:
        await users.revoke(tx, VIEWER, TRADER)
    since = bot.api.mark()
    bot.api.user_callback(
        VIEWER, f"status:refresh:{TRADER}", message_id=record.result["message_id"]
    )
    answer = await bot.api.wait_for("answerCallbackQuery", since=since)
    assert answer.params["text"] == NOT_VISIBLE
    assert await bot.say(VIEWER, f"/positions {TRADER}") == NOT_VISIBLE


async def test_admin_views_another_user_audited(bot):
    await trader_with_data(bot)
    await register(bot, ADMIN_ID)
    record = await bot.ask(ADMIN_ID, f"/status {TRADER}")
    assert "12,345.68" in record.params["text"] and "••••abcd" in record.params["text"]
    assert buttons(record) == [("🔄 Refresh", f"status:refresh:{TRADER}")]
    assert "BTC/USDT" in await bot.say(ADMIN_ID, f"/positions {TRADER}")
    assert await bot.say(ADMIN_ID, "/status 999999") == NOT_VISIBLE
    rows = [r for r in await audit.recent(db_of(bot), 50) if r.action == "admin.view"]
    assert [(r.actor_id, r.target_id, r.detail["report"]) for r in rows] == [
        (ADMIN_ID, TRADER, "positions"),
        (ADMIN_ID, TRADER, "status"),
    ]
    assert "Open positions: 0" in await bot.say(ADMIN_ID, "/status")  # own: not audited
    assert len([r for r in await audit.recent(db_of(bot), 50) if r.action == "admin.view"]) == 2


async def test_another_user_learns_nothing(bot):
    await trader_with_data(bot)
    await register(bot, STRANGER_TRADER)
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
    for command in commands:
        assert await bot.say(STRANGER_TRADER, command) == NOT_VISIBLE
        missing = command.replace(str(TRADER), "987654321")
        assert await bot.say(STRANGER_TRADER, missing) == NOT_VISIBLE
    for command in ("/status", "/balance", "/positions", "/trades 100", "/pnl all", "/sessions"):
        text = await bot.say(STRANGER_TRADER, command)
        assert not any(marker in text for marker in MARKERS), (command, text)
    await bot.settle()
    assert not bot.api.sent_to(STRANGER_TRADER, "sendPhoto", since=since)
    assert not any(r.action == "admin.view" for r in await audit.recent(db_of(bot), 50))


async def test_malformed_arguments_get_usage(bot):
    await register(bot, TRADER)
    cases = {
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
    for command, usage in cases.items():
        assert (await bot.say(TRADER, command)).startswith(usage), command


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
    assert "Equity: <b>12,345.68</b>" in await bot.say(TRADER, "/dash")
    assert await bot.say(VIEWER, f"/dash {TRADER}") == NOT_VISIBLE
    assert "read-only access" in await bot.say(VIEWER, "/dash")
