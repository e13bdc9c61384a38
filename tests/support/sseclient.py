"""A small SSE client for tests: reads a real stream over loopback into a list.

Waiting is on conditions with deadlines (asyncio.Condition), never on sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["SseEvent", "SseReader"]


@dataclass(slots=True)
class SseEvent:
    id: int | None
    event: str
    data: str

    @property
    def json(self) -> Any:
        return json.loads(self.data)


@dataclass
class SseReader:
    client: httpx.AsyncClient
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    events: list[SseEvent] = field(default_factory=list)
    comments: int = 0
    retry: int | None = None
    status: int | None = None
    ended: bool = False
    _task: asyncio.Task[None] | None = None
    _cond: asyncio.Condition = field(default_factory=asyncio.Condition)
    _opened: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self, timeout: float = 10.0) -> SseReader:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self._opened.wait(), timeout)
        return self

    async def _run(self) -> None:
        try:
            async with self.client.stream("GET", self.url, headers=self.headers, timeout=None) as resp:
                self.status = resp.status_code
                self._opened.set()
                if resp.status_code != 200:
                    await resp.aread()
                    return
                fields: dict[str, str] = {}
                data: list[str] = []
                async for line in resp.aiter_lines():
                    if line == "":
                        if data or fields:
                            ev = SseEvent(
                                int(fields["id"]) if "id" in fields else None,
                                fields.get("event", "message"),
                                "\n".join(data),
                            )
                            async with self._cond:
                                self.events.append(ev)
                                self._cond.notify_all()
                        fields, data = {}, []
                        continue
                    if line.startswith(":"):
                        self.comments += 1
                        continue
                    name, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if name == "data":
                        data.append(value)
                    elif name == "retry":
                        self.retry = int(value)
                    else:
                        fields[name] = value
        finally:
            self._opened.set()
            async with self._cond:
                self.ended = True
                self._cond.notify_all()

    def named(self, name: str) -> list[SseEvent]:
        return [e for e in self.events if e.event == name]

    async def wait_for(
        self, name: str, predicate: Callable[[Any], bool] | None = None, timeout: float = 10.0, count: int = 1
    ) -> list[SseEvent]:
        """Wait until `count` events named `name` (whose JSON data matches) have arrived."""

        def matching() -> list[SseEvent]:
            return [e for e in self.named(name) if predicate is None or predicate(e.json)]

        async with self._cond:
            try:
                await asyncio.wait_for(self._cond.wait_for(lambda: len(matching()) >= count or self.ended), timeout)
            except TimeoutError:
                seen = [e.event for e in self.events]
                raise AssertionError(f"no {name} within {timeout}s; saw {seen}") from None
        found = matching()
        assert len(found) >= count, f"stream ended before {name}; saw {[e.event for e in self.events]}"
        return found

    async def wait_ended(self, timeout: float = 10.0) -> None:
        async with self._cond:
            await asyncio.wait_for(self._cond.wait_for(lambda: self.ended), timeout)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
