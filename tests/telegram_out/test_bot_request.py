"""telegram_out.bot_request.ConnectionPerRequest: when a kept-open connection fails after
the request was written, the bot's own calls fail as httpx's would (the request is not
sent a second time: no message twice), while the deletion lane's (``resend``) sends it
again through a client of its own. A real HTTP server on 127.0.0.1 that closes the first
connection without answering and answers every later request."""

from __future__ import annotations

import asyncio

import pytest
from telegram.error import NetworkError
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from nija_tg.telegram_out.bot_request import ConnectionPerRequest
from nija_tg.telegram_out.direct_http import DirectConnections

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
