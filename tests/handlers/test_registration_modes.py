"""NIJA_REGISTRATION through the real python-telegram-bot and the fake Bot API: open
(anyone), approval (admins approve or reject each newcomer with a button; the newcomer
is told), closed (nobody new)."""

from __future__ import annotations

import pytest

from nija_tg.storage import audit, users
from tests.handlers.harness import ADMIN_ID, start_bot, stop_bot

NEWCOMER, OTHER = 4001, 4002
SECOND_ADMIN = 4999


@pytest.fixture
async def approval(data_dir):
    bot = await start_bot(
        data_dir, NIJA_REGISTRATION="approval", NIJA_ADMIN_IDS=f"{ADMIN_ID},{SECOND_ADMIN}"
    )
    try:
        await bot.say(ADMIN_ID, "/start")
        await bot.say(SECOND_ADMIN, "/start")
        yield bot
    finally:
        await stop_bot(bot)


def _db(bot):
    return bot.services.admission.db


async def _request_to(bot, admin_id: int, since: int):
    record = await bot.next(admin_id, since=since)
    assert "Join request" in record.params["text"]
    buttons = record.params["reply_markup"]["inline_keyboard"][0]
    return record.result["message_id"], {b["text"]: b["callback_data"] for b in buttons}


async def test_approval_lets_a_newcomer_in_when_an_admin_approves(approval):
    bot = approval
    since = bot.api.mark()
    text = await bot.say(NEWCOMER, "/start", first_name="Nia", username="nia")
    assert "your request went to the admins" in text
    assert await users.get_user(_db(bot), NEWCOMER) is None  # not registered yet
    message_id, buttons = await _request_to(bot, ADMIN_ID, since)
    assert "Nia @nia (id <code>4001</code>)" in bot.texts(ADMIN_ID, since=since)[-1]
    other_id, other_buttons = await _request_to(bot, SECOND_ADMIN, since)
    # still waiting: asking again tells them so and does not ask the admins again
    assert "still waiting" in await bot.say(NEWCOMER, "/start")
    assert "That command" not in await bot.say(NEWCOMER, "/help")
    assert "Please send /start" in await bot.say(NEWCOMER, "/status")

    told = bot.api.mark()
    await bot.press(ADMIN_ID, buttons["✅ Approve"], message_id, method="editMessageText")
    welcome = await bot.next(NEWCOMER, since=told)
    assert "Welcome to <b>nija</b>, Nia!" in welcome.params["text"]
    row = await users.get_user(_db(bot), NEWCOMER)
    assert row is not None and row.role.value == "trader"
    assert len([t for t in bot.texts(ADMIN_ID, since=since) if "Join request" in t]) == 1
    # the other admin's button now says who decided, and changes nothing
    late = bot.api.mark()
    bot.api.user_callback(SECOND_ADMIN, other_buttons["❌ Reject"], message_id=other_id)
    answer = await bot.api.wait_for("answerCallbackQuery", since=late)
    assert f"Already approved by {ADMIN_ID}" in str(answer.params)
    assert (await users.get_user(_db(bot), NEWCOMER)) is not None
    actions = [r.action for r in await audit.recent(_db(bot), 50)]
    assert "registration.request" in actions and "registration.approve" in actions
    assert "Dashboard" in await bot.say(NEWCOMER, "/start")  # in now


async def test_approval_rejected_newcomer_is_told_and_stays_out(approval):
    bot = approval
    since = bot.api.mark()
    await bot.say(OTHER, "/start", first_name="Oz")
    message_id, buttons = await _request_to(bot, ADMIN_ID, since)
    told = bot.api.mark()
    await bot.press(ADMIN_ID, buttons["❌ Reject"], message_id, method="editMessageText")
    assert "declined" in (await bot.next(OTHER, since=told)).params["text"]
    assert await users.get_user(_db(bot), OTHER) is None
    again = bot.api.mark()
    assert "declined" in await bot.say(OTHER, "/start")
    assert [t for t in bot.texts(ADMIN_ID, since=again) if "Join request" in t] == []


async def test_only_admins_decide(approval):
    bot = approval
    since = bot.api.mark()
    await bot.say(NEWCOMER, "/start")
    message_id, buttons = await _request_to(bot, ADMIN_ID, since)
    await _request_to(bot, SECOND_ADMIN, since)
    # someone else pressing the admin's button (as in a shared chat) decides nothing:
    # a stranger, then the newcomer themself once let in as a trader by the other admin
    forged = bot.api.mark()
    bot.api.user_callback(OTHER, buttons["✅ Approve"], message_id=message_id, chat_id=ADMIN_ID)
    await bot.api.wait_for("answerCallbackQuery", since=forged)
    assert await users.get_user(_db(bot), NEWCOMER) is None
    asked = bot.api.mark()
    await bot.say(OTHER, "/start")
    other_id, other_buttons = await _request_to(bot, SECOND_ADMIN, asked)
    await bot.press(SECOND_ADMIN, other_buttons["✅ Approve"], other_id, method="editMessageText")
    trader = bot.api.mark()
    bot.api.user_callback(OTHER, buttons["✅ Approve"], message_id=message_id, chat_id=ADMIN_ID)
    answer = await bot.api.wait_for("answerCallbackQuery", since=trader)
    assert "for admins" in str(answer.params)
    assert await users.get_user(_db(bot), NEWCOMER) is None


async def test_closed_takes_nobody_new_but_keeps_admins(data_dir):
    bot = await start_bot(data_dir, NIJA_REGISTRATION="closed")
    try:
        assert "Welcome" in await bot.say(ADMIN_ID, "/start")  # configured admin
        assert "not taking new users" in await bot.say(NEWCOMER, "/start")
        assert await users.get_user(_db(bot), NEWCOMER) is None
    finally:
        await stop_bot(bot)


async def test_open_is_the_default(bot):
    assert "Welcome" in await bot.say(NEWCOMER, "/start")
