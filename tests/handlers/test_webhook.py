"""Webhook mode: the bot registers its URL with a secret token and refuses updates that
do not carry it."""

import json
import socket
import urllib.error
import urllib.request

import pytest

from nija_tg.bot_main import webhook_options
from tests.handlers.harness import start_bot, stop_bot

SECRET = "hook-secret_123-0123456789abcdefghij"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, update: dict, secret: str | None) -> int:
    request = urllib.request.Request(url, data=json.dumps(update).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    if secret is not None:
        request.add_header("X-Telegram-Bot-Api-Secret-Token", secret)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


@pytest.fixture
async def webhook_bot(data_dir):
    port = free_port()
    harness = await start_bot(
        data_dir,
        # the public HTTPS URL (a reverse proxy in front); the bot listens on plain HTTP
        NIJA_WEBHOOK_URL="https://bot.example.test/tg-hook",
        NIJA_WEBHOOK_SECRET=SECRET,
        NIJA_WEBHOOK_LISTEN="127.0.0.1",
        NIJA_WEBHOOK_PORT=str(port),
    )
    await harness.app.updater.stop()  # the harness polls; switch to the webhook
    await harness.app.updater.start_webhook(**webhook_options(harness.settings))
    try:
        yield harness, f"http://127.0.0.1:{port}/tg-hook"
    finally:
        await stop_bot(harness)


def start_update(update_id: int, user_id: int) -> dict:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": 1700000000,
            "chat": {"id": user_id, "type": "private", "first_name": "Web"},
            "from": {"id": user_id, "is_bot": False, "first_name": "Web"},
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


async def test_webhook_registration_and_secret(webhook_bot):
    bot, url = webhook_bot
    registered = await bot.api.wait_for("setWebhook", since=0)
    assert registered.params["url"] == "https://bot.example.test/tg-hook"
    assert registered.params["secret_token"] == SECRET
    import asyncio

    loop = asyncio.get_running_loop()
    refused = await loop.run_in_executor(None, post, url, start_update(1, 8801), "wrong")
    assert refused == 403
    since = bot.api.mark()
    accepted = await loop.run_in_executor(None, post, url, start_update(2, 8802), SECRET)
    assert accepted == 200
    reply = await bot.next(8802, since=since)
    assert "Welcome" in reply.params["text"]
    assert bot.api.sent_to(8801) == []
