from decimal import Decimal

from nija_tg.core.models import Role, TradingMode, UserStatus
from nija_tg.core.trading_gate import TradingSwitch
from nija_tg.handlers.callback_data import (
    CloseButton,
    KeepOpenButton,
    ModeButton,
    TradeButton,
)
from nija_tg.messages.common import EXPIRED_BUTTON
from nija_tg.storage import audit, close_requests, credentials, positions, users

ALICE, VIEWER = 6001, 6002
ASK = CloseButton("ask", "long", "ETH/USD").pack()
YES = CloseButton("yes", "long", "ETH/USD").pack()
KEEP = KeepOpenButton().pack()


def db_of(bot):
    return bot.app.bot_data["runtime"].db


async def test_trade_on_off_in_paper(bot):
    await bot.say(ALICE, "/start")
    assert "Trading is ON (paper)" in await bot.say(ALICE, "/trade on")
    assert (await users.get_user(db_of(bot), ALICE)).trading_on
    assert "Trading is OFF" in await bot.say(ALICE, "/trade off")
    assert not (await users.get_user(db_of(bot), ALICE)).trading_on


async def test_trade_usage_for_malformed_args(bot):
    await bot.say(ALICE, "/start")
    for text in ("/trade", "/trade maybe", "/trade on off", "/trade " + "🚀" * 300, "/trade -1"):
        reply = await bot.say(ALICE, text)
        assert "Usage: /trade on, /trade exits or /trade off" in reply
        assert "exits: no new positions" in reply
        assert len(reply) < 300
    assert not (await users.get_user(db_of(bot), ALICE)).trading_on


async def test_trade_buttons_switch_and_show_the_new_state_in_place(bot):
    await bot.say(ALICE, "/start")
    dashboard = await bot.ask(ALICE, "/status")
    message_id = dashboard.result["message_id"]
    trade_on = TradeButton(TradingSwitch.ON).pack()
    since = bot.api.mark()
    edited = await bot.press(ALICE, trade_on, message_id, method="editMessageText")
    assert (await users.get_user(db_of(bot), ALICE)).trading_on
    # the same dashboard message now says on and offers Stop: no stale button
    assert edited.params["message_id"] == message_id
    assert "Trading: 🟢 on" in edited.params["text"]
    texts = [b["text"] for row in edited.params["reply_markup"]["inline_keyboard"] for b in row]
    assert "⏸ Stop trading" in texts and "▶️ Start trading" not in texts
    answer = await bot.api.wait_for("answerCallbackQuery", since=since)
    assert "Trading is ON" in answer.params["text"]
    await bot.settle()
    assert bot.api.sent_to(ALICE, since=since) == []  # no new message
    trade_off = TradeButton(TradingSwitch.OFF).pack()
    edited = await bot.press(ALICE, trade_off, message_id, method="editMessageText")
    assert "Trading: ⚪ off" in edited.params["text"]
    assert not (await users.get_user(db_of(bot), ALICE)).trading_on


async def test_live_mode_needs_verified_keys_and_confirmation(bot):
    await bot.say(ALICE, "/start")
    assert "/connect first" in await bot.say(ALICE, "/mode live")
    vault = bot.keyring
    async with db_of(bot).transaction() as tx:
        blob = vault.seal(ALICE, "kraken", {"apiKey": "k" * 20, "secret": "s" * 20})
        await credentials.store(tx, ALICE, "kraken", blob, "kkkk", verified=True)
    record = await bot.ask(ALICE, "/mode live")
    assert "Confirm?" in record.params["text"]
    assert (await users.get_user(db_of(bot), ALICE)).mode is TradingMode.PAPER
    edited = await bot.press(
        ALICE,
        ModeButton(TradingMode.LIVE).pack(),
        record.result["message_id"],
        method="editMessageText",
    )
    assert "LIVE mode is on" in edited.params["text"]
    assert (await users.get_user(db_of(bot), ALICE)).mode is TradingMode.LIVE
    assert "Paper mode is on" in await bot.say(ALICE, "/mode paper")
    assert "Usage: /mode paper or /mode live" in await bot.say(ALICE, "/mode turbo")


async def test_refusals_viewer_paused_halted(bot):
    await bot.say(ALICE, "/start")
    await bot.say(VIEWER, "/start")
    async with db_of(bot).transaction() as tx:
        await users.set_role(tx, VIEWER, Role.VIEWER)
        await users.set_status(tx, ALICE, UserStatus.PAUSED, "drawdown 15%")
    assert "read-only" in await bot.say(VIEWER, "/trade on")
    assert "paused (drawdown 15%)" in await bot.say(ALICE, "/trade on")
    async with db_of(bot).transaction() as tx:
        await users.set_status(tx, ALICE, UserStatus.ACTIVE)
        await users.set_halted(tx, True)
    assert "halted" in await bot.say(ALICE, "/trade on")
    assert not (await users.get_user(db_of(bot), ALICE)).trading_on


async def test_engine_pauses_are_self_resumable_admin_pauses_are_not(bot):
    await bot.say(ALICE, "/start")
    async with db_of(bot).transaction() as tx:
        await users.set_status(tx, ALICE, UserStatus.PAUSED, "drawdown")
    assert "Trading is ON" in await bot.say(ALICE, "/trade on")
    user = await users.get_user(db_of(bot), ALICE)
    assert user.status is UserStatus.ACTIVE and user.trading_on
    async with db_of(bot).transaction() as tx:
        await users.set_status(tx, ALICE, UserStatus.PAUSED, "risk review")
        await users.set_trading(tx, ALICE, False)
    assert "An admin must /resume it first" in await bot.say(ALICE, "/trade on")
    assert (await users.get_user(db_of(bot), ALICE)).status is UserStatus.PAUSED


async def hold(bot, uid: int, symbol: str = "ETH/USD", side: str = "long", amount="0.05"):
    """An open position as the engine books it (in the user's mode)."""
    async with db_of(bot).transaction() as tx:
        await positions.upsert(
            tx,
            uid,
            symbol,
            side,
            amount=Decimal(amount),
            entry_price=Decimal(2000),
            entry_fees=Decimal(0),
            realized_pnl=Decimal(0),
        )


async def pending(bot, uid: int) -> list:
    return await close_requests.pending_for_user(db_of(bot), uid)


async def test_trade_exits_says_what_it_means_and_is_stored(bot):
    await bot.say(ALICE, "/start")
    await hold(bot, ALICE)
    await hold(bot, ALICE, "SOL/USD")
    before = await users.change_counter(db_of(bot))
    reply = await bot.say(ALICE, "/trade exits")
    assert (
        "Exits only: no new positions; stops and exits keep running for your 2 open positions"
        in reply
    )
    user = await users.get_user(db_of(bot), ALICE)
    assert user.switch is TradingSwitch.EXITS and user.trading_on and user.exits_only
    assert await users.change_counter(db_of(bot)) > before  # the engine hears at once
    assert "Trading is EXITS ONLY" in await bot.say(ALICE, "/trade")
    off = await bot.say(ALICE, "/trade off")
    assert "Trading is OFF" in off and "Stops keep protecting your 2 open positions" in off
    assert (await users.get_user(db_of(bot), ALICE)).switch is TradingSwitch.OFF
    on = await bot.say(ALICE, "/trade on")
    assert "Trading is ON (paper)" in on
    user = await users.get_user(db_of(bot), ALICE)
    assert user.switch is TradingSwitch.ON and not user.exits_only
    actions = [r.action for r in await audit.recent(db_of(bot), 20)]
    assert {"trading.exits", "trading.off", "trading.on"} <= set(actions)


async def test_trade_exits_and_off_with_nothing_open_promise_nothing_later(bot):
    """Neither /trade exits nor /trade off opens a position: with none open, the reply
    says so, not that stops run "for any position you open later"."""
    await bot.say(ALICE, "/start")
    exits = await bot.say(ALICE, "/trade exits")
    assert exits.startswith("Exits only: no new positions, and you have none open")
    assert "later" not in exits and "keep running" not in exits
    off = await bot.say(ALICE, "/trade off")
    assert off == "Trading is OFF: no new positions and no strategy exits; you have none open."
    await hold(bot, ALICE)
    exits = await bot.say(ALICE, "/trade exits")
    assert "stops and exits keep running for your 1 open position." in exits


async def test_trade_exits_during_a_halt_and_an_admin_pause(bot):
    await bot.say(ALICE, "/start")
    async with db_of(bot).transaction() as tx:
        await users.set_halted(tx, True)
    refused = await bot.say(ALICE, "/trade on")
    assert "halted" in refused and "/trade exits is allowed" in refused
    assert "everyone is on exits only" in await bot.say(ALICE, "/trade exits")
    async with db_of(bot).transaction() as tx:
        await users.set_halted(tx, False)
        await users.set_status(tx, ALICE, UserStatus.PAUSED, "risk review")
    reply = await bot.say(ALICE, "/trade exits")
    assert "paused by an admin" in reply and "only stops run" in reply
    assert (await users.get_user(db_of(bot), ALICE)).status is UserStatus.PAUSED


async def test_close_writes_one_request_and_answers_nothing_politely(bot):
    await bot.say(ALICE, "/start")
    assert "no open positions: nothing to close" in await bot.say(ALICE, "/close all")
    assert "no open position in BTC" in await bot.say(ALICE, "/close btc")
    assert await pending(bot, ALICE) == []
    await hold(bot, ALICE)
    before = await users.change_counter(db_of(bot))
    reply = await bot.say(ALICE, "/close eth")
    assert "Closing ETH/USD long at market" in reply and "within a second" in reply
    (req,) = await pending(bot, ALICE)
    assert (req.symbol, req.side) == ("ETH/USD", None)
    assert await users.change_counter(db_of(bot)) > before
    assert "Already closing ETH/USD long" in await bot.say(ALICE, "/close ETH/USD")
    assert len(await pending(bot, ALICE)) == 1  # asked twice, closed once
    assert "Closing ETH/USD long" in await bot.say(ALICE, "/close all")
    assert [(r.symbol, r.side) for r in await pending(bot, ALICE)] == [
        ("ETH/USD", None),
        (None, None),
    ]
    for text in ("/close", "/close a b", "/close <b>", "/close " + "x" * 80):
        assert "Usage: /close" in await bot.say(ALICE, text)


async def test_close_refused_for_viewers_and_dead_keys(bot):
    await bot.say(ALICE, "/start")
    await bot.say(VIEWER, "/start")
    async with db_of(bot).transaction() as tx:
        await users.set_role(tx, VIEWER, Role.VIEWER)
    await hold(bot, VIEWER)
    assert "read-only" in await bot.say(VIEWER, "/close all")
    async with db_of(bot).transaction() as tx:
        blob = bot.keyring.seal(ALICE, "kraken", {"apiKey": "k" * 20, "secret": "s" * 20})
        await credentials.store(tx, ALICE, "kraken", blob, "kkkk", verified=False)
        await users.set_mode(tx, ALICE, TradingMode.LIVE)
        await users.set_status(tx, ALICE, UserStatus.PAUSED, "connection")
    await hold(bot, ALICE)
    reply = await bot.say(ALICE, "/close ETH")
    assert "key stopped working" in reply and "cannot reach your account" in reply
    assert await pending(bot, ALICE) == [] and await pending(bot, VIEWER) == []


def buttons(record) -> list[tuple[str, str]]:
    markup = record.params.get("reply_markup") or {}
    return [(b["text"], b["callback_data"]) for row in markup["inline_keyboard"] for b in row]


async def test_close_button_on_positions_asks_then_closes(bot):
    await bot.say(ALICE, "/start")
    await hold(bot, ALICE)
    record = await bot.ask(ALICE, "/positions")
    assert "Stops protect every open position" in record.params["text"]
    ((label, data),) = buttons(record)
    assert label.startswith("✖️ Close ETH/USD long") and data == ASK
    ask = await bot.press(ALICE, data, record.result["message_id"])
    assert "Close your <b>ETH/USD</b> long at market now?" in ask.params["text"]
    assert buttons(ask) == [
        ("Yes, close ETH/USD long", YES),
        ("No, keep it", KEEP),
    ]
    assert await pending(bot, ALICE) == []  # asking is not closing
    kept = await bot.press(ALICE, KEEP, ask.result["message_id"])
    assert "Nothing closed" in kept.params["text"] and await pending(bot, ALICE) == []
    ask = await bot.press(ALICE, data, record.result["message_id"])
    done = await bot.press(ALICE, YES, ask.result["message_id"])
    assert "Closing ETH/USD long at market" in done.params["text"]
    (req,) = await pending(bot, ALICE)
    assert (req.symbol, req.side) == ("ETH/USD", "long")
    again = await bot.press(ALICE, YES, ask.result["message_id"])
    assert "Already closing" in again.params["text"] and len(await pending(bot, ALICE)) == 1


async def test_close_button_of_a_position_gone_meanwhile_is_answered_politely(bot):
    await bot.say(ALICE, "/start")
    await hold(bot, ALICE)
    record = await bot.ask(ALICE, "/positions")
    async with db_of(bot).transaction() as tx:
        await positions.delete(tx, ALICE, "ETH/USD", "long")  # its stop closed it
    done = await bot.press(ALICE, YES, record.result["message_id"])
    assert "is not open any more" in done.params["text"]
    assert await pending(bot, ALICE) == []


async def test_no_close_buttons_for_someone_elses_positions(bot):
    await bot.say(ALICE, "/start")
    await bot.say(VIEWER, "/start")
    async with db_of(bot).transaction() as tx:
        await users.set_role(tx, VIEWER, Role.VIEWER)
        await users.grant(tx, VIEWER, ALICE, ALICE)
    await hold(bot, ALICE)
    record = await bot.ask(VIEWER, f"/positions {ALICE}")
    assert "ETH/USD" in record.params["text"] and not record.params.get("reply_markup")
    since = bot.api.mark()
    bot.api.user_callback(VIEWER, YES, message_id=record.result["message_id"])
    pressed = await bot.api.wait_for("answerCallbackQuery", since=since, timeout=10)
    assert "not for you" in pressed.params.get("text", "")
    assert await pending(bot, ALICE) == []


async def test_buttons_of_the_unversioned_wire_format_answer_expired_and_change_nothing(bot):
    """Buttons still showing in messages sent before callback data were versioned carry
    these literal strings: each is answered "expired" and nothing is done or edited."""
    await bot.say(ALICE, "/start")
    await hold(bot, ALICE)
    record = await bot.ask(ALICE, "/positions")
    since = bot.api.mark()
    for old in ("trade:on", "close:yes:ETH/USD:long", "close:no", "mode:live:yes"):
        bot.api.user_callback(ALICE, old, message_id=record.result["message_id"])
    # one user's updates run in order: this reply comes after all four presses
    assert "Trading is OFF" in await bot.say(ALICE, "/trade")
    calls = [r for r in bot.api.requests[since:] if r.method != "getUpdates"]
    assert [r.method for r in calls] == ["answerCallbackQuery"] * 4 + ["sendMessage"]
    assert {r.params.get("text") for r in calls[:4]} == {EXPIRED_BUTTON}
    user = await users.get_user(db_of(bot), ALICE)
    assert not user.trading_on and user.mode is TradingMode.PAPER
    assert await pending(bot, ALICE) == []


def test_the_close_button_takes_a_swap_symbol_within_64_bytes():
    data = CloseButton("yes", "short", "ETH/USDT:USDT").pack()
    assert CloseButton.unpack(data) == CloseButton("yes", "short", "ETH/USDT:USDT")
    assert len(data.encode()) <= 64
