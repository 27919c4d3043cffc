"""A fake Telegram Bot API server for tests (aiohttp on 127.0.0.1, random port).

python-telegram-bot talks to it unmodified::

    async with FakeBotAPI(token="123456:ABC-DEF") as api:
        app = (
            Application.builder().token(api.token)
            .base_url(api.base_url).base_file_url(api.base_file_url).build()
        )

PTB joins ``base_url + token + "/" + method``, so ``api.base_url`` is ``<url>/bot``.

Covered: the wire format (query, JSON, form and multipart bodies; ``{"ok": ...}``
envelopes; 401 for a wrong token, 404 for an unknown method), getMe, getUpdates long
polling (offset confirmation, ``allowed_updates``, 409 when a second poller takes over or
a webhook is set), webhooks, messages (send/edit/delete with Telegram's error texts,
HTML/MarkdownV2/Markdown entity parsing, inline keyboards, 4096/1024 length limits),
photos and documents (multipart uploads, getFile and file download), chat actions,
callback answers and bot commands per scope/language. Other real Bot API methods answer
``true`` and are recorded. Flood control (429 with ``retry_after``), blocked users (403)
and simulated users (``user_message``, ``user_callback``...) are test knobs.

Not covered: inline mode, payments, media groups, channels' specifics, chat
administration semantics, and Telegram's exact message-id spaces in supergroups.

Standalone (for a bot in another process)::

    python -m tests.fakes.telegram_api --port 0 --token T --port-file /tmp/port

with a control API: ``POST /_control/updates`` (an Update JSON or a list),
``POST /_control/call/<helper>`` (JSON keyword arguments for user_message, user_callback,
user_edit, user_sticker, user_photo, user_document, block, unblock, fail_delete, clear),
``GET /_control/requests?method=&since=``, ``GET /_control/wait?method=&since=&timeout=``
and ``GET /_control/stats``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fakes.telegram_api_control import ControlApi
from tests.fakes.telegram_api_limits import (
    FloodControl,
    LimitEvent,
    is_counted_method,
    is_paid_broadcast,
)
from tests.fakes.telegram_api_media import TelegramMedia
from tests.fakes.telegram_api_wire import (
    ApiError,
    as_int_chat_id,
    decode_request,
    error_response,
    json_response,
    ok_response,
)

FORBIDDEN_BLOCKED = "Forbidden: bot was blocked by the user"


def _known_bot_api_methods() -> frozenset[str]:
    """Lower-cased names of real Bot API methods (PTB's camelCase aliases)."""
    try:
        import telegram
    except ImportError:  # pragma: no cover - PTB is a project dependency
        return frozenset()
    names = {n for n in dir(telegram.Bot) if n[:1].islower() and "_" not in n}
    return frozenset(n.lower() for n in names if callable(getattr(telegram.Bot, n)))


@dataclass
class RecordedRequest:
    """One Bot API call as the server saw it."""

    ts: float  # time.monotonic() at arrival
    method: str  # canonical camelCase name
    params: dict[str, Any]  # decoded; file parts as {"filename", "size"}
    chat_id: int | str | None
    status: int | None = None  # HTTP status once answered
    result: Any = None
    error: str | None = None

    def __iter__(self) -> Iterator[Any]:
        """Unpacks as ``(ts, method, params, chat_id)``."""
        return iter((self.ts, self.method, self.params, self.chat_id))

    @property
    def done(self) -> bool:
        return self.status is not None

    @property
    def ok(self) -> bool:
        return self.status == 200

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


class FakeBotAPI(TelegramMedia):
    """The fake server. See the module docstring."""

    def __init__(
        self,
        token: str = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11",
        *,
        port: int = 0,
        enforce_limits: bool = False,
        per_bot_per_second: float = 30,
        per_chat_per_second: float = 1.0,
        retry_after: int | None = None,
        window_slack: float = 0.05,
        strict_chats: bool = False,
        bot_username: str = "fake_test_bot",
    ) -> None:
        """``enforce_limits`` turns on flood control (429s); ``retry_after`` fixes the
        seconds it reports (default: until the window frees up). ``strict_chats``: sends
        to chats no user has written from answer "chat not found" (by default unknown
        positive ids become private chats; unknown negative ids are always not found)."""
        super().__init__(token, strict_chats=strict_chats, bot_username=bot_username)
        self.port = port
        self.requests: list[RecordedRequest] = []
        self.server_errors: list[BaseException] = []
        self.blocked: set[int | str] = set()
        self.flood = FloodControl(
            enabled=enforce_limits,
            per_bot_per_second=per_bot_per_second,
            per_chat_per_second=per_chat_per_second,
            retry_after=retry_after,
            window_slack=window_slack,
        )
        self._requests_changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._handlers: dict[str, tuple[str, Callable[..., Any]]] = {}
        for name in dir(self):
            if name.startswith("api_"):
                method = name.removeprefix("api_")
                self._handlers[method.lower()] = (method, getattr(self, name))
        self._known = _known_bot_api_methods()

    # -- lifecycle ----------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What to give PTB's ``base_url`` (it appends ``<token>/<method>``)."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    def _app(self) -> web.Application:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        app.router.add_routes(ControlApi(self).routes())
        return app

    async def start(self) -> str:
        self.closing = False
        self._runner = web.AppRunner(self._app(), shutdown_timeout=2.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        server = site._server  # aiohttp exposes no public getter for the bound port
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]
        return self.url

    async def stop(self) -> None:
        self.closing = True
        self._wake_pollers()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- the Bot API endpoint -------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        token, method = request.match_info["token"], request.match_info["method"]
        if ":" not in token:
            return json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        if token != self.token:
            return json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        entry = self._handlers.get(method.lower())
        if entry is None and method.lower() not in self._known:
            return json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        canonical = entry[0] if entry else method
        now = time.monotonic()
        record = RecordedRequest(now, canonical, {}, None)
        self.requests.append(record)
        try:
            decoded = await decode_request(request)
            record.params = decoded.recorded()
            record.chat_id = as_int_chat_id(decoded.params.get("chat_id"))
            paid = is_paid_broadcast(canonical, decoded.params)
            self.flood.check(now, canonical, record.chat_id, paid=paid)
            if record.chat_id in self.blocked and (
                is_counted_method(canonical) or canonical.lower() == "sendchataction"
            ):
                raise ApiError(403, FORBIDDEN_BLOCKED)
            result = await entry[1](decoded) if entry else True
            self.flood.delivered_now(now, canonical, record.chat_id, paid=paid)
            record.status, record.result = 200, result
            response = ok_response(result)
        except ApiError as exc:
            record.status, record.error = exc.code, exc.description
            response = error_response(exc)
        except Exception as exc:  # a bug in the fake: surface it to the test
            self.server_errors.append(exc)
            record.status, record.error = 500, repr(exc)
            response = error_response(ApiError(500, "Internal Server Error"))
        self._notify_requests()
        return response

    async def _download(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.Response(status=401, text="Unauthorized")
        path = request.match_info["path"]
        for data, _, stored_path in self.files.values():
            if stored_path == path:
                return web.Response(body=data, content_type="application/octet-stream")
        return web.Response(status=404, text="Not Found")

    # -- recording ------------------------------------------------------------------------
    def _notify_requests(self) -> None:
        event, self._requests_changed = self._requests_changed, asyncio.Event()
        event.set()

    @property
    def rate_limited(self) -> list[LimitEvent]:
        """Every 429 answered."""
        return self.flood.rate_limited

    @property
    def violations(self) -> list[LimitEvent]:
        """Requests that arrived inside an active retry_after window (should be none)."""
        return self.flood.violations

    def max_rate_per_chat(self, chat_id: int | str | None = None) -> int:
        return self.flood.max_rate_per_chat(chat_id)

    def max_rate_per_bot(self) -> int:
        return self.flood.max_rate_per_bot()

    def block(self, chat_id: int | str) -> None:
        """Sends to this chat answer 403 "bot was blocked by the user"."""
        self.blocked.add(chat_id)

    def unblock(self, chat_id: int | str) -> None:
        self.blocked.discard(chat_id)

    def mark(self) -> int:
        """Index to pass as ``since`` to ``wait_for``/``sent_to``."""
        return len(self.requests)

    def sent_to(
        self, chat_id: int | str, method: str = "sendMessage", *, since: int = 0
    ) -> list[RecordedRequest]:
        """Successful ``method`` calls addressed to ``chat_id``."""
        return [
            r for r in self.requests[since:] if r.ok and r.method == method and r.chat_id == chat_id
        ]

    def texts(self, chat_id: int | str, *, since: int = 0) -> list[str]:
        """Texts of the messages successfully sent to ``chat_id``."""
        return [str(r.params.get("text", "")) for r in self.sent_to(chat_id, since=since)]

    async def wait_for(
        self,
        method: str,
        predicate: Callable[[RecordedRequest], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - the helper's documented signature
        *,
        since: int | None = None,
    ) -> RecordedRequest:
        """The first answered ``method`` call (matching ``predicate``) that arrived after
        this call (or after index ``since``); TimeoutError otherwise."""
        start = len(self.requests) if since is None else since
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._requests_changed
            for record in self.requests[start:]:
                if record.done and record.method == method:
                    if predicate is None or predicate(record):
                        return record
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = [r.method for r in self.requests[start:]]
                raise TimeoutError(f"no matching {method} within {timeout}s; saw {seen}")
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                pass

    def clear(self) -> None:
        """Forget recorded requests and flood statistics (not chats or messages)."""
        self.requests.clear()
        self.flood.clear()
        self.server_errors.clear()


def _write_port_file(path: str, port: int) -> None:
    """Write atomically so a reader never sees a partial number."""
    tmp = Path(f"{path}.tmp")
    tmp.write_text(str(port))
    os.replace(tmp, path)


async def _serve(args: argparse.Namespace) -> None:
    api = FakeBotAPI(
        args.token,
        port=args.port,
        enforce_limits=args.enforce_limits,
        per_bot_per_second=args.per_bot_per_second,
        per_chat_per_second=args.per_chat_per_second,
        retry_after=args.retry_after,
    )
    await api.start()
    if args.port_file:
        _write_port_file(args.port_file, api.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await api.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake Telegram Bot API server")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11")
    parser.add_argument("--port-file", default=None)
    parser.add_argument("--enforce-limits", action="store_true")
    parser.add_argument("--per-bot-per-second", type=float, default=30)
    parser.add_argument("--per-chat-per-second", type=float, default=1.0)
    parser.add_argument("--retry-after", type=int, default=None)
    asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
