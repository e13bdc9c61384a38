"""What the benches share: their processes, /proc figures, the imserver's admin calls, logins, the table.

- processes on loopback (`process`: start `python ARGS`, wait until it answers, terminate it
  at the end), with the command lines of an imserver (`imserver_args`) and a bridge
  (`bridge_args`), each its own process so /proc/<pid>/stat gives its CPU alone;
- `cpu_seconds`, `rss_bytes` from /proc, `measure` for a phase;
- `Upstream`: the imserver's admin token, registered users and their tokens; `login` through
  a bridge;
- gateway-direct receivers (`GatewaySink`), text messages stamped with their send time;
- the figures' `Table`.

Imported by bench/cost.py, ab.py, imserver_bench.py, messaging_bench.py and
session_bench.py (bench/ is on sys.path when one of them runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from core.msgstruct import MsgStruct, to_msgdata
from core.protocol.constants import ReqIdentifier
from core.protocol.envelope import WsResp
from core.protocol.openim_pb2 import PushMessages
from core.transport.gateway import GatewayClient

_TICK = os.sysconf("SC_CLK_TCK")
# The bench's own imserver gets this admin secret (imserver's default is a generated one).
SECRET = "bench-admin-secret"
HERE = Path(__file__).resolve().parent


# --- processes and /proc ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of `pid` (proc(5): fields 14 and 15 of /proc/<pid>/stat)."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()  # the command name may hold spaces
    return (int(fields[11]) + int(fields[12])) / _TICK


def cpu_seconds_fine(pid: int) -> float:
    """On-CPU time of the live threads of `pid` in ns resolution (the first field of each
    /proc/<pid>/task/<tid>/schedstat, the scheduler's sum_exec_runtime). /proc/<pid>/stat
    counts clock ticks (10 ms at CLK_TCK 100): too coarse for a phase whose difference is a
    few ticks (the SSE fan-out marginal printed 0 µs for both sides). A thread that exits
    during the phase takes its time with it: for processes whose threads live long."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


@dataclass
class Proc:
    name: str
    pid: int
    url: str

    def cpu(self, fine: bool = False) -> float:
        return cpu_seconds_fine(self.pid) if fine else cpu_seconds(self.pid)


@contextlib.asynccontextmanager
async def process(
    name: str, args: list[str], url: str, health: str, env: dict[str, str] | None = None, cwd: str | None = None
) -> AsyncIterator[Proc]:
    """`python ARGS`, once `POST url+health` answers below 500; terminated on the way out."""
    # `python -m` puts the working directory first on sys.path, before PYTHONPATH: a tree
    # under test must be the working directory too (bench/ab.py).
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        stderr=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        cwd=cwd,
    )
    try:
        async with httpx.AsyncClient() as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    r = await http.post(f"{url}{health}", json={}, headers={"operationID": "bench"})
                    if r.status_code < 500:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or proc.returncode is not None:
                    raise RuntimeError(f"{name} did not start")
                await asyncio.sleep(0.05)
        yield Proc(name, proc.pid, url)
    finally:
        proc.terminate()
        await proc.wait()


def imserver_args(api_port: int, ws_port: int, data_dir: str, *extra: str) -> list[str]:
    """`python -m imserver` on loopback ports, data in `data_dir`, admin secret SECRET."""
    args = ["-m", "imserver", "--api-port", str(api_port), "--ws-port", str(ws_port)]
    return [*args, "--data-dir", data_dir, "--secret", SECRET, *extra]


def bridge_args(port: int, api: str, ws: str, data_dir: str, *extra: str) -> list[str]:
    """`python -m bridge.cli serve` on `port` in front of the imserver at `api` / `ws`."""
    args = ["-m", "bridge.cli", "serve", "--port", str(port), "--upstream-api", api, "--upstream-ws", ws]
    return [*args, "--data-dir", data_dir, "--log-level", "warning", *extra]


@contextlib.contextmanager
def measure(*procs: Proc, fine: bool = False) -> Iterator[dict[str, float]]:
    """CPU seconds each process spent inside the block, and the wall time: `out[name]`, `out['wall']`.
    `fine`: from schedstat (ns) instead of clock ticks (see cpu_seconds_fine)."""
    out: dict[str, float] = {}
    before = {p.name: p.cpu(fine) for p in procs}
    t0 = time.perf_counter()
    yield out
    out["wall"] = time.perf_counter() - t0
    for p in procs:
        out[p.name] = p.cpu(fine) - before[p.name]


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


async def until(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError("messages did not all arrive")
        await asyncio.sleep(0.02)


async def bounded(n: int, jobs: list[Callable[[], Awaitable[None]]]) -> None:
    """Run `jobs`, `n` at a time."""
    sem = asyncio.Semaphore(n)

    async def run(job: Callable[[], Awaitable[None]]) -> None:
        async with sem:
            await job()

    await asyncio.gather(*(run(j) for j in jobs))


# --- the imserver's admin calls, and bridge logins -------------------------------------------------


class Upstream:
    """The imserver's admin API: users registered under `prefix`, their tokens."""

    def __init__(self, http: httpx.AsyncClient, api: str, secret: str = SECRET, prefix: str = "cb") -> None:
        self.http, self.api, self.admin = http, api, ""
        self._secret, self._prefix = secret, prefix

    async def start(self) -> None:
        r = await self.http.post(
            f"{self.api}/auth/get_admin_token", json={"secret": self._secret, "userID": "imAdmin"}, headers=self._h()
        )
        self.admin = r.json()["data"]["token"]

    def _h(self) -> dict[str, str]:
        return {"operationID": "bench", "token": self.admin}

    async def users(self, k: int) -> list[str]:
        users = [f"{self._prefix}{uuid.uuid4().hex[:12]}" for _ in range(k)]
        for i in range(0, k, 100):
            chunk = users[i : i + 100]
            await self.http.post(
                f"{self.api}/user/user_register",
                json={"users": [{"userID": u, "nickname": u} for u in chunk]},
                headers=self._h(),
            )
        return users

    async def token(self, user: str, platform: int) -> str:
        r = await self.http.post(
            f"{self.api}/auth/get_user_token", json={"userID": user, "platformID": platform}, headers=self._h()
        )
        return str(r.json()["data"]["token"])


async def login(http: httpx.AsyncClient, bridge: str, user: str, token: str) -> dict[str, str]:
    """`POST /v1/login` (platform 5) at the bridge; the session's Authorization header."""
    r = await http.post(f"{bridge}/v1/login", json={"userID": user, "token": token, "platformID": 5})
    if r.status_code != 200:
        raise RuntimeError(f"login {r.status_code}: {r.text[:500]}")
    return {"Authorization": f"Bearer {r.json()['data']['sessionToken']}"}


# --- messages ------------------------------------------------------------------------------------


def text_message(sender: str, recv: str, platform: int = 5) -> MsgStruct:
    """A single-chat text whose content is its send time (`t=<perf_counter>`), for latencies."""
    m = MsgStruct(
        clientMsgID=uuid.uuid4().hex,
        sendID=sender,
        contentType=101,
        createTime=int(time.time() * 1000),
        textElem={"content": f"t={time.perf_counter()}"},
        senderPlatformID=platform,
    )
    m.recvID, m.sessionType = recv, 1
    return m


def sent_at(content: str) -> float | None:
    """The send time a `text_message` carries, None for another text."""
    return float(content[2:]) if content.startswith("t=") else None


class GatewaySink:
    """Gateway listener timestamping received `text_message`s (the gateway-direct receivers):
    those to `user` (None: any), with `done` set once there are `expected`."""

    def __init__(
        self, latencies: list[float], user: str | None, done: asyncio.Event | None = None, expected: int = 0
    ) -> None:
        self.latencies, self.user, self.done, self.expected = latencies, user, done, expected

    async def on_connecting(self) -> None: ...
    async def on_connected(self, first: bool) -> None: ...
    async def on_connect_failed(self, code: int, msg: str) -> None: ...
    async def on_kicked(self) -> None: ...
    async def on_token_error(self, code: int, msg: str) -> None: ...
    async def on_crashed(self, exc: BaseException) -> None: ...
    def on_bad_frame(self, reason: str) -> None: ...

    async def on_push(self, resp: WsResp) -> None:
        if resp.req_identifier != ReqIdentifier.PUSH_MSG:
            return
        now = time.perf_counter()
        for pulled in PushMessages.FromString(resp.data).msgs.values():
            for m in pulled.Msgs:
                if m.contentType == 101 and (self.user is None or m.recvID == self.user):
                    sent = sent_at(json.loads(m.content)["content"])
                    if sent is not None:
                        self.latencies.append(now - sent)
                        if self.done is not None and len(self.latencies) >= self.expected:
                            self.done.set()


@contextlib.asynccontextmanager
async def gateway_clients(
    up: Upstream, ws: str, k: int, sink: Callable[[str], GatewaySink], platform: int = 3
) -> AsyncIterator[tuple[list[str], list[GatewayClient]]]:
    """`k` fresh users, each connected straight to the imserver's gateway (core's GatewayClient,
    listener `sink(user)`); closed on the way out."""
    users = await up.users(k)
    tokens = [await up.token(u, platform) for u in users]
    clients = [GatewayClient(ws, u, tk, platform, sink(u)) for u, tk in zip(users, tokens, strict=True)]
    for c in clients:
        await c.start("bench")
    for c in clients:
        await c.wait_connected()
    try:
        yield users, clients
    finally:
        for c in clients:
            await c.close()


async def send_text(
    client: GatewayClient, sender: str, recv: str, timeout: float | None = None, platform: int = 5
) -> None:
    """A `text_message` over the gateway (1003 SendMsg), answered."""
    data = to_msgdata(text_message(sender, recv, platform)).SerializeToString()
    await client.request(ReqIdentifier.SEND_MSG, data, "bench", timeout=timeout)


# --- the table ------------------------------------------------------------------------------------


@dataclass
class Row:
    figure: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    goal: str = ""

    def ratio(self) -> float | None:
        return None if not self.baseline else self.value / self.baseline


@dataclass
class Table:
    rows: list[Row] = field(default_factory=list)

    def add(self, *a: object, **k: object) -> None:
        self.rows.append(Row(*a, **k))  # type: ignore[arg-type]

    def print(self) -> None:
        print()
        print(f"| {'figure':52} | {'bridge':>12} | {'baseline':>26} | {'ratio':>7} | goal")
        print(f"|{'-' * 54}|{'-' * 14}|{'-' * 28}|{'-' * 9}|------")
        for r in self.rows:
            base = f"{fmt(r.baseline, r.unit)} {r.baseline_name}" if r.baseline is not None else "-"
            ratio = r.ratio()
            print(
                f"| {r.figure:52} | {fmt(r.value, r.unit):>12} | {base:>26} | "
                f"{(f'{ratio:.2f}' if ratio is not None else '-'):>7} | {r.goal}"
            )


def fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "-"
    if unit == "s":
        return f"{v * 1e6:.0f} µs" if v < 1e-3 else f"{v * 1e3:.2f} ms"
    if unit == "KiB":
        return f"{v / 1024:.1f} KiB"
    return f"{v:.1f} {unit}".strip()
