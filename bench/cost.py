"""The bridge's cost per call, message, event, login and idle session, against bare peers (issue 14).

One command, one run, every figure of issue 14's goals table with its baseline and ratio:

    .venv/bin/python bench/cost.py [--sessions 200] [--seconds 4]

Processes (all on loopback, each its own process so /proc/<pid>/stat gives its CPU alone):
an imserver, a bridge (`bridge.cli serve --upstream-*`), and three bare peers served by the
same uvicorn config (bench/peers.py): FastAPI, Starlette, sse-starlette. This process is the
load: a raw asyncio HTTP/1.1 client (pre-encoded requests on kept-alive connections, so the
client costs far less than the servers) for request rates, httpx for logins, sends and SSE.

Figures (CPU = utime+stime of the server process over the phase, divided by the work done):

- cached call `get_friend_list`: CPU per request, requests/s and p99 at 16 connections, vs
  the FastAPI and Starlette peers' `POST /hello`;
- messaging (REST send in, SSE OnRecvNewMessage out) at 25 and 250 msg/s: bridge CPU per
  delivered message (vs one FastAPI request), send->SSE p99 vs the same traffic sent straight
  over the imserver's gateway (core's GatewayClient), imserver CPU per message;
- login: bridge and imserver CPU per `POST /v1/login` (vs one FastAPI request);
- SSE fan-out: marginal CPU per delivered event, 8 streams vs 1 stream of one session, vs the
  same marginal cost on bare sse-starlette;
- sessions at rest: idle CPU per live session-second, RSS per live session, asyncio tasks per
  live session (from the bridge's /metrics).

imserver-only baselines (raw sqlite3 running the statements of one message, group commit)
belong to the imserver's own bench: `IMSERVER_BASELINES` below is the hook; a figure it
returns is printed in the same table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import httpx
from harness import (
    HERE,
    GatewaySink,
    Proc,
    Row,
    Table,
    Upstream,
    bounded,
    bridge_args,
    free_port,
    gateway_clients,
    imserver_args,
    login,
    measure,
    pct,
    process,
    rss_bytes,
    say,
    send_text,
    text_message,
    until,
)

# --- a lean HTTP/1.1 load client -----------------------------------------------------------------

_CL = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


async def hammer(url: str, request: bytes, seconds: float, connections: int = 16) -> list[float]:
    """Send `request` back to back on `connections` kept-alive connections for `seconds`; latencies."""
    host, port = url.removeprefix("http://").split(":")
    latencies: list[float] = []
    stop = time.perf_counter() + seconds

    async def one() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                m = _CL.search(head)
                if m is None or not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(f"unexpected answer {head[:200]!r}")
                await reader.readexactly(int(m.group(1)))
                latencies.append(time.perf_counter() - t0)
        finally:
            writer.close()
            await writer.wait_closed()

    await asyncio.gather(*(one() for _ in range(connections)))
    return latencies


class RawPool:
    """Kept-alive HTTP/1.1 connections to one server, one request in flight on each, opened as
    needed. httpx's pool scans every pooled connection for every request (httpcore
    `_assign_requests_to_connections`, O(connections x queued)): at 250 msg/s that made this
    load client, not the bridge, the limit (the client at 80% of a core, the bridge at ~10%,
    40-50 msg/s delivered)."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self._host, self._port = host, int(port)
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        """The answer's status; the body is read and dropped (every answer has a Content-Length)."""
        conn = self._idle.pop() if self._idle else await asyncio.open_connection(self._host, self._port)
        reader, writer = conn
        try:
            writer.write(post_request(path, body, headers))
            head = await reader.readuntil(b"\r\n\r\n")
            m = _CL.search(head)
            await reader.readexactly(int(m.group(1)) if m else 0)
        except BaseException:
            writer.close()
            raise
        self._idle.append(conn)
        return int(head[9:12])

    async def aclose(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()


def post_request(path: str, body: bytes = b"{}", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: bench", "Content-Type: application/json", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


# --- phases ----------------------------------------------------------------------------------------


async def cached_calls(t: Table, bridge: Proc, fastapi: Proc, starlette: Proc, auth: str, seconds: float) -> float:
    """Returns the FastAPI peer's CPU per request (the unit of the later ratios)."""
    say("cached calls")
    results: dict[str, tuple[float, float, float]] = {}
    targets = [
        ("fastapi", fastapi, post_request("/hello")),
        ("starlette", starlette, post_request("/hello")),
        ("bridge", bridge, post_request("/v1/friend/get_friend_list", headers={"Authorization": auth})),
    ]
    await hammer(bridge.url, targets[2][2], 0.5)  # warm up every path once
    for name, proc, req in targets:
        await hammer(proc.url, req, 0.3)
        with measure(proc) as m:
            lat = await hammer(proc.url, req, seconds)
        results[name] = (m[proc.name] / len(lat), len(lat) / m["wall"], pct(lat, 0.99))
    b, f, s = results["bridge"], results["fastapi"], results["starlette"]
    t.add("cached call: server CPU per request", b[0], "s", f[0], "FastAPI", "<= 1.5x FastAPI")
    t.add("cached call: server CPU per request (vs Starlette)", b[0], "s", s[0], "Starlette")
    t.add("cached call: requests/s at 16 connections", b[1], "/s", f[1], "FastAPI", ">= 0.7x")
    t.add("cached call: p99 at 16 connections", b[2], "s", f[2], "FastAPI", "<= 3x")
    return f[0]


@dataclass
class Sessions:
    users: list[str]
    auth: list[dict[str, str]]


async def logins(
    t: Table, http: httpx.AsyncClient, up: Upstream, bridge: Proc, ims: Proc, n: int, unit: float
) -> Sessions:
    say(f"{n} logins")
    users = await up.users(n)
    tokens = [await up.token(u, 5) for u in users]
    auth: list[dict[str, str]] = [{} for _ in users]

    took: list[float] = []

    def job(i: int) -> Callable[[], Awaitable[None]]:
        async def one() -> None:
            t0 = time.perf_counter()
            auth[i] = await login(http, bridge.url, users[i], tokens[i])
            took.append(time.perf_counter() - t0)

        return one

    with measure(bridge, ims) as m:
        await bounded(8, [job(i) for i in range(n)])
    t.add("login: bridge CPU per login", m[bridge.name] / n, "s", unit, "FastAPI req", "<= 40x")
    t.add("login: imserver CPU per login", m["imserver"] / n, "s", None, "", "<= 5 ms")
    t.add("login: p50 latency (8 at once)", pct(took, 0.5), "s", None, "", "")
    return Sessions(users, auth)


async def at_rest(t: Table, http: httpx.AsyncClient, bridge: Proc, n: int, idle_before: float, seconds: float) -> None:
    say("idle sessions")
    await asyncio.sleep(2.0)  # let the logins' follow-up syncs settle
    with measure(bridge, fine=True) as m:  # ns: a few µs per session-second is under one 10 ms tick
        await asyncio.sleep(seconds)
    per = max(m["bridge"] - idle_before * m["wall"], 0.0) / (n * m["wall"])
    t.add("idle: CPU per live session-second", per, "s", None, "", "<= 4 µs")


async def tasks_per_session(t: Table, http: httpx.AsyncClient, bridge: Proc, n: int, tasks_before: float) -> None:
    text = (await http.get(f"{bridge.url}/metrics")).text
    m = re.search(r"^openim_bridge_asyncio_tasks (\S+)$", text, re.MULTILINE)
    if m is None:
        t.add("idle: asyncio tasks per live session", float("nan"), "", None, "(no gauge on /metrics)", "<= 1")
        return
    t.add("idle: asyncio tasks per live session", (float(m.group(1)) - tasks_before) / n, "", None, "", "<= 1")


async def _tasks(http: httpx.AsyncClient, bridge: Proc) -> float:
    text = (await http.get(f"{bridge.url}/metrics")).text
    m = re.search(r"^openim_bridge_asyncio_tasks (\S+)$", text, re.MULTILINE)
    return float(m.group(1)) if m else 0.0


async def paced(rate: float, seconds: float, send: Callable[[int], Coroutine[Any, Any, None]]) -> int:
    """Start `send(i)` at `rate` per second for `seconds` (not waiting for earlier ones); wait for all."""
    n = int(rate * seconds)
    t0 = time.perf_counter()
    tasks: list[asyncio.Task[None]] = []
    for i in range(n):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(i)))
    await asyncio.gather(*tasks)
    return n


async def _sse_reader(
    http: httpx.AsyncClient, url: str, headers: dict[str, str], on_line: Callable[[str], None], ready: asyncio.Event
) -> None:
    async with http.stream("GET", url, headers=headers, timeout=None) as resp:
        # Ready at the head, as EventSource's `open`: the bridge fixes a fresh stream's start
        # before its head goes out (bridge/routes/events.py), and the bare peer sends no
        # frame before its first event.
        ready.set()
        async for line in resp.aiter_lines():
            on_line(line)


async def _arrived(path: str, count: Callable[[], int], sent: int, failed: list[int] | None = None) -> None:
    """Wait until `sent` messages arrived; else say how many did (a lost message, or a slow path?)."""
    try:
        await until(lambda: count() >= sent, 120)
    except RuntimeError:
        raise RuntimeError(
            f"{path}: {count()} of {sent} messages arrived in 120 s ({len(failed or [])} sends refused)"
        ) from None


async def messaging(
    t: Table,
    http: httpx.AsyncClient,
    up: Upstream,
    bridge: Proc,
    ims: Proc,
    s: Sessions,
    rate: float,
    seconds: float,
    unit: float,
) -> None:
    say(f"messaging at {rate:.0f} msg/s")
    pairs = min(20, len(s.users) // 2)
    # gateway direct: fresh users, core's gateway client, the same pacing
    glat: list[float] = []
    async with gateway_clients(up, _WS, 2 * pairs, lambda u: GatewaySink(glat, u)) as (gusers, clients):

        async def gsend(i: int) -> None:
            p = i % pairs
            await send_text(clients[2 * p], gusers[2 * p], gusers[2 * p + 1], timeout=120)

        with measure(ims) as gm:
            sent = await paced(rate, seconds, gsend)
            await _arrived("gateway-direct", lambda: len(glat), sent)

    blat: list[float] = []

    def on_line(line: str) -> None:
        if line.startswith("data:") and '"OnRecvNewMessage"' in line:
            text = json.loads(line[5:])["data"]["textElem"]["content"]
            if text.startswith("t="):
                blat.append(time.perf_counter() - float(text[2:]))

    raw = RawPool(bridge.url)
    readies = [asyncio.Event() for _ in range(pairs)]
    readers = [
        asyncio.create_task(_sse_reader(http, f"{bridge.url}/v1/events", s.auth[2 * p + 1], on_line, readies[p]))
        for p in range(pairs)
    ]
    try:
        for e in readies:
            await asyncio.wait_for(e.wait(), 30)

        async def bsend(i: int) -> None:
            p = i % pairs
            body = {"message": text_message(s.users[2 * p], s.users[2 * p + 1]).out(), "recvID": s.users[2 * p + 1]}
            status = await raw.post("/v1/message/send_message", json.dumps(body).encode(), s.auth[2 * p])
            if status != 200:
                failed.append(status)  # the upstream's limit (504: it did not answer in time)

        failed: list[int] = []
        with measure(bridge, ims) as bm:
            sent = await paced(rate, seconds, bsend)
            sent -= len(failed)
            await _arrived("bridge", lambda: len(blat), sent, failed)
        if failed:
            say(f"  {len(failed)} sends failed: {sorted(set(failed))}")
    finally:
        await raw.aclose()
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    r = f"{rate:.0f} msg/s"
    t.add(f"message ({r}): bridge CPU per delivered message", bm[bridge.name] / sent, "s", unit, "FastAPI req", "<= 8x")
    t.add(f"message ({r}): send->SSE p99", pct(blat, 0.99), "s", pct(glat, 0.99), "gateway-direct", "<= 1.5x")
    t.add(f"message ({r}): achieved msg/s through the bridge", sent / bm["wall"], "/s", sent / gm["wall"], "direct", "")
    t.add(f"message ({r}): imserver CPU per message (bridge)", bm["imserver"] / sent, "s", None, "", "")
    t.add(f"message ({r}): imserver CPU per message (direct)", gm["imserver"] / sent, "s", None, "", "")


async def fanout(
    t: Table,
    http: httpx.AsyncClient,
    bridge: Proc,
    sse: Proc,
    s: Sessions,
    count: int,
    streams: int = 8,
    rounds: int = 3,
) -> None:
    """Marginal CPU of an extra stream-event: (CPU with `streams` streams - CPU with 1) / extra events.

    The sends cost the same with 1 or `streams` streams and cancel out of the difference, but
    their noise does not: one pair of rounds at 40 messages once gave a negative figure. So
    `rounds` pairs, the order of each pair alternated, and the median of the pairs' marginals
    (streams is bounded by BRIDGE_MAX_STREAMS_PER_SESSION, 8 by default). CPU in ns from
    schedstat: the difference is a few clock ticks, which /proc/<pid>/stat rounded to 0."""
    sender, recv = s.auth[-2], s.users[-1]
    sender_id = s.users[-2]

    async def bridge_round(k: int) -> tuple[float, int]:
        got = [0]

        def on_line(line: str) -> None:
            if line.startswith("id:"):
                got[0] += 1

        readies = [asyncio.Event() for _ in range(k)]
        readers = [
            asyncio.create_task(_sse_reader(http, f"{bridge.url}/v1/events", s.auth[-1], on_line, readies[j]))
            for j in range(k)
        ]
        try:
            for e in readies:
                await asyncio.wait_for(e.wait(), 30)
            await asyncio.sleep(0.3)
            got[0] = 0
            with measure(bridge, fine=True) as m:
                for _ in range(count):
                    body = {"message": text_message(sender_id, recv).out(), "recvID": recv}
                    (
                        await http.post(f"{bridge.url}/v1/message/send_message", json=body, headers=sender)
                    ).raise_for_status()
                # every stream gets the same events: wait until each stream's share is in
                await _settle(lambda: got[0])
            return m["bridge"], got[0]
        finally:
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)

    async def peer_round(k: int) -> tuple[float, int]:
        got = [0]

        def on_line(line: str) -> None:
            if line.startswith("id:"):
                got[0] += 1

        readies = [asyncio.Event() for _ in range(k)]
        readers = [
            asyncio.create_task(_sse_reader(http, f"{sse.url}/events", {}, on_line, readies[j])) for j in range(k)
        ]
        try:
            for e in readies:
                await asyncio.wait_for(e.wait(), 30)
            await asyncio.sleep(0.3)
            payload = json.dumps({"listener": "advancedMsg", "callback": "OnRecvNewMessage", "data": {"x": "y" * 300}})
            with measure(sse, fine=True) as m:
                for _ in range(count):
                    (await http.post(f"{sse.url}/publish", content=payload)).raise_for_status()
                await until(lambda: got[0] >= count * k, 30)
            return m["sse"], got[0]
        finally:
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)

    say("SSE fan-out")

    async def marginal(run: Callable[[int], Awaitable[tuple[float, int]]], i: int) -> float:
        if i % 2:
            (ck, nk), (c1, n1) = await run(streams), await run(1)
        else:
            (c1, n1), (ck, nk) = await run(1), await run(streams)
        return (ck - c1) / max(nk - n1, 1)

    bridge_marginal = statistics.median([await marginal(bridge_round, i) for i in range(rounds)])
    peer_marginal = statistics.median([await marginal(peer_round, i) for i in range(rounds)])
    t.add(
        f"SSE fan-out: CPU per delivered event ({streams} streams)",
        bridge_marginal,
        "s",
        peer_marginal,
        "sse-starlette",
        "<= 1.3x",
    )


async def _settle(count: Callable[[], int], quiet: float = 0.5, timeout: float = 30) -> None:
    """Wait until `count()` stops growing for `quiet` seconds (the bridge's events per message vary)."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = count()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet and now > 0:
            return
        await asyncio.sleep(0.05)


# Hook for the imserver's own baselines (raw sqlite3 doing one message's statements, group
# commit ...): a coroutine returning rows (figure, imserver value, baseline, baseline name,
# goal) is appended to the table. None: not measured here.
IMSERVER_BASELINES: Callable[[Proc], Awaitable[list[Row]]] | None = None

_WS = ""


async def main(a: argparse.Namespace) -> None:
    global _WS
    ports = {k: free_port() for k in ("api", "ws", "bridge", "fastapi", "starlette", "sse")}
    api, ws = f"http://127.0.0.1:{ports['api']}", f"ws://127.0.0.1:{ports['ws']}"
    _WS = ws
    url = {k: f"http://127.0.0.1:{ports[k]}" for k in ("bridge", "fastapi", "starlette", "sse")}
    t = Table()
    with tempfile.TemporaryDirectory() as tmp:
        ims_args = imserver_args(ports["api"], ports["ws"], f"{tmp}/ims")
        brg_args = bridge_args(ports["bridge"], api, ws, f"{tmp}/bridge")
        peer = str(HERE / "peers.py")
        async with (
            process("imserver", ims_args, api, "/auth/parse_token") as ims,
            process("bridge", brg_args, url["bridge"], "/healthz") as bridge,
            process("fastapi", [peer, "fastapi", str(ports["fastapi"])], url["fastapi"], "/healthz") as fastapi,
            process("starlette", [peer, "starlette", str(ports["starlette"])], url["starlette"], "/healthz") as star,
            process("sse", [peer, "sse", str(ports["sse"])], url["sse"], "/healthz") as sse,
            httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=500)) as http,
        ):
            up = Upstream(http, api)
            await up.start()
            with measure(bridge, fine=True) as idle0:
                await asyncio.sleep(3.0)
            idle_before = idle0["bridge"] / idle0["wall"]
            rss0, tasks0 = rss_bytes(bridge.pid), await _tasks(http, bridge)
            # one FastAPI unit first, for the login ratio (refined by the cached-call phase)
            with measure(fastapi) as fm:
                lat = await hammer(fastapi.url, post_request("/hello"), 1.0)
            unit = fm["fastapi"] / len(lat)
            sessions = await logins(t, http, up, bridge, ims, a.sessions, unit)
            rows_login = t.rows[-3:]
            del t.rows[-3:]
            if "calls" in a.only:
                unit = await cached_calls(t, bridge, fastapi, star, sessions.auth[0]["Authorization"], a.seconds)
            rows_login[0].baseline = unit
            t.rows += rows_login
            t.add(
                "RSS per live session",
                (rss_bytes(bridge.pid) - rss0) / a.sessions,
                "KiB",
                27 * 1024,
                "Go gateway/conn",
                "<= 16 KiB",
            )
            await tasks_per_session(t, http, bridge, a.sessions, tasks0)
            if "rest" in a.only:
                await at_rest(t, http, bridge, a.sessions, idle_before, a.idle_seconds)
            for rate in (float(r) for r in a.rates.split(",")) if "messaging" in a.only else ():
                await messaging(t, http, up, bridge, ims, sessions, rate, a.seconds, unit)
            if "fanout" in a.only:
                await fanout(t, http, bridge, sse, sessions, a.fanout)
            if IMSERVER_BASELINES is not None:
                t.rows += await IMSERVER_BASELINES(ims)
    print(
        f"issue 14 cost table: {a.sessions} live sessions, {a.seconds:.0f} s per load phase, "
        f"bridge idle floor {idle_before * 1e3:.2f} ms CPU/s before logins"
    )
    t.print()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--sessions", type=int, default=200, help="live sessions logged in (default 200)")
    ap.add_argument("--seconds", type=float, default=4.0, help="length of each load phase (default 4)")
    ap.add_argument("--idle-seconds", type=float, default=10.0, help="length of the idle phase (default 10)")
    ap.add_argument("--fanout", type=int, default=80, help="messages per SSE fan-out round (default 80)")
    ap.add_argument("--only", default="calls,rest,messaging,fanout", help="phases to run (default all)")
    ap.add_argument("--rates", default="25,250", help="messaging rates in msg/s (default 25,250)")
    asyncio.run(main(ap.parse_args()))
