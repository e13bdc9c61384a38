"""A raw oimws client for tests: speaks the wire format open-im-sdk 3.5.2 speaks.

Frames are read by a background task into a list guarded by a Condition, so a
test waits on a condition with a deadline, never on a sleep. `reading=False`
leaves frames unread (a slow reader) until `start_reading()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

__all__ = ["Frame", "OimwsClient", "ws_url"]


def ws_url(bridge_url: str) -> str:
    return bridge_url.replace("http://", "ws://", 1) + "/ws"


@dataclass(frozen=True, slots=True)
class Frame:
    event: str
    err_code: int
    err_msg: str
    data: str
    operation_id: str

    @property
    def value(self) -> Any:
        """`data` parsed as JSON, as open-im-sdk does (left as is when it is not JSON)."""
        try:
            return json.loads(self.data)
        except ValueError:
            return self.data


@dataclass
class OimwsClient:
    ws: ClientConnection
    user_id: str
    frames: list[Frame] = field(default_factory=list)
    closed: bool = False
    _cond: asyncio.Condition = field(default_factory=asyncio.Condition)
    _task: asyncio.Task[None] | None = None

    @classmethod
    async def open(
        cls,
        url: str,
        user_id: str,
        platform_id: int = 5,
        *,
        token: str = "t",
        connect_id: str | None = None,
        reading: bool = True,
        **kwargs: Any,
    ) -> OimwsClient:
        query = {"sendID": user_id, "token": token, "platformID": platform_id}
        query["operationID"] = connect_id or uuid.uuid4().hex
        ws = await connect(f"{url}?{urlencode(query)}", **kwargs)
        client = cls(ws, user_id)
        if reading:
            client.start_reading()
        return client

    def start_reading(self) -> None:
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                obj = json.loads(raw)
                frame = Frame(obj["event"], obj["errCode"], obj["errMsg"], obj["data"], obj["operationID"])
                async with self._cond:
                    self.frames.append(frame)
                    self._cond.notify_all()
        except ConnectionClosed:
            pass
        finally:
            async with self._cond:
                self.closed = True
                self._cond.notify_all()

    # -- sending

    async def send_raw(self, payload: str | bytes) -> None:
        await self.ws.send(payload)

    async def send(
        self, func: str, *args: Any, op: str | None = None, user_id: str | None = None, data: Any = None
    ) -> str:
        """Send a request as open-im-sdk does: `data` = JSON text of the argument array."""
        op = op or uuid.uuid4().hex
        frame = {
            "reqFuncName": func,
            "operationID": op,
            "userID": self.user_id if user_id is None else user_id,
            "data": json.dumps(list(args)) if data is None else data,
        }
        await self.ws.send(json.dumps(frame))
        return op

    async def request(self, func: str, *args: Any, timeout: float = 15.0, **kwargs: Any) -> Frame:
        """Send and wait for the answer: same operationID, event = the function (or a protocol error)."""
        op = await self.send(func, *args, **kwargs)
        return await self.answer(op, (func, "Protocol Error"), timeout)

    async def call(self, func: str, *args: Any, **kwargs: Any) -> Any:
        frame = await self.request(func, *args, **kwargs)
        assert frame.err_code == 0, f"{func}: {frame}"
        return frame.value

    async def login(self, token: str, **kwargs: Any) -> Frame:
        return await self.request("Login", self.user_id, token, **kwargs)

    # -- waiting

    async def answer(self, op: str, events: tuple[str, ...], timeout: float = 15.0) -> Frame:
        return await self.wait_for(lambda f: f.operation_id == op and f.event in events, timeout, f"answer to {op}")

    async def wait_event(
        self, name: str, predicate: Callable[[Any], bool] | None = None, timeout: float = 15.0, since: int = 0
    ) -> Frame:
        def match(f: Frame) -> bool:
            return f.event == name and (predicate is None or predicate(f.value))

        return await self.wait_for(match, timeout, name, since)

    async def wait_for(
        self, match: Callable[[Frame], bool], timeout: float = 15.0, what: str = "frame", since: int = 0
    ) -> Frame:
        def found() -> Frame | None:
            return next((f for f in self.frames[since:] if match(f)), None)

        async with self._cond:
            try:
                await asyncio.wait_for(self._cond.wait_for(lambda: found() is not None or self.closed), timeout)
            except TimeoutError:
                raise AssertionError(f"no {what} within {timeout}s; saw {self.summary()}") from None
        frame = found()
        assert frame is not None, f"socket closed before {what}; saw {self.summary()}"
        return frame

    async def wait_closed(self, timeout: float = 15.0) -> tuple[int | None, str | None]:
        async with self._cond:
            try:
                await asyncio.wait_for(self._cond.wait_for(lambda: self.closed), timeout)
            except TimeoutError:
                raise AssertionError(f"socket still open after {timeout}s; saw {self.summary()}") from None
        return self.ws.close_code, self.ws.close_reason

    def mark(self) -> int:
        return len(self.frames)

    def named(self, name: str) -> list[Frame]:
        return [f for f in self.frames if f.event == name]

    def summary(self) -> list[str]:
        return [f"{f.event}:{f.err_code}" for f in self.frames]

    async def close(self) -> None:
        await self.ws.close()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
