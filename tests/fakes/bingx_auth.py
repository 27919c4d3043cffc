"""BingX emulator, private-request checks: header ``X-BX-APIKEY``; ``signature`` = hex
HMAC-SHA256(secret, the query string of every other parameter in the order sent,
``timestamp`` included); a timestamp outside ``recvWindow`` (default 5000 ms) from the real
wall clock is refused."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from tests.fakes.bingx_markets import err
from tests.fakes.emulator_base import EmuAccount, Ledger

RECV_WINDOW_MS = 5000

PrivateHandler = Callable[[web.Request, EmuAccount, dict], Awaitable[web.Response]]


def auth_error() -> web.Response:
    return err(100413, "Incorrect apiKey, please check your valid api key")


def stale_timestamp() -> web.Response:
    return err(100421, "Null timestamp or timestamp mismatch")


def signed(text: str, secret: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def private(ledger: Ledger, handler: PrivateHandler) -> Callable[[web.Request], Awaitable]:
    """Wrap ``handler(request, account, params)`` with BingX's key/signature/time checks."""

    async def wrapped(request: web.Request) -> web.Response:
        params = dict(request.query)
        if request.can_read_body and request.content_type.endswith("x-www-form-urlencoded"):
            params.update(dict(await request.post()))
        account = ledger.accounts.get(request.headers.get("X-BX-APIKEY", ""))
        if account is None or account.revoked:
            return auth_error()
        pairs = [(k, v) for k, v in request.query.items() if k != "signature"]
        payload = "&".join(f"{k}={v}" for k, v in pairs)
        raw = "&".join(
            p for p in request.rel_url.raw_query_string.split("&") if not p.startswith("signature=")
        )
        given = params.get("signature", "")
        if not any(hmac.compare_digest(signed(t, account.secret), given) for t in {payload, raw}):
            return err(100001, "Signature verification failed")
        try:
            stamp = int(params.get("timestamp", ""))
            window = int(params.get("recvWindow", RECV_WINDOW_MS))
        except ValueError:
            return stale_timestamp()
        if abs(time.time() * 1000 - stamp) > window:
            return stale_timestamp()
        return await handler(request, account, params)

    return wrapped
