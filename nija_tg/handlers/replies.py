"""Sending text safely: HTML parse mode, long texts split under Telegram's 4096-character
limit. The words and their escaping are the renderer's (``nija_tg/messages``): ``esc``
and ``echo`` are re-exported from there for the handlers' remaining replies."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ParseMode

from nija_tg.messages.text import MAX_ECHO, echo, esc

__all__ = ["MAX_ECHO", "MAX_TEXT", "echo", "esc", "reply", "split_text"]
MAX_TEXT = 4000


async def reply(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Reply in the chat of ``update`` (HTML already escaped by the caller)."""
    chat = update.effective_chat
    if chat is None:
        return
    chunks = split_text(text)
    for index, chunk in enumerate(chunks):
        await chat.send_message(
            chunk,
            parse_mode=ParseMode.HTML,
            reply_markup=markup if index == len(chunks) - 1 else None,
            disable_web_page_preview=True,
        )


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Split at line breaks so no HTML tag is cut (our tags never span lines)."""
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:  # a single huge line: cut it hard (escaped text only)
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    chunks.append(current)
    return [c for c in chunks if c] or [""]
