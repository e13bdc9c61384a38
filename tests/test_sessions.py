"""Contract suite for bridge.sessions backends: memory, redis and SQL (SQLite, PostgreSQL), the same tests.

Record expiry runs on an injected clock. Lease expiry is Redis's own clock in
the redis backend (the one arbiter all nodes share), so there the suite lets
real time pass with short leases and condition waits on the lease key's TTL,
never sleeps; the memory backend moves its fake clock instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from bridge.errors import BridgeError
from bridge.redis_client import REDIS_UNAVAILABLE_CODE, create_redis
from bridge.sessions import MemorySessionDirectory, SessionDirectory, SessionId, SessionRecord
from bridge.sessions.redis import RedisSessionDirectory
from bridge.sessions.sql import SqlSessionDirectory
from bridge.settings import BridgeSettings
from bridge.sqlstore.stores import open_sql_stores
from tests.support.redis import RedisSpace, dead_redis_url, eventually, redis_space
from tests.support.sqldb import SQL_PARAMS, LazyDatabase, sql_stores, sql_url

ENDED_TTL = 60.0
LEASE = 1.0  # long enough that "still held" checks have margin, short enough to lapse quickly
A, B = "node-a", "node-b"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    """A directory, its clock, and how to let part of a lease run out."""

    directory: SessionDirectory
    clock: FakeClock
    elapse: Callable[[str, float], Awaitable[None]]  # (session id, fraction of the lease)


@contextlib.asynccontextmanager
async def _memory() -> AsyncIterator[Harness]:
    clock = FakeClock()
    directory = MemorySessionDirectory(ENDED_TTL, clock, lease_seconds=LEASE, lease_clock=clock)

    async def elapse(session_id: str, fraction: float) -> None:
        clock.now += fraction * LEASE

    yield Harness(directory, clock, elapse)


@contextlib.asynccontextmanager
async def _redis() -> AsyncIterator[Harness]:
    async with redis_space() as space:
        clock = FakeClock()
        directory = RedisSessionDirectory(
            space.client, prefix=space.prefix, node_id=A, lease_seconds=LEASE, ended_ttl=ENDED_TTL, clock=clock
        )

        async def elapse(session_id: str, fraction: float) -> None:
            key = directory.lease_key(session_id)
            left_ms = (1 - fraction) * LEASE * 1000

            async def run_out() -> bool:
                ttl = int(await space.client.pttl(key))
                return ttl == -2 if fraction >= 1 else ttl <= left_ms

            await eventually(run_out, f"{fraction:.0%} of the lease on {key} to pass")

        yield Harness(directory, clock, elapse)
        await directory.aclose()


@contextlib.asynccontextmanager
async def _sql(url: str) -> AsyncIterator[Harness]:
    """Records in SQL on the fake clock; leases are the process's own (bridge/sessions/sql.py), on it too."""
    async with sql_stores(url) as stores:
        clock = FakeClock()
        directory = SqlSessionDirectory(
            stores.db, stores.writer, ended_ttl=ENDED_TTL, clock=clock, lease_seconds=LEASE, lease_clock=clock
        )

        async def elapse(session_id: str, fraction: float) -> None:
            clock.now += fraction * LEASE

        yield Harness(directory, clock, elapse)
        await directory.aclose()


@pytest.fixture(params=[pytest.param("memory"), pytest.param("redis", marks=pytest.mark.services), *SQL_PARAMS])
async def h(request: pytest.FixtureRequest, tmp_path: Path, pg_database: LazyDatabase) -> AsyncIterator[Harness]:
    if request.param in ("sqlite", "postgresql"):
        async with _sql(await sql_url(request.param, tmp_path, pg_database)) as harness:
            yield harness
        return
    async with _memory() if request.param == "memory" else _redis() as harness:
        yield harness


def record(sid: str = "s1", user: str = "u1", platform: int = 5, **changes: Any) -> SessionRecord:
    return replace(SessionRecord(SessionId(sid), user, platform, "upstream-token", 1234.5), **changes)


# --- records -----------------------------------------------------------------


async def test_create_then_resolve_and_find(h: Harness) -> None:
    d = h.directory
    rec = record(batch_messages=True)
    await d.create(rec, "hash1")
    assert await d.resolve("hash1") == rec
    assert await d.find("u1", 5) == rec
    assert await d.find("u1", 6) is None
    assert await d.find("u2", 5) is None
    assert await d.resolve("nope") is None
    assert await d.live_count() == 1


async def test_get_by_id_while_live_ended_and_until_forgotten(h: Harness) -> None:
    d = h.directory
    assert await d.get("s1") is None
    await d.create(record(), "hash1")
    assert await d.get("s1") == record()
    assert await d.get("s2") is None
    await d.end("s1", 1501)
    assert (rec := await d.get("s1")) is not None and rec.ended_code == 1501
    h.clock.now += ENDED_TTL + 1
    assert await d.get("s1") is None


async def test_user_ids_with_separators_are_kept_apart(h: Harness) -> None:
    d = h.directory
    await d.create(record("s1", user="a:1", platform=5), "h1")
    await d.create(record("s2", user="a", platform=1), "h2")
    assert (rec := await d.find("a:1", 5)) is not None and rec.session_id == "s1"
    assert (rec := await d.find("a", 1)) is not None and rec.session_id == "s2"
    assert await d.find("1:a", 5) is None


async def test_add_token_points_at_the_same_session(h: Harness) -> None:
    d = h.directory
    await d.create(record(), "hash1")
    await d.add_token("s1", "hash2")
    assert await d.resolve("hash2") == await d.resolve("hash1") == record()
    await d.add_token("unknown", "hash3")
    assert await d.resolve("hash3") is None


async def test_a_session_keeps_only_its_newest_tokens(h: Harness) -> None:
    d = h.directory
    keep = 8  # both backends' default max_tokens
    await d.create(record(), "hash0")
    for n in range(1, keep + 2):
        await d.add_token("s1", f"hash{n}")
    assert await d.resolve("hash0") is None and await d.resolve("hash1") is None  # the oldest two revoked
    for n in range(2, keep + 2):
        assert await d.resolve(f"hash{n}") == record()
    await d.add_token("s1", "hash5")  # an existing token is no new one
    assert await d.resolve("hash2") == record()
    await d.end("s1", 1506)
    assert (rec := await d.resolve(f"hash{keep + 1}")) is not None and rec.ended_code == 1506


async def test_a_token_looked_up_before_a_change_answers_the_change(h: Harness) -> None:
    """Every lookup first, then the write: a backend that remembers lookups (the SQL one)
    must never answer from before a revocation, a move, an update or an end."""
    d = h.directory
    await d.create(record(), "hash0")
    for n in range(1, 8):  # eight tokens: the most a session keeps
        await d.add_token("s1", f"hash{n}")
    for n in range(8):
        assert await d.resolve(f"hash{n}") == record()
    await d.add_token("s1", "hash8")  # the ninth revokes the oldest
    assert await d.resolve("hash0") is None and await d.resolve("hash1") == record()
    await d.create(record("s2", user="u2"), "hash8")  # a hash is one token: it moves to s2
    moved = await d.resolve("hash8")
    assert moved is not None and moved.session_id == "s2"
    assert await d.resolve("hash7") == record()
    await d.update(record(batch_messages=True))
    rec = await d.resolve("hash7")
    assert rec is not None and rec.batch_messages
    await d.end("s1", 1506)
    rec = await d.resolve("hash7")
    assert rec is not None and rec.ended_code == 1506
    h.clock.now += ENDED_TTL + 1
    assert await d.resolve("hash7") is None


async def test_update_changes_a_live_record_only(h: Harness) -> None:
    d = h.directory
    await d.create(record(), "hash1")
    await d.update(record(upstream_token="fresh"))
    assert (rec := await d.resolve("hash1")) is not None and rec.upstream_token == "fresh"
    await d.update(record("unknown"))
    assert await d.resolve("nothing") is None
    await d.end("s1", 1506)
    await d.update(record(upstream_token="again"))
    assert (rec := await d.resolve("hash1")) is not None
    assert rec.ended_code == 1506 and rec.upstream_token == ""


async def test_end_keeps_the_code_and_frees_the_user_slot(h: Harness) -> None:
    d = h.directory
    await d.create(record(), "hash1")
    await d.add_token("s1", "hash2")
    await d.end("s1", 1501)
    assert await d.find("u1", 5) is None
    assert await d.live_count() == 0
    for token_hash in ("hash1", "hash2"):
        rec = await d.resolve(token_hash)
        assert rec is not None
        assert (rec.session_id, rec.ended_code, rec.upstream_token) == ("s1", 1501, "")
    await d.end("unknown", 1501)  # harmless


async def test_a_new_login_takes_the_user_slot(h: Harness) -> None:
    d = h.directory
    await d.create(record("s1"), "hash1")
    await d.create(record("s2"), "hash2")
    assert (rec := await d.find("u1", 5)) is not None and rec.session_id == "s2"
    await d.end("s1", 10101)  # the old one ending does not free the new one's slot
    assert (rec := await d.find("u1", 5)) is not None and rec.session_id == "s2"
    assert await d.live_count() == 1


async def test_ended_sessions_are_forgotten_after_the_ttl(h: Harness) -> None:
    d = h.directory
    await d.create(record(), "hash1")
    await d.add_token("s1", "hash2")
    await d.end("s1", 1506)
    h.clock.now += ENDED_TTL
    assert (rec := await d.resolve("hash1")) is not None and rec.ended_code == 1506
    h.clock.now += 1
    assert await d.resolve("hash1") is None
    assert await d.resolve("hash2") is None
    await d.create(record("s2"), "hash3")  # live sessions are not affected by the clock
    h.clock.now += 10 * ENDED_TTL
    assert await d.resolve("hash3") == record("s2")


# --- leases ------------------------------------------------------------------


async def test_acquire_makes_one_owner(h: Harness) -> None:
    d = h.directory
    assert await d.owner("s1") is None
    fence = await d.acquire("s1", A)
    assert fence is not None and fence >= 1
    assert await d.owner("s1") == (A, fence)
    assert await d.acquire("s1", B) is None
    assert await d.acquire("s1", A) == fence  # the holder asking again keeps its fence
    assert await d.owner("s1") == (A, fence)
    assert await d.acquire("s2", B) is not None  # leases are per session


async def test_renew_and_release_need_the_holder_and_its_fence(h: Harness) -> None:
    d = h.directory
    fence = await d.acquire("s1", A)
    assert fence is not None
    assert await d.renew("s1", A, fence)
    assert not await d.renew("s1", B, fence)
    assert not await d.renew("s1", A, fence + 1)
    assert not await d.release("s1", B, fence)
    assert not await d.release("s1", A, fence - 1)
    assert await d.owner("s1") == (A, fence)
    assert await d.release("s1", A, fence)
    assert await d.owner("s1") is None
    assert not await d.renew("s1", A, fence)  # released is released
    assert not await d.release("s1", A, fence)
    second = await d.acquire("s1", B)
    assert second is not None and second > fence  # fences only grow


async def test_renew_keeps_the_lease(h: Harness) -> None:
    d = h.directory
    fence = await d.acquire("s1", A)
    assert fence is not None
    await h.elapse("s1", 0.6)
    assert await d.renew("s1", A, fence)
    await h.elapse("s1", 0.6)  # 1.2 leases since acquire, 0.6 since renew
    assert await d.owner("s1") == (A, fence)
    assert await d.acquire("s1", B) is None


async def test_a_lapsed_lease_moves_on_and_fences_the_old_owner(h: Harness) -> None:
    d = h.directory
    old = await d.acquire("s1", A)
    assert old is not None
    await h.elapse("s1", 1.01)
    assert await d.owner("s1") is None
    new = await d.acquire("s1", B)
    assert new is not None and new > old
    # Node A wakes up from a long pause: it is no longer the owner and cannot act as one.
    assert not await d.renew("s1", A, old)
    assert not await d.release("s1", A, old)
    assert await d.acquire("s1", A) is None
    assert await d.owner("s1") == (B, new)


async def test_concurrent_acquires_make_exactly_one_owner(h: Harness) -> None:
    d = h.directory
    nodes = [f"node-{n}" for n in range(20)]
    fences = await asyncio.gather(*(d.acquire("s1", node) for node in nodes))
    winners = [(node, fence) for node, fence in zip(nodes, fences, strict=True) if fence is not None]
    assert len(winners) == 1
    assert await d.owner("s1") == winners[0]


# --- redis backend specifics -------------------------------------------------


@pytest.fixture
async def space() -> AsyncIterator[RedisSpace]:
    async with redis_space() as space:
        yield space


@pytest.mark.services
async def test_redis_layout(space: RedisSpace) -> None:
    d = RedisSessionDirectory(space.client, prefix=space.prefix, node_id=A, lease_seconds=LEASE)
    await d.create(record(), "hash1")
    fence = await d.acquire("s1", A)
    p = space.prefix
    assert await space.keys() == sorted(
        [f"{p}s:s1", f"{p}s:s1:toks", f"{p}tok:hash1", f"{p}live", f"{p}lease:s1", f"{p}fence"]
    )
    assert await space.client.hget(f"{p}live", "5:u1") == b"s1"
    assert await space.client.get(f"{p}lease:s1") == f"{fence} {A}".encode()
    assert 0 < await space.client.pttl(f"{p}lease:s1") <= LEASE * 1000
    assert await space.client.pttl(f"{p}s:s1") == -1  # live records do not expire


@pytest.mark.services
async def test_redis_ended_sessions_expire_in_redis_too(space: RedisSpace) -> None:
    d = RedisSessionDirectory(space.client, prefix=space.prefix, node_id=A, ended_ttl=0.2)
    await d.create(record(), "hash1")
    fence = await d.acquire("s1", A)
    assert fence is not None and await d.release("s1", A, fence)
    await d.end("s1", 1506)

    async def gone() -> bool:
        return await space.keys() == [f"{space.prefix}fence"]  # the global fence counter stays

    await eventually(gone, "the ended session's record and tokens to expire")
    assert await d.resolve("hash1") is None


@pytest.mark.services
async def test_redis_ignores_record_fields_it_does_not_know(space: RedisSpace) -> None:
    d = RedisSessionDirectory(space.client, prefix=space.prefix, node_id=A)
    await d.create(record(), "hash1")
    await space.client.hset(f"{space.prefix}s:s1", "from_a_newer_version", '"x"')
    assert await d.resolve("hash1") == record()


async def test_redis_outage_is_a_503_not_a_crash() -> None:
    client = create_redis(dead_redis_url())
    d = RedisSessionDirectory(client, node_id=A)
    try:
        for call in (d.resolve("hash1"), d.create(record(), "hash1"), d.acquire("s1", A), d.owner("s1")):
            with pytest.raises(BridgeError) as caught:
                await asyncio.wait_for(call, 5.0)
            assert (caught.value.status, caught.value.code) == (503, REDIS_UNAVAILABLE_CODE)
            assert "Redis unavailable" in caught.value.detail
    finally:
        await client.aclose()


async def test_node_ids_cannot_hold_the_separator() -> None:
    client = create_redis(dead_redis_url())
    d = RedisSessionDirectory(client, node_id=A)
    with pytest.raises(ValueError, match="node_id"):
        await d.acquire("s1", "two words")
    await client.aclose()


async def test_renew_many_is_renew_for_each(h: Harness) -> None:
    d = h.directory
    f1, f2 = await d.acquire("s1", A), await d.acquire("s2", A)
    assert f1 is not None and f2 is not None
    assert await d.renew_many(A, [("s1", f1), ("s2", f2 + 1), ("s3", 1)]) == [True, False, False]
    assert await d.renew_many(B, [("s1", f1)]) == [False]
    assert await d.renew_many(A, []) == []


async def test_memory_fences_outgrow_an_earlier_process() -> None:
    """Checkpoints keep the fence of their writer; a restarted node must not hand out lower ones."""
    before = await MemorySessionDirectory(ENDED_TTL).acquire("s1", A)
    after = await MemorySessionDirectory(ENDED_TTL).acquire("s1", A)  # the next process
    assert before is not None and after is not None and after > before


@pytest.mark.services
async def test_redis_fences_outgrow_a_lost_counter(space: RedisSpace) -> None:
    d = RedisSessionDirectory(space.client, prefix=space.prefix, node_id=A, lease_seconds=LEASE)
    first = await d.acquire("s1", A)
    assert first is not None and await d.release("s1", A, first)
    await space.client.delete(f"{space.prefix}fence")  # flushed, or restored from an old backup
    second = await d.acquire("s1", A)
    assert second is not None and second > first


async def test_sql_sessions_outlive_the_process(tmp_path: Path) -> None:
    """A restarted node (new stores on the same database) resolves its tokens and finds its sessions."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'bridge.db'}"
    async with sql_stores(url) as stores:
        first = SqlSessionDirectory(stores.db, stores.writer)
        await first.create(record(batch_messages=True), "hash1")
        await first.create(record("s2", user="u2"), "hash2")
        await first.end("s2", 1506)
        fence = await first.acquire("s1", A)
    async with open_sql_stores(BridgeSettings(database_url=url), sweep=False) as stores:
        again = SqlSessionDirectory(stores.db, stores.writer)
        assert await again.resolve("hash1") == record(batch_messages=True)
        assert await again.find("u1", 5) == record(batch_messages=True)
        assert (rec := await again.resolve("hash2")) is not None and rec.ended_code == 1506
        assert await again.live_count() == 1
        # The dead process's lease is gone with it; the new fence outgrows the old one.
        assert await again.owner("s1") is None
        new = await again.acquire("s1", A)
        assert fence is not None and new is not None and new > fence
