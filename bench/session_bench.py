"""Session-pool memory per live session and cached-call latency through the bridge.

Runs an embedded imserver and a bridge in this process, on loopback, and prints:

- memory per live session (tracemalloc, Python heap) and per parked session,
  with the ratio live/parked;
- latency of a cached SDK call (`POST /v1/friend/get_friend_list`, answered from
  the core's state) against the baseline `GET /healthz` through the same
  server, interleaved call by call, with the ratio of medians.

Ratios, not absolute times, are the figures to compare between runs: the
machine is shared and noisy. Usage: `.venv/bin/python bench/session_bench.py [--sessions N] [--calls N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

import httpx
from harness import Upstream, pct

from bridge.app import create_app
from bridge.server import serve_app
from bridge.settings import BridgeSettings
from imserver.server import run_imserver
from imserver.settings import ImServerSettings


async def main(sessions: int, calls: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ims = ImServerSettings(data_dir=Path(tmp) / "ims")
        async with run_imserver(ims, api_port=0, ws_port=0) as srv, httpx.AsyncClient(timeout=60) as http:
            settings = BridgeSettings(
                upstream_api=srv.api_url,
                upstream_ws=srv.ws_url,
                data_dir=Path(tmp) / "bridge",
                sweep_interval=3600.0,
                idle_park_seconds=0.0,
            )
            app = create_app(settings)
            async with serve_app(app) as running:
                pool = app.state.services.pool
                up = Upstream(http, srv.api_url, srv.settings.secret, prefix="b")  # generated in the temp dir
                await up.start()
                creds = [(u, await up.token(u, 5)) for u in await up.users(sessions)]
                # Warm one session so first-use allocations (imports, caches) are not counted.
                await http.post(
                    f"{running.url}/v1/login", json={"userID": creds[0][0], "token": creds[0][1], "platformID": 5}
                )
                gc.collect()
                tracemalloc.start()
                base = tracemalloc.get_traced_memory()[0]
                tokens = []
                for uid, tok in creds[1:]:
                    r = await http.post(f"{running.url}/v1/login", json={"userID": uid, "token": tok, "platformID": 5})
                    tokens.append(r.json()["data"]["sessionToken"])
                gc.collect()
                live = tracemalloc.get_traced_memory()[0]
                per_live = (live - base) / len(tokens)
                await pool.sweep()  # idle_park_seconds=0: parks every core
                gc.collect()
                parked = tracemalloc.get_traced_memory()[0]
                per_parked = (parked - base) / len(tokens)
                tracemalloc.stop()

                auth = {"Authorization": f"Bearer {tokens[0]}"}
                await http.post(f"{running.url}/v1/friend/get_friend_list", headers=auth)  # revive
                lat_call: list[float] = []
                lat_base: list[float] = []
                for _ in range(calls):
                    t0 = time.perf_counter()
                    await http.get(f"{running.url}/healthz")
                    lat_base.append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    r = await http.post(f"{running.url}/v1/friend/get_friend_list", headers=auth)
                    lat_call.append(time.perf_counter() - t0)
                    assert r.status_code == 200

    print(f"sessions: {len(tokens)} live, then parked")
    print(f"memory per live session:   {per_live / 1024:8.1f} KiB (Python heap, tracemalloc)")
    print(f"memory per parked session: {per_parked / 1024:8.1f} KiB")
    print(f"ratio live/parked:         {per_live / max(per_parked, 1):8.1f}")
    med_c, med_b = statistics.median(lat_call), statistics.median(lat_base)
    print(f"cached call  p50 {med_c * 1e3:6.2f} ms  p99 {pct(lat_call, 0.99) * 1e3:6.2f} ms  ({calls} calls)")
    print(f"/healthz     p50 {med_b * 1e3:6.2f} ms  p99 {pct(lat_base, 0.99) * 1e3:6.2f} ms  (baseline)")
    print(f"ratio cached call / baseline (p50): {med_c / med_b:5.2f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--calls", type=int, default=2000)
    args = ap.parse_args()
    asyncio.run(main(args.sessions, args.calls))
