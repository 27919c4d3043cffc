"""Control API of the fake Telegram Bot API, for tests that drive a bot running in
another process: inject updates, call the simulated-user helpers, read what the bot sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.telegram_api_wire import json_response

if TYPE_CHECKING:
    from tests.fakes.telegram_api import FakeBotAPI

CONTROL_CALLS = frozenset(
    {
        "user_message",
        "user_callback",
        "user_edit",
        "user_sticker",
        "user_photo",
        "user_document",
        "block",
        "unblock",
        "fail_delete",
        "clear",
        "add_chat",
    }
)


class ControlApi:
    """``/_control/*`` routes bound to one ``FakeBotAPI``."""

    def __init__(self, api: FakeBotAPI) -> None:
        self.api = api

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/_control/updates", self._control_updates),
            web.post("/_control/call/{name}", self._control_call),
            web.get("/_control/requests", self._control_requests),
            web.get("/_control/wait", self._control_wait),
            web.get("/_control/stats", self._control_stats),
        ]

    async def _control_updates(self, request: web.Request) -> web.Response:
        body = await request.json()
        updates = body if isinstance(body, list) else [body]
        ids = [self.api.inject_update(u) for u in updates]
        return json_response({"ok": True, "result": ids})

    async def _control_call(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in CONTROL_CALLS:
            return json_response({"ok": False, "description": f"unknown helper {name}"}, 404)
        kwargs = await request.json() if request.can_read_body else {}
        if name == "user_photo" and isinstance(kwargs.get("data"), str):
            kwargs["data"] = kwargs["data"].encode("utf-8")
        try:
            result = getattr(self.api, name)(**kwargs)
        except (TypeError, ValueError, LookupError) as exc:
            return json_response({"ok": False, "description": str(exc)}, 400)
        return json_response({"ok": True, "result": result})

    def _filtered(self, request: web.Request) -> list[dict[str, Any]]:
        since = int(request.query.get("since", "0"))
        method = request.query.get("method")
        return [
            {"index": since + i, **r.as_json()}
            for i, r in enumerate(self.api.requests[since:])
            if method is None or r.method == method
        ]

    async def _control_requests(self, request: web.Request) -> web.Response:
        return json_response({"ok": True, "result": self._filtered(request)})

    async def _control_wait(self, request: web.Request) -> web.Response:
        query = request.query
        try:
            record = await self.api.wait_for(
                query["method"],
                timeout=float(query.get("timeout", "5")),
                since=int(query.get("since", str(len(self.api.requests)))),
            )
        except TimeoutError as exc:
            return json_response({"ok": False, "description": str(exc)}, 408)
        return json_response({"ok": True, "result": record.as_json()})

    async def _control_stats(self, request: web.Request) -> web.Response:
        stats = {
            "requests": len(self.api.requests),
            "pending_updates": len(self.api.updates),
            "rate_limited": [e.as_json() for e in self.api.rate_limited],
            "violations": [e.as_json() for e in self.api.violations],
            "max_rate_per_chat": self.api.max_rate_per_chat(),
            "max_rate_per_bot": self.api.max_rate_per_bot(),
            "server_errors": [repr(e) for e in self.api.server_errors],
        }
        return json_response({"ok": True, "result": stats})
