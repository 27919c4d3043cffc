"""Wire helpers for the fake Telegram Bot API: request decoding, response envelopes,
UTF-16 lengths and bot-command entity detection.

Telegram accepts query strings, ``application/x-www-form-urlencoded``,
``application/json`` and ``multipart/form-data``. In form bodies every complex value
(reply_markup, commands, scope, ...) is a JSON string and numbers are decimal strings,
so form values are decoded by field name, like the real server does by parameter type.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "commands",
        "scope",
        "allowed_updates",
        "link_preview_options",
        "reply_parameters",
        "media",
        "message_ids",
        "results",
        "permissions",
    }
)
INT_FIELDS = frozenset(
    {
        "chat_id",
        "from_chat_id",
        "message_id",
        "reply_to_message_id",
        "message_thread_id",
        "offset",
        "limit",
        "timeout",
        "user_id",
        "cache_time",
        "max_connections",
        "until_date",
        "duration",
        "width",
        "height",
    }
)
BOOL_FIELDS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "drop_pending_updates",
        "show_alert",
        "disable_web_page_preview",
        "allow_sending_without_reply",
        "has_spoiler",
        "show_caption_above_media",
        "disable_content_type_detection",
        "is_personal",
        "revoke_messages",
        "only_if_banned",
    }
)


class ApiError(Exception):
    """An error answer: ``{"ok": false, "error_code": code, "description": ...}``."""

    def __init__(
        self, code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


def bad_request(detail: str) -> ApiError:
    """400 with Telegram's ``Bad Request: `` prefix."""
    return ApiError(400, f"Bad Request: {detail}")


@dataclass
class UploadedFile:
    """A file part of a multipart body."""

    name: str
    filename: str
    data: bytes
    content_type: str = "application/octet-stream"

    def summary(self) -> dict[str, Any]:
        return {"filename": self.filename, "size": len(self.data)}


@dataclass
class DecodedRequest:
    """Parameters (typed), uploaded files by field name, and the raw JSON-ish view."""

    params: dict[str, Any] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)

    def recorded(self) -> dict[str, Any]:
        """Params with file parts replaced by ``{"filename", "size"}``."""
        out = dict(self.params)
        for name, upload in self.files.items():
            out[name] = upload.summary()
        return out


def _coerce(name: str, value: str) -> Any:
    if name in JSON_FIELDS:
        try:
            return json.loads(value)
        except ValueError as exc:
            raise bad_request(f"can't parse {name} JSON object") from exc
    if name in INT_FIELDS:
        try:
            return int(value)
        except ValueError:
            return value  # e.g. chat_id="@channelusername"
    if name in BOOL_FIELDS:
        return value.strip().lower() in ("true", "1")
    return value


async def decode_request(request: web.Request) -> DecodedRequest:
    """Decode query string plus body into typed params and file parts."""
    out = DecodedRequest()
    for key, value in request.query.items():
        out.params[key] = _coerce(key, value)
    if request.method != "POST" or not request.can_read_body:
        return out
    ctype = request.content_type
    if ctype == "application/json":
        try:
            body = await request.json()
        except ValueError as exc:
            raise bad_request("can't parse JSON object") from exc
        if not isinstance(body, dict):
            raise bad_request("JSON object expected")
        out.params.update(body)
    elif ctype == "multipart/form-data":
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if part.name is None or not hasattr(part, "read"):
                continue
            data = await part.read(decode=False)  # type: ignore[union-attr]
            if part.filename is not None:
                ptype = part.headers.get("Content-Type", "application/octet-stream")
                out.files[part.name] = UploadedFile(part.name, part.filename, bytes(data), ptype)
            else:
                out.params[part.name] = _coerce(part.name, bytes(data).decode("utf-8"))
    else:
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, str):
                out.params[key] = _coerce(key, value)
            else:  # a FileField in a urlencoded body cannot happen, but be tolerant
                out.files[key] = UploadedFile(key, value.filename, value.file.read())
    for key, value in list(out.params.items()):
        if isinstance(value, str) and value.startswith("attach://"):
            ref = value.removeprefix("attach://")
            if ref in out.files:
                out.files[key] = out.files.pop(ref)
                del out.params[key]
    return out


def json_response(payload: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        content_type="application/json",
    )


def ok_response(result: Any) -> web.Response:
    return json_response({"ok": True, "result": result})


def error_payload(error: ApiError) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "ok": False,
        "error_code": error.code,
        "description": error.description,
    }
    if error.parameters:
        payload["parameters"] = error.parameters
    return payload


def error_response(error: ApiError) -> web.Response:
    return json_response(error_payload(error), status=error.code)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


_COMMAND_RE = re.compile(r"(?<![A-Za-z0-9_/<>])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")


def bot_command_entities(text: str) -> list[dict[str, Any]]:
    """``bot_command`` entities the way Telegram marks ``/cmd`` and ``/cmd@bot``."""
    entities = []
    for match in _COMMAND_RE.finditer(text):
        end = match.end()
        if end < len(text) and (text[end].isalnum() or text[end] in "_/"):
            continue
        entities.append(
            {
                "type": "bot_command",
                "offset": utf16_len(text[: match.start()]),
                "length": utf16_len(match.group(0)),
            }
        )
    return entities


def as_int_chat_id(value: Any) -> int | str | None:
    """Chat id as recorded: int when numeric, else the string (``@username``)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        return str(value)
