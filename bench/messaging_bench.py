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
import statistics
import tempfile
import time
import uuid

import httpx
from harness import (
    GatewaySink,
    Upstream,
    bridge_args,
    free_port,
    gateway_clients,
    imserver_args,
    login,
    pct,
    process,
    send_text,
    text_message,
)


async def _baseline(ws: str, http: httpx.AsyncClient, up: Upstream, pairs: int, n: int) -> tuple[list[float], float]:
    latencies: list[float] = []
    done = asyncio.Event()
    sink = GatewaySink(latencies, None, done, pairs * n)  # one for every receiver
    async with gateway_clients(up, ws, 2 * pairs, lambda _: sink) as (users, clients):

        async def run(i: int) -> None:
            for _ in range(n):
                await send_text(clients[2 * i], users[2 * i], users[2 * i + 1], platform=3)

        t0 = time.perf_counter()
        await asyncio.gather(*(run(i) for i in range(pairs)))
        await asyncio.wait_for(done.wait(), 120)
        return latencies, pairs * n / (time.perf_counter() - t0)


async def _bridge(bridge: str, http: httpx.AsyncClient, up: Upstream, pairs: int, n: int) -> tuple[list[float], float]:
    users = await up.users(2 * pairs)
    sessions = [await login(http, bridge, u, await up.token(u, 5)) for u in users]
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
                body = {"message": text_message(s, r, 3).out(), "recvID": r}
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


def _store_args(store: str, tmp: str, redis_url: str) -> tuple[list[str], dict[str, str]]:
    """Extra `serve` flags and environment for a bridge on `store`."""
    if store == "memory":
        return ["--ephemeral"], {}
    if store == "redis":
        return ["--redis-url", redis_url], {"BRIDGE_REDIS_PREFIX": f"oimbbench:{uuid.uuid4().hex[:8]}:"}
    return [], {}  # sql: the default, SQLite under the data dir


async def main(pairs: int, n: int, rounds: int, stores: list[str], redis_url: str) -> None:
    api_port, ws_port = free_port(), free_port()
    api, ws = f"http://127.0.0.1:{api_port}", f"ws://127.0.0.1:{ws_port}"
    with tempfile.TemporaryDirectory() as tmp:
        ims = imserver_args(api_port, ws_port, f"{tmp}/ims")
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(process("imserver", ims, api, "/auth/parse_token"))
            bridges: dict[str, str] = {}
            for store in stores:
                port = free_port()
                extra, env = _store_args(store, tmp, redis_url)
                brg = bridge_args(port, api, ws, f"{tmp}/bridge-{store}", *extra)
                bridges[store] = f"http://127.0.0.1:{port}"
                await stack.enter_async_context(process(f"bridge/{store}", brg, bridges[store], "/healthz", env))
            http = await stack.enter_async_context(
                httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=500))
            )
            up = Upstream(http, api, prefix="mb")
            await up.start()
            results: dict[str, list[tuple[list[float], float]]] = {"baseline": []}
            results.update({f"bridge/{store}": [] for store in stores})
            for _ in range(rounds):
                results["baseline"].append(await _baseline(ws, http, up, pairs, n))
                for store, url in bridges.items():
                    results[f"bridge/{store}"].append(await _bridge(url, http, up, pairs, n))
    summary: dict[str, dict[str, float]] = {}
    for path, runs in results.items():
        lat = [x for run in runs for x in run[0]]
        summary[path] = {
            "p50": pct(lat, 0.5) * 1000,
            "p99": pct(lat, 0.99) * 1000,
            "mps": statistics.median(r[1] for r in runs),
        }
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
