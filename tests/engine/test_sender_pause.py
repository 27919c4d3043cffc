"""The notification sender after a 429: a token the sender took before Telegram's
``retry_after`` paused the budget is not spent inside the pause.

The sender asks for its next token while it reads the outbox (outbox_sender._cycle),
so that token can be granted while the last message is still out; if that message is
answered 429, the budget pauses, but the token was already in hand. It used to be spent
as soon as the message's slot was free: one more message inside Telegram's penalty (a
whole-suite run on loaded cores saw it: test_sender's global retry_after test, a
'violation' of the fake's penalty window). Here the order is forced: the fake answers
chat 1's message only once the sender holds its next token for chat 2."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import aiohttp
from aiohttp import web
from telegram import Bot

from nija_tg.storage.db import Database
from nija_tg.telegram_out.outbox_sender import Sender
from tests.engine.test_sender import add_user, all_sent, put, running, wait_until
from tests.fakes.telegram_api import FakeBotAPI

RETRY_AFTER = 1


@dataclass
class HoldingProxy:
    """Forwards Bot API calls to the fake, but holds the first sendMessage unanswered
    until ``release`` is set and then answers it 429 ``retry_after`` (not forwarded).
    ``sends``: (chat id, arrival time) of every sendMessage; ``refused_at``: when the
    429 left."""

    target: str
    held: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    sends: list[tuple[int, float]] = field(default_factory=list)
    refused_at: float | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.path.endswith("/sendMessage"):
            chat = int(parse_qs(body.decode())["chat_id"][0])  # PTB posts a form
            self.sends.append((chat, time.monotonic()))
            if not self.held.is_set():
                self.held.set()
                await self.release.wait()
                self.refused_at = time.monotonic()
                answer = {
                    "ok": False,
                    "error_code": 429,
                    "description": f"Too Many Requests: retry after {RETRY_AFTER}",
                    "parameters": {"retry_after": RETRY_AFTER},
                }
                return web.json_response(answer, status=429)
        async with aiohttp.ClientSession() as session:
            async with session.request(
                request.method,
                self.target + request.path_qs.removeprefix("/bot"),
                data=body,
                headers={"Content-Type": request.headers.get("Content-Type", "")},
            ) as resp:
                payload, status = await resp.read(), resp.status
        return web.Response(status=status, body=payload, content_type="application/json")


@asynccontextmanager
async def holding_proxy(target: str) -> AsyncIterator[tuple[str, HoldingProxy]]:
    proxy = HoldingProxy(target)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", proxy.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/bot", proxy
    finally:
        proxy.release.set()
        await runner.cleanup()


class WatchedSender(Sender):
    """The real sender; ``fetched`` is set once a read of the outbox found ``chat``."""

    def __init__(self, *args, chat: int, **kw) -> None:
        super().__init__(*args, **kw)
        self.chat = chat
        self.fetched = asyncio.Event()

    async def _fetch(self, exclude):
        chats, by_chat = await super()._fetch(exclude)
        if self.chat in by_chat:
            self.fetched.set()
        return chats, by_chat


async def test_a_token_taken_before_a_429_is_not_spent_inside_its_pause(db: Database) -> None:
    await add_user(db, 1)
    await add_user(db, 2)
    await put(db, 1, "first #1#")
    async with FakeBotAPI() as api:
        async with holding_proxy(api.base_url) as (url, proxy):
            async with Bot(api.token, base_url=url) as bot:
                sender = WatchedSender(db, bot, max_in_flight=1, chat=2)
                async with running(sender):
                    await asyncio.wait_for(proxy.held.wait(), 30)  # chat 1's message is out
                    await put(db, 2, "second #2#")
                    sender.notify()
                    # the next cycle read chat 2's row and holds its token (asked for with
                    # the read): it waits for the one slot, chat 1's
                    await asyncio.wait_for(sender.fetched.wait(), 30)
                    async with asyncio.timeout(30):
                        while sender.budget.waiting():  # noqa: ASYNC110 - the token granted
                            await asyncio.sleep(0.01)
                    proxy.release.set()  # chat 1: 429, retry after 1 s
                    await wait_until(all_sent(db, 2))
    assert sender.stats.rate_limited == 1
    assert proxy.refused_at is not None
    chat2 = [t for chat, t in proxy.sends if chat == 2]
    assert chat2, proxy.sends
    # nothing inside the pause: chat 2's message came a second after the 429 at least
    # (a lower bound: a loaded machine only makes it later)
    assert chat2[0] - proxy.refused_at >= RETRY_AFTER - 0.05, chat2[0] - proxy.refused_at
