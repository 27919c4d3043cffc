"""Sending text safely: HTML parse mode with every dynamic part escaped, long texts
split under Telegram's 4096-character limit."""

from __future__ import annotations

import html

from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ParseMode

MAX_TEXT = 4000
MAX_ECHO = 40


def esc(value: object) -> str:
    return html.escape(str(value), quote=False)


def echo(value: str, limit: int = MAX_ECHO) -> str:
    """A user's own input shown back: printable only, shortened, escaped."""
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in value)
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1] + "…"
    return esc(cleaned)


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
