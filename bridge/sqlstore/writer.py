"""Group commit: one task writes everything the SQL stores change, many changes per transaction.

Callers hand in a *job* and await its commit. The writer task takes every job
queued by the time it is free (at most ``max_batch`` rows, see ``Job.size``), runs them in order in
one transaction on the writer connection, commits, and only then answers the
callers and runs the jobs' ``after`` hooks (which wake event-log readers). So
an append costs a share of one commit, not a commit (or an fsync) of its own,
and no reader sees an event before it is durable. Nothing waits for a batch
to fill: an idle writer commits a lone job at once, and a busy one batches
whatever arrived meanwhile (the latency is one commit, a few milliseconds).

A job's ``run`` receives the connection and the batch's shared ``scratch``
dict, so jobs of one kind can coalesce their statements: the event log's
appends of a batch become one multi-row INSERT (``prepare`` hooks run once
per batch kind, before the first job's ``run``... see bridge/eventlog/sql.py).

When the transaction fails, every job of the batch fails with the error
(:class:`~bridge.errors.BridgeError` 503 via ``database_errors``) and its
``rollback`` hook runs, so caches built on the assumption of a commit are
dropped. Backpressure: at most ``max_queue`` jobs wait; past it, callers wait
for room (policy ``block-producer``), so a database slower than the load
slows the producers instead of growing memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bridge.errors import BridgeError
from bridge.sqlstore.database import database_errors

__all__ = ["OVERFLOW_POLICY", "GroupWriter", "Job"]

log = logging.getLogger("openim.bridge.sqlstore")

OVERFLOW_POLICY = "block-producer"


@dataclass(slots=True)
class Job:
    """One change: ``run`` inside the batch's transaction; ``after`` once committed; ``rollback`` if not."""

    run: Callable[[AsyncConnection, dict[str, Any]], Awaitable[Any]]
    after: Callable[[], None] | None = None
    rollback: Callable[[], None] | None = None
    # Runs once per batch after every job's ``run`` (coalesced statements), keyed by name.
    flush: tuple[str, Callable[[AsyncConnection, dict[str, Any]], Awaitable[None]]] | None = None
    # Rows it writes: a batch takes jobs up to ``max_batch`` rows, so a job of many events
    # (a core's batch, EventLog.append_many) does not make a transaction 1000 times larger.
    size: int = 1
    done: asyncio.Future[Any] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class GroupWriter:
    def __init__(self, engine: AsyncEngine, *, max_batch: int = 1000, max_queue: int = 20_000) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._queue: asyncio.Queue[Job] = asyncio.Queue(max_queue)
        self._task: asyncio.Task[None] | None = None
        self._conn: AsyncConnection | None = None  # kept between batches; replaced after a failure
        self._closed = False
        self.batches = 0  # transactions committed
        self.jobs = 0  # jobs committed
        self.failed = 0  # transactions that failed

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="sql-group-writer")

    async def submit(self, job: Job) -> Any:
        """Queue ``job`` and wait until it is committed; its ``run`` result, or the batch's error."""
        if self._closed:
            raise BridgeError(503, 500, "session database closed", headers={"Retry-After": "1"})
        self.start()
        await self._queue.put(job)
        # Shielded: a caller that goes away does not take its job out of a batch
        # under way; the job commits (or fails) with the others all the same.
        return await asyncio.shield(job.done)

    async def aclose(self) -> None:
        """Commit what is queued, then stop."""
        self._closed = True
        if self._task is not None:
            await self._queue.join()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(Exception):
                await conn.close()

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            rows = batch[0].size
            while rows < self._max_batch and not self._queue.empty():
                batch.append(job := self._queue.get_nowait())
                rows += job.size
            try:
                await self._commit(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _commit(self, batch: list[Job]) -> None:
        results: list[Any] = []
        try:
            with database_errors("write"):
                if self._conn is None:
                    self._conn = await self._engine.connect()
                conn = self._conn
                async with conn.begin():
                    scratch: dict[str, Any] = {}
                    flushes: dict[str, Callable[[AsyncConnection, dict[str, Any]], Awaitable[None]]] = {}
                    for job in batch:
                        results.append(await job.run(conn, scratch))
                        if job.flush is not None:
                            flushes.setdefault(*job.flush)
                    for flush in flushes.values():
                        await flush(conn, scratch)
        except Exception as exc:
            self.failed += 1
            if self._conn is not None:  # a broken connection is not reused
                conn, self._conn = self._conn, None
                with contextlib.suppress(Exception):
                    await conn.close()
            log.warning("SQL store batch of %d writes failed: %s", len(batch), exc)
            for job in batch:
                if job.rollback is not None:
                    job.rollback()
                if not job.done.done():
                    job.done.set_exception(exc)
                    job.done.exception()  # retrieved: a caller that went away leaves no warning
            return
        self.batches += 1
        self.jobs += len(batch)
        for job, result in zip(batch, results, strict=True):
            if job.after is not None:
                try:
                    job.after()
                except Exception:
                    log.exception("after-commit hook failed")
            if not job.done.done():
                job.done.set_result(result)
