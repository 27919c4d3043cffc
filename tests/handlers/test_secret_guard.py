"""No secret left in any chat (issue 11, point 5): the secret guard (handler group -2),
/connect's deletion-first rules, its own step timeout and its attempt limit. Real PTB
against the fake Bot API; the key-like values are random test strings, not credentials.
"""

from __future__ import annotations

import json

from nija_tg.handlers import connect
from nija_tg.handlers.secret_guard import STATE_KEY
from nija_tg.messages import connect as texts
from nija_tg.messages.connect import PASTED_SECRET, PASTED_SECRET_NOT_DELETED
from nija_tg.storage import credentials, users
from tests.handlers.harness import ADMIN_ID

ALICE, BOB, STRANGER = 6001, 6002, 6003
KEY = "Z4VJmQNuf7NqZXWwWQ8bKRnwc0KRq/AwcZOAPlIFQ4Z97RuuAtpMD9B4"
SECRET = "SDpQGMKkYsma/OhwQ7mX3VkKR36PBlhmkNMw5PpINJMRuGSrNsLk7eXMFMGX6/wzfZZ+EHZm5R/dGnMpnwzVAA=="
PEM = (
    "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBtestTESTtestTESTtestTESTtestTESTtestoAoGCCqGSM49\n"
    "-----END EC PRIVATE KEY-----"
)
PIECES = (KEY[:8], KEY[-8:], SECRET[:8], SECRET[-10:-2], "MHcCAQEE")


def db_of(bot):
    return bot.app.bot_data["runtime"].db


def after(bot, since: int) -> list:
    return [r for r in bot.api.requests[since:] if r.method != "getUpdates"]


def assert_no_echo(bot, since: int) -> None:
    for r in bot.api.requests[since:]:
        if r.method == "deleteMessage":
            continue
        payload = json.dumps(r.params, ensure_ascii=False)
        assert not any(piece in payload for piece in PIECES), (r.method, payload[:200])


async def send_and_wait(bot, user_id: int, text: str, **who):
    """Send ``text``; return (message id, the bot's next message to that chat, since)."""
    since = bot.api.mark()
    message_id = bot.api.user_message(user_id, text, **who)
    answer = await bot.next(who.get("chat_id", user_id), since=since)
    return message_id, answer, since


async def which_exchange(bot, since: int) -> None:
    await bot.api.wait_for(
        "sendMessage", lambda r: r.params.get("text") == texts.WHICH_EXCHANGE, since=since
    )


def deleted_ids(bot, since: int) -> list[int]:
    return [int(r.params["message_id"]) for r in after(bot, since) if r.method == "deleteMessage"]


# --- outside /connect -----------------------------------------------------------------


async def test_pasted_key_is_deleted_before_any_database_work(bot):
    """Plain text, several words, a PEM block, a leading "/": deleted first, the sender
    told to revoke, nothing echoed; the gatekeeper (which marks a user reachable in the
    database) never ran for it."""
    await bot.say(ALICE, "/start")
    async with db_of(bot).transaction() as tx:
        await users.set_reachable(tx, ALICE, False)
    for text in (KEY, f"my key is {KEY} and {SECRET} ok", PEM, "/" + SECRET):
        message_id, answer, since = await send_and_wait(bot, ALICE, text)
        assert after(bot, since)[0].method == "deleteMessage"
        assert deleted_ids(bot, since) == [message_id]
        assert answer.params["text"] == PASTED_SECRET and "Revoke that key" in PASTED_SECRET
        assert_no_echo(bot, since)
    assert not (await users.get_user(db_of(bot), ALICE)).reachable  # gatekeeper skipped


async def test_pasted_key_in_a_group_and_from_a_stranger(bot):
    await bot.say(ALICE, "/start")
    message_id, answer, since = await send_and_wait(
        bot, ALICE, f"here {KEY}", chat_type="group", chat_id=-6100
    )
    assert deleted_ids(bot, since) == [message_id] and answer.params["text"] == PASTED_SECRET
    assert_no_echo(bot, since)
    message_id, answer, since = await send_and_wait(bot, STRANGER, SECRET)
    assert deleted_ids(bot, since) == [message_id]
    assert answer.params["text"] == PASTED_SECRET  # not "please /start first"
    assert await bot.services.users.get(STRANGER) is None


async def test_undeletable_pasted_key_tells_the_sender_to_delete_and_revoke(bot):
    bot.api.fail_delete(-6200)
    _message_id, answer, since = await send_and_wait(
        bot, ALICE, KEY, chat_type="supergroup", chat_id=-6200
    )
    assert answer.params["text"] == PASTED_SECRET_NOT_DELETED
    assert "revoke" in answer.params["text"]
    assert_no_echo(bot, since)


async def test_ordinary_commands_pass_the_guard(bot):
    await bot.say(ALICE, "/start")
    await bot.say(ADMIN_ID, "/start")
    for user_id, text in (
        (ALICE, "/set max_position_usd 250"),
        (ALICE, "/pairs add SOL"),
        (ALICE, "/trades 20"),
        (ALICE, "/frobnicate now"),
        (ADMIN_ID, f"/grant {ALICE} {ADMIN_ID}"),
        (ADMIN_ID, "/user 12345678"),
    ):
        _message_id, answer, since = await send_and_wait(bot, user_id, text)
        assert answer.params["text"] != PASTED_SECRET, text
        assert deleted_ids(bot, since) == [], text


async def test_unknown_commands_echo_only_a_well_formed_command_word(bot):
    await bot.say(ALICE, "/start")
    assert "don't know the command /frobnicate." in await bot.say(ALICE, "/frobnicate x y")
    _message_id, answer, since = await send_and_wait(bot, ALICE, "/AbCdE12345fGhIj")
    assert answer.params["text"] == "I don't know that command. Send /help for the list."
    assert all("AbCdE" not in json.dumps(r.params) for r in bot.api.requests[since:])


# --- /connect -------------------------------------------------------------------------


async def test_connect_with_arguments_deletes_first_and_never_echoes(bot):
    await bot.say(ALICE, "/start")
    # a key as the exchange: deleted, a fixed text, then the buttons
    message_id, answer, since = await send_and_wait(bot, ALICE, f"/connect {KEY}")
    assert after(bot, since)[0].method == "deleteMessage"
    assert deleted_ids(bot, since) == [message_id]
    assert answer.params["text"] == texts.NOT_AN_EXCHANGE
    await which_exchange(bot, since)
    assert_no_echo(bot, since)
    # key and secret after the command: deleted first, nothing of them reposted
    message_id, answer, since = await send_and_wait(bot, ALICE, f"/connect {KEY} {SECRET}")
    assert after(bot, since)[0].method == "deleteMessage"
    assert deleted_ids(bot, since) == [message_id]
    assert answer.params["text"] == texts.ONE_PER_MESSAGE
    await which_exchange(bot, since)
    assert_no_echo(bot, since)
    # an exact exchange id: deleted too, then the first credential is asked for
    message_id, answer, since = await send_and_wait(bot, ALICE, "/connect KRAKEN")
    assert deleted_ids(bot, since) == [message_id] and "(1/2)" in answer.params["text"]


async def test_connect_arguments_that_cannot_be_deleted_keep_nothing(bot):
    await bot.say(ALICE, "/start")
    bot.api.fail_delete(ALICE)
    _message_id, answer, since = await send_and_wait(bot, ALICE, f"/connect kraken {KEY}")
    assert answer.params["text"] == texts.DELETE_FAILED
    assert STATE_KEY not in bot.app.user_data[ALICE]
    assert "commands only" in await bot.say(ALICE, "hello")  # no conversation
    assert_no_echo(bot, since)


async def test_key_at_the_exchange_step_is_deleted_with_the_fixed_text(bot):
    await bot.say(ALICE, "/start")
    await bot.say(ALICE, "/connect")
    for text in (KEY, "/" + SECRET, "Zm9vYmFy"):
        message_id, answer, since = await send_and_wait(bot, ALICE, text)
        assert after(bot, since)[0].method == "deleteMessage"
        assert deleted_ids(bot, since) == [message_id]
        assert answer.params["text"] == texts.NOT_AN_EXCHANGE
        assert_no_echo(bot, since)
    assert "(1/2)" in await bot.say(ALICE, "kraken")  # still at the exchange step


async def test_key_at_the_credential_step_is_the_credential(bot):
    """The guard lets the conversation take it: deleted once, sealed, the next step
    asked; our own commands that carry a key are the guard's again."""
    await bot.say(ALICE, "/start")
    await bot.say(ALICE, "/connect kraken")
    message_id, answer, since = await send_and_wait(bot, ALICE, KEY)
    assert after(bot, since)[0].method == "deleteMessage"
    assert deleted_ids(bot, since) == [message_id] and "(2/2)" in answer.params["text"]
    message_id, answer, since = await send_and_wait(bot, ALICE, f"/set max_position_usd {KEY}")
    assert deleted_ids(bot, since) == [message_id] and answer.params["text"] == PASTED_SECRET
    message_id, answer, since = await send_and_wait(bot, ALICE, SECRET)
    assert deleted_ids(bot, since) == [message_id]
    assert answer.params["text"] == texts.CHECKING
    assert STATE_KEY not in bot.app.user_data[ALICE]
    assert_no_echo(bot, 0)


async def test_photo_at_the_credential_step_is_deleted(bot):
    await bot.say(ALICE, "/start")
    await bot.say(ALICE, "/connect kraken")
    since = bot.api.mark()
    message_id = bot.api.user_photo(ALICE, caption="my key")
    answer = await bot.next(ALICE, since=since)
    assert deleted_ids(bot, since) == [message_id]
    assert answer.params["text"] == texts.PLAIN_TEXT_PLEASE


# --- the step timeout -----------------------------------------------------------------


def test_ptb_conversation_timeout_is_not_used():
    assert connect.conversation().conversation_timeout is None


async def test_step_times_out_with_a_job_that_holds_only_ids(bot, monkeypatch):
    monkeypatch.setattr(connect, "TIMEOUT_SECONDS", 1.5)
    await bot.say(ALICE, "/start")
    await bot.say(ALICE, "/connect kraken")
    since = bot.api.mark()
    await bot.say(ALICE, KEY)  # the first credential: sealed into the draft
    jobs = [j for j in bot.app.job_queue.jobs() if j.name == f"connect-timeout:{ALICE}"]
    assert len(jobs) == 1
    assert all(isinstance(v, int) for v in jobs[0].data)  # ids only: no Update, no text
    timed_out = await bot.api.wait_for(
        "sendMessage", lambda r: r.params.get("text") == texts.TIMED_OUT, timeout=10, since=since
    )
    assert timed_out.chat_id == ALICE
    assert bot.app.user_data[ALICE][STATE_KEY] == {"step": "credential", "expired": True}
    # a late secret is still deleted; nothing is kept and the conversation ends
    message_id, answer, since = await send_and_wait(bot, ALICE, SECRET)
    assert deleted_ids(bot, since) == [message_id]
    assert answer.params["text"] == texts.EXPIRED_DELETED
    assert STATE_KEY not in bot.app.user_data[ALICE]
    assert await credentials.get(db_of(bot), ALICE) is None
    assert "commands only" in await bot.say(ALICE, "hello")
    assert_no_echo(bot, 0)


async def test_message_after_the_timeout_is_expired_even_before_the_job_ran(bot):
    await bot.say(ALICE, "/start")
    await bot.say(ALICE, "/connect kraken")
    bot.app.user_data[ALICE][STATE_KEY]["started"] -= connect.TIMEOUT_SECONDS + 1
    message_id, answer, since = await send_and_wait(bot, ALICE, KEY)
    assert deleted_ids(bot, since) == [message_id]
    assert answer.params["text"] == texts.EXPIRED_DELETED
    assert STATE_KEY not in bot.app.user_data[ALICE]
    assert not [j for j in bot.app.job_queue.jobs() if j.name == f"connect-timeout:{ALICE}"]


# --- the attempt limit ----------------------------------------------------------------


async def test_too_many_connect_attempts(bot):
    """Five submissions in ten minutes (counted by the service), then /connect refuses
    and does nothing else."""
    await bot.say(ALICE, "/start")
    for n in range(5):
        await bot.say(ALICE, "/connect kraken")
        await bot.say(ALICE, f"{KEY[:-2]}{n:02d}")
        assert await bot.say(ALICE, f"{SECRET[:-4]}{n:02d}==") == texts.CHECKING
    since = bot.api.mark()
    assert await bot.say(ALICE, "/connect") == texts.TOO_MANY_ATTEMPTS
    await bot.settle(1.5)
    assert bot.api.texts(ALICE, since=since) == [texts.TOO_MANY_ATTEMPTS]
    assert STATE_KEY not in bot.app.user_data[ALICE]
    assert "commands only" in await bot.say(ALICE, "kraken")
