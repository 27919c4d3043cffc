"""Money settings and /pairs speak the account's currency, end to end through the real
Application and the fake Bot API: on a BingX key (USDT, as the engine counts equity and
the daily-loss alert words its limit) /settings, the editor, its toast, /set, /set's
usage and a preset's diff say USDT; on Kraken, and on a keyless paper account, USD.
/pairs names the one quote and exchange the engine trades every base on."""

from __future__ import annotations

from decimal import Decimal

from nija_tg.storage import credentials, snapshots
from tests.handlers.tap import answer_of, buttons, data_of, message_id, tap
from tests.handlers.test_reports import db_of, register

TRADER = 2301


async def key_on(bot, uid: int, exchange_id: str) -> None:
    async with db_of(bot).transaction() as tx:
        await credentials.store(tx, uid, exchange_id, b"sealed", "abcd", verified=True)


async def test_a_usdt_account_sees_its_money_settings_in_usdt(bot):
    await register(bot, TRADER)
    await key_on(bot, TRADER, "bingx")
    overview = await bot.ask(TRADER, "/settings")
    text = overview.params["text"]
    assert "Max position size: <b>300 USDT</b>" in text
    assert "Daily loss limit (amount): <b>150 USDT</b>" in text
    assert " USD<" not in text and "(USD)" not in text
    usage = await bot.say(TRADER, "/set daily_loss_usd")
    assert "Usage: /set daily_loss_usd &lt;value&gt; — 5 to 100,000 USDT." in usage
    done = await bot.say(TRADER, "/set max_position_usd 250")
    assert "✅ <code>max_position_usd</code>: 300 USDT → <b>250 USDT</b>" in done
    # typed back as shown: thousands separators and the currency's code are taken
    done = await bot.say(TRADER, "/set max_position_usd 1,250")
    assert "250 USDT → <b>1,250 USDT</b>" in done
    again = await bot.say(TRADER, "/set max_position_usd 1250 usdt")
    assert "max_position_usd is already 1,250 USDT." in again

    editor = await tap(bot, TRADER, overview, "Max position size", method="editMessageText")
    text = editor.params["text"]
    assert "Now: <b>1,250 USDT</b>" in text and "Allowed: 10 to 100,000 USDT" in text
    labels = [label for label, _ in buttons(editor)]
    assert "+250 → 1,500" in labels and "aggressive 1,000" in labels
    toast = await answer_of(bot, TRADER, data_of(editor, "+250 → 1,500"), message_id(editor))
    assert toast.params["text"] == "✅ Max position size: 1,250 USDT → 1,500 USDT"

    preset = await bot.say(TRADER, "/preset conservative")
    assert "<code>max_position_usd</code>: 1,500 USDT → <b>100 USDT</b>" in preset
    assert "<code>daily_loss_usd</code>: 150 USDT → <b>50 USDT</b>" in preset


async def test_usd_accounts_see_usd_kraken_and_keyless_paper(bot):
    await register(bot, TRADER)
    text = await bot.say(TRADER, "/settings")  # no key: paper on Kraken, USD
    assert "Max position size: <b>300 USD</b>" in text
    await key_on(bot, TRADER, "kraken")
    assert "300 USD → <b>250 USD</b>" in await bot.say(TRADER, "/set max_position_usd 250")
    assert "10 to 100,000 USD." in await bot.say(TRADER, "/set max_position_usd")
    async with db_of(bot).transaction() as tx:  # keyless with USDT cash: USDT, as /status
        await credentials.delete(tx, TRADER)
        cash = [{"currency": "USDT", "free": "900", "used": "0", "total": "900"}]
        await snapshots.save(tx, TRADER, snapshots.Snapshot(Decimal(900), cash))
    assert "Max position size: <b>250 USDT</b>" in await bot.say(TRADER, "/settings")


async def test_pairs_name_the_accounts_one_quote_and_exchange(bot):
    await register(bot, TRADER)
    text = await bot.say(TRADER, "/pairs")
    assert (
        "Each traded against <b>USD</b> on Kraken (paper trading: no exchange connected)."
    ) in text
    assert "USDC" not in text and "USDT" not in text
    await key_on(bot, TRADER, "bingx")
    text = await bot.say(TRADER, "/pairs")
    assert "Each traded against <b>USDT</b> on BingX." in text and "USDC" not in text
    await key_on(bot, TRADER, "coinbase")
    assert "Each traded against <b>USD</b> on Coinbase." in await bot.say(TRADER, "/pairs")


async def test_a_money_value_in_another_currency_is_refused_naming_the_accounts(bot):
    """Review of #14: ``250 USDC`` on a USD account was taken as 250 USD without a word.
    The account's own code (or none) is taken; another code is refused, naming the
    account's currency, and the value stays."""
    await register(bot, TRADER)  # no key: paper on Kraken, USD
    refused = await bot.say(TRADER, "/set max_position_usd 250 USDC")
    assert refused == (
        "max_position_usd is counted in your account's currency, USD: send the number "
        "alone or with USD (you sent '250 USDC')."
    )
    assert "Max position size: <b>300 USD</b>" in await bot.say(TRADER, "/settings")
    assert "300 USD → <b>250 USD</b>" in await bot.say(TRADER, "/set max_position_usd 250 usd")
    await key_on(bot, TRADER, "bingx")  # USDT now: USD is another currency
    refused = await bot.say(TRADER, "/set daily_loss_usd $90 USD")
    assert "counted in your account's currency, USDT" in refused
    assert "(you sent '$90 USD')" in refused
    done = await bot.say(TRADER, "/set daily_loss_usd 90 USDT")
    assert "<code>daily_loss_usd</code>: 150 USDT → <b>90 USDT</b>" in done
