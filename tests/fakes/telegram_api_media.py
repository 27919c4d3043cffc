"""Media, chat actions, callback answers, files and bot commands of the fake Telegram
Bot API (handlers in the style of ``telegram_api_methods``)."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from tests.fakes.telegram_api_methods import TelegramMethods
from tests.fakes.telegram_api_wire import DecodedRequest, bad_request

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_SCOPES = {
    "default": (),
    "all_private_chats": (),
    "all_group_chats": (),
    "all_chat_administrators": (),
    "chat": ("chat_id",),
    "chat_administrators": ("chat_id",),
    "chat_member": ("chat_id", "user_id"),
}


class TelegramMedia(TelegramMethods):
    """Photo/document uploads, chat actions, callbacks, files and commands."""

    def _input_file(self, req: DecodedRequest, field: str, kind: str) -> tuple[Any, str]:
        """(stored File fields or photo sizes, file name) for an upload, id or URL."""
        upload = req.files.get(field)
        if upload is not None:
            if kind == "photo":
                return self.photo_sizes(upload.data), upload.filename
            return self.store_file(upload.data, kind, upload.filename), upload.filename
        ref = req.params.get(field)
        if not ref:
            raise bad_request(f"there is no {field} in the request")
        ref = str(ref)
        if ref in self.files:
            data = self.files[ref][0]
        elif re.match(r"^https?://", ref):
            data = b""
        else:
            raise bad_request("wrong file identifier/HTTP URL specified")
        name = ref.rsplit("/", 1)[-1] or "file"
        if kind == "photo":
            return self.photo_sizes(data), name
        return self.store_file(data, kind, name), name

    async def api_sendPhoto(self, req: DecodedRequest) -> Any:
        chat = self._chat(req.params)
        sizes, _ = self._input_file(req, "photo", "photo")
        caption, entities = self._formatted(req.params, "caption")
        if len(caption) > 1024:
            raise bad_request("message caption is too long")
        return self._bot_message(
            chat, req.params, photo=sizes, caption=caption or None, caption_entities=entities
        )

    async def api_sendDocument(self, req: DecodedRequest) -> Any:
        chat = self._chat(req.params)
        stored, name = self._input_file(req, "document", "documents")
        caption, entities = self._formatted(req.params, "caption")
        if len(caption) > 1024:
            raise bad_request("message caption is too long")
        upload = req.files.get("document")
        mime = upload.content_type if upload is not None else "application/octet-stream"
        document = {**stored, "file_name": name, "mime_type": mime}
        return self._bot_message(
            chat, req.params, document=document, caption=caption or None, caption_entities=entities
        )

    async def api_sendChatAction(self, req: DecodedRequest) -> Any:
        self._chat(req.params)
        if req.params.get("action") not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    async def api_answerCallbackQuery(self, req: DecodedRequest) -> Any:
        query_id = str(req.params.get("callback_query_id") or "")
        if query_id not in self.callback_queries or query_id in self.callback_answers:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        self.callback_answers[query_id] = dict(req.params)
        return True

    async def api_getFile(self, req: DecodedRequest) -> Any:
        file_id = str(req.params.get("file_id") or "")
        if file_id not in self.files:
            raise bad_request("invalid file_id")
        data, unique, path = self.files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": unique,
            "file_size": len(data),
            "file_path": path,
        }

    # -- commands -----------------------------------------------------------------------
    @staticmethod
    def _scope_key(params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        if not isinstance(scope, dict) or scope.get("type") not in _SCOPES:
            raise bad_request("wrong parameter scope")
        for needed in _SCOPES[scope["type"]]:
            if needed not in scope:
                raise bad_request(f"wrong parameter scope: {needed} is required")
        language = str(params.get("language_code") or "")
        if language and not re.match(r"^[a-z]{2}$", language):
            raise bad_request("invalid language code specified")
        return json.dumps(scope, sort_keys=True), language

    def commands_for(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        """The commands stored for exactly this scope and language (test helper)."""
        key = self._scope_key({"scope": scope, "language_code": language_code})
        return copy.deepcopy(self.commands.get(key, []))

    async def api_setMyCommands(self, req: DecodedRequest) -> Any:
        commands = req.params.get("commands")
        if not isinstance(commands, list):
            raise bad_request('field "commands" must be an Array')
        if len(commands) > 100:
            raise bad_request("too many commands specified")
        for command in commands:
            if not isinstance(command, dict) or not _COMMAND_RE.match(
                str(command.get("command", ""))
            ):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._scope_key(req.params)
        cleaned = [{"command": c["command"], "description": c["description"]} for c in commands]
        if cleaned:
            self.commands[key] = cleaned
        else:
            self.commands.pop(key, None)
        self.command_history.append(
            {
                "commands": cleaned,
                "scope": json.loads(key[0]),
                "language_code": key[1],
            }
        )
        return True

    async def api_getMyCommands(self, req: DecodedRequest) -> Any:
        return copy.deepcopy(self.commands.get(self._scope_key(req.params), []))

    async def api_deleteMyCommands(self, req: DecodedRequest) -> Any:
        self.commands.pop(self._scope_key(req.params), None)
        return True
