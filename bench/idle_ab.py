"""Idle cost A/B: bridge and imserver CPU per live idle session-second, two trees side by side.

    .venv/bin/python bench/idle_ab.py A_TREE B_TREE [--sessions 1000] [--rounds 4] [--idle 30]
        [--env KEY=VALUE ...]

bench/ab.py runs both bridges against one imserver, so it cannot compare imserver
changes. Here each tree gets its own imserver and bridge (each process importing from
its tree, as in ab.py), both log the same number of sessions in at once, and then the
idle phases of both are measured in the same windows (the same machine load for both,
which alternating phases only approximate): CPU from schedstat (ns), minus what each
process spent per second before any login, per live session and second. Sessions are
not parked during the run (BRIDGE_IDLE_PARK_SECONDS=3600 unless --env says otherwise).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
from collections.abc import Awaitable, Callable

import harness
import httpx

_NAMES = ("bridge", "imserver")


async def _login_all(http: httpx.AsyncClient, up: harness.Upstream, url: str, n: int) -> None:
    users = await up.users(n)
    tokens = [await up.token(u, 5) for u in users]

    def job(i: int) -> Callable[[], Awaitable[None]]:
        async def one() -> None:
            for attempt in range(4):  # a loaded machine times a login out now and then
                try:
                    await harness.login(http, url, users[i], tokens[i])
                    return
                except RuntimeError as exc:
                    harness.say(f"login {i} attempt {attempt + 1}: {str(exc)[:80]}")
            raise RuntimeError(f"login {i} failed 4 times")

        return one

    await harness.bounded(8, [job(i) for i in range(n)])


async def main(a: argparse.Namespace) -> None:
    env = {"BRIDGE_IDLE_PARK_SECONDS": "3600"}
    env.update(item.split("=", 1) for item in a.env)
    with tempfile.TemporaryDirectory() as tmp:
        async with contextlib.AsyncExitStack() as stack:
            http = await stack.enter_async_context(
                httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=200))
            )
            procs: dict[str, dict[str, harness.Proc]] = {}
            ups: dict[str, tuple[harness.Upstream, str]] = {}
            for side, tree in (("A", a.a), ("B", a.b)):
                ports = {k: harness.free_port() for k in ("api", "ws", "bridge")}
                api, ws = f"http://127.0.0.1:{ports['api']}", f"ws://127.0.0.1:{ports['ws']}"
                url = f"http://127.0.0.1:{ports['bridge']}"
                ims_args = harness.imserver_args(ports["api"], ports["ws"], f"{tmp}/{side}-ims")
                bridge_args = harness.bridge_args(ports["bridge"], api, ws, f"{tmp}/{side}-bridge")
                tree_env = {"PYTHONPATH": tree}
                ip = await stack.enter_async_context(
                    harness.process(f"{side}-imserver", ims_args, api, "/auth/parse_token", tree_env, cwd=tree)
                )
                bp = await stack.enter_async_context(
                    harness.process(f"{side}-bridge", bridge_args, url, "/healthz", {**tree_env, **env}, cwd=tree)
                )
                procs[side] = {"bridge": bp, "imserver": ip}
                up = harness.Upstream(http, api)
                await up.start()
                ups[side] = (up, url)
            every = [p for side in procs.values() for p in side.values()]
            with harness.measure(*every, fine=True) as m0:
                await asyncio.sleep(5)
            floor = {p.name: m0[p.name] / m0["wall"] for p in every}
            harness.say(f"{a.sessions} logins on each side")
            await asyncio.gather(*(_login_all(http, up, url, a.sessions) for up, url in ups.values()))
            await asyncio.sleep(a.settle)  # the logins' follow-up syncs, a GC freeze after the batch
            per: dict[str, list[float]] = {p.name: [] for p in every}
            loads = []
            for r in range(a.rounds):
                with harness.measure(*every, fine=True) as m:
                    await asyncio.sleep(a.idle)
                loads.append(os.getloadavg()[0])
                for p in every:
                    per[p.name].append(max(m[p.name] - floor[p.name] * m["wall"], 0.0) / (a.sessions * m["wall"]))
                harness.say(f"round {r}: " + " ".join(f"{k} {v[-1] * 1e6:.2f} µs" for k, v in per.items()))
    print(f"\nA = {a.a}\nB = {a.b}\n{a.sessions} idle sessions each, env {env}")
    print(f"{a.rounds} rounds of {a.idle:.0f} s, load average {min(loads):.1f}-{max(loads):.1f}\n")
    print(f"| {'CPU per live idle session-second':34} | {'A':>9} | {'B':>9} | B/A  | B rounds")
    print(f"|{'-' * 36}|{'-' * 11}|{'-' * 11}|------|---------")
    for name in _NAMES:
        va, vb = statistics.median(per[f"A-{name}"]), statistics.median(per[f"B-{name}"])
        rounds = " ".join(f"{v * 1e6:.2f}" for v in per[f"B-{name}"])
        ratio = f"{vb / va:.2f}" if va else "-"
        print(f"| {name:34} | {va * 1e6:6.2f} µs | {vb * 1e6:6.2f} µs | {ratio} | {rounds}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("a", help="source tree A (the baseline)")
    ap.add_argument("b", help="source tree B (the change)")
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--idle", type=float, default=30.0, help="seconds per idle round")
    ap.add_argument("--settle", type=float, default=10.0, help="seconds between the last login and the first round")
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for both bridges (repeatable)")
    asyncio.run(main(ap.parse_args()))
