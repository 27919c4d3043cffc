"""Deletions written at once (telegram_out.direct_http through the deletion lane).

The fake Bot API runs in a process of its own here (as Telegram is remote), so it sees
a request the moment the bot's process writes it, whatever the bot's event loop does.
The bot's loop is then blocked (``time.sleep``: a loop busy with a burst): a deletion on
a kept-open connection reaches the fake during the block; without those connections
(``direct_connections=0``, the lane's own httpx clients) it reaches the fake only after
the loop turned again. Both ends are CLOCK_MONOTONIC (system-wide on Linux).

Also: a connection the server closes is opened again; more deletions than idle
connections go through the lane's own clients and are all deleted; a 429 answered on a
kept-open connection is reported and the deletion retried; connections on descriptors
>= 1024 are used; a target h11 refuses is not written; the Host header; no kept-open
connection with credentials in the URL."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from nija_tg.telegram_out.deletion_lane import DeletionLane
from nija_tg.telegram_out.direct_http import DirectConnections, _host_header
from tests.bot_api_process import run_fake_bot_api
from tests.conftest import TEST_TOKEN
from tests.fakes.telegram_api import FakeBotAPI
from tests.fakes.telegram_api_wire import ApiError, DecodedRequest
from tests.telegram_out.answering_server import AnsweringServer, header

CHAT = 4343
BLOCK = 0.5  # seconds the bot's loop is kept busy


@pytest.fixture
def remote_api(tmp_path):
    yield from run_fake_bot_api(tmp_path)


async def _control(session: aiohttp.ClientSession, url: str, name: str, **kw: Any) -> Any:
    async with session.post(f"{url}/_control/call/{name}", json=kw) as resp:
        return (await resp.json())["result"]


async def _idle(direct: DirectConnections | None, count: int) -> None:
    if direct is None:
        return
    async with asyncio.timeout(10):
        while direct.idle_count() < count:  # noqa: ASYNC110 - connections opening
            await asyncio.sleep(0.02)


@pytest.mark.parametrize("direct", [2, 0], ids=["kept-open", "httpx-only"])
async def test_a_deletion_reaches_telegram_while_the_loop_is_busy_only_when_written_at_once(
    remote_api, direct
):
    lane = DeletionLane(TEST_TOKEN, f"{remote_api}/bot", direct_connections=direct)
    await lane.start()
    try:
        await _idle(lane._direct, direct)  # noqa: SLF001 - the lane's kept-open connections
        async with aiohttp.ClientSession() as session:
            message_id = await _control(session, remote_api, "user_message", user_id=CHAT, text="k")
            asked = time.monotonic()
            task = lane.delete(CHAT, message_id)
            time.sleep(BLOCK)  # noqa: ASYNC251 - the loop is busy: no turn until this returns
            unblocked = time.monotonic()
            assert await asyncio.wait_for(task, 10) is True
            url = f"{remote_api}/_control/requests?method=deleteMessage"
            async with session.get(url) as resp:
                [record] = (await resp.json())["result"]
        assert record["status"] == 200
        if direct:
            assert asked <= record["ts"] < unblocked  # arrived while the loop was blocked
        else:
            assert record["ts"] >= unblocked  # written only once the loop turned
    finally:
        await lane.close()


async def test_a_connection_the_server_closes_is_opened_again():
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    direct = DirectConnections(f"http://127.0.0.1:{port}/bot", 1, reopen_after=0.05)
    await direct.start()
    try:
        for _ in range(2):
            await _idle(direct, 1)
            answer = direct.send(f"http://127.0.0.1:{port}/botT/deleteMessage", {"a": "1"})
            assert answer is not None
            assert await asyncio.wait_for(answer, 5) == (200, b"ok")
            assert direct.send(f"http://127.0.0.1:{port}/x", {}) is None  # closing: not idle
        await _idle(direct, 1)
        assert connections == 3  # closed after each answer, opened again each time
        assert direct.send("http://elsewhere:1/x", {}) is None  # another server
    finally:
        await direct.close()
        server.close()
        await server.wait_closed()


class HoldingBotAPI(FakeBotAPI):
    """Holds every deletion until ``release`` is set (deletions started together overlap)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.release = asyncio.Event()
        self.in_flight = 0

    async def api_deleteMessage(self, req: DecodedRequest) -> Any:
        self.in_flight += 1
        await self.release.wait()
        return await super().api_deleteMessage(req)


async def test_more_deletions_than_idle_connections_all_go():
    async with HoldingBotAPI(token=TEST_TOKEN) as api:
        lane = DeletionLane(TEST_TOKEN, api.base_url, direct_connections=1, connections=8)
        await lane.start()
        try:
            await _idle(lane._direct, 1)  # noqa: SLF001
            ids = [api.user_message(CHAT, f"m{i}") for i in range(4)]
            tasks = [lane.delete(CHAT, i) for i in ids]
            assert lane._direct.idle_count() == 0  # noqa: SLF001 - the first took it
            async with asyncio.timeout(10):
                while api.in_flight < 4:  # noqa: ASYNC110 - all four reached the fake
                    await asyncio.sleep(0.01)
            api.release.set()
            assert await asyncio.gather(*tasks) == [True] * 4
        finally:
            await lane.close()


class RefusingOnceBotAPI(FakeBotAPI):
    refused = 0

    async def api_deleteMessage(self, req: DecodedRequest) -> Any:
        if not self.refused:
            self.refused += 1
            raise ApiError(429, "Too Many Requests: retry after 1", {"retry_after": 1})
        return await super().api_deleteMessage(req)


async def test_a_429_on_a_kept_open_connection_is_reported_and_retried():
    async with RefusingOnceBotAPI(token=TEST_TOKEN) as api:
        reported: list[tuple[int, float]] = []
        lane = DeletionLane(
            TEST_TOKEN,
            api.base_url,
            direct_connections=1,
            on_retry_after=lambda chat, secs: reported.append((chat, secs)),
        )
        await lane.start()
        try:
            await _idle(lane._direct, 1)  # noqa: SLF001
            message_id = api.user_message(CHAT, "to delete")
            assert await asyncio.wait_for(lane.delete(CHAT, message_id), 10) is True
            assert reported == [(CHAT, 1.0)]
            deletes = [r for r in api.requests if r.method == "deleteMessage"]
            assert [r.status for r in deletes] == [429, 200]
        finally:
            await lane.close()


async def test_with_a_proxy_in_the_environment_no_connection_is_kept_open(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    direct = DirectConnections("http://api.example:80/bot", 4)
    await direct.start()
    try:
        await asyncio.sleep(0.05)
        assert direct.open_count == 0
        assert direct.send("http://api.example:80/botT/deleteMessage", {}) is None
    finally:
        await direct.close()


async def test_a_connection_the_server_closed_unnoticed_is_not_written_on():
    writers: list[asyncio.StreamWriter] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await reader.read()  # until the client goes

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    direct = DirectConnections(url, 1, reopen_after=10.0)
    await direct.start()
    try:
        await _idle(direct, 1)
        async with asyncio.timeout(5):
            while not writers:  # noqa: ASYNC110 - the server's side accepted
                await asyncio.sleep(0.01)
        writers[0].close()
        await asyncio.sleep(0)  # the server's socket closes (FIN sent)
        time.sleep(0.05)  # noqa: ASYNC251 - it reaches us; our loop has not read it yet
        assert direct.idle_count() == 1  # the loop has not noticed
        assert direct.send(f"{url}/botT/deleteMessage", {"a": "1"}) is None
        assert direct.idle_count() == 0  # closed, not written on
    finally:
        await direct.close()
        server.close()
        await server.wait_closed()


@contextlib.contextmanager
def _descriptors_above_1024() -> Iterator[None]:
    """Take every free descriptor up to 1024 (as a busy bot process would: sockets,
    SQLite, ...): descriptors opened now are numbered 1024 and above."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        if hard != resource.RLIM_INFINITY and hard < 1200:
            pytest.skip(f"open-file limit {hard} < 1200")
        resource.setrlimit(resource.RLIMIT_NOFILE, (1200, hard))
    fillers: list[int] = []
    try:
        while not fillers or fillers[-1] < 1024:
            fillers.append(os.open(os.devnull, os.O_RDONLY))
        yield
    finally:
        for fd in fillers:
            os.close(fd)
        if soft < 1200:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def test_connections_on_descriptors_above_1024_still_write_at_once():
    # select.select refuses a descriptor >= FD_SETSIZE (1024): the check before writing
    # took that for a closed connection and closed it, send() answered None for good
    with _descriptors_above_1024():
        async with AnsweringServer() as server:
            url = f"http://127.0.0.1:{server.port}"
            direct = DirectConnections(url, 2)
            await direct.start()
            try:
                await _idle(direct, 2)
                fds = [c.transport.get_extra_info("socket").fileno() for c in direct._connections]  # noqa: SLF001
                assert min(fds) >= 1024
                for _ in range(3):
                    answer = direct.send(f"{url}/botT/deleteMessage", {"a": "1"})
                    assert answer is not None  # written on a kept-open connection
                    assert await asyncio.wait_for(answer, 5) == (200, b"ok")
                assert direct.idle_count() == 2 and server.accepted == 2  # none closed
            finally:
                await direct.close()


@pytest.mark.parametrize("target", ["/bot12 3/deleteMessage", "/bot\u00e9/deleteMessage"])
async def test_a_target_h11_refuses_is_not_written_and_leaves_the_connection_idle(target):
    # the answer's future used to be set before h11 checked the target: the connection
    # was never idle again (nor closed, nor reopened)
    async with AnsweringServer() as server:
        url = f"http://127.0.0.1:{server.port}"
        direct = DirectConnections(url, 1)
        await direct.start()
        try:
            await _idle(direct, 1)
            assert direct.send(f"{url}{target}", {"a": "1"}) is None  # the ordinary way
            assert direct.idle_count() == 1
            answer = direct.send(f"{url}/botT/deleteMessage", {"a": "1"})
            assert answer is not None
            assert await asyncio.wait_for(answer, 5) == (200, b"ok")
            assert server.accepted == 1 and len(server.heads) == 1
        finally:
            await direct.close()


async def test_the_host_header_is_the_host_and_port():
    async with AnsweringServer() as server:
        url = f"http://127.0.0.1:{server.port}"
        direct = DirectConnections(url, 1)
        await direct.start()
        try:
            await _idle(direct, 1)
            answer = direct.send(f"{url}/botT/deleteMessage", {"a": "1"})
            assert answer is not None
            await asyncio.wait_for(answer, 5)
        finally:
            await direct.close()
        assert header(server.heads[0], b"host") == f"127.0.0.1:{server.port}".encode()
    assert _host_header("api.telegram.org", 443, 443) == "api.telegram.org"
    assert _host_header("::1", 8081, 80) == "[::1]:8081"


async def test_with_a_user_and_password_in_the_url_no_connection_is_kept_open():
    # they used to be written in the Host header (and no Authorization header)
    async with AnsweringServer() as server:
        base = f"http://user:pa55word@127.0.0.1:{server.port}"
        direct = DirectConnections(f"{base}/bot", 1, reopen_after=0.01)
        await direct.start()
        try:
            await asyncio.sleep(0.2)
            assert direct.open_count == 0 and server.accepted == 0
            assert direct.send(f"{base}/botT/deleteMessage", {"a": "1"}) is None
        finally:
            await direct.close()
