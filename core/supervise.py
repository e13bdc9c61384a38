"""Long-lived tasks that cannot die silently, and stopping tasks without inheriting their fate.

A core's loops (push dispatch, checkpoint saver, gateway connection) run for
the whole session. If one of them raised and nobody awaited it, the core would
look "live" and deliver nothing (issue 10). `supervise` runs a loop body, logs
an unexpected exception with its traceback and runs the body again; a body
that keeps crashing (more than `restarts` times within `window` seconds) is a
bug that restarting will not fix, so it gives up and calls `on_give_up`, whose
job is to end the session with an event. `stop_tasks` cancels tasks and waits
for them a bounded time, logging (never raising) whatever they died of, so
park/logout/abandon always finish.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["RestartPolicy", "stop_tasks", "supervise"]

log = logging.getLogger("openim.core.supervise")


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """Give up after more than `restarts` crashes within `window` seconds."""

    restarts: int = 5
    window: float = 60.0


Body = Callable[[], Awaitable[None]]
CrashHook = Callable[[BaseException], Awaitable[bool]]
GiveUp = Callable[[BaseException], Awaitable[None]]


async def _call_hook(name: str, hook: Callable[[BaseException], Awaitable[object]], exc: BaseException) -> object:
    try:
        return await hook(exc)
    except Exception:
        log.exception("task %s: crash handler failed", name)
        return None


async def _run_supervised(
    name: str, body: Body, policy: RestartPolicy, on_crash: CrashHook | None, on_give_up: GiveUp | None
) -> None:
    loop = asyncio.get_running_loop()
    crashes: deque[float] | None = None  # made at the first crash: a deque is 760 bytes, per core
    while True:
        try:
            await body()
            return  # a body that returns has finished its job
        except Exception as exc:
            log.error("task %s crashed", name, exc_info=exc)
            now = loop.time()
            crashes = crashes if crashes is not None else deque()
            crashes.append(now)
            while crashes and now - crashes[0] > policy.window:
                crashes.popleft()
            restart = len(crashes) <= policy.restarts
            if on_crash is not None and await _call_hook(name, on_crash, exc) is False:
                restart = False  # the hook says this task cannot be restarted
            if not restart:
                log.error("task %s gave up after %d crashes", name, len(crashes))
                if on_give_up is not None:
                    await _call_hook(name, on_give_up, exc)
                return
            log.warning("task %s restarting (crash %d of at most %d)", name, len(crashes), policy.restarts)


def supervise(
    name: str,
    body: Body,
    *,
    policy: RestartPolicy | None = None,
    on_crash: CrashHook | None = None,
    on_give_up: GiveUp | None = None,
) -> asyncio.Task[None]:
    """Run `body` in a task, restarting it when it raises; the task itself never raises.

    `on_crash(exc)` runs after each crash and returns whether a restart is
    allowed; `on_give_up(exc)` runs once when the task stops restarting.
    Cancelling the task cancels the body (CancelledError is not a crash).
    """
    return asyncio.create_task(_run_supervised(name, body, policy or RestartPolicy(), on_crash, on_give_up), name=name)


async def stop_tasks(tasks: Iterable[asyncio.Task[Any] | None], timeout: float = 5.0) -> None:
    """Cancel `tasks` and wait up to `timeout` s for them; log (never raise) how each failed.

    The caller's own cancellation still propagates; its task is skipped if listed.
    """
    current = asyncio.current_task()
    pending = {t for t in tasks if t is not None and t is not current}
    for task in pending:
        task.cancel()
    if not pending:
        return
    done, stuck = await asyncio.wait(pending, timeout=timeout)
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s had died", task.get_name(), exc_info=task.exception())
    for task in stuck:
        log.error("task %s did not stop within %.0f s; left behind", task.get_name(), timeout)
