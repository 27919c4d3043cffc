"""Bot API method handlers of the fake Telegram server.

Each ``api_<methodName>`` coroutine takes the decoded request and returns the ``result``
JSON or raises ``ApiError`` with Telegram's real error text. Known Bot API methods that
have no handler here answer ``true`` (see ``FakeBotAPI``). Media, callback answers and
bot commands live in ``telegram_api_media``.
"""

from __future__ import annotations

import asyncio
import copy
import re
import time
from typing import Any

from tests.fakes.telegram_api_markup import parse_text
from tests.fakes.telegram_api_state import DEFAULT_UPDATE_TYPES, TelegramState
from tests.fakes.telegram_api_wire import ApiError, DecodedRequest, as_int_chat_id, bad_request

_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)


def _int(params: dict[str, Any], name: str, default: int) -> int:
    value = params.get(name, default)
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise bad_request(f"wrong parameter {name}") from exc


def validate_reply_markup(markup: Any) -> dict[str, Any] | None:
    """Check a reply_markup object; return the inline keyboard to echo, if any."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
            )
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise bad_request("can't parse inline keyboard button: Text is not specified")
                actions = [a for a in _BUTTON_ACTIONS if a in button]
                if not actions:
                    raise bad_request(
                        "can't parse inline keyboard button: Text buttons are unallowed in "
                        "the inline keyboard"
                    )
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode("utf-8")) <= 64:
                    raise bad_request("BUTTON_DATA_INVALID")
                url = button.get("url")
                if url is not None and not re.match(r"^(https?|tg)://\S+$", str(url)):
                    raise bad_request("BUTTON_URL_INVALID")
        return {"inline_keyboard": rows}
    if any(k in markup for k in ("keyboard", "remove_keyboard", "force_reply")):
        return None
    raise bad_request("can't parse reply keyboard markup JSON object")


class TelegramMethods(TelegramState):
    """Handlers for the methods the fake implements for real."""

    def __init__(self, token: str, *, strict_chats: bool = False, **kwargs: Any) -> None:
        super().__init__(token, **kwargs)
        self.strict_chats = strict_chats
        self.webhook: dict[str, Any] = {}
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.command_history: list[dict[str, Any]] = []
        self.undeletable: set[tuple[int | str, int | None]] = set()
        self.closing = False
        self._poll_generation = 0

    # -- helpers ------------------------------------------------------------------------
    def fail_delete(self, chat_id: int, message_id: int | None = None) -> None:
        """Make deleteMessage answer "message can't be deleted" for this chat/message
        (``message_id=None``: every message of the chat)."""
        self.undeletable.add((chat_id, message_id))

    def _chat(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = as_int_chat_id(params.get("chat_id"))
        if chat_id is None or chat_id == "":
            raise bad_request("chat_id is empty")
        chat = self.chats.get(chat_id)
        if chat is None:
            if self.strict_chats or not isinstance(chat_id, int) or chat_id <= 0:
                raise bad_request("chat not found")
            chat = self.add_chat(chat_id)
        return chat

    def _bot_message(
        self, chat: dict[str, Any], params: dict[str, Any], **content: Any
    ) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "message_id": 0,
            "from": self.bot_user,
            "chat": chat,
            "date": int(time.time()),
        }
        reply_to = params.get("reply_parameters") or {}
        reply_id = reply_to.get("message_id", params.get("reply_to_message_id"))
        if reply_id is not None:
            replied = self.messages.get((chat["id"], int(reply_id)))
            if replied is not None:
                msg["reply_to_message"] = copy.deepcopy(replied)
            elif not (
                reply_to.get("allow_sending_without_reply")
                or params.get("allow_sending_without_reply")
            ):
                raise bad_request("message to be replied not found")
        msg.update({k: v for k, v in content.items() if v not in (None, [])})
        markup = validate_reply_markup(params.get("reply_markup"))
        if markup:
            msg["reply_markup"] = markup
        msg["message_id"] = self.next_message_id(chat["id"])
        self.messages[(chat["id"], msg["message_id"])] = msg
        return copy.deepcopy(msg)

    def _formatted(self, params: dict[str, Any], field: str) -> tuple[str, list[dict[str, Any]]]:
        text = str(params.get(field) or "")
        plain, entities = parse_text(text, params.get("parse_mode"))
        given = params.get("entities" if field == "text" else "caption_entities")
        if not params.get("parse_mode") and isinstance(given, list):
            entities = given
        return plain, entities

    def _stored(self, params: dict[str, Any], missing: str) -> dict[str, Any]:
        chat = self._chat(params)
        message_id = _int(params, "message_id", 0)
        msg = self.messages.get((chat["id"], message_id))
        if msg is None:
            raise bad_request(missing)
        return msg

    # -- identity, webhook, polling ------------------------------------------------
    async def api_getMe(self, req: DecodedRequest) -> Any:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def api_logOut(self, req: DecodedRequest) -> Any:
        return True

    async def api_close(self, req: DecodedRequest) -> Any:
        return True

    async def api_setWebhook(self, req: DecodedRequest) -> Any:
        url = str(req.params.get("url") or "")
        if url and not url.startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook = {"url": url, **{k: v for k, v in req.params.items() if k != "url"}}
        if req.params.get("drop_pending_updates"):
            self.updates.clear()
        return True

    async def api_deleteWebhook(self, req: DecodedRequest) -> Any:
        self.webhook = {}
        if req.params.get("drop_pending_updates"):
            self.updates.clear()
        return True

    async def api_getWebhookInfo(self, req: DecodedRequest) -> Any:
        info: dict[str, Any] = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self.updates),
        }
        if self.webhook.get("allowed_updates"):
            info["allowed_updates"] = self.webhook["allowed_updates"]
        return info

    async def api_getUpdates(self, req: DecodedRequest) -> Any:
        if self.webhook.get("url"):
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        offset = _int(req.params, "offset", 0)
        limit = min(max(_int(req.params, "limit", 100), 1), 100)
        timeout = max(_int(req.params, "timeout", 0), 0)
        allowed = req.params.get("allowed_updates")
        if isinstance(allowed, list):
            self.allowed_updates = frozenset(allowed) if allowed else DEFAULT_UPDATE_TYPES
        self.confirm(offset)
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake_pollers()  # an older poll still waiting is terminated with 409
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._updates_changed
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only "
                    "one bot instance is running",
                )
            batch = self.deliverable(limit)
            remaining = deadline - loop.time()
            if batch or self.closing or remaining <= 0:
                return batch
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                pass

    # -- messages -----------------------------------------------------------------------
    async def api_sendMessage(self, req: DecodedRequest) -> Any:
        chat = self._chat(req.params)
        if not str(req.params.get("text") or "").strip():
            raise bad_request("message text is empty")
        plain, entities = self._formatted(req.params, "text")
        if not plain.strip():
            raise bad_request("message text is empty")
        if len(plain) > 4096:
            raise bad_request("message is too long")
        return self._bot_message(chat, req.params, text=plain, entities=entities)

    async def api_editMessageText(self, req: DecodedRequest) -> Any:
        if req.params.get("inline_message_id"):
            return True
        msg = self._stored(req.params, "message to edit not found")
        if msg["from"]["id"] != self.bot_id:
            raise bad_request("message can't be edited")
        if "text" not in msg:
            raise bad_request("there is no text in the message to edit")
        if not str(req.params.get("text") or "").strip():
            raise bad_request("message text is empty")
        plain, entities = self._formatted(req.params, "text")
        if len(plain) > 4096:
            raise bad_request("message is too long")
        markup = validate_reply_markup(req.params.get("reply_markup"))
        if (plain, entities, markup) == (
            msg["text"],
            msg.get("entities", []),
            msg.get("reply_markup"),
        ):
            raise bad_request(NOT_MODIFIED)
        return self._apply_edit(msg, markup, text=plain, entities=entities)

    async def api_editMessageCaption(self, req: DecodedRequest) -> Any:
        if req.params.get("inline_message_id"):
            return True
        msg = self._stored(req.params, "message to edit not found")
        if msg["from"]["id"] != self.bot_id:
            raise bad_request("message can't be edited")
        plain, entities = self._formatted(req.params, "caption")
        if len(plain) > 1024:
            raise bad_request("message caption is too long")
        markup = validate_reply_markup(req.params.get("reply_markup"))
        if (plain, entities, markup) == (
            msg.get("caption", ""),
            msg.get("caption_entities", []),
            msg.get("reply_markup"),
        ):
            raise bad_request(NOT_MODIFIED)
        return self._apply_edit(msg, markup, caption=plain, caption_entities=entities)

    async def api_editMessageReplyMarkup(self, req: DecodedRequest) -> Any:
        if req.params.get("inline_message_id"):
            return True
        msg = self._stored(req.params, "message to edit not found")
        if msg["from"]["id"] != self.bot_id:
            raise bad_request("message can't be edited")
        markup = validate_reply_markup(req.params.get("reply_markup"))
        if markup == msg.get("reply_markup"):
            raise bad_request(NOT_MODIFIED)
        return self._apply_edit(msg, markup)

    def _apply_edit(self, msg: dict[str, Any], markup: Any, **content: Any) -> dict[str, Any]:
        for key, value in content.items():
            if value in (None, [], ""):
                msg.pop(key, None)
            else:
                msg[key] = value
        if markup:
            msg["reply_markup"] = markup
        else:
            msg.pop("reply_markup", None)  # an edit without reply_markup drops the keyboard
        msg["edit_date"] = int(time.time())
        return copy.deepcopy(msg)

    async def api_deleteMessage(self, req: DecodedRequest) -> Any:
        chat = self._chat(req.params)
        message_id = _int(req.params, "message_id", 0)
        if {(chat["id"], message_id), (chat["id"], None)} & self.undeletable:
            raise bad_request("message can't be deleted")
        if self.messages.pop((chat["id"], message_id), None) is None:
            raise bad_request("message to delete not found")
        return True

    async def api_deleteMessages(self, req: DecodedRequest) -> Any:
        chat = self._chat(req.params)
        for message_id in req.params.get("message_ids") or []:
            if (chat["id"], None) not in self.undeletable:
                self.messages.pop((chat["id"], int(message_id)), None)
        return True
