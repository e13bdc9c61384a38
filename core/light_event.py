"""An asyncio.Event that makes its waiter deque on the first wait (issue 14).

asyncio.Event makes an empty `collections.deque` in its constructor: 760 bytes, most
of them one unused 64-slot block. A live session keeps a few Events that are rarely or
never waited on (its gateway's `connected` and stop flags), so each carries that
deque for nothing. This one starts with an empty tuple, which `set` iterates as well,
and swaps a deque in when someone waits. Same interface and semantics as asyncio.Event
(CPython Lib/asyncio/locks.py Event: `_waiters` is only appended to by `wait`).
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any, Literal

__all__ = ["LightEvent"]


class LightEvent(asyncio.Event):
    def __init__(self) -> None:
        self._waiters: Any = ()
        self._value = False

    async def wait(self) -> Literal[True]:
        if not self._value and not isinstance(self._waiters, collections.deque):
            self._waiters = collections.deque()
        return await super().wait()
