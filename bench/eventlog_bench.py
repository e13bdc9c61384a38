"""Event-log appends: memory vs SQLite vs PostgreSQL vs Redis, side by side in one run (issue 12).

What durability costs a node without Redis. Each backend is the bridge's own
class (bridge/eventlog/*.py) with the bridge's default retention; the SQL ones
through the group committer, as `openim-bridge serve` runs them. Two loads,
alternated backend by backend and round by round so machine noise hits all:

- serial: one session appends and awaits each event before the next, as one
  core's dispatcher does (its events leave in order): per-append latency
  p50/p99, appends/s;
- concurrent: S sessions append at once, E events each (many cores on one
  node): appends/s, and for SQL how many events one transaction carried.

Each event is 600 bytes of JSON with a delivery mark, about an OnRecvNewMessage.
SQL backends run with ``BRIDGE_DATABASE_SYNC=normal`` (the default) and, as
``-full``, with ``full`` (every commit waits for the disk).
Usage: `.venv/bin/python bench/eventlog_bench.py [--serial 2000] [--sessions 200]
[--events 20] [--rounds 3]`. Needs Redis (`--redis`, default the tests' one) and
PostgreSQL (`--postgres`, default the tests' server; a database is created for
the run and dropped); a backend whose server is absent is left out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bridge.eventlog import EventLog, MemoryEventLog
from bridge.eventlog.redis import RedisEventLog
from bridge.redis_client import create_redis
from bridge.settings import BridgeSettings
from bridge.sqlstore.stores import open_sql_stores
from bridge.sqlstore.writer import GroupWriter

DATA = '{"listener":"OnAdvancedMsgListener","callback":"OnRecvNewMessage","data":{"pad":"' + "x" * 520 + '"}}'


#: A log and, for SQL, its group committer (to count events per commit).
Backend = tuple[EventLog, GroupWriter | None]


@dataclass
class Figures:
    serial_ms: list[float] = field(default_factory=list)
    serial_rate: list[float] = field(default_factory=list)
    concurrent_rate: list[float] = field(default_factory=list)
    per_batch: list[float] = field(default_factory=list)


@contextlib.asynccontextmanager
async def pg_database(base_url: str) -> AsyncIterator[str | None]:
    base = make_url(base_url)
    admin = create_async_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = f"oimb_bench_{uuid.uuid4().hex[:10]}"
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no PostgreSQL: leave it out
        print(f"postgresql left out: {exc!r}")
        await admin.dispose()
        yield None
        return
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@contextlib.asynccontextmanager
async def backends(args: argparse.Namespace, tmp: Path) -> AsyncIterator[dict[str, Backend]]:
    found: dict[str, Backend] = {"memory": (MemoryEventLog(), None)}
    async with contextlib.AsyncExitStack() as stack:
        for name, sync in (("sqlite", "normal"), ("sqlite-full", "full")):
            settings = BridgeSettings(database_url=f"sqlite+aiosqlite:///{tmp / name}.db", database_sync=sync)
            stores = await stack.enter_async_context(open_sql_stores(settings, sweep=False))
            found[name] = (stores.events, stores.writer)
        for name, sync in (("postgresql", "normal"), ("postgresql-full", "full")):
            pg = await stack.enter_async_context(pg_database(args.postgres))
            if pg is not None:
                settings = BridgeSettings(database_url=pg, database_sync=sync)
                stores = await stack.enter_async_context(open_sql_stores(settings, sweep=False))
                found[name] = (stores.events, stores.writer)
        redis = create_redis(args.redis)
        prefix = f"oimbbench:{uuid.uuid4().hex[:8]}:"
        try:
            await redis.ping()
            log = RedisEventLog(redis, prefix=prefix)
            stack.push_async_callback(log.aclose)
            found["redis"] = (log, None)
        except Exception as exc:
            print(f"redis left out: {exc!r}")

        async def cleanup() -> None:
            keys = [k async for k in redis.scan_iter(match=f"{prefix}*", count=1000)]
            if keys:
                await redis.delete(*keys)
            await redis.aclose()

        stack.push_async_callback(cleanup)
        yield found


async def serial(log: EventLog, n: int, figures: Figures) -> None:
    sid = uuid.uuid4().hex
    times: list[float] = []
    start = time.perf_counter()
    for i in range(n):
        t = time.perf_counter()
        await log.append(sid, "OnRecvNewMessage", DATA, marks=[("si_a_b", i + 1)])
        times.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - start
    figures.serial_ms.append(statistics.median(times) * 1000)
    figures.serial_ms.append(sorted(times)[int(len(times) * 0.99)] * 1000)
    figures.serial_rate.append(n / elapsed)


async def concurrent(log: EventLog, writer: GroupWriter | None, sessions: int, events: int, figures: Figures) -> None:
    sids = [uuid.uuid4().hex for _ in range(sessions)]
    before = (writer.batches, writer.jobs) if writer else (0, 0)

    async def one(sid: str) -> None:
        for i in range(events):
            await log.append(sid, "OnRecvNewMessage", DATA, marks=[("si_a_b", i + 1)])

    start = time.perf_counter()
    await asyncio.gather(*(one(s) for s in sids))
    figures.concurrent_rate.append(sessions * events / (time.perf_counter() - start))
    if writer is not None:
        batches, jobs = writer.batches - before[0], writer.jobs - before[1]
        figures.per_batch.append(jobs / max(batches, 1))


def p50(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--serial", type=int, default=2000)
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--events", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="oimb-bench-") as tmp:
        async with backends(args, Path(tmp)) as found:
            figures = {name: Figures() for name in found}
            for _ in range(args.rounds):
                for name, (log, writer) in found.items():
                    await serial(log, args.serial, figures[name])
                    await concurrent(log, writer, args.sessions, args.events, figures[name])
    base_serial = p50(figures["memory"].serial_rate)
    base_conc = p50(figures["memory"].concurrent_rate)
    print(f"{args.rounds} rounds; serial {args.serial} appends; concurrent {args.sessions} x {args.events}")
    print("| backend | serial p50 / p99 ms | serial appends/s | concurrent appends/s | events per commit |")
    print("| --- | --- | --- | --- | --- |")
    for name, f in figures.items():
        p50s, p99s = f.serial_ms[0::2], f.serial_ms[1::2]
        batch = f"{p50(f.per_batch):.0f}" if f.per_batch else "-"
        print(
            f"| {name} | {p50(p50s):.3f} / {p50(p99s):.3f} | {p50(f.serial_rate):,.0f} "
            f"({p50(f.serial_rate) / base_serial:.3f}) | {p50(f.concurrent_rate):,.0f} "
            f"({p50(f.concurrent_rate) / base_conc:.3f}) | {batch} |"
        )
    print("(in parentheses: the ratio to memory)")


if __name__ == "__main__":
    asyncio.run(main())
