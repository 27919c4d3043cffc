"""State of the fake Telegram Bot API (chats, messages, files, the update queue) and the
simulated users that put real Update JSON into that queue.

Message ids increase per chat and are shared by the user's and the bot's messages, as in
a real private chat; update ids increase globally.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import re
import secrets
import time
from typing import Any

from tests.fakes.telegram_api_wire import bot_command_entities

DEFAULT_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)


def _now() -> int:
    return int(time.time())


def update_type(update: dict[str, Any]) -> str:
    """The update's kind: its only key besides ``update_id``."""
    return next((k for k in update if k != "update_id"), "")


class TelegramState:
    """Chats, messages, files, callback queries and the update queue."""

    def __init__(self, token: str, *, bot_username: str = "fake_test_bot") -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1
        self.bot_username = bot_username
        self.chats: dict[int | str, dict[str, Any]] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.messages: dict[tuple[int | str, int], dict[str, Any]] = {}
        self.files: dict[str, tuple[bytes, str, str]] = {}  # file_id -> (data, unique, path)
        self.updates: list[dict[str, Any]] = []
        self.callback_queries: dict[str, dict[str, Any]] = {}
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self.allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES
        self._message_ids: dict[int | str, int] = {}
        self._update_ids = itertools.count(100_000_001)
        self._callback_ids = itertools.count(4_000_000_000_000_000_001)
        self._updates_changed = asyncio.Event()

    # -- identities -------------------------------------------------------------------
    @property
    def bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Fake Bot",
            "username": self.bot_username,
        }

    def _user(
        self, user_id: int, username: str | None = None, first_name: str = "Ann"
    ) -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username:
            user["username"] = username
        user["language_code"] = "en"
        self.users[user_id] = user
        return user

    def add_chat(
        self,
        chat_id: int,
        chat_type: str = "private",
        *,
        title: str | None = None,
        first_name: str = "Ann",
        username: str | None = None,
    ) -> dict[str, Any]:
        """Register a chat (users' helpers do this on their own)."""
        if chat_type == "private":
            chat: dict[str, Any] = {"id": chat_id, "type": "private", "first_name": first_name}
            if username:
                chat["username"] = username
        elif chat_type in ("group", "supergroup", "channel"):
            if chat_id >= 0:
                raise ValueError("group, supergroup and channel chat ids are negative")
            chat = {"id": chat_id, "type": chat_type, "title": title or "Test Group"}
        else:
            raise ValueError(f"unknown chat type {chat_type!r}")
        self.chats[chat_id] = chat
        return chat

    def _chat_for_user(
        self,
        user: dict[str, Any],
        chat_id: int | None,
        chat_type: str,
        title: str | None,
    ) -> dict[str, Any]:
        if chat_type == "private":
            chat_id = user["id"] if chat_id is None else chat_id
        elif chat_id is None:
            chat_id = -user["id"] if chat_type == "group" else int(f"-100{user['id']}")
        known = self.chats.get(chat_id)
        if known is not None and known["type"] == chat_type:
            return known
        return self.add_chat(
            chat_id,
            chat_type,
            title=title,
            first_name=user["first_name"],
            username=user.get("username"),
        )

    def next_message_id(self, chat_id: int | str) -> int:
        value = self._message_ids.get(chat_id, 0) + 1
        self._message_ids[chat_id] = value
        return value

    # -- files --------------------------------------------------------------------------
    def store_file(self, data: bytes, kind: str, filename: str = "file") -> dict[str, Any]:
        """Keep bytes under a new file id; answer the File-ish fields."""
        file_id = f"{kind[:4].upper()}ACAg{secrets.token_urlsafe(24)}"
        unique = f"AQAD{secrets.token_urlsafe(8)}"
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", filename)[:64] or "file"
        path = f"{kind}/file_{len(self.files)}_{safe}"
        self.files[file_id] = (data, unique, path)
        return {"file_id": file_id, "file_unique_id": unique, "file_size": len(data)}

    def photo_sizes(self, data: bytes) -> list[dict[str, Any]]:
        """PhotoSize list (thumbnail and full size) for uploaded bytes."""
        small = self.store_file(data[:1024], "photos", "thumb.jpg")
        full = self.store_file(data, "photos", "photo.jpg")
        return [{**small, "width": 90, "height": 90}, {**full, "width": 800, "height": 600}]

    # -- the update queue ------------------------------------------------------------
    def _wake_pollers(self) -> None:
        event, self._updates_changed = self._updates_changed, asyncio.Event()
        event.set()

    def inject_update(self, update: dict[str, Any]) -> int:
        """Queue a raw Update JSON (``update_id`` assigned when missing)."""
        update = dict(update)
        if "update_id" not in update:
            update["update_id"] = next(self._update_ids)
        self.updates.append(update)
        self._wake_pollers()
        return update["update_id"]

    def _enqueue(self, kind: str, payload: dict[str, Any]) -> int:
        return self.inject_update({"update_id": next(self._update_ids), kind: payload})

    def _incoming(
        self,
        user_id: int,
        *,
        chat_id: int | None = None,
        chat_type: str = "private",
        username: str | None = None,
        first_name: str = "Ann",
        title: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict[str, Any]:
        user = self._user(user_id, username, first_name)
        chat = self._chat_for_user(user, chat_id, chat_type, title)
        msg: dict[str, Any] = {
            "message_id": self.next_message_id(chat["id"]),
            "from": user,
            "chat": chat,
            "date": _now(),
        }
        if reply_to_message_id is not None:
            replied = self.messages.get((chat["id"], reply_to_message_id))
            if replied is not None:
                msg["reply_to_message"] = copy.deepcopy(replied)
        self.messages[(chat["id"], msg["message_id"])] = msg
        return msg

    # -- simulated users -----------------------------------------------------------------
    def user_message(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        chat_type: str = "private",
        username: str | None = None,
        first_name: str = "Ann",
        title: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> int:
        """A user sends ``text`` (``/cmd`` and ``/cmd@bot`` get bot_command entities).
        Groups default to chat id ``-user_id``, supergroups to ``-100<user_id>``."""
        msg = self._incoming(
            user_id,
            chat_id=chat_id,
            chat_type=chat_type,
            username=username,
            first_name=first_name,
            title=title,
            reply_to_message_id=reply_to_message_id,
        )
        msg["text"] = text
        entities = bot_command_entities(text)
        if entities:
            msg["entities"] = entities
        self._enqueue("message", msg)
        return msg["message_id"]

    def user_callback(
        self,
        user_id: int,
        data: str,
        *,
        message_id: int,
        chat_id: int | None = None,
        username: str | None = None,
        first_name: str = "Ann",
    ) -> str:
        """A user presses an inline button with ``data`` under the bot's message
        ``message_id``; returns the callback query id."""
        chat_key = user_id if chat_id is None else chat_id
        message = self.messages.get((chat_key, message_id))
        if message is None:
            raise LookupError(f"no message {message_id} in chat {chat_key}")
        query_id = str(next(self._callback_ids))
        query = {
            "id": query_id,
            "from": self._user(user_id, username, first_name),
            "message": copy.deepcopy(message),
            "chat_instance": str(abs(hash(("chat_instance", chat_key))) % 10**19),
            "data": data,
        }
        self.callback_queries[query_id] = query
        self._enqueue("callback_query", query)
        return query_id

    def user_edit(
        self, user_id: int, message_id: int, text: str, *, chat_id: int | None = None
    ) -> int:
        """A user edits their earlier text message (an ``edited_message`` update)."""
        chat_key = user_id if chat_id is None else chat_id
        message = self.messages.get((chat_key, message_id))
        if message is None or message["from"]["id"] != user_id:
            raise LookupError(f"user {user_id} has no message {message_id} in {chat_key}")
        message["text"] = text
        message["edit_date"] = _now()
        entities = bot_command_entities(text)
        if entities:
            message["entities"] = entities
        else:
            message.pop("entities", None)
        self._enqueue("edited_message", copy.deepcopy(message))
        return message_id

    def user_sticker(self, user_id: int, *, emoji: str = "👍", **who: Any) -> int:
        """A user sends a sticker; ``who`` takes the chat/user keywords of user_message."""
        msg = self._incoming(user_id, **who)
        sticker = self.store_file(b"RIFF-fake-webp", "stickers", "sticker.webp")
        msg["sticker"] = {
            **sticker,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "set_name": "FakeStickers",
        }
        self._enqueue("message", msg)
        return msg["message_id"]

    def user_photo(
        self,
        user_id: int,
        *,
        caption: str | None = None,
        data: bytes = b"\xff\xd8\xff\xe0fake-jpeg",
        **who: Any,
    ) -> int:
        """A user sends a photo (bytes retrievable through getFile + file download)."""
        msg = self._incoming(user_id, **who)
        msg["photo"] = self.photo_sizes(data)
        if caption:
            msg["caption"] = caption
            entities = bot_command_entities(caption)
            if entities:
                msg["caption_entities"] = entities
        self._enqueue("message", msg)
        return msg["message_id"]

    def user_document(
        self, user_id: int, *, filename: str = "doc.txt", data: bytes = b"hello", **who: Any
    ) -> int:
        """A user sends a document."""
        msg = self._incoming(user_id, **who)
        msg["document"] = {
            **self.store_file(data, "documents", filename),
            "file_name": filename,
            "mime_type": "application/octet-stream",
        }
        self._enqueue("message", msg)
        return msg["message_id"]

    # -- delivery -----------------------------------------------------------------------
    def confirm(self, offset: int | None) -> None:
        """Forget updates confirmed by ``offset`` (negative: keep only the last N)."""
        if not offset:
            return
        if offset < 0:
            self.updates = self.updates[offset:]
        else:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]

    def deliverable(self, limit: int) -> list[dict[str, Any]]:
        """Pending updates of allowed types (others are dropped, as Telegram does)."""
        self.updates = [u for u in self.updates if update_type(u) in self.allowed_updates]
        return copy.deepcopy(self.updates[:limit])
