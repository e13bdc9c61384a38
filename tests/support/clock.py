"""Clocks tests can move: time under test is injected, never slept through."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["MovableClock", "poll_answer", "wait_until"]

T = TypeVar("T")


@dataclass
class MovableClock:
    """Real time plus an offset the test can advance."""

    base: float = 0.0
    offset: float = 0.0
    wall: bool = True

    def __call__(self) -> float:
        return (time.time() if self.wall else time.monotonic()) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


async def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Poll a cheap in-process condition until it holds, or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)


async def poll_answer(
    get: Callable[[], Awaitable[T]], ok: Callable[[T], bool], timeout: float = 10.0, what: str = "answer"
) -> T:
    """Ask again (a read that has no side effect) until the answer satisfies `ok`; return that answer."""
    deadline = time.monotonic() + timeout
    while not ok(answer := await get()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last answer {answer!r}")
        await asyncio.sleep(0.02)
    return answer
