"""Outcomes in Redis: cluster mode, so a retry that lands on another node replays.

Layout (``prefix`` defaults to ``oimb:``; ``sid`` is the session id):

- ``{prefix}idem:{sid}:{op}``: string, JSON, with a ``PX`` expiry of the
  window, written once when the call has finished (``SET NX``: the first
  outcome recorded is the one every retry gets). ``{op}`` is the operationID
  itself when it is at most 40 characters of ``[A-Za-z0-9._:-]`` (readable in
  ``redis-cli``), else the hex SHA-256 of it (64 characters, so the two forms
  never collide). The value::

      {"path": "/v1/friend/add_friend", "status": "done", "kind": "result", "result": ...}
      {"path": ..., "status": "done", "kind": "error",
       "error": {"status": 409, "code": 1304, "msg": "...", "detail": "...", "headers": {...}, "sdk": true}}

  ``headers`` is left out when empty. A value whose ``status`` is not
  ``"done"`` is treated as absent (room for a later version to add claims).

Expiry is Redis's own clock, so nodes' clocks do not matter. Redis outages
surface as :class:`~bridge.errors.BridgeError` 503 (``redis_client``).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from redis.asyncio import Redis

from bridge.redis_client import redis_errors

from .base import MAX_OUTCOME_BYTES, Outcome, OutcomeStore, RecordedError

__all__ = ["RedisOutcomes"]

_RAW_OP = re.compile(r"[A-Za-z0-9._:\-]{1,40}")


class RedisOutcomes(OutcomeStore):
    def __init__(self, client: Redis, *, window: float, prefix: str = "oimb:") -> None:
        self._client = client
        self._prefix = prefix
        self._px = max(1, round(window * 1000))

    def key(self, session_id: str, operation_id: str) -> str:
        op = operation_id if _RAW_OP.fullmatch(operation_id) else hashlib.sha256(operation_id.encode()).hexdigest()
        return f"{self._prefix}idem:{session_id}:{op}"

    async def get(self, session_id: str, operation_id: str) -> Outcome | None:
        async with redis_errors("idempotency lookup"):
            raw = await self._client.get(self.key(session_id, operation_id))
        return None if raw is None else decode(raw)

    async def put(self, session_id: str, operation_id: str, outcome: Outcome) -> None:
        value = encode(outcome)
        if len(value) > MAX_OUTCOME_BYTES:
            return
        async with redis_errors("idempotency record"):
            await self._client.set(self.key(session_id, operation_id), value, px=self._px, nx=True)


def encode(outcome: Outcome) -> str:
    doc: dict[str, Any] = {"path": outcome.path, "status": "done"}
    error = outcome.error
    if error is None:
        doc.update(kind="result", result=outcome.result)
    else:
        err: dict[str, Any] = {"status": error.status, "code": error.code, "msg": error.msg, "detail": error.detail}
        if error.headers:
            err["headers"] = error.headers
        err["sdk"] = error.sdk
        doc.update(kind="error", error=err)
    return json.dumps(doc, separators=(",", ":"))


def decode(raw: bytes | str) -> Outcome | None:
    doc = json.loads(raw)
    if doc.get("status") != "done":
        return None
    if doc["kind"] == "result":
        return Outcome(doc["path"], doc["result"])
    err = doc["error"]
    error = RecordedError(
        int(err["status"]),
        int(err["code"]),
        str(err["msg"]),
        str(err["detail"]),
        {str(k): str(v) for k, v in err.get("headers", {}).items()},
        bool(err["sdk"]),
    )
    return Outcome(doc["path"], error=error)
