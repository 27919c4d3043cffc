"""telegram_out.bot_request.ConnectionPerRequest: when a kept-open connection fails after
the request was written, the bot's own calls fail as httpx's would (the request is not
sent a second time: no message twice), while the deletion lane's (``resend``) sends it
again through a client of its own. A real HTTP server on 127.0.0.1 that closes the first
connection without answering and answers every later request.

Also: a kept-open connection whose caller stopped waiting (timeout, cancelled) is closed
and opened again; a URL h11 refuses, or one with credentials, goes through httpx."""

from __future__ import annotations

import asyncio
import base64

import pytest
from telegram.error import NetworkError, TimedOut
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from nija_tg.telegram_out.bot_request import ConnectionPerRequest
from nija_tg.telegram_out.direct_http import USER_AGENT, DirectConnections
from tests.telegram_out.answering_server import AnsweringServer, header

OK = b'{"ok":true,"result":true}'


async def _server() -> tuple[asyncio.Server, list[bytes]]:
    seen: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            writer.close()
            return
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        body = await reader.readexactly(length)
        seen.append(body)
        if len(seen) == 1:  # the first request: dropped without an answer
            writer.close()
            return
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(OK)}\r\n\r\n".encode()
            + OK
        )
        await writer.drain()
        writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0), seen


@pytest.mark.parametrize("resend", [False, True], ids=["bot", "deletion-lane"])
async def test_a_failure_after_the_write_resends_only_for_the_lane(resend):
    server, seen = await _server()
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    direct = DirectConnections(url, 1, reopen_after=0.05)
    request = ConnectionPerRequest(4, direct, resend=resend)
    await request.initialize()
    try:
        async with asyncio.timeout(10):
            while direct.idle_count() < 1:  # noqa: ASYNC110 - the connection opening
                await asyncio.sleep(0.02)
        data = RequestData(
            [RequestParameter.from_input("chat_id", 7), RequestParameter.from_input("text", "hi")]
        )
        call = request.do_request(f"{url}/botT/sendMessage", "POST", data)
        if resend:
            assert await asyncio.wait_for(call, 10) == (200, OK)
            assert len(seen) == 2  # sent again, through a client of its own
        else:
            with pytest.raises(NetworkError):
                await asyncio.wait_for(call, 10)
            assert len(seen) == 1  # not sent twice
        assert seen[0] == b"chat_id=7&text=hi"  # form-encoded, as PTB's HTTPXRequest sends
    finally:
        await request.shutdown()
        server.close()
        await server.wait_closed()


async def _idle(direct: DirectConnections, count: int = 1) -> None:
    async with asyncio.timeout(10):
        while direct.idle_count() < count:  # noqa: ASYNC110 - the connection opening
            await asyncio.sleep(0.02)


def _data() -> RequestData:
    return RequestData(
        [RequestParameter.from_input("chat_id", 7), RequestParameter.from_input("text", "hi")]
    )


@pytest.mark.parametrize("gives_up", ["timeout", "cancel"])
async def test_a_connection_whose_caller_gave_up_is_closed_and_opened_fresh(gives_up):
    # without a per-connection deadline, a server that never answers kept the
    # connection busy (out of service) until TCP gave up
    requests: list[bytes] = []
    accepted = 0

    async def never_answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal accepted
        accepted += 1
        requests.append(await reader.read(65536))
        await reader.read()  # until the client goes
        writer.close()

    server = await asyncio.start_server(never_answers, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    direct = DirectConnections(url, 1, reopen_after=0.05)
    request = ConnectionPerRequest(4, direct, read_timeout=0.2)
    await request.initialize()
    try:
        await _idle(direct)
        call = request.do_request(f"{url}/botT/sendMessage", "POST", _data())
        if gives_up == "timeout":
            with pytest.raises(TimedOut):
                await asyncio.wait_for(call, 10)
        else:
            task = asyncio.create_task(call)
            async with asyncio.timeout(5):
                while not any(requests):  # noqa: ASYNC110 - written on the kept-open one
                    await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        await _idle(direct)  # opened again
        assert accepted == 2
        assert b"chat_id=7&text=hi" in requests[0]
    finally:
        await request.shutdown()
        server.close()
        await server.wait_closed()


async def test_a_url_h11_refuses_goes_the_ordinary_way_and_the_connection_stays_in_service():
    async with AnsweringServer() as server:
        url = f"http://127.0.0.1:{server.port}"
        direct = DirectConnections(url, 1)
        request = ConnectionPerRequest(4, direct)
        await request.initialize()
        try:
            await _idle(direct)
            bad = f"{url}/bot1 2/sendMessage"  # httpx sends it, percent-encoded
            assert await request.do_request(bad, "POST", _data()) == (200, b"ok")
            assert direct.idle_count() == 1
            assert server.heads[0].startswith(b"POST /bot1%202/sendMessage ")
            assert header(server.heads[0], b"user-agent") != USER_AGENT.encode()  # httpx's
            assert await request.do_request(f"{url}/botT/sendMessage", "POST", _data()) == (
                200,
                b"ok",
            )
            assert header(server.heads[1], b"user-agent") == USER_AGENT.encode()  # kept-open
        finally:
            await request.shutdown()


async def test_credentials_in_the_url_go_as_basic_auth_as_httpx_sends_them():
    async with AnsweringServer() as server:
        base = f"http://user:pa55word@127.0.0.1:{server.port}"
        direct = DirectConnections(f"{base}/bot", 1)
        request = ConnectionPerRequest(4, direct)
        await request.initialize()
        try:
            await asyncio.sleep(0.2)  # time enough to open one (none is)
            assert direct.open_count == 0
            assert await request.do_request(f"{base}/botT/sendMessage", "POST", _data()) == (
                200,
                b"ok",
            )
        finally:
            await request.shutdown()
        [head] = server.heads
        assert header(head, b"host") == f"127.0.0.1:{server.port}".encode()
        assert header(head, b"authorization") == b"Basic " + base64.b64encode(b"user:pa55word")
        assert direct.open_count == 0
