"""The fake Telegram Bot API driven by the real python-telegram-bot."""

from __future__ import annotations

import asyncio
import datetime as dtm
import html
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, RetryAfter
from telegram.ext import Application, CommandHandler, ContextTypes
from telegram.helpers import escape_markdown

from tests.fakes.telegram_api import FakeBotAPI
from tests.fakes.telegram_api_markup import parse_html, parse_markdown_v2
from tests.fakes.telegram_api_wire import ApiError, bot_command_entities

TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
REPO = Path(__file__).resolve().parents[2]


def make_bot(api: FakeBotAPI, token: str | None = None) -> Bot:
    return Bot(token or api.token, base_url=api.base_url, base_file_url=api.base_file_url)


@pytest.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(token=TOKEN) as server:
        yield server
    assert server.server_errors == []


@pytest.fixture
async def bot(api: FakeBotAPI) -> AsyncIterator[Bot]:
    async with make_bot(api) as b:
        yield b


# -- identity and wire format ----------------------------------------------------------
async def test_get_me_and_base_url_join(api: FakeBotAPI, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == 123456 and me.is_bot and me.username == "fake_test_bot"
    ts, method, params, chat_id = api.requests[-1]
    assert (method, params, chat_id) == ("getMe", {}, None) and ts > 0
    assert api.base_url.endswith("/bot")


async def test_wrong_token_unknown_method_and_generic_method(api: FakeBotAPI, bot: Bot) -> None:
    with pytest.raises(InvalidToken):
        async with make_bot(api, "999:WRONG") as wrong:
            await wrong.get_me()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{api.base_url}{TOKEN}/noSuchMethod") as resp:
            assert resp.status == 404
            assert await resp.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        async with http.get(f"{api.base_url}999:WRONG/getMe") as resp:
            assert resp.status == 401
            assert (await resp.json())["description"] == "Unauthorized"
    assert await bot.set_my_description("a bot") is True
    assert api.requests[-1].method == "setMyDescription"
    assert api.requests[-1].params == {"description": "a bot"}


async def test_json_and_form_bodies_decode_alike(api: FakeBotAPI) -> None:
    markup = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    url = f"{api.base_url}{TOKEN}/sendMessage"
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json={"chat_id": 5, "text": "a", "reply_markup": markup}) as r:
            as_json = await r.json()
        form = {"chat_id": "5", "text": "a", "reply_markup": json.dumps(markup)}
        async with http.post(url, data=form) as r:
            as_form = await r.json()
    for body in (as_json, as_form):
        assert body["ok"] is True
        assert body["result"]["reply_markup"] == markup
        assert body["result"]["chat"] == {"id": 5, "type": "private", "first_name": "Ann"}
    assert as_form["result"]["message_id"] == as_json["result"]["message_id"] + 1
    assert [r.params["chat_id"] for r in api.sent_to(5)] == [5, 5]


# -- updates -------------------------------------------------------------------------------
async def test_get_updates_offset_confirmation_and_allowed_updates(
    api: FakeBotAPI, bot: Bot
) -> None:
    api.user_message(7, "hello")
    api.user_message(7, "again")
    first = await bot.get_updates()
    assert [u.message.text for u in first] == ["hello", "again"]
    assert first[1].update_id == first[0].update_id + 1
    assert first[1].message.message_id == first[0].message.message_id + 1
    assert len(await bot.get_updates()) == 2  # not confirmed yet
    assert await bot.get_updates(offset=first[-1].update_id + 1) == ()
    api.user_message(7, "a")
    api.user_message(7, "b")
    last = await bot.get_updates(offset=-1)
    assert [u.message.text for u in last] == ["b"]
    sent = await bot.send_message(
        7,
        "menu",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="x")]]),
    )
    api.user_callback(7, "x", message_id=sent.message_id)
    api.user_message(7, "c")
    got = await bot.get_updates(offset=last[0].update_id + 1, allowed_updates=["message"])
    assert [u.message.text for u in got] == ["c"]  # the callback query was dropped


async def test_long_poll_wakes_on_new_update_and_second_poller_conflicts(
    api: FakeBotAPI, bot: Bot
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)
    api.user_message(8, "late")
    updates = await asyncio.wait_for(poll, 5)
    assert updates[0].message.text == "late"
    offset = updates[0].update_id + 1
    async with make_bot(api) as other_instance:
        older = asyncio.create_task(other_instance.get_updates(offset=offset, timeout=5))
        await asyncio.sleep(0.2)
        assert await bot.get_updates(offset=offset, timeout=0) == ()
        with pytest.raises(Conflict, match="(?i)terminated by other getUpdates"):
            await asyncio.wait_for(older, 5)


async def test_webhook_blocks_get_updates(api: FakeBotAPI, bot: Bot) -> None:
    assert await bot.set_webhook("https://example.org/hook")
    assert (await bot.get_webhook_info()).url == "https://example.org/hook"
    with pytest.raises(Conflict):
        await bot.get_updates()
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert (await bot.get_webhook_info()).url == ""


async def test_application_command_round_trip(api: FakeBotAPI) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_user is not None and update.effective_message is not None
        await update.effective_message.reply_text(f"Hello, {update.effective_user.first_name}!")

    app = (
        Application.builder()
        .token(api.token)
        .base_url(api.base_url)
        .base_file_url(api.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=dtm.timedelta(seconds=1))
        try:
            api.user_message(42, "/start", first_name="Bea")
            reply = await api.wait_for("sendMessage", timeout=5)
            assert reply.chat_id == 42 and reply.params["text"] == "Hello, Bea!"
            api.user_message(43, "/start@other_bot", chat_type="supergroup")
            api.user_message(43, "/start@fake_test_bot", chat_type="supergroup")
            reply = await api.wait_for("sendMessage", timeout=5)
            assert reply.chat_id == -10043
            assert api.texts(-10043) == ["Hello, Ann!"]
        finally:
            await app.updater.stop()
            await app.stop()
    assert {"getMe", "deleteWebhook", "getUpdates"} <= {r.method for r in api.requests}


# -- messages --------------------------------------------------------------------------------
async def test_send_photo_multipart_and_download(api: FakeBotAPI, bot: Bot) -> None:
    data = b"\x89PNG\r\n" + os.urandom(3000)
    msg = await bot.send_photo(11, data, caption="<b>chart</b>", parse_mode=ParseMode.HTML)
    record = api.sent_to(11, "sendPhoto")[0]
    assert record.params["photo"]["size"] == len(data)
    assert record.params["caption"] == "<b>chart</b>"
    assert msg.caption == "chart" and msg.caption_entities[0].type == "bold"
    file = await bot.get_file(msg.photo[-1].file_id)
    assert bytes(await file.download_as_bytearray()) == data
    doc = await bot.send_document(11, b"a,b\n1,2\n", filename="trades.csv")
    assert doc.document.file_name == "trades.csv" and doc.document.file_size == 8


async def test_delete_message_failure_modes(api: FakeBotAPI, bot: Bot) -> None:
    user_msg = api.user_message(12, "my secret key")
    assert await bot.delete_message(12, user_msg) is True
    with pytest.raises(BadRequest, match="(?i)message to delete not found"):
        await bot.delete_message(12, user_msg)
    second = api.user_message(12, "another secret")
    api.fail_delete(12, second)
    with pytest.raises(BadRequest, match="(?i)message can't be deleted"):
        await bot.delete_message(12, second)
    assert api.requests[-1].status == 400


async def test_edit_and_callback_round_trip(api: FakeBotAPI, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("On", callback_data="trade:on")]])
    sent = await bot.send_message(13, "Trading is off", reply_markup=keyboard)
    query_id = api.user_callback(13, "trade:on", message_id=sent.message_id)
    (update,) = await bot.get_updates()
    assert update.callback_query.data == "trade:on"
    assert update.callback_query.message.message_id == sent.message_id
    assert await bot.answer_callback_query(query_id, text="ok") is True
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await bot.answer_callback_query(query_id)
    edited = await bot.edit_message_text("Trading is on", 13, sent.message_id)
    assert edited.text == "Trading is on" and edited.reply_markup is None
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_text("Trading is on", 13, sent.message_id)
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await bot.edit_message_text("x", 13, 9999)
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await bot.edit_message_reply_markup(13, 9999, reply_markup=keyboard)
    with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
        await bot.send_message(
            13,
            "x",
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("b", callback_data="d" * 65)]]
            ),
        )


async def test_user_edit_sticker_photo_and_groups(api: FakeBotAPI, bot: Bot) -> None:
    mid = api.user_message(14, "typo")
    api.user_edit(14, mid, "fixed")
    api.user_sticker(14)
    api.user_photo(14, caption="look")
    api.user_message(15, "hi all", chat_type="group", chat_id=-777, title="Traders")
    updates = await bot.get_updates()
    assert updates[1].edited_message.text == "fixed"
    assert updates[2].message.sticker.emoji == "👍"
    assert updates[3].message.photo[-1].width == 800 and updates[3].message.caption == "look"
    group = updates[4].message.chat
    assert (group.id, group.type, group.title) == (-777, "group", "Traders")


async def test_length_and_parse_errors_seen_as_bad_request(api: FakeBotAPI, bot: Bot) -> None:
    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await bot.send_message(16, "x" * 4097)
    assert (await bot.send_message(16, "x" * 4096)).text == "x" * 4096
    with pytest.raises(BadRequest, match="(?i)can't parse entities: character '\\.' is reserved"):
        await bot.send_message(16, "Price: 1.5 BTC", parse_mode=ParseMode.MARKDOWN_V2)
    ok = await bot.send_message(
        16, escape_markdown("Price: 1.5 BTC (up!)", version=2), parse_mode="MarkdownV2"
    )
    assert ok.text == "Price: 1.5 BTC (up!)"
    with pytest.raises(BadRequest, match="(?i)unsupported start tag"):
        await bot.send_message(16, "balance <script>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="(?i)can't find end tag"):
        await bot.send_message(16, "<b>bold", parse_mode=ParseMode.HTML)
    ok = await bot.send_message(16, html.escape("a <b> & c"), parse_mode=ParseMode.HTML)
    assert ok.text == "a <b> & c"


# -- limits ----------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_per_chat_flood_limit_raises_retry_after_and_records_violations() -> None:
    async with FakeBotAPI(token=TOKEN, enforce_limits=True, retry_after=3) as api:
        async with make_bot(api) as bot:
            await bot.send_message(20, "one")
            with pytest.raises(RetryAfter, match="Retry in 3 seconds"):
                await bot.send_message(20, "two")
            assert len(api.rate_limited) == 1 and api.violations == []
            await bot.send_message(21, "other chat is fine")
            await bot.send_chat_action(20, "typing")  # not a message: not limited
            with pytest.raises(RetryAfter):
                await bot.send_message(20, "too soon")
            assert len(api.violations) == 1 and api.violations[0].chat_id == 20
            assert api.max_rate_per_chat() == 1 and api.max_rate_per_bot() == 2


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_per_bot_flood_limit() -> None:
    async with FakeBotAPI(
        token=TOKEN, enforce_limits=True, per_bot_per_second=2, per_chat_per_second=10
    ) as api:
        async with make_bot(api) as bot:
            await bot.send_message(30, "a")
            await bot.send_message(31, "b")
            with pytest.raises(RetryAfter, match="Retry in 1 seconds"):
                await bot.send_message(32, "c")
            assert api.rate_limited[0].scope == "bot"


async def test_stats_without_enforcement(api: FakeBotAPI, bot: Bot) -> None:
    for i in range(3):
        await bot.send_message(40, f"m{i}")
    assert api.max_rate_per_chat(40) == 3 and api.rate_limited == []


async def test_blocked_user_is_forbidden(api: FakeBotAPI, bot: Bot) -> None:
    api.block(50)
    with pytest.raises(Forbidden, match="(?i)bot was blocked by the user"):
        await bot.send_message(50, "hi")
    api.unblock(50)
    assert (await bot.send_message(50, "hi")).text == "hi"


# -- commands --------------------------------------------------------------------------------
async def test_my_commands_per_scope(api: FakeBotAPI, bot: Bot) -> None:
    from telegram import BotCommand, BotCommandScopeChat

    await bot.set_my_commands([BotCommand("start", "Register")])
    scope = BotCommandScopeChat(60)
    await bot.set_my_commands(
        [BotCommand("users", "All users"), BotCommand("pause", "Pause")],
        scope=scope,
        language_code="en",
    )
    assert [c.command for c in await bot.get_my_commands(scope=scope, language_code="en")] == [
        "users",
        "pause",
    ]
    assert [c.command for c in await bot.get_my_commands()] == ["start"]
    assert api.commands_for({"type": "chat", "chat_id": 60}, "en")[0]["command"] == "users"
    assert api.command_history[-1]["scope"] == {"type": "chat", "chat_id": 60}
    assert await bot.delete_my_commands(scope=scope, language_code="en")
    assert await bot.get_my_commands(scope=scope, language_code="en") == ()
    with pytest.raises(BadRequest, match="(?i)bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Bad-Name", "x")])


# -- parsers without PTB --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("*bold* _it_ __u__ ~s~ ||sp||", "bold it u s sp"),
        ("[link](https://x.org/a\\)b) `c\\`d` ```py\nprint()```", "link c`d print()"),
        ("1\\.5 \\- ok\\!", "1.5 - ok!"),
        (">quoted\nplain", "quoted\nplain"),
    ],
)
def test_markdown_v2_valid(text: str, plain: str) -> None:
    assert parse_markdown_v2(text)[0] == plain


@pytest.mark.parametrize("text", ["1.5", "a-b", "*open", "_x*", "(x)", "a | b", "`code"])
def test_markdown_v2_invalid(text: str) -> None:
    with pytest.raises(ApiError, match="can't parse entities"):
        parse_markdown_v2(text)


@pytest.mark.parametrize(
    "text", ["<b>x", "x</b>", "<b><i>x</b></i>", "<br>", "a < b", "<span>x</span>"]
)
def test_html_invalid(text: str) -> None:
    with pytest.raises(ApiError, match="can't parse entities"):
        parse_html(text)


def test_entity_offsets_are_utf16() -> None:
    plain, entities = parse_html('😀 <b>x</b> <a href="https://t.me">t</a>')
    assert plain == "😀 x t"
    assert entities[0] == {"type": "bold", "offset": 3, "length": 1}
    assert entities[1] == {"type": "text_link", "offset": 5, "length": 1, "url": "https://t.me"}
    assert bot_command_entities("/start@fake_test_bot x /help a/b") == [
        {"type": "bot_command", "offset": 0, "length": 20},
        {"type": "bot_command", "offset": 23, "length": 5},
    ]


# -- subprocess mode with the control API ---------------------------------------------------
async def test_subprocess_mode_with_control_api(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "tests.fakes.telegram_api", "--port", "0"]
    cmd += ["--token", TOKEN, "--port-file", str(port_file)]
    proc = await asyncio.create_subprocess_exec(*cmd, cwd=REPO, env=env)
    try:
        for _ in range(200):
            if port_file.exists() or proc.returncode is not None:
                break
            await asyncio.sleep(0.05)
        base = f"http://127.0.0.1:{port_file.read_text()}"
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{base}/_control/call/user_message", json={"user_id": 70, "text": "/start"}
            ) as resp:
                assert (await resp.json())["result"] == 1
            raw = {
                "message": {
                    "message_id": 99,
                    "date": 0,
                    "chat": {"id": 70, "type": "private"},
                    "text": "raw",
                }
            }
            async with http.post(f"{base}/_control/updates", json=raw) as resp:
                assert (await resp.json())["ok"] is True
            async with Bot(TOKEN, base_url=f"{base}/bot") as bot:
                updates = await bot.get_updates()
                assert [u.message.text for u in updates] == ["/start", "raw"]
                await bot.send_message(70, "welcome")
            async with http.get(f"{base}/_control/requests?method=sendMessage") as resp:
                sent = (await resp.json())["result"]
            assert [(r["chat_id"], r["params"]["text"]) for r in sent] == [(70, "welcome")]
            wait_url = f"{base}/_control/wait?method=sendMessage&since=0&timeout=2"
            async with http.get(wait_url) as resp:
                assert (await resp.json())["result"]["params"]["text"] == "welcome"
            async with http.get(f"{base}/_control/stats") as resp:
                assert (await resp.json())["result"]["violations"] == []
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)
    assert proc.returncode == 0
