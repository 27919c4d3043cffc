"""A keep-alive HTTP/1.1 server on 127.0.0.1 (plain, or TLS with ``ssl``) that answers
every request ``200 ok`` and keeps each request's head (request line and headers) and
body, and how many connections it accepted."""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from dataclasses import dataclass, field


@dataclass
class AnsweringServer:
    ssl: ssl_module.SSLContext | None = None
    heads: list[bytes] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    accepted: int = 0
    server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.sockets[0].getsockname()[1]

    async def __aenter__(self) -> AnsweringServer:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ssl)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                self.bodies.append(await reader.readexactly(length))
                self.heads.append(head)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl_module.SSLError):
            pass
        finally:
            writer.close()


def header(head: bytes, name: bytes) -> bytes | None:
    """The value of header ``name`` in ``head`` (case-insensitive), None if absent."""
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None
