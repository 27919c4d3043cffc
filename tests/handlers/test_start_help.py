import re

from nija_tg.core.pnl import PERIODS
from nija_tg.messages.connect import PASTED_SECRET
from tests.handlers.harness import ADMIN_ID

ALICE = 2001


async def test_start_registers_once_and_sets_menu(bot):
    text = await bot.say(ALICE, "/start")
    assert "registered as <b>trader</b>" in text
    menu = await bot.api.wait_for(
        "setMyCommands", lambda r: "chat_id" in str(r.params.get("scope")), since=0
    )
    assert any(c["command"] == "connect" for c in menu.params["commands"])
    again = await bot.say(ALICE, "/start")
    assert "Welcome back" in again or "Trading" in again
    user = await bot.services.users.get(ALICE)
    assert user is not None and user.role.value == "trader"


async def test_admin_from_config(bot):
    assert "registered as <b>admin</b>" in await bot.say(ADMIN_ID, "/start")
    help_text = await bot.say(ADMIN_ID, "/help")
    assert "/users" in help_text and "/halt" in help_text


async def test_strangers_get_only_start_and_help(bot):
    help_text = await bot.say(3003, "/help")
    assert "/start" in help_text and "/connect" not in help_text
    for command in ("/status", "/connect", "/users", "/trade on", "hello"):
        assert "/start" in await bot.say(3003, command)
    assert await bot.services.users.get(3003) is None


async def test_unknown_command_and_odd_messages(bot):
    await bot.say(ALICE, "/start")
    assert "don't know the command /frobnicate." in await bot.say(ALICE, "/frobnicate now")
    # a key pasted outside /connect that starts with "/" is deleted, never echoed
    since = bot.api.mark()
    pasted = "/du+Id7uy8D+5mhhjqHFDbqTJG5tLk0aW3nB7xQe9sVf2Lr8cPzHyU1oAmXk"
    message_id = bot.api.user_message(ALICE, pasted)
    answer = await bot.next(ALICE, since=since)
    assert answer.params["text"] == PASTED_SECRET and "Revoke that key" in PASTED_SECRET
    deleted = [r for r in bot.api.requests[since:] if r.method == "deleteMessage"]
    assert [int(r.params["message_id"]) for r in deleted] == [message_id]
    assert all("du+Id7" not in str(r.params) for r in bot.api.requests[since:])
    since = bot.api.mark()
    bot.api.user_sticker(ALICE)
    record = await bot.next(ALICE, since=since)
    assert "commands only" in record.params["text"]
    long_text = "🦄" * 5000 + "\x00\x1b[31m"
    assert "commands only" in await bot.say(ALICE, long_text)


async def test_start_in_group_points_to_private_chat(bot):
    text = await bot.say(ALICE, "/start", chat_type="group", chat_id=-ALICE)
    assert "private chat" in text


async def test_any_message_makes_a_blocked_user_reachable_again(bot):
    from nija_tg.storage import users

    await bot.say(ALICE, "/start")
    db = bot.app.bot_data["runtime"].db
    async with db.transaction() as tx:
        await users.set_reachable(tx, ALICE, False)  # the sender saw a 403
    await bot.say(ALICE, "/help")
    assert (await users.get_user(db, ALICE)).reachable


async def test_help_is_grouped_by_task_and_names_user_ids_only_where_they_work(bot):
    await bot.say(3101, "/start")
    trader = await bot.say(3101, "/help")
    for title in ("Get started", "Dashboard and reports", "Trading", "Settings"):
        assert f"<b>{title}</b>" in trader
    assert "<b>Admin</b>" not in trader and "[user id]" not in trader
    assert trader.index("<b>Trading</b>") < trader.index("/close")
    await bot.say(ADMIN_ID, "/start")
    admin = await bot.say(ADMIN_ID, "/help")
    assert "<b>Admin</b>" in admin and "/status [user id]" in admin
    await bot.say(3102, "/start")
    await bot.say(ADMIN_ID, "/role 3102 viewer")
    viewer = await bot.say(3102, "/help")
    assert "/status [user id]" in viewer and "/trade —" not in viewer


async def test_help_names_every_period_the_period_reports_take(bot):
    """/help's hints for /pnl and /performance list the periods each accepts, no fewer
    (/performance took day and month while its hint said only week|all)."""
    await bot.say(3103, "/start")
    text = await bot.say(3103, "/help")
    for command in ("pnl", "performance"):
        hint = re.search(rf"/{command} \[?([a-z|]+)\]?", text)
        assert hint is not None, command
        periods = hint.group(1).split("|")
        assert sorted(periods) == sorted(PERIODS), command
        for period in periods:
            reply = await bot.say(3103, f"/{command} {period}")
            assert not reply.startswith("Usage"), (command, period, reply)
