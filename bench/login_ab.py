"""Login-only A/B of two source trees: bridge CPU per login against a bare FastAPI request (issue 14).

    .venv/bin/python bench/login_ab.py A_TREE B_TREE [--sessions 100] [--rounds 4] [--a-env K=V]

One imserver, one FastAPI peer and two bridges (each importing from its tree, as
bench/ab.py runs them). Every round logs `--sessions` fresh users in on each bridge,
8 at once, the order alternated per round (ABBA), and measures the FastAPI peer's CPU
per hello request in the same round; prints each round and the medians. Unlike
bench/ab.py it measures logins in every round, not once per side.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile

import cost
import harness
import httpx


async def main(a: argparse.Namespace) -> None:
    ports = {k: harness.free_port() for k in ("api", "ws", "A", "B", "fastapi")}
    api, ws = f"http://127.0.0.1:{ports['api']}", f"ws://127.0.0.1:{ports['ws']}"
    cost._WS = ws
    res: dict[str, list[float]] = {k: [] for k in ("A", "B", "ims A", "ims B", "p50 A", "p50 B", "fastapi")}
    url = {k: f"http://127.0.0.1:{ports[k]}" for k in ("A", "B", "fastapi")}

    def env(tree: str, extra: list[str]) -> dict[str, str]:
        return {"PYTHONPATH": tree, **dict(item.split("=", 1) for item in extra)}

    with tempfile.TemporaryDirectory() as tmp:
        ims = harness.imserver_args(ports["api"], ports["ws"], f"{tmp}/ims")
        peer = [str(harness.HERE / "peers.py"), "fastapi", str(ports["fastapi"])]
        async with (
            harness.process("imserver", ims, api, "/auth/parse_token") as ip,
            harness.process(
                "A", harness.bridge_args(ports["A"], api, ws, f"{tmp}/A"), url["A"], "/healthz", env(a.a, a.a_env), a.a
            ) as pa,
            harness.process(
                "B", harness.bridge_args(ports["B"], api, ws, f"{tmp}/B"), url["B"], "/healthz", env(a.b, a.b_env), a.b
            ) as pb,
            harness.process("fastapi", peer, url["fastapi"], "/healthz") as fp,
            httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=500)) as http,
        ):
            up = harness.Upstream(http, api)
            await up.start()
            procs = {"A": pa, "B": pb}
            for i in range(a.rounds):
                with harness.measure(fp) as m:
                    lat = await cost.hammer(fp.url, cost.post_request("/hello"), 1.0)
                res["fastapi"].append(m["fastapi"] / len(lat))
                for side in ("A", "B") if i % 2 == 0 else ("B", "A"):
                    t = harness.Table()
                    await cost.logins(t, http, up, procs[side], ip, a.sessions, 1.0)
                    res[side].append(t.rows[0].value)
                    res["ims " + side].append(t.rows[1].value)
                    res["p50 " + side].append(t.rows[2].value)
                    await asyncio.sleep(2)  # the logins' follow-up syncs settle before the other side
    med = {k: statistics.median(v) for k, v in res.items()}
    f = med["fastapi"]
    print(f"\nA = {a.a} {a.a_env}\nB = {a.b} {a.b_env}")
    print(f"{a.rounds} rounds x {a.sessions} logins, ABBA; load average {os.getloadavg()}")
    for k, v in res.items():
        print(f"  {k:8} " + " ".join(f"{x * 1e3:.2f}" for x in v) + " ms")
    print(f"bridge CPU per login: A {med['A'] * 1e3:.2f} ms ({med['A'] / f:.0f}x), B {med['B'] * 1e3:.2f} ms ", end="")
    print(f"({med['B'] / f:.0f}x), B/A {med['B'] / med['A']:.2f}")
    print(f"imserver CPU per login: A {med['ims A'] * 1e3:.2f} ms, B {med['ims B'] * 1e3:.2f} ms")
    print(f"login p50 (8 at once): A {med['p50 A'] * 1e3:.0f} ms, B {med['p50 B'] * 1e3:.0f} ms")
    print(f"FastAPI hello CPU per request {f * 1e6:.0f} us (the 40x goal: {40 * f * 1e3:.2f} ms)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("a", help="source tree A (the baseline)")
    ap.add_argument("b", help="source tree B (the change)")
    ap.add_argument("--sessions", type=int, default=100, help="logins per side per round (default 100)")
    ap.add_argument("--rounds", type=int, default=4, help="alternated rounds (default 4)")
    ap.add_argument("--a-env", action="append", default=[], help="KEY=VALUE for bridge A (repeatable)")
    ap.add_argument("--b-env", action="append", default=[], help="KEY=VALUE for bridge B (repeatable)")
    asyncio.run(main(ap.parse_args()))
