"""A loopback HTTP server that serves fixed pages: a browser page on an origin of its own."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping

__all__ = ["PageHost"]


class PageHost:
    """GET `path` -> the page given for it (text/html), anything else 404.

    Its origin is http://127.0.0.1:<port>; http://localhost:<port> reaches the
    same pages from another origin, which is how a test gets an unlisted one.
    """

    def __init__(self, pages: Mapping[str, str]) -> None:
        self._pages = dict(pages)
        self._server: asyncio.Server | None = None
        self.port = 0

    def origin(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}"

    async def __aenter__(self) -> PageHost:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await reader.readline()
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            parts = request_line.decode("latin-1").split()
            page = self._pages.get(parts[1].split("?", 1)[0]) if len(parts) >= 2 and parts[0] == "GET" else None
            status, body = ("200 OK", page.encode()) if page is not None else ("404 Not Found", b"not found\n")
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
                "Cache-Control: no-store\r\nConnection: close\r\n\r\n".encode("latin-1")
                + body
            )
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
