"""Waiting on a condition with a deadline: the one polling helper of the tests.

For conditions that can only be observed by asking (an in-process flag, an
HTTP endpoint, Redis, a file), never a way to wait out time: each call names
what it waits for, so a timeout says what did not happen.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx

__all__ = ["eventually", "poll_answer", "until", "wait_healthy", "wait_until"]

T = TypeVar("T")


async def until(
    check: Callable[[], Awaitable[T | None]], what: str, timeout: float = 10.0, interval: float = 0.01
) -> T:
    """Await `check` until it returns something other than None or False; return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


async def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """`until` for a cheap in-process predicate."""

    async def check() -> bool:
        return predicate()

    await until(check, what, timeout)


async def eventually(check: Callable[[], Awaitable[bool] | bool], what: str, timeout: float = 5.0) -> None:
    """`until` for a condition that is true or false, sync or async (Redis-side time passing, a task parking)."""

    async def held() -> bool:
        value = check()
        return await value if inspect.isawaitable(value) else value

    await until(held, what, timeout)


async def poll_answer(
    get: Callable[[], Awaitable[T]], ok: Callable[[T], bool], timeout: float = 10.0, what: str = "answer"
) -> T:
    """Ask again (a read that has no side effect) until the answer satisfies `ok`; return that answer."""
    last: list[T] = []

    async def check() -> list[T] | None:
        last[:] = [await get()]
        return last if ok(last[0]) else None

    try:
        return (await until(check, what, timeout, interval=0.02))[0]
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last answer {last[0]!r}" if last else str(exc)) from None


async def wait_healthy(http: httpx.AsyncClient, url: str, proc: asyncio.subprocess.Process, timeout: float) -> None:
    """A server process answers `/healthz` 200 (it must not exit meanwhile)."""

    async def healthy() -> bool:
        assert proc.returncode is None, f"the server exited early with {proc.returncode}"
        try:
            return (await http.get(f"{url}/healthz")).status_code == 200
        except httpx.TransportError:
            return False

    await until(healthy, f"{url} to answer /healthz", timeout, interval=0.05)
