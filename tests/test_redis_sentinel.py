"""Cluster mode on Redis Sentinel: ``redis+sentinel://`` URLs, and a failover under open stores.

Real processes on loopback, private to each test: a primary, one replica
(``--replicaof``) and one sentinel (quorum 1) started from a config file in the
test's tmp directory. Waiting is on conditions (replication up, the sentinel
naming the new primary), never on time. Needs ``redis-server`` on PATH:
skipped locally without it, a failure in CI (env ``CI`` set).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from bridge.errors import BridgeError
from bridge.eventlog import ReadResult
from bridge.eventlog.redis import RedisEventLog
from bridge.redis_client import REDIS_UNAVAILABLE_CODE, create_redis, redis_errors
from bridge.redis_sentinel import SentinelURL, parse_sentinel_url
from bridge.sessions import SessionId, SessionRecord
from bridge.settings import BridgeSettings
from bridge.stores import Stores, open_stores
from tests.support.cluster import ChildProcess, stable_port, until

SERVICE = "mymaster"
DEADLINE = 5.0  # anything that should happen "at once" (a reader re-arms every 2 s)
LONG = 30.0  # a wait that something else must cut short


# --- URLs --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis+sentinel://127.0.0.1/mymaster", SentinelURL((("127.0.0.1", 26379),), "mymaster")),
        (
            "redis+sentinel://s1:26380,s2,[::1]:26381/my%20master/3",
            SentinelURL((("s1", 26380), ("s2", 26379), ("::1", 26381)), "my master", db=3),
        ),
        ("REDIS+SENTINEL://s1/mymaster/", SentinelURL((("s1", 26379),), "mymaster")),
        (
            "rediss+sentinel://bridge:p%40ss@s1/mymaster/1?sentinel_password=sp&ssl_ca_certs=/etc/ca.pem",
            SentinelURL(
                (("s1", 26379),),
                "mymaster",
                db=1,
                tls=True,
                username="bridge",
                password="p@ss",
                sentinel_password="sp",
                ssl_ca_certs="/etc/ca.pem",
            ),
        ),
        ("redis+sentinel://:secret@s1/mymaster", SentinelURL((("s1", 26379),), "mymaster", password="secret")),
    ],
)
def test_sentinel_urls_parse(url: str, expected: SentinelURL) -> None:
    parsed = parse_sentinel_url(url)
    assert parsed == expected
    assert "secret" not in repr(parsed) and "p@ss" not in repr(parsed)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis+sentinel://u:hunter2@s1/", "no service name"),
        ("redis+sentinel://u:hunter2@s1", "no service name"),
        ("redis+sentinel://u:hunter2@s1/mymaster/zero", "only a database number"),
        ("redis+sentinel://u:hunter2@s1/mymaster/0/1", "only a database number"),
        ("redis+sentinel://u:hunter2@/mymaster", "address 1 is empty"),
        ("redis+sentinel://u:hunter2@s1,,s2/mymaster", "address 2 is empty"),
        ("redis+sentinel://u:hunter2@s1:port/mymaster", "address 1 is not host[:port]"),
        ("redis+sentinel://u:hunter2@s1,s2:70000/mymaster", "address 2 is not host[:port]"),
        ("redis+sentinel://u:hunter2@s1:0/mymaster", "address 1 is not host[:port]"),
        ("redis+sentinel://u:hunter2@[::1/mymaster", "address 1 is not host[:port]"),
        ("redis+sentinel://u:hun/ter2@s1/mymaster", "address 1 is not host[:port]"),  # unescaped "/"
        ("redis+sentinel://u:hunter2@s1/mymaster?password=x", "query parameter 'password'"),
        ("redis+sentinel://u:hunter2@s1/mymaster?ssl_ca_certs=/ca", "query parameter 'ssl_ca_certs'"),  # TLS only
        ("redis+sentinel://s1/mymaster?sentinel_password=hunter2&sentinel_password=x", "repeated"),
        ("redis+sentinel://u:hunter2@s1/mymaster#x", "fragment"),
    ],
)
def test_bad_sentinel_urls_say_what_is_wrong_without_the_password(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match="Sentinel URL") as caught:
        create_redis(url)
    assert problem in str(caught.value)
    assert "hunter" not in str(caught.value) and "ter2" not in str(caught.value)


def test_settings_accept_sentinel_urls() -> None:
    for url in ("redis+sentinel://s1,s2/mymaster/0", "rediss+sentinel://:pw@s1/mymaster"):
        BridgeSettings(redis_url=url).validate()
    with pytest.raises(ValueError, match=r"redis\+sentinel://") as caught:
        BridgeSettings(redis_url="sentinel://u:hunter2@s1/mymaster").validate()
    assert "hunter2" not in str(caught.value)
    with pytest.raises(ValueError, match="scheme"):
        parse_sentinel_url("redis://s1/mymaster")


async def test_unreachable_sentinels_are_a_503() -> None:
    """No sentinel answers, so no primary is known: an outage like any other (MasterNotFoundError)."""
    client = create_redis(f"redis+sentinel://127.0.0.1:{stable_port()}/{SERVICE}/0")  # nothing listens there
    try:
        with pytest.raises(BridgeError) as caught:
            async with redis_errors("ping"):
                await asyncio.wait_for(client.ping(), DEADLINE)
        assert (caught.value.status, caught.value.code) == (503, REDIS_UNAVAILABLE_CODE)
        assert "MasterNotFoundError" in caught.value.detail
        assert "sentinel 127.0.0.1:" in caught.value.detail and "redis.asyncio" not in caught.value.detail
    finally:
        await client.aclose()


# --- a primary, a replica, a sentinel ------------------------------------------

#: The data nodes and the sentinel have passwords of their own, as in production.
DATA_PASSWORD = "data-secret"
SENTINEL_PASSWORD = "sentinel-secret"


class _Server(ChildProcess):
    async def start(self, args: list[str]) -> None:
        await self._spawn(args, dict(os.environ))


@dataclass
class Topology:
    primary: int
    replica: int
    sentinel: int
    servers: list[_Server]
    clients: dict[int, Redis]

    def url(self, db: int = 0) -> str:
        where = f"127.0.0.1:{self.sentinel}/{SERVICE}/{db}"
        return f"redis+sentinel://:{DATA_PASSWORD}@{where}?sentinel_password={SENTINEL_PASSWORD}"

    def client(self, port: int) -> Redis:
        """A direct client of one server (opened once, closed with the topology)."""
        if port not in self.clients:
            password = SENTINEL_PASSWORD if port == self.sentinel else DATA_PASSWORD
            self.clients[port] = Redis(port=port, password=password, socket_connect_timeout=1.0, decode_responses=True)
        return self.clients[port]

    async def answers(self, port: int) -> bool:
        with contextlib.suppress(RedisError):
            return bool(await self.client(port).ping())
        return False

    async def master_port(self) -> int:
        addr = await self.client(self.sentinel).sentinel_get_master_addr_by_name(SERVICE)
        assert isinstance(addr, tuple), addr
        return int(addr[1])

    async def replicated(self) -> None:
        """Wait until the replica has everything the primary has been sent so far."""
        target = (await self.client(self.primary).info("replication"))["master_repl_offset"]

        async def caught_up() -> bool:
            info = await self.client(self.replica).info("replication")
            return bool(info["master_link_status"] == "up" and info["slave_repl_offset"] >= target)

        await until(caught_up, "the replica to catch up with the primary", 10.0)

    async def replica_known(self) -> bool:
        """Does the sentinel know the replica as one it could promote?"""
        with contextlib.suppress(RedisError):
            for r in await self.client(self.sentinel).sentinel_slaves(SERVICE):
                if r["port"] == self.replica and r["master-link-status"] == "ok" and not r["is_sdown"]:
                    return True
        return False

    def tails(self) -> str:
        return "\n".join(f"== {s.name}\n{s.tail(20)}" for s in self.servers)


@pytest.fixture
async def topology(tmp_path: Path) -> AsyncIterator[Topology]:
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not on PATH (apt-get install redis-server)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    ports: list[int] = []
    while len(ports) < 3:
        if (port := stable_port()) not in ports:
            ports.append(port)
    primary, replica, sentinel = ports
    servers = [_Server(name, tmp_path / f"{name}.log") for name in ("primary", "replica", "sentinel")]
    topo = Topology(primary, replica, sentinel, servers, {})
    # No RDB files, no AOF; a replica syncs at once (diskless sync waits 5 s for more replicas by default).
    base = [binary, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0"]
    base += ["--requirepass", DATA_PASSWORD, "--masterauth", DATA_PASSWORD]
    conf = tmp_path / "sentinel.conf"  # Sentinel rewrites its config file: it must be writable
    conf.write_text(
        f"port {sentinel}\nbind 127.0.0.1\ndir {tmp_path}\nrequirepass {SENTINEL_PASSWORD}\n"
        f"sentinel monitor {SERVICE} 127.0.0.1 {primary} 1\n"
        f"sentinel auth-pass {SERVICE} {DATA_PASSWORD}\n"
        f"sentinel down-after-milliseconds {SERVICE} 1000\n"
        f"sentinel failover-timeout {SERVICE} 2000\n"
    )
    try:
        try:
            for n, port in enumerate((primary, replica)):
                (tmp_path / servers[n].name).mkdir()
                args = [*base, "--port", str(port), "--dir", str(tmp_path / servers[n].name)]
                await servers[n].start([*args, "--replicaof", "127.0.0.1", str(primary)] if n else args)
                await until(functools.partial(topo.answers, port), f"the {servers[n].name} to answer PING")
            await topo.replicated()
            await servers[2].start([binary, str(conf), "--sentinel"])
            await until(topo.replica_known, "the sentinel to know the replica as a good one", 15.0)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{topo.tails()}") from None
        yield topo
    finally:
        for client in topo.clients.values():
            await client.aclose()
        for server in reversed(servers):  # a primary without replicas does not wait for them to catch up
            await server.shutdown(10.0)


def _settings(url: str) -> BridgeSettings:
    tag = uuid.uuid4().hex[:10]
    return BridgeSettings(redis_url=url, redis_prefix=f"sentinel-test:{tag}:", node_id=f"node-{tag}")


def _record(sid: str) -> SessionRecord:
    return SessionRecord(SessionId(sid), "u1", 5, "upstream-token", 1234.5)


async def _parked_waiter(stores: Stores, session: str, after: int) -> asyncio.Task[ReadResult]:
    """A wait_after task, returned once it is registered with the log's blocking reader."""
    events = cast(RedisEventLog, stores.events)
    before = events._watcher.waiting
    task = asyncio.create_task(events.wait_after(session, after, LONG))

    async def parked() -> bool:
        return events._watcher.waiting > before or task.done()

    await until(parked, "the waiter to park")
    return task


@pytest.mark.services
async def test_stores_run_on_the_primary_the_sentinel_names(topology: Topology) -> None:
    settings = _settings(topology.url())
    name = f"openim-bridge:{settings.node_id}"
    async with open_stores(settings) as stores:
        assert isinstance(stores.events, RedisEventLog)
        first = await stores.events.append("s", "OnTest", '{"n": 1}')
        assert first.id == 1
        assert (await stores.events.read_after("s", 0)).events == [first]
        waiter = await _parked_waiter(stores, "s", 1)
        second = await stores.events.append("s", "OnTest", '{"n": 2}')
        assert await asyncio.wait_for(waiter, DEADLINE) == ReadResult([second], False)

        directory = stores.directory
        await directory.create(_record("sid1"), "hash1")
        assert await directory.resolve("hash1") == _record("sid1")
        fence = await directory.acquire("sid1", settings.node_id)
        assert fence is not None
        assert await directory.owner("sid1") == (settings.node_id, fence)

        # Everything is on the primary, under the node's client name; the sentinel knows it too.
        keys = await topology.client(topology.primary).keys(f"{settings.redis_prefix}*")
        assert f"{settings.redis_prefix}ev:s" in keys
        names = [c.get("name") for c in await topology.client(topology.primary).client_list()]
        assert name in names
        names = [c.get("name") for c in await topology.client(topology.sentinel).client_list()]
        assert name in names

    async def closed(port: int) -> bool:
        return name not in [c.get("name") for c in await topology.client(port).client_list()]

    # Closing the stores closes the pool and the sentinel clients with it.
    await until(lambda: closed(topology.primary), "the node's connections to the primary to close")
    await until(lambda: closed(topology.sentinel), "the node's connections to the sentinel to close")
    # And they stay closed: a late append is a 503 and reconnects neither (bridge/redis_pool.py).
    with pytest.raises(BridgeError) as caught:
        await stores.events.append("s", "OnTest", '{"n": 3}')
    assert caught.value.status == 503  # the sentinel lookup is refused first: "No master found"
    assert await closed(topology.primary) and await closed(topology.sentinel)


@pytest.mark.services
@pytest.mark.parametrize(
    ("query", "service", "says"),
    [
        (f"?sentinel_password={SENTINEL_PASSWORD}", "nosuchservice", "No master found for 'nosuchservice'"),
        ("?sentinel_password=wrong", SERVICE, "AuthenticationError"),
        ("", SERVICE, "AuthenticationError"),
    ],
)
async def test_no_primary_from_the_sentinels_is_a_503_saying_why(
    topology: Topology, query: str, service: str, says: str
) -> None:
    client = create_redis(f"redis+sentinel://:{DATA_PASSWORD}@127.0.0.1:{topology.sentinel}/{service}{query}")
    try:
        with pytest.raises(BridgeError) as caught:
            async with redis_errors("ping"):
                await client.ping()
        assert caught.value.status == 503
        assert "MasterNotFoundError" in caught.value.detail and says in caught.value.detail
        assert "redis.asyncio" not in caught.value.detail  # no object reprs in a client-facing detail
        assert "secret" not in caught.value.detail
    finally:
        await client.aclose()


@pytest.mark.services
@pytest.mark.parametrize("how", ["SENTINEL FAILOVER", "primary killed"])
async def test_failover_is_a_short_outage_then_the_same_stores_work_on_the_new_primary(
    topology: Topology, how: str
) -> None:
    """A planned switch (the old primary stays up, and writable until Sentinel demotes it ~10 s
    later: the node must move on its own) and a crash (503s until the sentinel promotes the replica)."""
    settings = _settings(topology.url())
    async with open_stores(settings) as stores:
        events, directory = stores.events, stores.directory
        before = [await events.append("s", "OnTest", f'{{"n": {n}}}') for n in range(3)]
        await directory.create(_record("sid1"), "hash1")
        fence = await directory.acquire("sid1", settings.node_id)
        await topology.replicated()  # what the clients were told is stored is on the replica too
        waiter = await _parked_waiter(stores, "s", 3)

        async def failover_started() -> bool:
            try:
                sentinel = topology.client(topology.sentinel)
                return bool(await sentinel.execute_command("SENTINEL", "FAILOVER", SERVICE))  # type: ignore[no-untyped-call]
            except ResponseError as exc:  # NOGOODSLAVE: the sentinel's view of the replica is not fresh yet
                assert "NOGOODSLAVE" in str(exc) or "INPROG" in str(exc), exc
                return False

        if how == "SENTINEL FAILOVER":
            await until(failover_started, "SENTINEL FAILOVER to be accepted")
        else:
            await topology.servers[0].kill()

        outages: list[BridgeError] = []

        async def on_new_primary() -> bool:
            """Calls go on through the failover; each fails with 503 or works, nothing else."""
            try:
                await events.append("probe", "OnTest", "{}")
                await directory.resolve("hash1")
                async with redis_errors("where am I"):
                    port = int((await cast(Redis, stores.redis).info("server"))["tcp_port"])
            except BridgeError as exc:
                assert exc.status == 503, exc
                outages.append(exc)
                return False
            return port == topology.replica and await topology.master_port() == topology.replica

        await until(on_new_primary, "the sentinel and the node's pool to move to the replica", 8.0)
        if how == "primary killed":
            assert outages, "calls went on while there was no primary"
            assert all("Redis unavailable" in e.detail for e in outages)
        else:  # Sentinel demotes the old primary only ~10 s after the switch: the node moved by itself
            role = await topology.client(topology.primary).execute_command("ROLE")  # type: ignore[no-untyped-call]
            assert role[0] == "master", role

        # What was replicated before the failover is all there, ids go on from it.
        assert (await events.read_after("s", 0)).events == before
        assert await directory.resolve("hash1") == _record("sid1")
        assert await directory.owner("sid1") == (settings.node_id, fence)
        if waiter.done() and waiter.exception() is not None:  # the reader's outage reached it: a 503
            error = waiter.exception()
            assert isinstance(error, BridgeError) and error.status == 503, error
            waiter = await _parked_waiter(stores, "s", 3)
        after = await events.append("s", "OnTest", '{"n": 3}')
        assert after.id == 4
        assert await asyncio.wait_for(waiter, DEADLINE) == ReadResult([after], False)
        await directory.create(_record("sid2"), "hash2")
        assert await directory.resolve("hash2") == _record("sid2")
        assert await directory.acquire("sid2", settings.node_id) is not None

        # ... and it is the new primary that has it.
        new_primary = topology.client(topology.replica)
        entries = await new_primary.xrange(f"{settings.redis_prefix}ev:s")
        assert entries is not None
        assert [entry_id for entry_id, _ in entries] == ["1-0", "2-0", "3-0", "4-0"]
        assert await new_primary.exists(f"{settings.redis_prefix}s:sid2") == 1
