"""The gateway's WebSocket connection: websockets' client connection, made cheaper to keep alive (issue 14).

- It notes the loop time of every frame it reads, data or control (`read_at`), which
  is the SDK's read deadline (long_conn_mgr.go resets it on every message, ping and
  pong): no pong future or callback per ping.
- `ping_frame` is a ping written straight to the transport, with a fresh 16-character
  id as payload like the SDK's operationID: websockets' `ping()` takes a send context,
  a future, a dict entry and a frame serialisation for each, which per idle session
  and keep-alive period was most of what the bridge did at rest. The pong comes back
  unsolicited as far as websockets knows (it ignores those, asyncio/connection.py
  acknowledge_pings) and moves `read_at`.
"""

from __future__ import annotations

import os

from websockets.asyncio.client import ClientConnection
from websockets.protocol import Event

__all__ = ["GatewayConnection", "ping_frame"]

# RFC 6455 5.2: FIN + opcode 0x9 (ping); MASK bit + payload length 16 (a client masks every frame).
_PING_HEAD = bytes((0x89, 0x80 | 16))


class GatewayConnection(ClientConnection):
    read_at = 0.0  # loop time of the last frame read (the handshake response first)

    def process_event(self, event: Event) -> None:
        self.read_at = self.loop.time()
        super().process_event(event)


def ping_frame() -> bytes:
    """A masked ping frame carrying a fresh 16-character hex id (RFC 6455 5.3, 5.5.2)."""
    rand = os.urandom(12)  # 8 bytes of id, 4 of masking key: one read of the entropy pool
    payload = rand[:8].hex().encode()
    mask = rand[8:]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(mask * 4, "big")).to_bytes(16, "big")
    return _PING_HEAD + mask + masked
