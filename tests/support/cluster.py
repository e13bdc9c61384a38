"""Cluster mode for tests, as operators run it: real processes on loopback.

One ``openim-bridge imserver`` process and N ``openim-bridge serve`` nodes
sharing one Redis (session directory, leases, event logs) and one fresh
PostgreSQL database (checkpoints), each node with its own data directory and a
node id ``node-1`` .. ``node-N`` (DESIGN.md "Embedded default and cluster
mode"). Nodes are numbered from 1, as the tests speak of them.

Every process writes its stdout and stderr to a file under the test's tmp
directory; :meth:`Cluster.log_tails` shows the ends of those files (the
tests/cluster conftest adds them to a failing test's report). Addresses are
read from the banners the processes print (``imserver: API <url>  gateway
<url>``, ``openim-bridge listening on <url>``), so everything binds port 0.

Waiting is on conditions with deadlines: a banner in a log file, ``/readyz``
answering 200, a process exiting. Polling a condition with a short interval
inside a bounded wait is fine; a fixed sleep is not (tests/support/clock.py).

Needs the machine's Redis (tests/support/redis.py) and PostgreSQL
(``TEST_POSTGRES_URL``, default ``postgresql+asyncpg://postgres@127.0.0.1:5432/test``;
a fresh database is created next to it and dropped afterwards): skipped
locally without them, a failure in CI (env ``CI`` set).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import shutil
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NoReturn, TypeVar

import httpx
import pytest
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.imadmin import ADMIN_SECRET, register_users, user_token
from tests.support.redis import REDIS_URL, RedisSpace, require_redis
from tests.support.sseclient import SseReader
from tests.support.wait import until

__all__ = [
    "DEFAULT_ENV",
    "PG_URL",
    "Cluster",
    "ClusterUser",
    "Failover",
    "ImServerProcess",
    "NodeProcess",
    "PrivateRedis",
    "finish",
    "fresh_database",
    "run_cluster",
    "stable_port",
    "until",
]

PG_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")

#: Cluster-mode settings the tests rely on, as ``BRIDGE_*`` variables (run_cluster's ``**env`` overrides):
#: short leases so a node killed with SIGKILL is taken over within seconds, a bounded drain, and no
#: idle parking in the middle of a test.
DEFAULT_ENV = {"lease_seconds": "2", "drain_seconds": "5", "idle_park_seconds": "3600"}

#: How long a process may take to print its banner and answer /readyz: generous, since it is
#: only a deadline (a start takes 2-5 s; 30 s was seen exceeded at a load average of 12).
START_TIMEOUT = 60.0

_IMSERVER_BANNER = re.compile(r"imserver: API ([^\s\"]+)  gateway ([^\s\"]+)")  # in a JSON log line
_BRIDGE_BANNER = re.compile(r"openim-bridge listening on (http://[^\s\"]+)")

T = TypeVar("T")


def _skip_or_fail(message: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def stable_port() -> int:
    """A free loopback port below Linux's ephemeral range (32768-60999 by default), so no outgoing
    connection takes it while a server that must come back on it is down."""
    for _ in range(100):
        port = random.randrange(20000, 32000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port in 20000-32000")


def _open_log(path: Path) -> IO[bytes]:
    return path.open("ab")


def _tail(path: Path, lines: int) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])


def _child_env(**bridge: str) -> dict[str, str]:
    """This process's environment without any ``BRIDGE_*`` of the developer's, plus ``bridge``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIDGE_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update({f"BRIDGE_{k.upper()}": v for k, v in bridge.items()})
    return env


@dataclass
class ChildProcess:
    """One child process whose output goes to ``log``."""

    name: str
    log: Path
    process: asyncio.subprocess.Process | None = None
    _log_offset: int = 0

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    @property
    def pid(self) -> int:
        return self._started().pid

    def _started(self) -> asyncio.subprocess.Process:
        assert self.process is not None, f"{self.name} was never started"
        return self.process

    async def _spawn(self, args: Sequence[str], env: dict[str, str]) -> None:
        assert not self.running, f"{self.name} is already running"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = _open_log(self.log)
        try:
            out.write(f"----- {self.name}: {' '.join(args)}\n".encode())
            out.flush()
            self._log_offset = out.tell()
            self.process = await asyncio.create_subprocess_exec(
                *args, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out, env=env
            )
        finally:
            out.close()  # the child has its own descriptor

    def output(self) -> str:
        """What this run (since the last start) has written."""
        try:
            with self.log.open("rb") as f:
                f.seek(self._log_offset)
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 40) -> str:
        return _tail(self.log, lines)

    async def _banner(self, pattern: re.Pattern[str], timeout: float = START_TIMEOUT) -> re.Match[str]:
        async def seen() -> re.Match[str] | None:
            if not self.running:
                raise AssertionError(f"{self.name} exited with {self._code()} before it was up:\n{self.tail()}")
            return pattern.search(self.output())

        try:
            return await until(seen, f"{self.name} to print {pattern.pattern!r}", timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; it printed:\n{self.tail()}") from None

    def _code(self) -> int | None:
        return None if self.process is None else self.process.returncode

    async def wait(self, timeout: float) -> int:
        try:
            return await asyncio.wait_for(self._started().wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"{self.name} did not exit within {timeout}s:\n{self.tail()}") from None

    async def kill(self) -> int:
        """SIGKILL and reap: no chance to release anything (a crash, an OOM kill, a pulled plug)."""
        assert self.running, f"{self.name} is not running"
        self._started().send_signal(signal.SIGKILL)
        return await self.wait(10.0)

    async def terminate(self, timeout: float) -> tuple[int, float]:
        """SIGTERM and wait for the exit: ``(exit code, seconds it took)``."""
        assert self.running, f"{self.name} is not running"
        started = time.monotonic()
        self._started().send_signal(signal.SIGTERM)
        code = await self.wait(timeout)
        return code, time.monotonic() - started

    async def shutdown(self, timeout: float) -> int | None:
        """Teardown: SIGTERM, then SIGKILL if it does not exit in time. The exit code of the SIGTERM, or None."""
        if not self.running:
            return None
        with contextlib.suppress(AssertionError):
            code, _ = await self.terminate(timeout)
            return code
        with contextlib.suppress(ProcessLookupError):
            self._started().send_signal(signal.SIGKILL)
        await self.wait(10.0)
        return None


@dataclass
class ImServerProcess(ChildProcess):
    """``openim-bridge imserver`` on ports 0, SQLite under ``data_dir``."""

    data_dir: Path = field(default_factory=Path)
    api_url: str = ""
    ws_url: str = ""

    async def start(self) -> None:
        args = [sys.executable, "-m", "bridge.cli", "imserver", "--host", "127.0.0.1"]
        args += ["--api-port", "0", "--ws-port", "0", "--data-dir", str(self.data_dir), "--secret", ADMIN_SECRET]
        await self._spawn(args, _child_env())
        match = await self._banner(_IMSERVER_BANNER)
        self.api_url, self.ws_url = match.group(1), match.group(2)


@dataclass
class NodeProcess(ChildProcess):
    """One bridge node: ``openim-bridge serve`` in cluster mode."""

    number: int = 0
    node_id: str = ""
    data_dir: Path = field(default_factory=Path)
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    url: str = ""

    async def start(self, http: httpx.AsyncClient) -> None:
        """Start (or restart: same id, data directory and port) and wait until /readyz answers 200."""
        await self._spawn([*self.args, "--port", str(self.port)], self.env)
        try:
            match = await self._banner(_BRIDGE_BANNER)
        except AssertionError:
            if not (self.port and "Address already in use" in self.output()):
                raise
            # Rare: between the kill and the restart another socket took the port. Any port will do.
            await self._spawn([*self.args, "--port", "0"], self.env)
            match = await self._banner(_BRIDGE_BANNER)
        self.url = match.group(1)
        self.port = int(self.url.rsplit(":", 1)[1])

        async def ready() -> bool:
            if not self.running:
                raise AssertionError(f"{self.name} exited with {self._code()}:\n{self.tail()}")
            with contextlib.suppress(httpx.TransportError):
                return (await http.get(f"{self.url}/readyz", timeout=5.0)).status_code == 200
            return False

        await until(ready, f"{self.name} /readyz to answer 200", START_TIMEOUT)


async def finish(reader: SseReader) -> BaseException | None:
    """Stop reading a stream (if it still runs) and say how it ended: None when it ended
    cleanly (or was closed by us), else the transport error that broke it (a node that
    died mid-response gives httpx.RemoteProtocolError)."""
    task = reader._task  # the reader's own task; SseReader.close would re-raise its error
    if task is None:
        return None
    if not task.done():
        task.cancel()
    await asyncio.wait([task])
    if task.cancelled():
        return None
    return task.exception()


@dataclass
class ClusterUser:
    """A user logged in on the cluster: one bridge session, usable through any node."""

    cluster: Cluster
    user_id: str
    session_token: str
    session_id: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.session_token}"}

    async def post(
        self, node: int, path: str, body: Any = None, op: str | None = None, timeout: float | None = None
    ) -> httpx.Response:
        headers = dict(self.auth)
        if op:
            headers["operationID"] = op
        kwargs: dict[str, Any] = {"headers": headers}
        if body is not None:
            kwargs["json"] = body
        if timeout is not None:
            kwargs["timeout"] = timeout
        return await self.cluster.http.post(f"{self.cluster.url(node)}{path}", **kwargs)

    async def call(self, node: int, path: str, body: Any = None, op: str | None = None) -> Any:
        """A call through ``node`` that must answer 200; its ``data``."""
        r = await self.post(node, path, body, op)
        assert r.status_code == 200, f"{path} via node {node}: {r.status_code} {r.text}"
        if op:
            assert r.json()["operationID"] == op, r.text
        return r.json()["data"]

    async def get(self, node: int, path: str, params: dict[str, Any] | None = None, **kw: Any) -> httpx.Response:
        return await self.cluster.http.get(f"{self.cluster.url(node)}{path}", params=params, headers=self.auth, **kw)

    async def session(self, node: int) -> Any:
        r = await self.get(node, "/v1/session")
        assert r.status_code == 200, f"/v1/session via node {node}: {r.status_code} {r.text}"
        return r.json()["data"]

    async def open_stream(self, node: int, last_event_id: int | None = None) -> SseReader:
        """``GET /v1/events`` through ``node``, whatever it answers (see ``SseReader.status``)."""
        headers = dict(self.auth)
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        reader = SseReader(self.cluster.http, f"{self.cluster.url(node)}/v1/events", headers)
        self.cluster.readers.append(reader)
        try:
            return await reader.start(timeout=10.0)
        except TimeoutError:
            await finish(reader)
            raise AssertionError(f"/v1/events via node {node}: no response (not even headers) within 10s") from None

    async def stream(self, node: int, last_event_id: int | None = None) -> SseReader:
        """An event stream through ``node`` that must open (200)."""
        reader = await self.open_stream(node, last_event_id)
        if reader.status != 200:
            error = await finish(reader)
            raise AssertionError(f"/v1/events via node {node}: status {reader.status}, error {error!r}")
        return reader

    async def resume(self, node: int, last_event_id: int | None, timeout: float = 30.0) -> SseReader:
        """Open a stream through ``node`` as a reconnecting client does: again while the node
        answers 503 (e.g. the session's dead owner still holds its lease) or cannot be reached."""

        async def attempt() -> SseReader | None:
            reader = await self.open_stream(node, last_event_id)
            if reader.status == 200:
                return reader
            error = await finish(reader)
            if reader.status is None:
                assert isinstance(error, httpx.TransportError), f"/v1/events via node {node}: {error!r}"
            else:
                assert reader.status == 503, f"/v1/events via node {node}: status {reader.status}"
            return None

        return await until(attempt, f"a stream through node {node} to open", timeout, interval=0.2)

    async def poll_in_flight(self, node: int, after: int, wait: float, op: str) -> asyncio.Task[httpx.Response]:
        """Start a long-poll (``/v1/events/poll?after=&wait=``) through ``node``; return once the node
        is handling it, with the task that will get its response."""
        written = asyncio.Event()

        async def trace(name: str, info: dict[str, Any]) -> None:
            if name == "http11.send_request_body.complete":
                written.set()

        task = asyncio.create_task(
            self.cluster.http.get(
                f"{self.cluster.url(node)}/v1/events/poll",
                params={"after": after, "wait": wait},
                headers={**self.auth, "operationID": op},
                timeout=wait + 30.0,
                extensions={"trace": trace},
            )
        )
        waiter = asyncio.create_task(written.wait())
        await asyncio.wait([task, waiter], timeout=10.0, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if not written.is_set():
            task.cancel()
            raise AssertionError(f"the long-poll was not sent to node {node}")
        # The poll's bytes reached the node first; by the time a request on another connection is
        # answered, the node's event loop has read them and started handling the poll.
        assert (await self.cluster.http.get(f"{self.cluster.url(node)}/healthz")).status_code == 200
        assert not task.done() or task.result().status_code == 200, "the poll failed before the test went on"
        return task

    def failover(self, nodes: Sequence[int], timeout: float = 30.0) -> Failover:
        return Failover(self, list(nodes), timeout)


@dataclass
class Failover:
    """Calls made the way a mobile client behind a load balancer retries them.

    A call goes to ``nodes[current]``. When the node cannot be reached or the
    connection breaks mid-call (a killed node), the SAME call (same
    operationID, same body) goes to the next node, and that node stays
    current. A 503 (``Retry-After``, problem+json: e.g. the session's dead
    owner still holds its lease) is retried on the same node after a short
    backoff. Any other answer than 200 fails the test. Each call is bounded by
    ``timeout``.
    """

    user: ClusterUser
    nodes: list[int]
    timeout: float = 30.0
    current: int = 0
    #: ``(operationID, node, error)`` of every transport failure that moved a call to the next node.
    moved: list[tuple[str, int, str]] = field(default_factory=list)
    #: ``(operationID, node, detail)`` of every 503 answer that was retried.
    unavailable: list[tuple[str, int, str]] = field(default_factory=list)

    @property
    def node(self) -> int:
        return self.nodes[self.current]

    async def call(self, path: str, body: Any, op: str) -> Any:
        deadline = time.monotonic() + self.timeout
        while True:
            node = self.node
            try:
                r = await self.user.post(node, path, body, op, timeout=15.0)
            except httpx.TransportError as exc:
                self.moved.append((op, node, type(exc).__name__))
                self.current = (self.current + 1) % len(self.nodes)
            else:
                if r.status_code == 200:
                    assert r.json()["operationID"] == op, r.text
                    return r.json()["data"]
                assert r.status_code == 503, f"{path} {op} via node {node}: {r.status_code} {r.text}"
                assert r.headers.get("retry-after"), f"503 without Retry-After: {r.headers}"
                assert r.headers["content-type"].startswith("application/problem+json"), r.headers
                self.unavailable.append((op, node, r.json().get("detail", "")))
                await asyncio.sleep(0.2)  # backoff before retrying a 503, bounded by the deadline
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{path} {op} did not succeed within {self.timeout}s; moved {self.moved[-5:]}, "
                    f"unavailable {self.unavailable[-3:]}"
                )


@dataclass
class Cluster:
    imserver: ImServerProcess
    nodes: list[NodeProcess]
    http: httpx.AsyncClient
    redis: RedisSpace
    redis_url: str
    database_url: str
    readers: list[SseReader] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        return self.imserver.api_url

    @property
    def ws_url(self) -> str:
        return self.imserver.ws_url

    @property
    def prefix(self) -> str:
        return self.redis.prefix

    def node(self, n: int) -> NodeProcess:
        assert 1 <= n <= len(self.nodes), f"no node {n} in a cluster of {len(self.nodes)}"
        return self.nodes[n - 1]

    def url(self, n: int) -> str:
        return self.node(n).url

    async def start(self, n: int) -> None:
        """(Re)start node ``n``: same node id, data directory and port."""
        await self.node(n).start(self.http)

    async def ensure_running(self) -> None:
        """Restart every node a previous test stopped or killed."""
        await asyncio.gather(*(self.start(node.number) for node in self.nodes if not node.running))

    async def kill(self, n: int) -> None:
        code = await self.node(n).kill()
        assert code == -signal.SIGKILL, f"node {n} exited with {code}"

    async def stop(self, n: int, timeout: float = 30.0) -> float:
        """SIGTERM node ``n``; it must exit 0 within ``timeout``. Returns how long it took."""
        node = self.node(n)
        code, took = await node.terminate(timeout)
        assert code == 0, f"node {n} exited with {code} after SIGTERM:\n{node.tail()}"
        return took

    async def lease(self, session_id: str) -> tuple[int, str] | None:
        """The session's owner lease in Redis, ``(fence, node id)``, or None when no node holds it."""
        raw = await self.redis.client.get(f"{self.prefix}lease:{session_id}")
        if raw is None:
            return None
        fence, _, node_id = (raw.decode() if isinstance(raw, bytes) else str(raw)).partition(" ")
        return int(fence), node_id

    async def new_users(self, n: int, prefix: str = "c") -> list[str]:
        ids = [f"{prefix}{uuid.uuid4().hex[:10]}" for _ in range(n)]
        await register_users(self.http, self.api_url, *ids)
        return ids

    async def token(self, user_id: str, platform_id: int = 5) -> str:
        return await user_token(self.http, self.api_url, user_id, platform_id)

    async def login(self, user_id: str, node: int, platform_id: int = 5) -> ClusterUser:
        token = await self.token(user_id, platform_id)
        r = await self.http.post(
            f"{self.url(node)}/v1/login", json={"userID": user_id, "token": token, "platformID": platform_id}
        )
        assert r.status_code == 200, f"login via node {node}: {r.status_code} {r.text}"
        data = r.json()["data"]
        return ClusterUser(self, user_id, data["sessionToken"], data["sessionID"])

    def log_tails(self, lines: int = 40) -> str:
        parts = [
            f"== {p.name} (pid {p.process.pid if p.process else '-'}, exit {p._code()}) {p.log}\n{p.tail(lines)}"
            for p in [self.imserver, *self.nodes]
        ]
        return "\n".join(parts)

    async def close_streams(self) -> None:
        await asyncio.gather(*(finish(r) for r in self.readers))
        self.readers.clear()


async def _redis_client(redis_url: str) -> Redis:
    if redis_url == REDIS_URL:
        await require_redis()
    # Reconnect once on a dead pooled connection: the Redis may be restarted under a test.
    client = Redis.from_url(
        redis_url, socket_connect_timeout=2.0, retry=Retry(NoBackoff(), 1), retry_on_error=[RedisConnectionError]
    )
    try:
        await client.ping()
    except RedisError as exc:
        await client.aclose()
        raise AssertionError(f"Redis not reachable at {redis_url}: {exc!r}") from exc
    return client


@contextlib.asynccontextmanager
async def fresh_database(name_prefix: str = "oimb_cluster") -> AsyncIterator[str]:
    """A new, empty PostgreSQL database next to ``PG_URL`` (dropped afterwards): its SQLAlchemy URL."""
    base = make_url(PG_URL)
    admin = create_async_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = f"{name_prefix}_{uuid.uuid4().hex[:12]}"
    try:
        try:
            async with admin.connect() as conn:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as exc:  # any failure means "no usable PostgreSQL here"
            _skip_or_fail(f"PostgreSQL not usable at {base.render_as_string()} (CREATE DATABASE): {exc!r}")
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@contextlib.asynccontextmanager
async def run_cluster(
    tmp: Path, nodes: int = 2, redis_url: str = REDIS_URL, log_level: str = "info", **env: Any
) -> AsyncIterator[Cluster]:
    """An imserver and ``nodes`` bridge nodes in cluster mode; all stopped (and their Redis keys
    and database dropped) on exit. ``env``: bridge settings by field name (``lease_seconds=2``),
    passed as ``BRIDGE_*`` variables over :data:`DEFAULT_ENV`."""
    client = await _redis_client(redis_url)
    space = RedisSpace(client, f"oimbtest:{uuid.uuid4().hex[:12]}:")
    settings = {**DEFAULT_ENV, **{k: str(v) for k, v in env.items()}, "redis_prefix": space.prefix}
    failures: list[str] = []
    try:
        async with fresh_database() as database_url, httpx.AsyncClient(timeout=30.0) as http:
            imserver = ImServerProcess("imserver", tmp / "imserver.log", data_dir=tmp / "imserver")
            procs = [
                NodeProcess(
                    f"node-{n}", tmp / f"node-{n}.log", number=n, node_id=f"node-{n}", data_dir=tmp / f"node-{n}"
                )
                for n in range(1, nodes + 1)
            ]
            cluster = Cluster(imserver, procs, http, space, redis_url, database_url)
            try:
                await imserver.start()
                for node in procs:
                    node.args = [sys.executable, "-m", "bridge.cli", "serve", "--host", "127.0.0.1"]
                    node.args += ["--upstream-api", imserver.api_url, "--upstream-ws", imserver.ws_url]
                    node.args += ["--data-dir", str(node.data_dir), "--redis-url", redis_url]
                    node.args += ["--node-id", node.node_id, "--database-url", database_url, "--log-level", log_level]
                    node.env = _child_env(**settings)
                # All at once, as a deployment starts its replicas (they race for the schema, too).
                await asyncio.gather(*(node.start(http) for node in procs))
                yield cluster
            finally:
                await cluster.close_streams()
                drain = float(settings["drain_seconds"])
                codes = await asyncio.gather(*(p.shutdown(drain + 10.0) for p in procs))
                failures += [
                    f"{p.name} exited with {code} on SIGTERM at teardown:\n{p.tail()}"
                    for p, code in zip(procs, codes, strict=True)
                    if code not in (0, None)
                ]
                await imserver.shutdown(10.0)
    finally:
        # Keys left in a Redis that is down at teardown (a private one the test stopped) do not matter.
        with contextlib.suppress(RedisError, OSError):
            keys = await space.keys()
            if keys:
                await client.delete(*keys)
        await client.aclose()
    if failures:
        raise AssertionError("\n".join(failures))


@dataclass
class PrivateRedis:
    """A ``redis-server`` of the test's own, so it can be stopped and restarted without
    touching the machine's. Append-only file with fsync on every write and no RDB
    snapshots: a restart keeps every key (leases come back with their absolute expiry)."""

    dir: Path
    port: int = field(default_factory=stable_port)
    proc: ChildProcess | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.running

    async def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            _skip_or_fail("redis-server is not on PATH (apt-get install redis-server)")
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.proc is None:
            self.proc = ChildProcess("redis-server", self.dir / "redis-server.log")
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.dir)]
        await self.proc._spawn(args, dict(os.environ))

        async def answers() -> bool:
            if not self.proc or not self.proc.running:
                raise AssertionError(f"redis-server exited:\n{self.proc.tail() if self.proc else ''}")
            client = Redis.from_url(self.url, socket_connect_timeout=1.0)
            try:
                return bool(await client.ping())
            except RedisError:
                return False
            finally:
                await client.aclose()

        await until(answers, f"redis-server on port {self.port} to answer PING", START_TIMEOUT)

    async def stop(self) -> None:
        """SIGTERM: Redis fsyncs its append-only file and exits 0."""
        assert self.proc is not None
        code, _ = await self.proc.terminate(20.0)
        assert code == 0, f"redis-server exited with {code}:\n{self.proc.tail()}"

    async def shutdown(self) -> None:
        if self.proc is not None:
            await self.proc.shutdown(20.0)
