from nija_tg.core.models import Role, TradingMode, UserStatus
from nija_tg.storage import credentials, users

ALICE, VIEWER = 6001, 6002


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
        assert "Usage: /trade on or /trade off" in reply
        assert len(reply) < 300
    assert not (await users.get_user(db_of(bot), ALICE)).trading_on


async def test_trade_buttons(bot):
    await bot.say(ALICE, "/start")
    record = await bot.ask(ALICE, "/help")
    reply = await bot.press(ALICE, "trade:on", record.result["message_id"])
    assert "Trading is ON" in reply.params["text"]
    assert (await users.get_user(db_of(bot), ALICE)).trading_on


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
        ALICE, "mode:live:yes", record.result["message_id"], method="editMessageText"
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
