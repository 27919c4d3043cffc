"""Helpers for tapping the bot's buttons in handler tests."""

from __future__ import annotations

from tests.fakes.telegram_api import RecordedRequest
from tests.handlers.harness import BotHarness


def buttons(record: RecordedRequest) -> list[tuple[str, str]]:
    """(label, callback data) of every inline button of a sent or edited message."""
    markup = record.params.get("reply_markup") or {}
    rows = markup.get("inline_keyboard") or []
    return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]


def data_of(record: RecordedRequest, label_start: str) -> str:
    """The callback data of the button whose label starts with ``label_start``."""
    found = [d for text, d in buttons(record) if text.startswith(label_start)]
    assert found, f"no button {label_start!r} in {buttons(record)}"
    return found[0]


def message_id(record: RecordedRequest) -> int:
    return int(record.result["message_id"])


async def answer_of(
    bot: BotHarness, user_id: int, data: str, msg_id: int, *, chat_id: int | None = None
) -> RecordedRequest:
    """Press ``data`` under message ``msg_id``; the bot's answerCallbackQuery."""
    since = bot.api.mark()
    bot.api.user_callback(user_id, data, message_id=msg_id, chat_id=chat_id)
    return await bot.api.wait_for("answerCallbackQuery", since=since, timeout=10)


async def tap(
    bot: BotHarness,
    user_id: int,
    record: RecordedRequest,
    label_start: str,
    *,
    method: str = "sendMessage",
) -> RecordedRequest:
    """Tap the button labelled ``label_start...`` under ``record``; the bot's next
    ``method`` call to that chat."""
    return await bot.press(user_id, data_of(record, label_start), message_id(record), method=method)


async def tap_for(
    bot: BotHarness, user_id: int, record: RecordedRequest, label_start: str, text: str
) -> RecordedRequest:
    """Tap like ``tap`` and wait for the bot's message to that chat containing ``text``
    (outbox notices the bot delivers to the same chat may come first)."""
    since = bot.api.mark()
    bot.api.user_callback(user_id, data_of(record, label_start), message_id=message_id(record))
    return await bot.api.wait_for(
        "sendMessage",
        lambda r: r.chat_id == user_id and text in str(r.params.get("text")),
        since=since,
        timeout=10,
    )


async def say_for(bot: BotHarness, user_id: int, text: str, expect: str) -> str:
    """Send ``text`` and return the bot's first message to that chat containing
    ``expect`` (outbox notices to the same chat may come first)."""
    since = bot.api.mark()
    await bot.send(user_id, text)
    record = await bot.api.wait_for(
        "sendMessage",
        lambda r: r.chat_id == user_id and expect in str(r.params.get("text")),
        since=since,
        timeout=10,
    )
    return str(record.params["text"])
