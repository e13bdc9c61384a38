"""Heartbeat rules of the gateway (openim-v3.md 2.7).

* Text heartbeat: `{"type":"ping","body":X}` -> text `{"type":"pong","body":X}`,
  `{"type":"pong"}` accepted, anything else closes the connection
  (open-im-server internal/msggateway/client_conn.go onReadTextMessage).
* Read deadline: no frame (data, ping or pong) within `ws_read_timeout` closes it
  (client_conn.go setReadDeadline before every read and in pingHandler).
* Server pings only for Web (platform 5), every `ws_ping_interval`
  (ws_server.go wsHandler, doPing).
"""

from __future__ import annotations

import json
from typing import Any

from core.protocol.jsonlimits import loads_bounded

__all__ = ["HeartbeatError", "text_heartbeat_reply"]


class HeartbeatError(ValueError):
    """A text frame that is not a heartbeat: the connection is closed."""


def _field(obj: dict[str, Any], key: str) -> Any:
    # encoding/json: exact key first, then case-insensitive.
    if key in obj:
        return obj[key]
    return next((v for k, v in obj.items() if k.lower() == key), None)


def text_heartbeat_reply(text: str) -> str | None:
    """The text frame to answer with, None for an accepted pong; HeartbeatError otherwise."""
    try:
        # Bounded: a deep body would otherwise fail json.loads/json.dumps with RecursionError
        # (Go's json.Unmarshal fails past 10000 levels, and the connection closes as here).
        obj = loads_bounded(text)
    except ValueError as exc:
        raise HeartbeatError("text frame is not JSON") from exc
    if obj is None:  # Go unmarshals null into the zero struct: type "" -> unsupported
        obj = {}
    if not isinstance(obj, dict):
        raise HeartbeatError("text frame is not a JSON object")
    kind = _field(obj, "type")
    if kind is not None and not isinstance(kind, str):
        raise HeartbeatError("type must be a string")
    if kind == "pong":
        return None
    if kind != "ping":
        raise HeartbeatError(f"not support text message type {kind or ''}")
    body = _field(obj, "body")
    return json.dumps({"type": "pong", "body": body}, separators=(",", ":"), ensure_ascii=False)
