"""Cluster mode: one bridge node against two, and a forwarded call against a direct one.

Processes, all on loopback: one imserver (the same upstream for every
configuration), and `openim-bridge serve` nodes in cluster mode (`--redis-url`
to the machine's Redis under a prefix unique to this run, `--database-url` to a
PostgreSQL database created for this run; both are removed at the end). This
process drives the load. Configurations alternate round by round, so machine
noise hits all of them.

1. Sessions: N users log in over REST (`POST /v1/login`, at most C at a time)
   on fresh nodes, either all on one node or user i on node i % 2 of two.
   Reported: logins/s, login latency, and the resident memory each node holds
   per live session (VmRSS delta of the node process over its logins, from
   /proc/<pid>/status, after one warm-up login per node, divided by the
   sessions that node took).
2. Messages: K sender/receiver pairs on a two-node cluster. The sender calls
   `create_text_message` then `send_message` (REST) back to back, the receiver
   reads `GET /v1/events` (SSE); latency is from before `create_text_message`
   to the `OnRecvNewMessage` event. Configurations:
   - one:       every session on node 1 (node 2 idle);
   - split:     pair i's sender on node 1 + i % 2, its receiver on the other node;
   - forwarded: sessions logged in (owned) on node 1, every call and stream
                sent to node 2, which forwards calls to node 1 over HTTP.
   Reported: p50/p99 send->receive latency, messages/s, p50 of the two calls,
   and the ratios split/one (two nodes / one node) and forwarded/one
   (forwarded / direct).

Both parts also report CPU per login / per message of each process group over
the timed part: the bridge node(s) and the imserver (utime + stime from
/proc/<pid>/stat, all threads), Redis (`INFO cpu`, the whole server) and this
load generator, the PostgreSQL backends of this run's database, and how many
cores they kept busy on average. That tells whether a figure is the bridge's or
the machine's.

Usage: `.venv/bin/python bench/cluster_bench.py [--users 120] [--concurrency 20]
[--pairs 20] [--messages 15] [--rounds 2]`.
Needs Redis (`--redis`, default redis://127.0.0.1:6379/0) and PostgreSQL with a
role allowed to create databases (`--postgres`, default
postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
from redis.asyncio import Redis

START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
DELIVERY_TIMEOUT = 120.0
STREAM_TIMEOUT = 15.0
OP = {"operationID": "bench"}
_IMSERVER = re.compile(r"imserver: API ([^\s\"]+)  gateway ([^\s\"]+)")  # in a JSON log line
_BRIDGE = re.compile(r"openim-bridge listening on (http://[^\s\"]+)")


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


_TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


async def _until(check: Callable[[], Awaitable[bool]], what: str, timeout: float) -> None:
    """Poll `check` at a short interval until it is true; fail after `timeout` naming `what`."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.05)


@dataclass
class Proc:
    name: str
    log: Path
    process: asyncio.subprocess.Process
    urls: tuple[str, ...] = ()  # from the banner

    @property
    def url(self) -> str:
        return self.urls[0]

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.output().splitlines()[-lines:])


@contextlib.asynccontextmanager
async def _process(
    name: str, args: list[str], env: dict[str, str], log: Path, banner: re.Pattern[str], ready: str | None = None
) -> AsyncIterator[Proc]:
    """Run `python <args>` (output to `log`, ports 0); up once it printed `banner` and `ready` answers 200.

    The addresses come from the banner, so there is no race for ports with
    whatever else runs on the machine.
    """
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, *args, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out, env=env
        )
    proc = Proc(name, log, process)
    try:
        async with httpx.AsyncClient(timeout=5) as http:

            async def up() -> bool:
                if process.returncode is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}:\n{proc.tail()}")
                if not proc.urls:
                    m = banner.search(proc.output())
                    if m is None:
                        return False
                    proc.urls = m.groups()
                if ready is None:
                    return True
                try:
                    return (await http.get(proc.url + ready)).status_code == 200
                except httpx.TransportError:
                    return False

            try:
                await _until(up, f"{name} to start", START_TIMEOUT)
            except RuntimeError as exc:
                raise RuntimeError(f"{exc}\n{proc.tail()}") from None
        yield proc
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                print(f"warning: {name} did not stop within {STOP_TIMEOUT:.0f}s of SIGTERM; killed", file=sys.stderr)
                process.kill()
                await process.wait()


@dataclass
class Cpu:
    """CPU seconds so far: bridge nodes, imserver, Redis (the whole server, `INFO cpu`), this
    load generator; and per backend of this run's PostgreSQL database (backends come and go)."""

    totals: dict[str, float]
    postgres: dict[int, float]

    def since(self, before: Cpu) -> dict[str, float]:
        d = {k: v - before.totals[k] for k, v in self.totals.items()}
        d["postgres"] = sum(v - before.postgres.get(pid, 0.0) for pid, v in self.postgres.items())
        return d


@dataclass
class Env:
    """What every configuration shares: the imserver, Redis, the database, the scratch directory."""

    api: str
    ws: str
    admin: str
    redis_url: str
    redis_prefix: str
    database_url: str
    tmp: Path
    http: httpx.AsyncClient
    redis: Redis
    imserver_pid: int
    pg: asyncpg.Connection
    pg_database: str
    clusters: int = 0
    users: int = 0

    @contextlib.asynccontextmanager
    async def cluster(self, nodes: int) -> AsyncIterator[list[Proc]]:
        """`nodes` fresh bridge nodes sharing a Redis prefix of their own (one session space)."""
        self.clusters += 1
        c = self.clusters
        env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
        env.update(
            PYTHONUNBUFFERED="1",
            BRIDGE_REDIS_PREFIX=f"{self.redis_prefix}c{c}:",
            BRIDGE_IDLE_PARK_SECONDS="3600",
            BRIDGE_DRAIN_SECONDS="5",
        )
        async with contextlib.AsyncExitStack() as stack:

            async def start(i: int) -> Proc:
                args = [
                    "-m",
                    "bridge.cli",
                    "serve",
                    "--node-id",
                    f"bench-c{c}-n{i}",
                    "--port",
                    "0",
                    "--redis-url",
                    self.redis_url,
                    "--database-url",
                    self.database_url,
                    "--upstream-api",
                    self.api,
                    "--upstream-ws",
                    self.ws,
                    "--data-dir",
                    str(self.tmp / f"c{c}-n{i}"),
                    "--log-level",
                    "warning",
                ]
                cm = _process(f"node {i} (cluster {c})", args, env, self.tmp / f"c{c}-n{i}.log", _BRIDGE, "/readyz")
                return await stack.enter_async_context(cm)

            # One after the other: the first one migrates the schema, under an advisory lock anyway.
            yield [await start(i) for i in range(1, nodes + 1)]

    async def cpu(self, nodes: list[Proc]) -> Cpu:
        """CPU seconds used so far by each process group."""
        info = await self.redis.info("cpu")
        backends = await self.pg.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", self.pg_database)
        pg: dict[int, float] = {}
        for row in backends:
            with contextlib.suppress(OSError):  # gone meanwhile, or PostgreSQL on another host
                pg[row["pid"]] = _proc_cpu(row["pid"])
        return Cpu(
            {
                "bridge": sum(_proc_cpu(p.pid) for p in nodes),
                "imserver": _proc_cpu(self.imserver_pid),
                "redis": float(info["used_cpu_user"]) + float(info["used_cpu_sys"]),
                "client": time.process_time(),
            },
            pg,
        )

    async def new_users(self, k: int) -> list[tuple[str, str]]:
        """k freshly registered users with a platform-5 (Web) token each."""
        self.users += 1
        users = [f"cb{self.users}x{uuid.uuid4().hex[:10]}" for _ in range(k)]
        for i in range(0, k, 500):
            r = await self.http.post(
                f"{self.api}/user/user_register",
                json={"users": [{"userID": u, "nickname": u} for u in users[i : i + 500]]},
                headers={**OP, "token": self.admin},
            )
            _check(r, "user_register")
        sem = asyncio.Semaphore(20)

        async def token(u: str) -> str:
            async with sem:
                r = await self.http.post(
                    f"{self.api}/auth/get_user_token",
                    json={"userID": u, "platformID": 5},
                    headers={**OP, "token": self.admin},
                )
            _check(r, "get_user_token")
            return str(r.json()["data"]["token"])

        return list(zip(users, await asyncio.gather(*(token(u) for u in users)), strict=True))


def _check(r: httpx.Response, what: str) -> None:
    if r.status_code != 200 or r.json().get("errCode", 0) != 0:
        raise RuntimeError(f"{what}: HTTP {r.status_code} {r.text[:500]}")


async def _login(http: httpx.AsyncClient, node: str, user: str, token: str) -> dict[str, str]:
    r = await http.post(f"{node}/v1/login", json={"userID": user, "token": token, "platformID": 5})
    _check(r, f"login {user} on {node}")
    return {"Authorization": f"Bearer {r.json()['data']['sessionToken']}"}


async def _logout_all(http: httpx.AsyncClient, calls: list[tuple[str, dict[str, str]]]) -> None:
    sem = asyncio.Semaphore(20)

    async def out(node: str, h: dict[str, str]) -> None:
        async with sem:
            r = await http.post(f"{node}/v1/logout", headers=h)
        if r.status_code != 200:
            print(f"warning: logout on {node}: HTTP {r.status_code} {r.text[:200]}", file=sys.stderr)

    await asyncio.gather(*(out(n, h) for n, h in calls))


def _p(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000 if xs else float("nan")


# ---------------------------------------------------------------- sessions


@dataclass
class SessionRun:
    rate: float
    latencies: list[float]
    kib_per_session: list[float]  # one figure per node
    cpu: dict[str, float]  # CPU seconds per process group over the timed part
    seconds: float


async def _sessions(env: Env, nodes: int, n: int, concurrency: int) -> SessionRun:
    users = await env.new_users(n + nodes)
    warm, users = users[:nodes], users[nodes:]
    async with env.cluster(nodes) as procs:
        sessions: list[tuple[str, dict[str, str]]] = []
        for proc, (u, t) in zip(procs, warm, strict=True):
            sessions.append((proc.url, await _login(env.http, proc.url, u, t)))
        before = [_rss_kib(p.pid) for p in procs]
        sem = asyncio.Semaphore(concurrency)
        latencies: list[float] = []

        async def one(i: int, user: str, token: str) -> None:
            node = procs[i % nodes].url
            async with sem:
                t0 = time.perf_counter()
                h = await _login(env.http, node, user, token)
                latencies.append(time.perf_counter() - t0)
            sessions.append((node, h))

        cpu0 = await env.cpu(procs)
        t0 = time.perf_counter()
        await asyncio.gather(*(one(i, u, t) for i, (u, t) in enumerate(users)))
        took = time.perf_counter() - t0
        cpu1 = await env.cpu(procs)
        after = [_rss_kib(p.pid) for p in procs]
        per_node = [len(range(i, n, nodes)) for i in range(nodes)]
        kib = [(a - b) / k for a, b, k in zip(after, before, per_node, strict=True)]
        await _logout_all(env.http, sessions)
    return SessionRun(n / took, latencies, kib, cpu1.since(cpu0), took)


# ---------------------------------------------------------------- messages


@dataclass
class MessageRun:
    latencies: list[float]
    rate: float
    calls: list[float]  # create_text_message + send_message, per message
    cpu: dict[str, float]
    seconds: float


async def _messages(env: Env, procs: list[Proc], config: str, pairs: int, n: int) -> MessageRun:
    a, b = procs[0].url, procs[1].url
    users = await env.new_users(2 * pairs)
    # (owner node, node the client calls) per session; sessions 2i send, 2i+1 receive.
    where: list[tuple[str, str]] = []
    for i in range(pairs):
        if config == "one":
            where += [(a, a), (a, a)]
        elif config == "split":
            s, r = (a, b) if i % 2 == 0 else (b, a)
            where += [(s, s), (r, r)]
        else:  # forwarded
            where += [(a, b), (a, b)]
    sem = asyncio.Semaphore(20)

    async def login(i: int) -> dict[str, str]:
        async with sem:
            return await _login(env.http, where[i][0], *users[i])

    headers = await asyncio.gather(*(login(i) for i in range(2 * pairs)))
    latencies: list[float] = []
    calls: list[float] = []
    done = asyncio.Event()
    total = pairs * n

    async def receive(i: int, ready: asyncio.Event) -> None:
        node, h = where[2 * i + 1][1], headers[2 * i + 1]
        async with env.http.stream("GET", f"{node}/v1/events", headers=h, timeout=None) as resp:
            if resp.status_code != 200:
                raise RuntimeError(f"GET /v1/events on {node}: HTTP {resp.status_code} {(await resp.aread())[:300]!r}")
            ready.set()
            async for line in resp.aiter_lines():
                if line.startswith("data:") and '"OnRecvNewMessage"' in line:
                    now = time.perf_counter()
                    text = json.loads(line[5:])["data"]["textElem"]["content"]
                    latencies.append(now - float(text[2:]))
                    if len(latencies) >= total:
                        done.set()

    readies = [asyncio.Event() for _ in range(pairs)]
    readers = [asyncio.create_task(receive(i, readies[i])) for i in range(pairs)]
    try:
        for e, t in zip(readies, readers, strict=True):
            opened = asyncio.ensure_future(e.wait())
            await asyncio.wait([opened, t], timeout=STREAM_TIMEOUT, return_when="FIRST_COMPLETED")
            opened.cancel()
            if t.done():
                t.result()
            if not e.is_set():
                node = where[2 * readies.index(e) + 1][1]
                raise RuntimeError(f"GET /v1/events on {node} sent no response headers within {STREAM_TIMEOUT:.0f} s")

        async def run(i: int) -> None:
            node, h = where[2 * i][1], headers[2 * i]
            recv = users[2 * i + 1][0]
            for _ in range(n):
                t0 = time.perf_counter()
                r = await env.http.post(f"{node}/v1/message/create_text_message", json={"text": f"t={t0}"}, headers=h)
                _check(r, f"{config}: create_text_message on {node}")
                body = {"message": r.json()["data"], "recvID": recv}
                r = await env.http.post(f"{node}/v1/message/send_message", json=body, headers=h)
                _check(r, f"{config}: send_message on {node}")
                calls.append(time.perf_counter() - t0)

        cpu0 = await env.cpu(procs)
        t0 = time.perf_counter()
        await asyncio.gather(*(run(i) for i in range(pairs)))
        waiter = asyncio.ensure_future(done.wait())
        await asyncio.wait([waiter, *readers], timeout=DELIVERY_TIMEOUT, return_when="FIRST_COMPLETED")
        waiter.cancel()
        for t in readers:
            if t.done():
                t.result()  # a stream that ended raises here (or ended cleanly, which is wrong too)
                raise RuntimeError(f"{config}: an SSE stream ended before all messages arrived")
        if not done.is_set():
            raise RuntimeError(
                f"{config}: only {len(latencies)} of {total} messages arrived within {DELIVERY_TIMEOUT:.0f}s"
            )
        took = time.perf_counter() - t0
        cpu1 = await env.cpu(procs)
    finally:
        for t in readers:
            t.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        await _logout_all(env.http, [(where[i][1], headers[i]) for i in range(2 * pairs)])
    return MessageRun(latencies, total / took, calls, cpu1.since(cpu0), took)


# ---------------------------------------------------------------- run, report


@contextlib.asynccontextmanager
async def _database(admin_url: str) -> AsyncIterator[tuple[str, str, asyncpg.Connection]]:
    """A fresh PostgreSQL database for this run (dropped afterwards).

    Yields its SQLAlchemy URL, its name, and the admin connection (to find the database's backends).
    """
    name = f"bench_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        try:
            parts = urlsplit(admin_url)
            yield urlunsplit(("postgresql+asyncpg", parts.netloc, f"/{name}", "", "")), name, conn
        finally:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def _redis_prefix(url: str) -> AsyncIterator[tuple[str, Redis]]:
    """A key prefix unique to this run; every key under it is deleted afterwards."""
    prefix = f"oimb-bench-{uuid.uuid4().hex[:10]}:"
    r = Redis.from_url(url)
    try:
        await r.ping()
        yield prefix, r
    finally:
        keys = [k async for k in r.scan_iter(match=f"{prefix}*", count=1000)]
        for i in range(0, len(keys), 500):
            await r.delete(*keys[i : i + 500])
        await r.aclose()


async def main(a: argparse.Namespace) -> None:
    started = time.monotonic()
    sess: dict[str, list[SessionRun]] = {"one node": [], "two nodes": []}
    msgs: dict[str, list[MessageRun]] = {"one": [], "split": [], "forwarded": []}
    failed: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="cluster-bench-") as tmpdir:
        tmp = Path(tmpdir)
        secret = "bench-admin-secret"  # the bench's own imserver (its default is a generated one)
        ims = ["-m", "bridge.cli", "imserver", "--api-port", "0", "--ws-port", "0", "--data-dir", f"{tmp}/ims"]
        ims += ["--secret", secret]
        ims_env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        async with (
            _redis_prefix(a.redis) as (prefix, redis),
            _database(a.postgres) as (db_url, db_name, pg),
            _process("imserver", [*ims, "--log-level", "warning"], ims_env, tmp / "imserver.log", _IMSERVER) as im,
            httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=1000)) as http,
        ):
            api, ws = im.urls
            r = await http.post(f"{api}/auth/get_admin_token", json={"secret": secret, "userID": "imAdmin"}, headers=OP)
            _check(r, "get_admin_token")
            env = Env(
                api, ws, r.json()["data"]["token"], a.redis, prefix, db_url, tmp, http, redis, im.pid, pg, db_name
            )
            try:
                for rnd in range(a.rounds):
                    order = [1, 2] if rnd % 2 == 0 else [2, 1]
                    for nodes in order:
                        label = "one node" if nodes == 1 else "two nodes"
                        print(
                            f"[{time.monotonic() - started:4.0f} s] round {rnd + 1}: sessions, {label}",
                            file=sys.stderr,
                            flush=True,
                        )
                        sess[label].append(await _sessions(env, nodes, a.users, a.concurrency))
                async with env.cluster(2) as procs:
                    configs = list(msgs)
                    for rnd in range(a.rounds):
                        for config in configs[rnd % 3 :] + configs[: rnd % 3]:
                            if config in failed:
                                continue
                            print(
                                f"[{time.monotonic() - started:4.0f} s] round {rnd + 1}: messages, {config}",
                                file=sys.stderr,
                                flush=True,
                            )
                            try:
                                run = await _messages(env, procs, config, a.pairs, a.messages)
                            except RuntimeError as exc:
                                print(f"{config} FAILED: {exc}", file=sys.stderr, flush=True)
                                _print_logs(tmp)
                                failed[config] = str(exc)
                                continue
                            msgs[config].append(run)
            except BaseException:
                _print_logs(tmp)
                raise
    _report(a, sess, msgs, failed, time.monotonic() - started)


def _print_logs(tmp: Path) -> None:
    for log in sorted(tmp.glob("*.log")):
        print(f"--- {log.name} (last lines)\n" + "\n".join(log.read_text().splitlines()[-15:]), file=sys.stderr)


def _cpu_line(label: str, runs: list[SessionRun] | list[MessageRun], per_run: int, unit: str) -> str:
    """CPU ms per login/message of each process group, and how many cores were busy on average."""
    keys = runs[0].cpu.keys()
    total = {k: sum(r.cpu[k] for r in runs) for k in keys}
    count, seconds = per_run * len(runs), sum(r.seconds for r in runs)
    parts = "  ".join(f"{k} {1000 * v / count:5.1f}" for k, v in total.items())
    return f"{label:10} CPU ms/{unit}: {parts}   cores busy {sum(total.values()) / seconds:.2f}"


def _report(
    a: argparse.Namespace,
    sess: dict[str, list[SessionRun]],
    msgs: dict[str, list[MessageRun]],
    failed: dict[str, str],
    took: float,
) -> None:
    print(f"cluster bench: {a.rounds} rounds per configuration, {os.cpu_count()} cores, {took:.0f} s")
    print(f"\nSessions: {a.users} logins over REST, concurrency {a.concurrency}, fresh nodes each round")
    print(f"{'config':10} {'logins/s':>9} {'login p50':>10} {'login p99':>10} {'RSS/session':>12}  per node")
    s: dict[str, dict[str, float]] = {}
    for label, runs in sess.items():
        lat = [x for r in runs for x in r.latencies]
        per_node = [statistics.mean(r.kib_per_session[i] for r in runs) for i in range(len(runs[0].kib_per_session))]
        s[label] = {
            "rate": statistics.median(r.rate for r in runs),
            "p50": _p(lat, 0.5),
            "p99": _p(lat, 0.99),
            "kib": statistics.mean(per_node),
        }
        nodes = " / ".join(f"{k:.1f}" for k in per_node)
        print(
            f"{label:10} {s[label]['rate']:9.1f} {s[label]['p50']:8.1f}ms {s[label]['p99']:8.1f}ms"
            f" {s[label]['kib']:8.1f} KiB  {nodes} KiB"
        )
    for label, runs in sess.items():
        print(_cpu_line(label, runs, a.users, "login"))
    one, two = s["one node"], s["two nodes"]
    print(
        f"ratio two/one: logins/s {two['rate'] / one['rate']:.2f}  login p50 {two['p50'] / one['p50']:.2f}"
        f"  RSS/session {two['kib'] / one['kib']:.2f}"
    )
    print(f"\nMessages: {a.pairs} pairs x {a.messages} messages per round (create_text_message + send_message -> SSE)")
    print(f"{'config':10} {'p50':>9} {'p99':>9} {'msg/s':>7} {'calls p50':>10}")
    m: dict[str, dict[str, float]] = {}
    for config, mruns in msgs.items():
        if not mruns:
            print(f"{config:10} FAILED: {failed.get(config, 'no run')}")
            continue
        lat = [x for r in mruns for x in r.latencies]
        calls = [x for r in mruns for x in r.calls]
        m[config] = {
            "p50": _p(lat, 0.5),
            "p99": _p(lat, 0.99),
            "rate": statistics.median(r.rate for r in mruns),
            "calls": _p(calls, 0.5),
        }
        x = m[config]
        print(f"{config:10} {x['p50']:7.1f}ms {x['p99']:7.1f}ms {x['rate']:7.1f} {x['calls']:8.1f}ms")
    for config, mruns in msgs.items():
        if mruns:
            print(_cpu_line(config, mruns, a.pairs * a.messages, "msg"))
    for config, name in (
        ("split", "two nodes/one node (split/one)"),
        ("forwarded", "forwarded/direct (forwarded/one)"),
    ):
        if config not in m or "one" not in m:
            continue
        x, d = m[config], m["one"]
        print(
            f"ratio {name}: p50 {x['p50'] / d['p50']:.2f}  p99 {x['p99'] / d['p99']:.2f}"
            f"  msg/s {x['rate'] / d['rate']:.2f}  calls p50 {x['calls'] / d['calls']:.2f}"
        )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--users", type=int, default=120, help="logins per session round (N)")
    ap.add_argument("--concurrency", type=int, default=20, help="logins in flight at once (C)")
    ap.add_argument("--pairs", type=int, default=20, help="sender/receiver pairs per message round (K)")
    ap.add_argument("--messages", type=int, default=15, help="messages per sender per message round")
    ap.add_argument("--rounds", type=int, default=2, help="rounds per configuration")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = ap.parse_args()
    if args.users < 2 or args.pairs < 2 or args.messages < 1 or args.rounds < 1 or args.concurrency < 1:
        ap.error("need --users >= 2, --pairs >= 2, --messages >= 1, --rounds >= 1, --concurrency >= 1")
    asyncio.run(main(args))
