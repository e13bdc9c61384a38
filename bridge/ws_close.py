"""A WebSocket close that a peer which never reads cannot hold off (uvicorn's sans-I/O protocol).

uvicorn's `send` waits for the transport to be writable before any message, a close
included, and its close timer then calls `transport.close()`, which waits for the
buffered bytes to be read first. A client that stops reading fills the socket, so the
bridge's close (a `/ws` socket that never logged in, a session's socket the bridge
ends) waited for good and the socket, its buffers and its descriptor were held as
long as the client liked.

Here a close asked for while the peer reads nothing fails the connection at once
(RFC 6455 7.1.7: the close frame could only queue behind what it does not read), and
a close handshake the peer has not completed within `close_timeout` drops the
connection (7.1.1 lets the server close the TCP connection; 10 s as uvicorn's) rather
than waiting on the peer to read. The rest is uvicorn's protocol unchanged.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

__all__ = ["BoundedCloseWebSockets"]


class BoundedCloseWebSockets(WebSocketsSansIOProtocol):
    async def send(self, message: Any) -> None:
        if message["type"] != "websocket.close" or not self.handshake_complete or self.initial_response is not None:
            await super().send(message)
            return
        if not self.writable.is_set() and not self.close_sent:
            self.close_sent = True
            self.queue.put_nowait({"type": "websocket.disconnect", "code": message.get("code", 1000), "reason": ""})
            self.transport.abort()
            return
        await super().send(message)
        if self.close_timer is not None:  # the close went out: the peer has close_timeout to answer it
            self.close_timer.cancel()
            self.close_timer = self.loop.call_later(self.close_timeout, self.transport.abort)
