"""/connect end to end: real PTB against the fake Bot API, real ccxt against the
exchange emulators. The secret message is deleted before anything else is sent."""

from __future__ import annotations

import json

import pytest

from nija_tg.handlers.callback_data import ExchangeButton
from nija_tg.messages.connect import NOT_AN_EXCHANGE
from nija_tg.storage import audit, credentials
from tests.fakes.bingx import BingXEmulator
from tests.fakes.coinbase import CoinbaseEmulator
from tests.fakes.kraken import KrakenEmulator
from tests.handlers.harness import start_bot, stop_bot
from tests.handlers.tap import tap

ALICE, BOB = 5001, 5002
EMULATORS = {"kraken": KrakenEmulator, "bingx": BingXEmulator, "coinbase": CoinbaseEmulator}


@pytest.fixture
async def exchanges():
    emus = {name: cls() for name, cls in EMULATORS.items()}
    for emu in emus.values():
        await emu.start()
    yield emus
    for emu in emus.values():
        await emu.stop()


@pytest.fixture
async def bot(data_dir, exchanges):
    urls = {name: emu.base_url for name, emu in exchanges.items()}
    harness = await start_bot(data_dir, engine=True, NIJA_EXCHANGE_URLS=json.dumps(urls))
    try:
        yield harness
    finally:
        await stop_bot(harness)


def db_of(bot):
    return bot.app.bot_data["runtime"].db


async def send_secret(bot, user_id: int, value: str):
    """Send a secret; return (its message id, every request the bot made after it)."""
    since = bot.api.mark()
    message_id = bot.api.user_message(user_id, value)
    await bot.next(user_id, since=since, timeout=20)
    return message_id, bot.api.requests[since:]


@pytest.mark.parametrize("exchange_id", ["kraken", "bingx", "coinbase"])
async def test_full_connect_flow(bot, exchanges, exchange_id):
    emu = exchanges[exchange_id]
    account = emu.add_account()
    creds = emu.credentials(account)
    await bot.say(ALICE, "/start")
    record = await bot.ask(ALICE, "/connect")
    buttons = [
        b["callback_data"] for row in record.params["reply_markup"]["inline_keyboard"] for b in row
    ]
    pick = ExchangeButton(exchange_id).pack()
    assert pick in buttons
    prompt = await bot.press(ALICE, pick, record.result["message_id"])
    assert "(1/2)" in prompt.params["text"] and "no withdrawals" in prompt.params["text"]
    # where to make the key and which permissions never to tick, for this exchange
    never = {"kraken": "Withdraw Funds", "bingx": "Withdraw", "coinbase": "Transfer"}
    assert f"Never tick <b>{never[exchange_id]}</b>" in prompt.params["text"] or (
        f"Never <b>{never[exchange_id]}</b>" in prompt.params["text"]
    )
    final_text = ""
    for name in ("apiKey", "secret"):
        message_id, after = await send_secret(bot, ALICE, creds[name])
        first = next(r for r in after if r.method != "getUpdates")
        assert first.method == "deleteMessage"  # deleted before anything else is sent
        assert int(first.params["message_id"]) == message_id
        for r in after:
            assert creds[name] not in json.dumps(r.params)
    final = await bot.api.wait_for(
        "sendMessage", lambda r: "connected" in str(r.params.get("text")), timeout=20, since=0
    )
    final_text = final.params["text"]
    assert "✅" in final_text and creds["apiKey"][-4:] in final_text
    assert creds["apiKey"][:-4] not in final_text
    row = await credentials.get(db_of(bot), ALICE)
    assert row is not None and row.verified and row.exchange_id == exchange_id
    for value in creds.values():
        assert value.encode() not in row.ciphertext
    stored = bot.keyring.open(row.ciphertext, ALICE, exchange_id)
    assert stored == {"apiKey": creds["apiKey"].strip(), "secret": creds["secret"].strip()}
    actions = [a.action for a in await audit.for_user(db_of(bot), ALICE)]
    assert "credentials.connect" in actions
    for r in bot.api.requests:
        for value in creds.values():
            assert value not in json.dumps(r.params)


async def test_wrong_key_is_refused_and_nothing_stored(bot, exchanges):
    emu = exchanges["kraken"]
    creds = emu.credentials(emu.add_account())
    await bot.say(ALICE, "/start")
    await bot.say(ALICE, "/connect kraken")
    await send_secret(bot, ALICE, creds["apiKey"])
    await send_secret(bot, ALICE, "c2VjcmV0" * 11)  # well-formed base64, wrong secret
    final = await bot.api.wait_for(
        "sendMessage",
        lambda r: "was not connected" in str(r.params.get("text")),
        timeout=20,
        since=0,
    )
    assert "❌" in final.params["text"]
    assert await credentials.get(db_of(bot), ALICE) is None


async def test_key_starting_with_a_slash_is_taken_as_the_key_not_a_command(bot, exchanges):
    """Base64 keys start with "/" one time in 64; Telegram marks "/du" of "/du+Id7..." as a
    command. While a credential is awaited it is the credential: deleted first, sealed,
    never echoed; our own commands (/cancel) still work."""
    emu = exchanges["kraken"]
    creds = emu.credentials(emu.add_account())
    slashed = "/du+Id7uy8D+5mhhjqHFDbqTJG5tLk0aW3nB7xQe9sVf2Lr8cPzHyU1oAmXk"
    await bot.say(ALICE, "/start")
    await bot.say(ALICE, "/connect kraken")
    message_id, after = await send_secret(bot, ALICE, slashed)
    first = next(r for r in after if r.method != "getUpdates")
    assert first.method == "deleteMessage" and int(first.params["message_id"]) == message_id
    texts = [str(r.params.get("text", "")) for r in after if r.method == "sendMessage"]
    assert any("(2/2)" in t for t in texts) and not any("don't know" in t for t in texts)
    assert all("/du+" not in json.dumps(r.params) for r in after)
    assert "Cancelled" in await bot.say(ALICE, "/cancel")  # our command, not a credential
    # and a real key that starts with "/" connects
    await bot.say(ALICE, "/connect kraken")
    await send_secret(bot, ALICE, creds["apiKey"])
    await send_secret(bot, ALICE, creds["secret"])
    final = await bot.api.wait_for(
        "sendMessage", lambda r: "✅" in str(r.params.get("text")), timeout=20, since=0
    )
    assert "connected" in final.params["text"]


async def test_withdrawal_key_refused(bot, exchanges):
    emu = exchanges["coinbase"]
    creds = emu.credentials(emu.add_account(can_withdraw=True))
    await bot.say(ALICE, "/start")
    await bot.say(ALICE, "/connect coinbase")
    await send_secret(bot, ALICE, creds["apiKey"])
    await send_secret(bot, ALICE, creds["secret"])
    final = await bot.api.wait_for(
        "sendMessage",
        lambda r: "was not connected" in str(r.params.get("text")),
        timeout=20,
        since=0,
    )
    assert "can withdraw" in final.params["text"]
    assert await credentials.get(db_of(bot), ALICE) is None


async def test_unknown_and_typed_exchange_ids(bot):
    """At the exchange step anything but an exact exchange id is deleted, never echoed
    (it may be a key pasted one step too early)."""
    await bot.say(ALICE, "/start")
    await bot.say(ALICE, "/connect")
    for typed in ("notanexchange", "<b>x</b>" * 100, "Zm9vYmFyYmF6", "kraken please"):
        since = bot.api.mark()
        message_id = bot.api.user_message(ALICE, typed)
        answer = await bot.next(ALICE, since=since)
        assert answer.params["text"] == NOT_AN_EXCHANGE
        deleted = [r for r in bot.api.requests[since:] if r.method == "deleteMessage"]
        assert [int(r.params["message_id"]) for r in deleted] == [message_id]
        sent = [json.dumps(r.params) for r in bot.api.requests[since:]]
        assert not any(typed in p or typed[:8] in p for p in sent if "deleteMessage" not in p)
    # an exact id of an exchange whose keys are not accepted: the service says why
    assert "Pick another exchange" in await bot.say(ALICE, " OKX ")
    assert "(1/2)" in await bot.say(ALICE, " KRAKEN ")  # strip + lower: an exact id
    assert "Cancelled" in await bot.say(ALICE, "/cancel")


async def test_delete_failure_tells_user_to_rotate_and_keeps_nothing(bot, exchanges):
    await bot.say(ALICE, "/start")
    await bot.say(ALICE, "/connect kraken")
    bot.api.fail_delete(ALICE)
    since = bot.api.mark()
    bot.api.user_message(ALICE, "SOMEKEYVALUE1234567890")
    warning = await bot.next(ALICE, since=since)
    assert "could not delete" in warning.params["text"] and "rotate" in warning.params["text"]
    assert "connect" not in bot.app.user_data[ALICE]  # the conversation ended
    assert await credentials.get(db_of(bot), ALICE) is None
    # the next text is not taken for a credential any more
    assert "commands only" in await bot.say(ALICE, "just chatting")


async def test_connect_in_group_refused_and_deleted(bot):
    await bot.say(ALICE, "/start")
    since = bot.api.mark()
    bot.api.user_message(ALICE, "/connect kraken KEY SECRET", chat_type="group", chat_id=-77)
    refusal = await bot.next(-77, since=since)
    assert "private chat" in refusal.params["text"] and "revoke" in refusal.params["text"]
    assert any(r.method == "deleteMessage" for r in bot.api.requests[since:])
    actions = [a.action for a in await audit.for_user(db_of(bot), ALICE)]
    assert "credentials.group_attempt" in actions


async def test_cancel_drops_the_sealed_secret(bot):
    await bot.say(ALICE, "/start")
    await bot.say(ALICE, "/connect kraken")
    await send_secret(bot, ALICE, "APIKEY-PARTIAL-123456")
    assert "Cancelled" in await bot.say(ALICE, "/cancel")
    assert "connect" not in bot.app.user_data[ALICE]
    assert await credentials.get(db_of(bot), ALICE) is None


async def test_disconnect_and_viewer(bot, exchanges):
    await bot.say(ALICE, "/start")
    assert "no exchange connected" in await bot.say(ALICE, "/disconnect")
    emu = exchanges["kraken"]
    creds = emu.credentials(emu.add_account())
    await bot.say(ALICE, "/connect kraken")
    await send_secret(bot, ALICE, creds["apiKey"])
    await send_secret(bot, ALICE, creds["secret"])
    await bot.api.wait_for(
        "sendMessage", lambda r: "✅" in str(r.params.get("text")), timeout=20, since=0
    )
    question = await bot.ask(ALICE, "/disconnect")
    assert "Disconnect your exchange?" in question.params["text"]
    assert "kraken" in question.params["text"]
    no = await tap(bot, ALICE, question, "No")
    assert "keys stay connected" in no.params["text"]
    assert await credentials.get(db_of(bot), ALICE) is not None
    question = await bot.ask(ALICE, "/disconnect")
    assert "erased" in (await tap(bot, ALICE, question, "Yes")).params["text"]
    assert await credentials.get(db_of(bot), ALICE) is None


async def test_second_user_does_not_see_first_users_connection(bot, exchanges):
    await bot.say(ALICE, "/start")
    await bot.say(BOB, "/start")
    await bot.say(ALICE, "/connect kraken")
    # BOB's messages are not part of ALICE's conversation
    assert "commands only" in await bot.say(BOB, "BOBS-TEXT-NOT-A-KEY-0000")
    assert "connect" not in bot.app.user_data.get(BOB, {})


async def test_menu_follows_connection_state(bot, exchanges):
    def last_menu():
        menus = [
            r
            for r in bot.api.requests
            if r.method == "setMyCommands" and str(ALICE) in str(r.params.get("scope"))
        ]
        return [c["command"] for c in menus[-1].params["commands"]]

    await bot.say(ALICE, "/start")
    assert "connect" in last_menu() and "disconnect" not in last_menu()
    emu = exchanges["kraken"]
    creds = emu.credentials(emu.add_account())
    await bot.say(ALICE, "/connect kraken")
    await send_secret(bot, ALICE, creds["apiKey"])
    await send_secret(bot, ALICE, creds["secret"])
    await bot.api.wait_for(
        "sendMessage", lambda r: "✅" in str(r.params.get("text")), timeout=20, since=0
    )
    await bot.api.wait_for("setMyCommands", lambda r: "disconnect" in str(r.params), since=0)
    assert "disconnect" in last_menu()
    await tap(bot, ALICE, await bot.ask(ALICE, "/disconnect"), "Yes")
    await bot.settle()
    assert "disconnect" not in last_menu()


async def test_prompt_shows_the_servers_ip_for_the_keys_allow_list(data_dir):
    harness = await start_bot(data_dir, NIJA_SERVER_IP="203.0.113.7")
    try:
        await harness.say(ALICE, "/start")
        prompt = await harness.say(ALICE, "/connect kraken")
        assert "(1/2)" in prompt and "<code>203.0.113.7</code>" in prompt
    finally:
        await stop_bot(harness)


async def test_an_exchange_without_a_guide_gets_the_generic_one(data_dir):
    harness = await start_bot(data_dir, NIJA_ALLOW_EXCHANGES_WITHOUT_WITHDRAW_CHECK="true")
    try:
        await harness.say(ALICE, "/start")
        prompt = await harness.say(ALICE, "/connect binance")
        assert "(1/2)" in prompt and "<b>no withdrawals</b> and no transfers" in prompt
    finally:
        await stop_bot(harness)
