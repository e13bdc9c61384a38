"""One task writes every core's periodic checkpoint (issue 14).

A core that changed marks itself dirty here instead of running its own
saver task and timer; every `interval` seconds the flusher snapshots the
dirty cores and writes them all in one transaction with one prepared
statement (CheckpointStore.save_many). A forced save (park, logout) goes
through :meth:`CheckpointFlusher.exclusive`, so it never interleaves with a
batch: a batch's snapshot is taken and written under the same lock, so an
older snapshot can never land after a newer forced one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any, Protocol

from core.checkpoint import CheckpointStore

__all__ = ["CheckpointFlusher", "Flushable"]

log = logging.getLogger("openim.core.checkpoint")


class Flushable(Protocol):
    def checkpoint_row(self) -> tuple[str, int, dict[str, Any], int | None] | None:
        """(user, platform, snapshot, fence) unless this core may not write one now; clears its dirty mark."""
        ...


class CheckpointFlusher:
    def __init__(self, store: CheckpointStore, interval: float = 2.0) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be > 0 s, got {interval}")
        self.store = store
        self.interval = interval
        self.batches = 0  # transactions written, for tests and /metrics
        self._dirty: dict[int, Flushable] = {}
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def mark(self, core: Flushable) -> None:
        self._dirty[id(core)] = core

    def forget(self, core: Flushable) -> None:
        self._dirty.pop(id(core), None)

    @property
    def pending(self) -> int:
        return len(self._dirty)

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        async with self._lock:
            yield

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="checkpoint-flusher")

    async def flush(self) -> int:
        """Write every dirty core's checkpoint now, in one transaction; how many were written."""
        async with self._lock:
            cores, self._dirty = list(self._dirty.values()), {}
            rows = [row for row in (c.checkpoint_row() for c in cores) if row is not None]
            if rows:
                try:
                    await self.store.save_many(rows)
                except BaseException:
                    for c in cores:  # written next time (or by their own park/logout)
                        self._dirty.setdefault(id(c), c)
                    raise
                self.batches += 1
            return len(rows)

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.flush()
            except Exception:
                log.exception("checkpoint batch not saved; the cores save again on park or logout")
