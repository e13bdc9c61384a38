"""The real nginx with the repository's proxy config in front of a two-node cluster.

deploy/nginx/bridge.conf, rendered for loopback by deploy/nginx/render.sh, is
run by the machine's nginx (Debian ``nginx-light``, /usr/sbin/nginx) in front of
the cluster harness (tests/support/cluster.py). Clients talk to nginx only;
the tests look at the nodes (Redis leases) and at nginx's access log just to
observe which node served what. What deploy/README.md "How the proxy routes"
and "Why SSE must not be buffered" promise:

- a session's calls, with the token in ``Authorization`` or ``?access_token=``,
  all go to one node (consistent hash on the session token); logins go anywhere;
- SSE through the proxy is not buffered, and resumes with ``Last-Event-ID``;
- when a session's owner dies, calls through the proxy succeed once its lease
  lapses (503 + Retry-After until then, retried with the same operationID);
- the access log holds no session tokens.

Without nginx: skipped locally, a failure in CI (scripts/install-interop.sh
installs it when run as root). nginx is started afresh for every test, so no
test inherits the node failures an earlier one made nginx remember.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

from tests.support.cluster import (
    DEFAULT_ENV,
    ChildProcess,
    Cluster,
    ClusterUser,
    finish,
    run_cluster,
    stable_port,
    until,
)
from tests.support.sseclient import SseReader

pytestmark = pytest.mark.services

ROOT = Path(__file__).resolve().parents[2]
RENDER = ROOT / "deploy" / "nginx" / "render.sh"
NGINX = "/usr/sbin/nginx"
INSTALLER = "scripts/install-interop.sh"
LEASE_SECONDS = float(DEFAULT_ENV["lease_seconds"])
#: bridge.conf's ``max_fails=1 fail_timeout=10s``: a node nginx saw fail is skipped this long.
FAIL_TIMEOUT = 10.0

# bridge.conf's log_format `bridge`.
_LOG_LINE = re.compile(
    r'^\S+ \[[^\]]*\] "(?P<method>\S+) (?P<uri>\S+) [^"]*" (?P<status>\d+) \S+ \S+ '
    r"op=(?P<op>\S*) req=\S+ upstream=(?P<upstream>.*?) upstream_status=(?P<upstream_status>.*)$"
)


def _skip_or_fail(message: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _nginx_binary() -> str:
    path = NGINX if os.access(NGINX, os.X_OK) else shutil.which("nginx")
    if path is None:
        _skip_or_fail(
            f"nginx not found at {NGINX} or on PATH: the proxy tests need Debian's nginx-light, "
            f"which {INSTALLER} installs when run as root (apt-get install -y nginx-light)"
        )
    return path


def _op(tag: str) -> str:
    return f"op-px-{tag}-{uuid.uuid4().hex[:8]}"


@dataclass
class LogEntry:
    """One access log line of bridge.conf's format."""

    method: str
    uri: str
    status: int
    op: str
    #: Every node nginx tried, in order (``$upstream_addr``); the last one answered.
    upstreams: list[str]
    upstream_statuses: list[str]
    line: str


def _parse(line: str) -> LogEntry | None:
    m = _LOG_LINE.match(line)
    if m is None:
        return None
    split = re.compile(r"\s*,\s*|\s+:\s+")  # ", " between tries, " : " across an internal redirect
    return LogEntry(
        m["method"],
        m["uri"],
        int(m["status"]),
        m["op"],
        [u for u in split.split(m["upstream"]) if u and u != "-"],
        [s for s in split.split(m["upstream_status"]) if s and s != "-"],
        line,
    )


@dataclass
class Proxy:
    """nginx, run from a rendered config directory, in front of ``cluster``'s nodes."""

    cluster: Cluster
    dir: Path
    port: int
    process: ChildProcess
    #: Every session token handed out through this module's proxies (for the access-log check).
    tokens: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def access_log(self) -> Path:
        return self.dir / "logs" / "access.log"

    def node_of(self, upstream: str) -> int:
        for node in self.cluster.nodes:
            if node.url == f"http://{upstream}":
                return node.number
        raise AssertionError(f"{upstream} is no node's address: {[n.url for n in self.cluster.nodes]}")

    def entries(self) -> list[LogEntry]:
        try:
            text = self.access_log.read_text(errors="replace")
        except FileNotFoundError:
            return []
        return [e for e in map(_parse, text.splitlines()) if e is not None]

    async def logged(self, op: str, count: int = 1) -> list[LogEntry]:
        """The access log lines of requests sent with ``operationID: op``, once ``count`` are there
        (nginx writes a line when it has finished a request, which may be just after the client got
        the response)."""

        async def lines() -> list[LogEntry] | None:
            found = [e for e in self.entries() if e.op == op]
            return found if len(found) >= count else None

        return await until(lines, f"{count} access log line(s) for {op}", timeout=10.0)

    async def answered(self, op: str) -> list[LogEntry]:
        """The access log lines of a call retried with ``op`` until it got 200: all of them, once
        the 200 is there."""

        async def lines() -> list[LogEntry] | None:
            found = [e for e in self.entries() if e.op == op]
            return found if any(e.status == 200 for e in found) else None

        return await until(lines, f"an access log line for {op} with status 200", timeout=10.0)

    async def served_by(self, op: str) -> int:
        """The node that answered the one request sent with ``op``."""
        (entry,) = await self.logged(op)
        assert entry.upstreams, entry.line
        return self.node_of(entry.upstreams[-1])

    async def login(self, user_id: str) -> tuple[ClusterUser, str]:
        """Log in through the proxy: the session and the operationID of the login."""
        token = await self.cluster.token(user_id)
        op = _op("login")
        r = await self.cluster.http.post(
            f"{self.url}/v1/login",
            json={"userID": user_id, "token": token, "platformID": 5},
            headers={"operationID": op},
        )
        assert r.status_code == 200, f"login through the proxy: {r.status_code} {r.text}"
        data = r.json()["data"]
        self.tokens.append(data["sessionToken"])
        return ClusterUser(self.cluster, user_id, data["sessionToken"], data["sessionID"]), op

    async def request(
        self, user: ClusterUser, method: str, path: str, body: Any = None, op: str = "", **kw: Any
    ) -> httpx.Response:
        headers = {**user.auth, "operationID": op or _op("call")}
        if body is not None:
            kw["json"] = body
        return await self.cluster.http.request(method, f"{self.url}{path}", headers=headers, **kw)

    async def call(self, user: ClusterUser, path: str, body: Any = None, op: str = "", retry_for: float = 0.0) -> Any:
        """A POST through the proxy that must answer 200; its ``data``. With ``retry_for``, a 503
        (Retry-After, problem+json: the session's owner is unreachable, or no node answered) is
        retried with the same operationID until that many seconds have passed."""
        op = op or _op("call")
        deadline = time.monotonic() + retry_for
        unavailable: list[str] = []
        while True:
            r = await self.request(user, "POST", path, body, op, timeout=15.0)
            if r.status_code == 200:
                assert r.json()["operationID"] == op, r.text
                return r.json()["data"]
            assert r.status_code == 503 and retry_for, f"{path} {op} through the proxy: {r.status_code} {r.text}"
            assert r.headers.get("retry-after"), f"503 without Retry-After: {r.headers}"
            assert r.headers["content-type"].startswith("application/problem+json"), r.headers
            unavailable.append(r.json().get("detail", ""))
            if time.monotonic() > deadline:
                raise AssertionError(f"{path} {op}: still 503 after {retry_for}s: {unavailable[-3:]}")
            await asyncio.sleep(0.2)  # backoff before retrying a 503, bounded by the deadline

    async def send_text(self, sender: ClusterUser, to: str, text: str, retry_for: float = 0.0) -> None:
        msg = await self.call(sender, "/v1/message/create_text_message", {"text": text}, retry_for=retry_for)
        await self.call(sender, "/v1/message/send_message", {"message": msg, "recvID": to}, retry_for=retry_for)

    async def open_stream(
        self, user: ClusterUser, op: str, last_event_id: int | None = None, query_token: bool = False
    ) -> SseReader:
        """``GET /v1/events`` through the proxy, the token in ``?access_token=`` (as EventSource
        clients send it) or in ``Authorization``; whatever it answers (``SseReader.status``)."""
        headers = {"operationID": op}
        url = f"{self.url}/v1/events"
        if query_token:
            url += f"?access_token={user.session_token}"
        else:
            headers.update(user.auth)
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        reader = SseReader(self.cluster.http, url, headers)
        self.cluster.readers.append(reader)
        try:
            return await reader.start(timeout=10.0)
        except TimeoutError:
            await finish(reader)
            raise AssertionError("/v1/events through the proxy: no response (not even headers) within 10s") from None

    async def stream(
        self, user: ClusterUser, op: str, last_event_id: int | None = None, query_token: bool = False
    ) -> SseReader:
        reader = await self.open_stream(user, op, last_event_id, query_token)
        if reader.status != 200:
            error = await finish(reader)
            raise AssertionError(f"/v1/events through the proxy: status {reader.status}, error {error!r}")
        return reader

    def error_log(self, lines: int = 20) -> str:
        try:
            text = (self.dir / "logs" / "error.log").read_text(errors="replace")
        except FileNotFoundError:
            return "(no error log)"
        return "\n".join(text.splitlines()[-lines:])


@pytest.fixture(scope="module")
async def running_cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    _nginx_binary()  # skip (or fail) before starting any process
    async with run_cluster(tmp_path_factory.mktemp("proxy-cluster"), nodes=2) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def proxy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("nginx")


@pytest.fixture(scope="module")
def tokens() -> list[str]:
    return []


@pytest.fixture
async def proxy(running_cluster: Cluster, proxy_dir: Path, tokens: list[str]) -> AsyncIterator[Proxy]:
    """nginx in front of every node of the cluster, freshly rendered and started for this test."""
    cluster = running_cluster
    await cluster.ensure_running()  # a node an earlier test killed (it may come back on another port)
    binary = _nginx_binary()
    port = stable_port()
    args = [str(RENDER), "-o", str(proxy_dir), "-l", f"127.0.0.1:{port}"]
    for node in cluster.nodes:
        args += ["-u", node.url.removeprefix("http://")]
    render = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await render.communicate()
    assert render.returncode == 0, f"render.sh failed ({render.returncode}): {out.decode(errors='replace')}"

    conf = str(proxy_dir / "nginx.conf")
    process = ChildProcess("nginx", proxy_dir / "nginx.out")
    # -e: the error log before the config is read (the built-in /var/log/nginx may not be writable).
    base = [binary, "-p", str(proxy_dir), "-e", str(proxy_dir / "logs" / "error.log"), "-c", conf]
    check = await asyncio.create_subprocess_exec(
        *base, "-t", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await check.communicate()
    assert check.returncode == 0, f"nginx -t rejects the rendered config:\n{out.decode(errors='replace')}"
    await process._spawn([*base, "-g", "daemon off;"], dict(os.environ))
    px = Proxy(cluster, proxy_dir, port, process, tokens)
    try:

        async def up() -> bool:
            if not process.running:
                raise AssertionError(f"nginx exited:\n{process.tail()}\n{px.error_log()}")
            with contextlib.suppress(httpx.TransportError):
                return (await cluster.http.get(f"{px.url}/proxy-healthz", timeout=2.0)).status_code == 200
            return False

        await until(up, f"nginx on port {port} to answer /proxy-healthz", timeout=10.0)
        yield px
    finally:
        await cluster.close_streams()
        if process.running:
            code, _ = await process.terminate(10.0)  # SIGTERM: fast shutdown, open streams need not end first
            assert code == 0, f"nginx exited with {code}:\n{process.tail()}\n{px.error_log()}"


def _texts(reader: SseReader) -> list[str]:
    return [e.json["data"]["textElem"]["content"] for e in reader.named("OnRecvNewMessage")]


def _ids(reader: SseReader) -> list[int]:
    ids = [e.id for e in reader.events]
    assert None not in ids, ids
    return [i for i in ids if i is not None]


async def test_each_session_sticks_to_one_node(proxy: Proxy) -> None:
    """Logins land on any node, which then owns the session; every later call of the session,
    whichever route and method, goes to one node (the one its token hashes to), and the session
    never changes owner."""
    cluster = proxy.cluster
    users = [await proxy.login(uid) for uid in await cluster.new_users(8, prefix="px")]
    leases: dict[str, tuple[int, str]] = {}
    login_nodes = []
    for user, login_op in users:
        (login,) = await proxy.logged(login_op)
        assert len(login.upstreams) == 1 and login.status == 200, login.line
        node = proxy.node_of(login.upstreams[0])
        login_nodes.append(node)
        lease = await cluster.lease(user.session_id)
        assert lease is not None and lease[1] == f"node-{node}", f"the node nginx sent the login to owns it: {lease}"
        leases[user.session_id] = lease

    hashed = []
    for user, _ in users:
        ops = []
        for i in range(10):
            op = _op(f"stick{i}")
            ops.append(op)
            if i % 2:
                r = await proxy.request(user, "GET", "/v1/session", op=op)
                assert r.status_code == 200, r.text
                assert r.json()["data"]["sessionID"] == user.session_id
            else:
                me = await proxy.call(user, "/v1/user/get_self_user_info", op=op)
                assert me["userID"] == user.user_id
        served = [await proxy.logged(op) for op in ops]
        tried = [e.upstreams for (e,) in served]
        assert all(len(t) == 1 for t in tried) and len({t[0] for t in tried}) == 1, (
            f"{user.user_id}: one node for all ten calls, each at the first try: {tried}"
        )
        hashed.append(proxy.node_of(tried[0][0]))
        assert await cluster.lease(user.session_id) == leases[user.session_id], "the owner never changed"
    # (Not asserted, being random: logins and hashes spread over both nodes.)
    print(f"login nodes {login_nodes}, hashed nodes {hashed}")


async def test_sse_is_not_buffered_and_resumes(proxy: Proxy) -> None:
    """An event reaches an ``?access_token=`` stream through the proxy at once, with the stream
    still open, from the node the session's calls go to; a stream reopened with Last-Event-ID
    gets exactly what it missed."""
    cluster = proxy.cluster
    a_id, b_id = await cluster.new_users(2, prefix="px")
    (a, _), (b, _) = await proxy.login(a_id), await proxy.login(b_id)
    op = _op("a-call")
    await proxy.call(a, "/v1/user/get_self_user_info", op=op)
    a_node = await proxy.served_by(op)

    stream_op = _op("sse1")
    s1 = await proxy.stream(a, stream_op, query_token=True)
    for i in range(3):
        started = time.monotonic()
        await proxy.send_text(b, a_id, f"live{i}")
        # The node writes a keep-alive comment only every 15 s: a buffering proxy would hold the
        # event until then (or until a buffer fills), far past this deadline.
        await s1.wait_for("OnRecvNewMessage", count=i + 1, timeout=5.0)
        took = time.monotonic() - started
        assert took < 5.0, f"event {i} took {took:.2f}s through the proxy"
        assert not s1.ended, "the stream stays open after delivering an event"
    assert _texts(s1) == ["live0", "live1", "live2"]
    seen = _ids(s1)[-1]
    assert await finish(s1) is None  # closed by us
    (logged,) = await proxy.logged(stream_op)
    assert logged.uri == "/v1/events" and len(logged.upstreams) == 1, logged.line
    assert proxy.node_of(logged.upstreams[0]) == a_node, "?access_token= hashes like the Bearer token"

    for i in range(3):  # while no stream is open
        await proxy.send_text(b, a_id, f"missed{i}")
    s2 = await proxy.stream(a, _op("sse2"), last_event_id=seen, query_token=True)
    await s2.wait_for("OnRecvNewMessage", count=3, timeout=10.0)
    assert _texts(s2)[:3] == ["missed0", "missed1", "missed2"], "only the missed ones, in order"
    ids = _ids(s2)
    assert ids == list(range(seen + 1, seen + 1 + len(ids))), f"every id after {seen}, no gap, no repeat: {ids}"
    assert not s2.named("reset")
    await proxy.send_text(b, a_id, "live3")
    await s2.wait_for("OnRecvNewMessage", count=4, timeout=5.0)
    assert _texts(s2) == ["missed0", "missed1", "missed2", "live3"]


async def test_owner_killed_calls_succeed_through_proxy(proxy: Proxy) -> None:
    """SIGKILL the node that owns a session and that its token hashes to: nginx moves the session's
    calls to the other node, which answers 503 + Retry-After until the dead owner's lease lapses
    and then takes the session over from its checkpoint; its stream resumes through the proxy
    with Last-Event-ID and misses nothing."""
    cluster = proxy.cluster
    (b_id,) = await cluster.new_users(1, prefix="px")
    b, _ = await proxy.login(b_id)
    # Logins land on a random node: log in until a session is owned by the node its token hashes
    # to (half of them are), so that killing that node makes nginx itself move the session's calls.
    tried = []
    for a_id in await cluster.new_users(30, prefix="px"):
        a, _ = await proxy.login(a_id)
        op = _op("where")
        await proxy.call(a, "/v1/user/get_self_user_info", op=op)
        hashed = await proxy.served_by(op)
        lease = await cluster.lease(a.session_id)
        assert lease is not None, a.session_id
        tried.append((lease[1], hashed))
        if lease[1] == f"node-{hashed}":
            break
    else:
        raise AssertionError(f"30 logins, none owned by the node its token hashes to: {tried}")
    dead, survivor = hashed, 3 - hashed
    dead_addr = cluster.url(dead).removeprefix("http://")
    survivor_addr = cluster.url(survivor).removeprefix("http://")

    sa = await proxy.stream(a, _op("sse-before"))
    await proxy.send_text(b, a_id, "before")
    await sa.wait_for("OnRecvNewMessage")

    await cluster.kill(dead)
    await sa.wait_ended(timeout=10.0)  # nginx ends the response when the node's connection breaks
    await finish(sa)
    seen = _ids(sa)[-1]  # the last event the client got, as a reconnecting EventSource sends it

    started = time.monotonic()
    op = _op("after-kill")
    me = await proxy.call(a, "/v1/user/get_self_user_info", op=op, retry_for=20.0)
    took = time.monotonic() - started
    assert me["userID"] == a_id
    entries = await proxy.answered(op)
    assert entries[0].upstreams == [dead_addr, survivor_addr], (
        f"nginx tried the hashed (dead) node, then moved the POST it could not deliver: {entries[0].line}"
    )
    assert all(e.upstreams[-1] == survivor_addr for e in entries), [e.line for e in entries]
    assert [e.status for e in entries[:-1]] == [503] * (len(entries) - 1) and entries[-1].status == 200, [
        e.line for e in entries
    ]
    # The survivor's 503s must not take it out of nginx's rotation (max_fails=1 fail_timeout=10s):
    # the call succeeds once the lease lapses, not after nginx forgives the node.
    assert took < FAIL_TIMEOUT - 2, f"took {took:.1f}s; lease is {LEASE_SECONDS}s: {[e.line for e in entries]}"
    after = await cluster.lease(a.session_id)
    assert after is not None and after[1] == f"node-{survivor}" and after[0] > lease[0], (lease, after)

    # The stream reopens through the proxy (on the survivor) and misses nothing.
    await proxy.send_text(b, a_id, "after", retry_for=20.0)  # b may have been on the dead node too
    sa2 = await proxy.stream(a, _op("sse-after"), last_event_id=seen)
    await sa2.wait_for("OnRecvNewMessage", timeout=10.0)
    assert _texts(sa2) == ["after"]
    ids = _ids(sa2)
    assert ids == list(range(seen + 1, seen + 1 + len(ids))) and not sa2.named("reset"), ids
    await proxy.call(a, "/v1/user/get_self_user_info")  # no 503 any more


async def test_access_log_has_no_tokens(proxy: Proxy) -> None:
    """Session tokens in ``?access_token=`` (streams, long-poll) never reach the access log."""
    cluster = proxy.cluster
    a_id, b_id = await cluster.new_users(2, prefix="px")
    (a, _), (b, _) = await proxy.login(a_id), await proxy.login(b_id)
    stream_op, poll_op = _op("log-sse"), _op("log-poll")
    sa = await proxy.stream(a, stream_op, query_token=True)
    await proxy.send_text(b, a_id, "logged")
    await sa.wait_for("OnRecvNewMessage")
    await finish(sa)
    r = await cluster.http.get(
        f"{proxy.url}/v1/events/poll",
        params={"access_token": a.session_token, "after": 0, "wait": 0},
        headers={"operationID": poll_op},
    )
    assert r.status_code == 200, r.text
    assert r.json()["data"]["events"], "the poll found the stream's events"

    for op, uri in ((stream_op, "/v1/events"), (poll_op, "/v1/events/poll")):
        (entry,) = await proxy.logged(op)
        assert entry.uri == uri and entry.status == 200, entry.line
    text = proxy.access_log.read_text()
    assert len(proxy.tokens) >= 2 and a.session_token in proxy.tokens
    leaked = [t for t in proxy.tokens if t in text]
    assert not leaked, f"{len(leaked)} session token(s) in {proxy.access_log}"
    assert "access_token" not in text, [line for line in text.splitlines() if "access_token" in line][:3]
