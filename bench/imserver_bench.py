"""imserver's cost per message and per login, against raw sqlite3 doing the same statements (issue 14).

One command, one run:

    .venv/bin/python bench/imserver_bench.py [--pairs 100] [--messages 30] [--logins 40]

Processes on loopback: an imserver (`python -m imserver`, SQLite in a temp dir) and a bridge
(for logins: a bridge login is what an SDK login costs the imserver: token check, gateway
handshake, the initial sync calls). This process is the load.

Figures (imserver CPU = utime+stime from /proc/<pid>/stat over the phase, divided by the work):

- messaging: `--pairs` chatting pairs straight over the gateway (core's GatewayClient, 1003
  SendMsg), every sender sending `--messages` back to back, each after the previous answer:
  imserver CPU per message, msg/s, send->push p50/p99;
- baseline, measured in this process in the same run: the statements one single-chat send
  runs (blacklist check, clientMsgID look-up, seq allocation, insert, the members' cursor rows,
  the sender's read cursor) with the stdlib sqlite3 module on the imserver's own schema (WAL,
  synchronous=NORMAL): one transaction per message, and group commit (one transaction per
  `--batch` messages);
- login: imserver CPU per bridge `POST /v1/login`.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import create_engine

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    GatewaySink,
    Proc,
    Table,
    Upstream,
    bridge_args,
    free_port,
    gateway_clients,
    imserver_args,
    login,
    measure,
    pct,
    process,
    say,
    send_text,
    text_message,
    until,
)

from core.msgstruct import to_msgdata
from imserver import models as _models  # noqa: F401  (registers the tables)
from imserver import msgstore as _msgstore  # noqa: F401
from imserver.db import Base

# --- the raw sqlite3 baseline ----------------------------------------------------------------------

_STATEMENTS = [
    ("SELECT id FROM im_blacks WHERE owner_user_id = ? AND block_user_id = ?", lambda m: (m["recv"], m["send"])),
    (
        "SELECT data FROM msg_message WHERE conversation_id = ? AND client_msg_id = ?",
        lambda m: (m["conv"], m["cid"]),
    ),
    (
        "INSERT INTO msg_conversation_seq (conversation_id, max_seq, min_seq, max_seq_time) VALUES (?, 1, 0, ?) "
        "ON CONFLICT (conversation_id) DO UPDATE SET max_seq = max_seq + 1, max_seq_time = excluded.max_seq_time "
        "RETURNING max_seq",
        lambda m: (m["conv"], m["now"]),
    ),
    (
        "INSERT INTO msg_message (conversation_id, seq, client_msg_id, send_id, send_time, data, is_read) "
        "VALUES (?, ?, ?, ?, ?, ?, 0)",
        lambda m: (m["conv"], m["seq"], m["cid"], m["send"], m["now"], m["data"]),
    ),
    (
        "INSERT INTO msg_user_seq (user_id, conversation_id, has_read_seq, min_seq, max_seq, create_time) "
        "VALUES (?, ?, 0, 0, 0, ?), (?, ?, 0, 0, 0, ?) ON CONFLICT DO NOTHING",
        lambda m: (m["send"], m["conv"], m["now"], m["recv"], m["conv"], m["now"]),
    ),
    (
        "UPDATE msg_user_seq SET has_read_seq = ? WHERE user_id = ? AND conversation_id = ? AND has_read_seq < ?",
        lambda m: (m["seq"], m["send"], m["conv"], m["seq"]),
    ),
]


def raw_sqlite_per_message(tmp: Path, pairs: int, messages: int, batch: int) -> float:
    """CPU seconds per message of the send statements on stdlib sqlite3 (this process's CPU)."""
    path = tmp / f"raw-{batch}.db"
    Base.metadata.create_all(create_engine(f"sqlite:///{path}"))
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    data = to_msgdata(text_message("a", "b")).SerializeToString()
    work = []
    for i in range(messages):
        for p in range(pairs):
            send, recv = f"s{p}", f"r{p}"
            conv = f"si_{min(send, recv)}_{max(send, recv)}"
            work.append({"send": send, "recv": recv, "conv": conv, "cid": uuid.uuid4().hex, "data": data, "i": i})
    t0 = time.process_time()
    for start in range(0, len(work), batch):
        db.execute("BEGIN IMMEDIATE")
        for m in work[start : start + batch]:
            m["now"] = int(time.time() * 1000)
            for sql, args in _STATEMENTS:
                row = db.execute(sql, args(m)).fetchone()
                if sql.endswith("RETURNING max_seq"):
                    m["seq"] = row[0]
        db.execute("COMMIT")
    cpu = time.process_time() - t0
    db.close()
    return cpu / len(work)


# --- imserver phases -------------------------------------------------------------------------------


async def messaging(t: Table, up: Upstream, ims: Proc, ws: str, pairs: int, messages: int, spy: str) -> float:
    say(f"{pairs} pairs x {messages} messages over the gateway")
    lat: list[float] = []
    async with gateway_clients(up, ws, 2 * pairs, lambda u: GatewaySink(lat, u)) as (users, clients):

        async def chat(p: int, count: int) -> None:
            for _ in range(count):
                await send_text(clients[2 * p], users[2 * p], users[2 * p + 1], timeout=120)

        await asyncio.gather(*(chat(p, 1) for p in range(pairs)))  # warm up every conversation
        await until(lambda: len(lat) >= pairs, 60)
        lat.clear()
        profiler = await _py_spy(ims, f"{spy}.messages") if spy else None
        load0 = time.process_time()
        with measure(ims) as m:
            await asyncio.gather(*(chat(p, messages) for p in range(pairs)))
            await until(lambda: len(lat) >= pairs * messages, 120)
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            await profiler.wait()
    n = pairs * messages
    load = time.process_time() - load0
    per = m["imserver"] / n
    t.add("imserver CPU per message", per, "s", None, "", "<= 10x raw sqlite3")
    t.add(f"msg/s with {pairs} chatting pairs", n / m["wall"], "/s", None, "", ">= 1000")
    # Cores kept busy: when imserver + load reach the machine's two, msg/s is the machine's limit.
    t.add("load generator (this process) CPU per message", load / n, "s", None, "", "")
    t.add("cores busy (imserver + load generator)", (m["imserver"] + load) / m["wall"], "", None, "", "")
    t.add("send->push p50", pct(lat, 0.5), "s", None, "", "")
    t.add("send->push p99", pct(lat, 0.99), "s", None, "", "<= 100 ms")
    return per


async def _py_spy(ims: Proc, out: str) -> asyncio.subprocess.Process:
    """py-spy sampling the imserver (--py-spy FILE, collapsed stacks: `--format raw`)."""
    args = [
        "record",
        "--pid",
        str(ims.pid),
        "--format",
        "raw",
        "--output",
        out,
        "--rate",
        "200",
        "--nonblocking",
        "--gil",
    ]
    return await asyncio.create_subprocess_exec(str(Path(sys.executable).with_name("py-spy")), *args)


async def logins(t: Table, http: httpx.AsyncClient, up: Upstream, bridge: Proc, ims: Proc, n: int, spy: str) -> None:
    say(f"{n} logins through the bridge")
    users = await up.users(n + 1)
    tokens = [await up.token(u, 5) for u in users]
    sem = asyncio.Semaphore(8)

    async def one(i: int) -> None:
        async with sem:
            await login(http, bridge.url, users[i], tokens[i])

    await one(0)  # warm-up, not counted
    profiler = await _py_spy(ims, f"{spy}.login") if spy else None
    with measure(ims) as m:
        await asyncio.gather(*(one(i) for i in range(1, n + 1)))
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)
        await profiler.wait()
    t.add("imserver CPU per login", m["imserver"] / n, "s", None, "", "<= 5 ms")


async def main(a: argparse.Namespace) -> None:
    ports = {k: free_port() for k in ("api", "ws", "bridge")}
    api, ws = f"http://127.0.0.1:{ports['api']}", f"ws://127.0.0.1:{ports['ws']}"
    t = Table()
    with tempfile.TemporaryDirectory() as tmp:
        db = ["--database-url", a.database_url] if a.database_url else []
        ims_args = imserver_args(ports["api"], ports["ws"], f"{tmp}/ims", *db)
        brg_args = bridge_args(ports["bridge"], api, ws, f"{tmp}/bridge")
        bridge_url = f"http://127.0.0.1:{ports['bridge']}"
        async with (
            process("imserver", ims_args, api, "/auth/parse_token") as ims,
            process("bridge", brg_args, bridge_url, "/healthz") as bridge,
            httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=500)) as http,
        ):
            up = Upstream(http, api)
            await up.start()
            per = await messaging(t, up, ims, ws, a.pairs, a.messages, a.py_spy)
            await logins(t, http, up, bridge, ims, a.logins, a.py_spy)
        say("raw sqlite3 baseline")
        raw1 = raw_sqlite_per_message(Path(tmp), a.pairs, a.messages, 1)
        raw_batch = raw_sqlite_per_message(Path(tmp), a.pairs, a.messages, a.batch)
    t.rows[0].baseline, t.rows[0].baseline_name = raw1, "sqlite3, 1 tx/msg"
    t.add("imserver CPU per message (vs group commit)", per, "s", raw_batch, f"sqlite3, {a.batch} msg/tx")
    print(f"imserver bench: {a.pairs} pairs x {a.messages} messages, {a.logins} logins")
    t.print()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--pairs", type=int, default=100, help="chatting pairs (default 100)")
    ap.add_argument("--messages", type=int, default=30, help="messages per sender (default 30)")
    ap.add_argument("--logins", type=int, default=40, help="bridge logins (default 40)")
    ap.add_argument("--batch", type=int, default=100, help="messages per transaction, group-commit baseline")
    ap.add_argument("--py-spy", default="", metavar="FILE", help="py-spy the imserver: FILE.messages, FILE.login")
    ap.add_argument("--database-url", default="", help="imserver database (default SQLite in a temp dir)")
    asyncio.run(main(ap.parse_args()))
