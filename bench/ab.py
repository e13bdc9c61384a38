"""A/B of two source trees of the bridge, side by side in one run (issue 14's "measure each change").

    .venv/bin/python bench/ab.py A_TREE B_TREE [--sessions 40] [--rounds 3] [--messages]

Starts one imserver, one FastAPI peer and two bridges, each bridge importing
from its tree (PYTHONPATH), e.g. a `git worktree add --detach /tmp/base HEAD~1`
and this checkout. Logs the same number of sessions in on each, then
alternates the measurements A, B, A, B ... so both see the same machine load,
and prints the median of each figure with the B/A ratio: CPU per login, RSS and
asyncio tasks per live session, cached call CPU per request, requests/s and p99
at 16 connections, idle CPU per session-second, and with ``--messages`` CPU per
delivered message, send->SSE p99 (and gateway-direct's) and msg/s at each of ``--rates``
(25 and 250 msg/s); the collector's longest pause per generation over
the whole run (each bridge times them: BRIDGE_GC_POLICY=time unless the side's
``--a-env``/``--b-env`` say otherwise, e.g. the same tree with and without
``BRIDGE_GC_POLICY=freeze``).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import tempfile

import cost
import harness
import httpx


def _order(procs: dict[str, harness.Proc], i: int) -> list[tuple[str, harness.Proc]]:
    items = list(procs.items())
    return items if i % 2 == 0 else items[::-1]


async def main(a: argparse.Namespace) -> None:
    ports = {k: harness.free_port() for k in ("api", "ws", "A", "B", "fastapi")}
    api, ws = f"http://127.0.0.1:{ports['api']}", f"ws://127.0.0.1:{ports['ws']}"
    cost._WS = ws
    figures: dict[str, dict[str, list[float]]] = {"A": {}, "B": {}}

    def put(side: str, name: str, value: float) -> None:
        figures[side].setdefault(name, []).append(value)

    with tempfile.TemporaryDirectory() as tmp:
        ims = harness.imserver_args(ports["api"], ports["ws"], f"{tmp}/ims")

        def brg(side: str) -> list[str]:
            return harness.bridge_args(ports[side], api, ws, f"{tmp}/{side}")

        url = {k: f"http://127.0.0.1:{ports[k]}" for k in ("A", "B", "fastapi")}
        peer = str(harness.HERE / "peers.py")
        async with (
            harness.process("imserver", ims, api, "/auth/parse_token") as ip,
            harness.process("A", brg("A"), url["A"], "/healthz", _env(a.a, a.a_env), cwd=a.a) as pa,
            harness.process("B", brg("B"), url["B"], "/healthz", _env(a.b, a.b_env), cwd=a.b) as pb,
            harness.process("fastapi", [peer, "fastapi", str(ports["fastapi"])], url["fastapi"], "/healthz") as fp,
            httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=500)) as http,
        ):
            up = harness.Upstream(http, api)
            await up.start()
            procs = {"A": pa, "B": pb}
            idle0 = {}
            for side, p in procs.items():
                # schedstat (ns): at rest a bridge spends a few 10-ms ticks per round
                with harness.measure(p, fine=True) as m:
                    await asyncio.sleep(5)
                idle0[side] = m[side] / m["wall"]
            sessions = {}
            for side, p in procs.items():
                t = harness.Table()
                rss0, tasks0 = harness.rss_bytes(p.pid), await cost._tasks(http, p)
                sessions[side] = await cost.logins(t, http, up, p, ip, a.sessions, 1.0)
                put(side, "login CPU", t.rows[0].value)
                put(side, "login p50", t.rows[2].value)
                await asyncio.sleep(3)  # the logins' follow-up syncs, and a freeze after the batch
                put(side, "RSS per live session", (harness.rss_bytes(p.pid) - rss0) / a.sessions)
                put(side, "tasks per live session", (await cost._tasks(http, p) - tasks0) / a.sessions)
            req = {s: cost.post_request("/v1/friend/get_friend_list", headers=sessions[s].auth[0]) for s in procs}
            for side, p in procs.items():
                await cost.hammer(p.url, req[side], 0.5)
            for i in range(a.rounds if not a.messages_only else 1):
                with harness.measure(fp) as m:
                    lat = await cost.hammer(fp.url, cost.post_request("/hello"), a.seconds)
                put("A", "FastAPI hello CPU", m["fastapi"] / len(lat))
                # ABBA: whichever goes first in a round is measured differently on a busy machine
                for side, p in _order(procs, i):
                    with harness.measure(p) as m:
                        lat = await cost.hammer(p.url, req[side], a.seconds)
                    put(side, "cached call CPU", m[side] / len(lat))
                    put(side, "cached call req/s", len(lat) / m["wall"])
                    put(side, "cached call p99", harness.pct(lat, 0.99))
            for i in range(a.rounds if not a.messages_only else 0):
                for side, p in _order(procs, i):
                    with harness.measure(p, fine=True) as m:
                        await asyncio.sleep(a.idle)
                    per = max(m[side] - idle0[side] * m["wall"], 0.0) / (a.sessions * m["wall"])
                    put(side, "idle CPU per session-s", per)
            if a.messages or a.messages_only:
                for i in range(a.rounds):
                    for rate in (float(r) for r in a.rates.split(",")):
                        for side, p in _order(procs, i):
                            t = harness.Table()
                            await cost.messaging(t, http, up, p, ip, sessions[side], rate, a.seconds, 1.0)
                            put(side, f"CPU per message, {rate:.0f}/s", t.rows[0].value)
                            put(side, f"send->SSE p99, {rate:.0f}/s", t.rows[1].value)
                            put(side, f"direct p99, {rate:.0f}/s", t.rows[1].baseline or 0.0)
                            put(side, f"achieved msg/s, {rate:.0f}/s", t.rows[2].value)
            for side, p in procs.items():
                for gen, seconds in (await _gc_longest(http, p)).items():
                    put(side, f"longest GC pause, gen {gen}", seconds)
    print(f"\nA = {a.a} {a.a_env}\nB = {a.b} {a.b_env}")
    print(f"{a.sessions} sessions each, median of {a.rounds} alternated rounds\n")
    print(f"| {'figure':28} | {'A':>10} | {'B':>10} | B/A")
    print(f"|{'-' * 30}|{'-' * 12}|{'-' * 12}|-----")
    for name, values in figures["B"].items():
        if name not in figures["A"]:  # a tree without it (the GC pauses of a tree before bridge/gc_policy.py)
            print(f"| {name:28} | {'-':>10} | {harness.fmt(statistics.median(values), 's'):>10} | -")
            continue
        va, vb = statistics.median(figures["A"][name]), statistics.median(values)
        rate = "req/s" in name or name.startswith("achieved")
        unit = "/s" if rate else "KiB" if "RSS" in name else "" if "tasks" in name else "s"
        ratio = vb / va if va else float("nan")
        print(f"| {name:28} | {harness.fmt(va, unit):>10} | {harness.fmt(vb, unit):>10} | {ratio:.2f}")
    if a.verbose:
        for side in ("A", "B"):
            for name, values in figures[side].items():
                print(side, name, " ".join(f"{v:.6f}" for v in values))
    fa = statistics.median(figures["A"]["FastAPI hello CPU"])
    print(f"\nFastAPI hello CPU per request in the same run: {harness.fmt(fa, 's')}")


def _env(tree: str, extra: list[str]) -> dict[str, str]:
    env = {"PYTHONPATH": tree, "BRIDGE_GC_POLICY": "time"}
    env.update(item.split("=", 1) for item in extra)
    return env


async def _gc_longest(http: httpx.AsyncClient, p: harness.Proc) -> dict[str, float]:
    text = (await http.get(f"{p.url}/metrics")).text
    found = re.findall(r'^openim_bridge_gc_pause_longest_seconds\{generation="(\d)"\} (\S+)$', text, re.MULTILINE)
    return {gen: float(value) for gen, value in found}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("a", help="source tree A (the baseline)")
    ap.add_argument("b", help="source tree B (the change)")
    ap.add_argument("--sessions", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=4, help="alternated rounds, ABBA (default 4)")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--idle", type=float, default=4.0, help="seconds per idle round")
    ap.add_argument("--a-env", action="append", default=[], help="KEY=VALUE for bridge A (repeatable)")
    ap.add_argument("--b-env", action="append", default=[], help="KEY=VALUE for bridge B (repeatable)")
    ap.add_argument("--verbose", action="store_true", help="print every round's value")
    ap.add_argument("--messages", action="store_true", help="also CPU per delivered message and p99 at --rates")
    ap.add_argument("--messages-only", action="store_true", help="logins, one cached-call round, then messages")
    ap.add_argument("--rates", default="25,250", help="messaging rates in msg/s for --messages (default 25,250)")
    asyncio.run(main(ap.parse_args()))
