"""core.supervise: crashing loops restart or give up, stopping never inherits a task's fate."""

from __future__ import annotations

import asyncio
import logging

import pytest

from core.supervise import RestartPolicy, stop_tasks, supervise


async def test_a_crashing_body_is_logged_with_traceback_and_restarted(caplog: pytest.LogCaptureFixture) -> None:
    runs = 0
    done = asyncio.Event()

    async def body() -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            raise RuntimeError(f"crash {runs}")
        done.set()

    with caplog.at_level(logging.ERROR, "openim.core.supervise"):
        task = supervise("t-restart", body)
        await asyncio.wait_for(done.wait(), 5)
        await task
    assert runs == 3 and task.exception() is None
    crashes = [r for r in caplog.records if r.getMessage() == "task t-restart crashed"]
    assert len(crashes) == 2 and all(r.exc_info for r in crashes)


async def test_a_body_that_keeps_crashing_gives_up_once() -> None:
    given_up: list[BaseException] = []
    crashes: list[BaseException] = []

    async def body() -> None:
        raise ValueError("always")

    async def on_crash(exc: BaseException) -> bool:
        crashes.append(exc)
        return True

    async def on_give_up(exc: BaseException) -> None:
        given_up.append(exc)

    task = supervise("t-give-up", body, policy=RestartPolicy(restarts=3), on_crash=on_crash, on_give_up=on_give_up)
    await asyncio.wait_for(task, 5)
    assert len(crashes) == 4 and len(given_up) == 1 and isinstance(given_up[0], ValueError)


async def test_a_crash_hook_can_refuse_the_restart() -> None:
    given_up = asyncio.Event()

    async def body() -> None:
        raise KeyError("x")

    async def refuse(exc: BaseException) -> bool:
        return False

    async def on_give_up(exc: BaseException) -> None:
        given_up.set()

    await asyncio.wait_for(supervise("t-refuse", body, on_crash=refuse, on_give_up=on_give_up), 5)
    assert given_up.is_set()


async def test_cancelling_a_supervised_task_is_no_crash() -> None:
    started = asyncio.Event()
    crashed: list[BaseException] = []

    async def body() -> None:
        started.set()
        await asyncio.Event().wait()

    async def on_crash(exc: BaseException) -> bool:
        crashed.append(exc)
        return True

    task = supervise("t-cancel", body, on_crash=on_crash)
    await asyncio.wait_for(started.wait(), 5)
    await stop_tasks([task])
    assert task.cancelled() and not crashed


async def test_stop_tasks_never_raises_what_a_task_died_of(caplog: pytest.LogCaptureFixture) -> None:
    async def dies() -> None:
        raise RecursionError("deep")

    dead = asyncio.create_task(dies(), name="dead-one")
    await asyncio.wait({dead})
    with caplog.at_level(logging.ERROR, "openim.core.supervise"):
        await stop_tasks([dead, None])
        await stop_tasks([dead])  # and again: a park after a park
    assert [r.getMessage() for r in caplog.records] == ["task dead-one had died"] * 2


async def test_stop_tasks_gives_up_on_a_task_that_ignores_cancellation(caplog: pytest.LogCaptureFixture) -> None:
    release = asyncio.Event()
    started = asyncio.Event()

    async def stubborn() -> None:
        started.set()
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue

    task = asyncio.create_task(stubborn(), name="stubborn")
    await asyncio.wait_for(started.wait(), 5)
    with caplog.at_level(logging.ERROR, "openim.core.supervise"):
        await stop_tasks([task], timeout=0.05)
    assert "did not stop" in caplog.records[-1].getMessage() and not task.done()
    release.set()
    await asyncio.wait_for(task, 5)
