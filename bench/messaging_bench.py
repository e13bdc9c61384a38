"""Send->receive latency and messages/second through one bridge process, against a baseline.

Processes: an imserver and a bridge (`openim-bridge serve --upstream-*`), each its
own process on loopback; this process drives the load. Two paths, alternated
round by round in the same run:

- bridge:   senders call `POST /v1/message/send_message` (REST), receivers read
            `GET /v1/events` (SSE) on their bridge sessions;
- baseline: the same traffic straight over the imserver's message gateway with
            core's gateway client (no bridge), i.e. the upstream's own cost.

The bridge path runs once per store the bridge can keep its sessions and event
logs in (``--stores``, issue 12): ``sql`` (the default: SQLite under the data
dir, durable), ``memory`` (``--ephemeral``) and ``redis`` (cluster mode with one
node; needs the machine's Redis, ``--redis``), each its own bridge process on
the same imserver, rounds alternating.

Reported: p50/p99 send->receive latency and messages/second per path, and the
ratios to the baseline and to the memory store (the figures to compare between
runs on a noisy machine).
Usage: `.venv/bin/python bench/messaging_bench.py [--pairs 50] [--messages 20] [--rounds 2]
[--stores memory,sql,redis]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator

import httpx

from core.msgstruct import MsgStruct, to_msgdata
from core.protocol.constants import ReqIdentifier
from core.protocol.envelope import WsResp
from core.protocol.openim_pb2 import PushMessages
from core.transport.gateway import GatewayClient


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def _process(args: list[str], health: str, env: dict[str, str] | None = None) -> AsyncIterator[None]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        stderr=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    try:
        async with httpx.AsyncClient() as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    r = await http.post(health, json={}, headers={"operationID": "bench"})
                    if r.status_code in (200, 404, 405):
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or proc.returncode is not None:
                    raise RuntimeError(f"{args} did not start")
                await asyncio.sleep(0.05)
        yield
    finally:
        proc.terminate()
        await proc.wait()


class _Sink:
    """Gateway listener that timestamps received messages (baseline receivers)."""

    def __init__(self, latencies: list[float], done: asyncio.Event, expected: int) -> None:
        self.latencies, self.done, self.expected = latencies, done, expected

    async def on_connecting(self) -> None: ...
    async def on_connected(self, first: bool) -> None: ...
    async def on_connect_failed(self, code: int, msg: str) -> None: ...
    async def on_kicked(self) -> None: ...
    async def on_token_error(self, code: int, msg: str) -> None: ...

    async def on_push(self, resp: WsResp) -> None:
        if resp.req_identifier != ReqIdentifier.PUSH_MSG:
            return
        now = time.perf_counter()
        for pulled in PushMessages.FromString(resp.data).msgs.values():
            for m in pulled.Msgs:
                if m.contentType == 101:
                    sent = json.loads(m.content)["content"]
                    if sent.startswith("t="):
                        self.latencies.append(now - float(sent[2:]))
                        if len(self.latencies) >= self.expected:
                            self.done.set()


def _text(sender: str) -> MsgStruct:
    return MsgStruct(
        clientMsgID=uuid.uuid4().hex,
        sendID=sender,
        contentType=101,
        createTime=int(time.time() * 1000),
        textElem={"content": f"t={time.perf_counter()}"},
        senderPlatformID=3,
    )


async def _baseline(
    api: str, ws: str, http: httpx.AsyncClient, admin: str, pairs: int, n: int
) -> tuple[list[float], float]:
    users = await _register(http, api, admin, 2 * pairs)
    tokens = [await _token(http, api, admin, u, 3) for u in users]
    latencies: list[float] = []
    done = asyncio.Event()
    sink = _Sink(latencies, done, pairs * n)
    clients = [GatewayClient(ws, u, t, 3, sink) for u, t in zip(users, tokens, strict=True)]
    for c in clients:
        await c.start("bench")
    try:

        async def run(i: int) -> None:
            s, r = users[2 * i], users[2 * i + 1]
            for _ in range(n):
                msg = _text(s)
                msg.recvID, msg.sessionType = r, 1
                await clients[2 * i].request(ReqIdentifier.SEND_MSG, to_msgdata(msg).SerializeToString(), "bench")

        t0 = time.perf_counter()
        await asyncio.gather(*(run(i) for i in range(pairs)))
        await asyncio.wait_for(done.wait(), 120)
        return latencies, pairs * n / (time.perf_counter() - t0)
    finally:
        for c in clients:
            await c.close()


async def _bridge(
    api: str, bridge: str, http: httpx.AsyncClient, admin: str, pairs: int, n: int
) -> tuple[list[float], float]:
    users = await _register(http, api, admin, 2 * pairs)
    sessions = []
    for u in users:
        tok = await _token(http, api, admin, u, 5)
        r = await http.post(f"{bridge}/v1/login", json={"userID": u, "token": tok, "platformID": 5})
        sessions.append({"Authorization": f"Bearer {r.json()['data']['sessionToken']}"})
    latencies: list[float] = []
    done = asyncio.Event()

    async def receive(i: int, ready: asyncio.Event) -> None:
        async with http.stream("GET", f"{bridge}/v1/events", headers=sessions[2 * i + 1], timeout=None) as resp:
            ready.set()
            async for line in resp.aiter_lines():
                if line.startswith("data:") and '"OnRecvNewMessage"' in line:
                    now = time.perf_counter()
                    text = json.loads(line[5:])["data"]["textElem"]["content"]
                    latencies.append(now - float(text[2:]))
                    if len(latencies) >= pairs * n:
                        done.set()

    readies = [asyncio.Event() for _ in range(pairs)]
    readers = [asyncio.create_task(receive(i, readies[i])) for i in range(pairs)]
    for e in readies:
        await asyncio.wait_for(e.wait(), 30)
    try:

        async def run(i: int) -> None:
            s, r = users[2 * i], users[2 * i + 1]
            for _ in range(n):
                body = {"message": _text(s).out(), "recvID": r}
                resp = await http.post(f"{bridge}/v1/message/send_message", json=body, headers=sessions[2 * i])
                assert resp.status_code == 200, resp.text

        t0 = time.perf_counter()
        await asyncio.gather(*(run(i) for i in range(pairs)))
        await asyncio.wait_for(done.wait(), 120)
        return latencies, pairs * n / (time.perf_counter() - t0)
    finally:
        for t in readers:
            t.cancel()
        for h in sessions:
            await http.post(f"{bridge}/v1/logout", headers=h)


async def _register(http: httpx.AsyncClient, api: str, admin: str, k: int) -> list[str]:
    users = [f"mb{uuid.uuid4().hex[:12]}" for _ in range(k)]
    await http.post(
        f"{api}/user/user_register",
        json={"users": [{"userID": u, "nickname": u} for u in users]},
        headers={"operationID": "bench", "token": admin},
    )
    return users


async def _token(http: httpx.AsyncClient, api: str, admin: str, user: str, platform: int) -> str:
    r = await http.post(
        f"{api}/auth/get_user_token",
        json={"userID": user, "platformID": platform},
        headers={"operationID": "bench", "token": admin},
    )
    return str(r.json()["data"]["token"])


def _p(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000


# The bench's own imserver gets this admin secret (imserver's default is a generated one).
_SECRET = "bench-admin-secret"


def _store_args(store: str, tmp: str, redis_url: str) -> tuple[list[str], dict[str, str]]:
    """Extra `serve` flags and environment for a bridge on `store`."""
    if store == "memory":
        return ["--ephemeral"], {}
    if store == "redis":
        return ["--redis-url", redis_url], {"BRIDGE_REDIS_PREFIX": f"oimbbench:{uuid.uuid4().hex[:8]}:"}
    return [], {}  # sql: the default, SQLite under the data dir


async def main(pairs: int, n: int, rounds: int, stores: list[str], redis_url: str) -> None:
    api_port, ws_port = _port(), _port()
    api, ws = f"http://127.0.0.1:{api_port}", f"ws://127.0.0.1:{ws_port}"
    with tempfile.TemporaryDirectory() as tmp:
        ims = ["-m", "imserver", "--api-port", str(api_port), "--ws-port", str(ws_port), "--data-dir", f"{tmp}/ims"]
        ims += ["--secret", _SECRET]
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(_process(ims, f"{api}/auth/parse_token"))
            bridges: dict[str, str] = {}
            for store in stores:
                port = _port()
                extra, env = _store_args(store, tmp, redis_url)
                brg = ["-m", "bridge.cli", "serve", "--port", str(port), "--upstream-api", api, "--upstream-ws", ws]
                brg += ["--data-dir", f"{tmp}/bridge-{store}", "--log-level", "warning", *extra]
                bridges[store] = f"http://127.0.0.1:{port}"
                await stack.enter_async_context(_process(brg, f"{bridges[store]}/healthz", env))
            http = await stack.enter_async_context(
                httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=500))
            )
            r = await http.post(
                f"{api}/auth/get_admin_token",
                json={"secret": _SECRET, "userID": "imAdmin"},
                headers={"operationID": "bench"},
            )
            admin = r.json()["data"]["token"]
            results: dict[str, list[tuple[list[float], float]]] = {"baseline": []}
            results.update({f"bridge/{store}": [] for store in stores})
            for _ in range(rounds):
                results["baseline"].append(await _baseline(api, ws, http, admin, pairs, n))
                for store, url in bridges.items():
                    results[f"bridge/{store}"].append(await _bridge(api, url, http, admin, pairs, n))
    summary: dict[str, dict[str, float]] = {}
    for path, runs in results.items():
        lat = [x for run in runs for x in run[0]]
        summary[path] = {"p50": _p(lat, 0.5), "p99": _p(lat, 0.99), "mps": statistics.median(r[1] for r in runs)}
    print(f"{2 * pairs} sessions ({pairs} chatting pairs), {pairs * n} messages per round, {rounds} rounds per path")
    d = summary["baseline"]
    m = summary.get("bridge/memory", d)
    for path, s in summary.items():
        print(
            f"{path:14} send->receive p50 {s['p50']:7.2f} ms  p99 {s['p99']:7.2f} ms   {s['mps']:7.0f} msg/s   "
            f"/baseline p50 {s['p50'] / d['p50']:.2f}  /memory p50 {s['p50'] / m['p50']:.2f} "
            f"throughput {s['mps'] / m['mps']:.2f}"
        )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--pairs", type=int, default=50)
    ap.add_argument("--messages", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--stores", default="memory,sql,redis", help="comma-separated: memory, sql, redis")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    a = ap.parse_args()
    asyncio.run(main(a.pairs, a.messages, a.rounds, [s for s in a.stores.split(",") if s], a.redis))
