"""Approval mode never strands a newcomer (through the real python-telegram-bot and the
fake Bot API): a join request nobody could be asked about (a fresh install whose admin
never opened the bot, a failed send, a crash between the commit and the send) reaches
the admins at their next /start or /pending with its buttons, and the newcomer is told
the truth meanwhile; their repeated /start asks again when no admin saw the request for
ten minutes."""

from __future__ import annotations

import pytest

from nija_tg.services.admission import REASK_AFTER
from nija_tg.storage import users
from tests.handlers.harness import ADMIN_ID, start_bot, stop_bot

NEWCOMER, OTHER = 4001, 4002
SECOND_ADMIN = 4999
APPROVE, REJECT = "✅ Approve", "❌ Reject"


@pytest.fixture
async def fresh(data_dir):
    """Approval mode on a fresh install: the configured admin never sent /start."""
    bot = await start_bot(data_dir, NIJA_REGISTRATION="approval")
    try:
        yield bot
    finally:
        await stop_bot(bot)


def _db(bot):
    return bot.services.admission.db


def _requests(bot, chat_id: int, since: int) -> list:
    """The join requests with buttons sent to ``chat_id`` since ``since``."""
    return [
        r
        for r in bot.api.sent_to(chat_id, since=since)
        if r.method == "sendMessage"
        and "Join request" in str(r.params.get("text", ""))
        and r.params.get("reply_markup")
    ]


def _buttons(record) -> dict[str, str]:
    rows = record.params["reply_markup"]["inline_keyboard"]
    return {b["text"]: b["callback_data"] for row in rows for b in row}


async def _wait_requests(bot, chat_id: int, since: int, n: int) -> list:
    for _ in range(200):
        found = _requests(bot, chat_id, since)
        if len(found) >= n:
            return found
        await bot.settle(0.05)
    raise AssertionError(f"{n} join request(s) to {chat_id} expected: {bot.texts(chat_id, since)}")


async def test_fresh_install_the_first_admin_start_shows_the_request_and_approves_it(fresh):
    bot = fresh
    text = await bot.say(NEWCOMER, "/start", first_name="Nia", username="nia")
    assert "went to the admins" not in text  # nobody was asked: no admin has a chat yet
    assert "recorded" in text and "when they next open the bot" in text
    again = await bot.say(NEWCOMER, "/start", first_name="Nia", username="nia")
    assert "no admin could be reached yet" in again

    since = bot.api.mark()
    assert "Welcome" in await bot.say(ADMIN_ID, "/start")  # the admin's first /start
    (request,) = await _wait_requests(bot, ADMIN_ID, since, 1)
    assert "Nia @nia (id <code>4001</code>)" in request.params["text"]
    assert any("Join requests waiting: <b>1</b>" in t for t in bot.texts(ADMIN_ID, since))

    told = bot.api.mark()
    message_id = request.result["message_id"]
    await bot.press(ADMIN_ID, _buttons(request)[APPROVE], message_id, method="editMessageText")
    welcome = await bot.next(NEWCOMER, since=told)
    assert "Welcome to <b>nija</b>, Nia!" in welcome.params["text"]
    assert await users.get_user(_db(bot), NEWCOMER) is not None
    # decided: no longer pending anywhere
    assert "No join requests are waiting" in await bot.say(ADMIN_ID, "/pending")


async def test_pending_lists_every_waiting_request_with_buttons(fresh):
    bot = fresh
    assert "Welcome" in await bot.say(ADMIN_ID, "/start")
    assert "No join requests are waiting" in await bot.say(ADMIN_ID, "/pending")
    await bot.say(NEWCOMER, "/start", first_name="Nia")
    await bot.say(OTHER, "/start", first_name="Oz")
    since = bot.api.mark()
    header = await bot.say(ADMIN_ID, "/pending")
    assert "Join requests waiting: <b>2</b>" in header
    first, second = await _wait_requests(bot, ADMIN_ID, since, 2)
    assert "Nia" in first.params["text"] and "Oz" in second.params["text"]
    assert set(_buttons(first)) == {APPROVE, REJECT}

    told = bot.api.mark()
    await bot.press(
        ADMIN_ID, _buttons(second)[REJECT], second.result["message_id"], method="editMessageText"
    )
    assert "declined" in (await bot.next(OTHER, since=told)).params["text"]
    since = bot.api.mark()
    assert "Join requests waiting: <b>1</b>" in await bot.say(ADMIN_ID, "/pending")
    (left,) = await _wait_requests(bot, ADMIN_ID, since, 1)
    assert "Nia" in left.params["text"]
    # admins only: a trader's /pending is refused and shows nothing
    approved = bot.api.mark()
    await bot.press(
        ADMIN_ID, _buttons(left)[APPROVE], left.result["message_id"], method="editMessageText"
    )
    assert "Welcome" in (await bot.next(NEWCOMER, since=approved)).params["text"]
    trader = bot.api.mark()
    assert "for admins" in await bot.say(NEWCOMER, "/pending")
    assert _requests(bot, NEWCOMER, trader) == []


async def test_a_failed_send_is_asked_again_at_the_newcomers_next_start(fresh):
    bot = fresh
    assert "Welcome" in await bot.say(ADMIN_ID, "/start")
    bot.api.block(ADMIN_ID)  # the send to the only admin fails
    text = await bot.say(NEWCOMER, "/start", first_name="Nia")
    assert "went to the admins" not in text and "when they next open the bot" in text
    bot.api.unblock(ADMIN_ID)
    since = bot.api.mark()
    assert "reminded the admins" in await bot.say(NEWCOMER, "/start", first_name="Nia")
    (request,) = await _wait_requests(bot, ADMIN_ID, since, 1)
    assert "Nia" in request.params["text"]
    # asked now: the next /start within ten minutes does not ask again
    quiet = bot.api.mark()
    assert "still waiting" in await bot.say(NEWCOMER, "/start")
    await bot.settle()
    assert _requests(bot, ADMIN_ID, quiet) == []


async def test_a_request_committed_but_never_sent_reaches_the_admins(fresh):
    bot = fresh
    assert "Welcome" in await bot.say(ADMIN_ID, "/start")
    # the bot stopped between the request's commit and the send to the admins
    admitted = await bot.services.admission.start(NEWCOMER, NEWCOMER, "nia", "Nia")
    assert admitted.outcome.value == "asked"
    since = bot.api.mark()
    await bot.say(ADMIN_ID, "/start")
    (request,) = await _wait_requests(bot, ADMIN_ID, since, 1)
    assert "Nia @nia" in request.params["text"]
    # and the newcomer's /start asks the admins too (none was sent it by the newcomer's start)
    second = await bot.services.admission.start(OTHER, OTHER, None, "Oz")
    assert second.outcome.value == "asked"
    since = bot.api.mark()
    assert "reminded the admins" in await bot.say(OTHER, "/start", first_name="Oz")
    (request,) = await _wait_requests(bot, ADMIN_ID, since, 1)
    assert "Oz" in request.params["text"]


async def test_the_newcomer_asks_again_only_after_ten_quiet_minutes(fresh):
    bot = fresh
    now = [1_000_000.0]
    bot.services.admission.clock = lambda: now[0]
    assert "Welcome" in await bot.say(ADMIN_ID, "/start")
    since = bot.api.mark()
    assert "went to the admins" in await bot.say(NEWCOMER, "/start", first_name="Nia")
    await _wait_requests(bot, ADMIN_ID, since, 1)
    now[0] += REASK_AFTER - 1
    quiet = bot.api.mark()
    assert "still waiting" in await bot.say(NEWCOMER, "/start")
    await bot.settle()
    assert _requests(bot, ADMIN_ID, quiet) == []
    now[0] += 1
    again = bot.api.mark()
    assert "reminded the admins" in await bot.say(NEWCOMER, "/start", first_name="Nia")
    await _wait_requests(bot, ADMIN_ID, again, 1)


async def test_a_second_admin_pressing_a_decided_request_is_told_who_decided(data_dir):
    bot = await start_bot(
        data_dir, NIJA_REGISTRATION="approval", NIJA_ADMIN_IDS=f"{ADMIN_ID},{SECOND_ADMIN}"
    )
    try:
        await bot.say(ADMIN_ID, "/start", first_name="Ada")
        await bot.say(SECOND_ADMIN, "/start", first_name="Bo")
        since = bot.api.mark()
        await bot.say(NEWCOMER, "/start", first_name="Nia")
        (mine,) = await _wait_requests(bot, ADMIN_ID, since, 1)
        (theirs,) = await _wait_requests(bot, SECOND_ADMIN, since, 1)
        await bot.press(
            ADMIN_ID, _buttons(mine)[APPROVE], mine.result["message_id"], method="editMessageText"
        )
        late = bot.api.mark()
        edited = await bot.press(
            SECOND_ADMIN,
            _buttons(theirs)[REJECT],
            theirs.result["message_id"],
            method="editMessageText",
        )
        assert "already approved by admin Ada (id <code>1000</code>)" in edited.params["text"]
        assert not edited.params.get("reply_markup")  # the buttons are gone
        answer = await bot.api.wait_for("answerCallbackQuery", since=late)
        assert f"Already approved by {ADMIN_ID}" in str(answer.params)
        assert await users.get_user(_db(bot), NEWCOMER) is not None
    finally:
        await stop_bot(bot)
