"""Contract suite for bridge.idempotency: the same tests on the memory, Redis and SQL outcome stores.

A retry with the same (session, operationID) replays the first outcome and
does not run the call again, on this node (in flight or finished) and, with
Redis, on another node. Time is injected for memory; for Redis the window is
short and the test waits until Redis has expired the key (STYLE.md: no sleeps).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from bridge.errors import BridgeError, status_for
from bridge.idempotency import (
    MAX_OUTCOME_BYTES,
    IdempotencyCache,
    MemoryOutcomes,
    Outcome,
    RecordedError,
    RedisOutcomes,
)
from bridge.idempotency.sql import SqlOutcomes
from bridge.redis_client import REDIS_UNAVAILABLE_CODE, create_redis
from bridge.settings import BridgeSettings
from bridge.sqlstore.stores import SqlStores, open_sql_stores
from core.errors import SdkError
from core.protocol.errcodes import ErrCode
from tests.support.clock import wait_until
from tests.support.redis import RedisSpace, dead_redis_url, eventually, redis_space
from tests.support.sqldb import SQL_PARAMS, LazyDatabase, sql_stores, sql_url

DEADLINE = 2.0  # generous bound on anything that should happen "at once"
WINDOW = 60.0
SHORT_WINDOW = 0.2  # Redis expiry test: seconds Redis itself counts down

SID = "0123456789abcdef0123456789abcdef"  # a session id as the pool makes them (uuid4 hex)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Backend:
    """Makes caches ("nodes") on one outcome store, and lets a window pass."""

    def __init__(self, name: str, space: RedisSpace | None = None, sql: SqlStores | None = None) -> None:
        self.name = name
        self.space = space
        self.sql = sql
        self.clock = FakeClock()

    def node(self, window: float = WINDOW, max_entries: int = 100_000) -> IdempotencyCache:
        if self.sql is not None:
            store = SqlOutcomes(self.sql.db, self.sql.writer, window=window, clock=self.clock)
            return IdempotencyCache(window, store=store)
        if self.space is None:
            return IdempotencyCache(window, max_entries=max_entries, clock=self.clock)
        return IdempotencyCache(window, redis=self.space.client, prefix=self.space.prefix)

    async def pass_window(self, window: float) -> None:
        if self.space is None:  # memory and SQL run on the fake clock
            self.clock.now += window + 0.001
            return
        space = self.space

        async def expired() -> bool:
            return not [k for k in await space.keys() if ":idem:" in k]

        await eventually(expired, "Redis to expire the outcome")


BACKENDS = [pytest.param("memory"), pytest.param("redis", marks=pytest.mark.services), *SQL_PARAMS]


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path, pg_database: LazyDatabase) -> AsyncIterator[Backend]:
    if request.param in ("sqlite", "postgresql"):
        async with sql_stores(await sql_url(request.param, tmp_path, pg_database)) as stores:
            yield Backend(request.param, sql=stores)
        return
    if request.param == "memory":
        yield Backend("memory")
        return
    async with redis_space() as space:
        yield Backend("redis", space)


@pytest.fixture
def cache(backend: Backend) -> IdempotencyCache:
    return backend.node()


class Calls:
    """A call that counts its runs and returns ``result`` or raises ``error``."""

    def __init__(self, result: Any = None, error: Exception | None = None) -> None:
        self.runs = 0
        self.result = {"n": 1, "items": ["a", "b"]} if result is None else result
        self.error = error

    async def __call__(self) -> Any:
        self.runs += 1
        if self.error is not None:
            raise self.error
        return self.result


class Gate:
    """A call that blocks until released, so a retry can arrive while it runs."""

    def __init__(self, result: Any = "first") -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.runs = 0
        self.result = result

    async def __call__(self) -> Any:
        self.runs += 1
        self.started.set()
        await self.release.wait()
        return self.result


def fields(exc: BaseException) -> tuple[Any, ...]:
    if isinstance(exc, BridgeError):
        return (type(exc), exc.status, exc.code, exc.msg, exc.detail, exc.headers)
    assert isinstance(exc, SdkError)
    return (type(exc), exc.code, exc.msg, exc.detail, str(exc))


async def raised(call: Awaitable[Any]) -> BaseException:
    try:
        await call
    except Exception as exc:
        return exc
    raise AssertionError("expected the call to raise")


async def never() -> Any:
    raise AssertionError("a replay must not run the call")


# --- run once, replay ---------------------------------------------------------


async def test_same_operation_id_runs_once_and_replays_the_result(cache: IdempotencyCache) -> None:
    fn = Calls()
    first = await cache.run(SID, "op-1", "/v1/friend/add_friend", fn)
    again = await cache.run(SID, "op-1", "/v1/friend/add_friend", fn)
    assert first == again == {"n": 1, "items": ["a", "b"]}
    assert fn.runs == 1 and cache.replays == 1


async def test_other_operation_ids_and_sessions_run(cache: IdempotencyCache) -> None:
    fn = Calls()
    await cache.run(SID, "op-1", "/v1/a", fn)
    await cache.run(SID, "op-2", "/v1/a", fn)
    await cache.run("other-session", "op-1", "/v1/a", fn)
    assert fn.runs == 3 and cache.replays == 0


async def test_an_answer_too_large_to_keep_is_not_recorded_and_its_retry_runs(cache: IdempotencyCache) -> None:
    """A client chooses operationIDs, so every distinct one of a call answering megabytes was a
    kept copy for the window: live, 50 history pages of 1.4 MB grew bridge.db by 68 MB, without
    bound but the rate (Redis's memory in cluster mode, the process's with --ephemeral). Answers
    that large come from reads, which may run again; a send's retry is deduped by the server on
    its clientMsgID."""
    big = {"messageList": ["x" * (MAX_OUTCOME_BYTES + 1)]}
    calls = 0

    async def history() -> Any:
        nonlocal calls
        calls += 1
        return big

    assert await cache.run(SID, "op-big", "/v1/message/get_advanced_history_message_list", history) == big
    assert await cache.run(SID, "op-big", "/v1/message/get_advanced_history_message_list", history) == big
    assert calls == 2 and cache.replays == 0
    assert await cache.store.get(SID, "op-big") is None
    small = Calls()  # and the rest is kept as before
    await cache.run(SID, "op-small", "/v1/a", small)
    await cache.run(SID, "op-small", "/v1/a", small)
    assert small.runs == 1 and cache.replays == 1


@pytest.mark.parametrize("result", [None, 0, "", [], {"deep": {"list": [1, 2.5, None, True]}}])
async def test_any_json_result_replays_as_itself(cache: IdempotencyCache, result: Any) -> None:
    fn = Calls()
    fn.result = result  # None too: a function may return nothing
    assert await cache.run(SID, "op", "/v1/a", fn) == result
    assert await cache.run(SID, "op", "/v1/a", fn) == result
    assert fn.runs == 1


async def test_bridge_error_replays_with_the_same_fields(cache: IdempotencyCache) -> None:
    error = BridgeError(403, ErrCode.NoPermissionError, "not your group", msg="Custom", headers={"X-Why": "owner"})
    fn = Calls(error=error)
    first = await raised(cache.run(SID, "op", "/v1/a", fn))
    again = await raised(cache.run(SID, "op", "/v1/a", fn))
    assert first is error and again is not error
    assert fields(again) == fields(error) == (BridgeError, 403, 1002, "Custom", "not your group", {"X-Why": "owner"})
    assert fn.runs == 1


async def test_sdk_error_replays_as_sdk_error_with_the_same_fields(cache: IdempotencyCache) -> None:
    error = SdkError(ErrCode.RelationshipAlreadyError, detail="already friends")
    fn = Calls(error=error)
    await raised(cache.run(SID, "op", "/v1/a", fn))
    again = await raised(cache.run(SID, "op", "/v1/a", fn))
    assert fields(again) == fields(error)
    assert fn.runs == 1


async def test_unexpected_error_replays_as_the_catch_all_500(cache: IdempotencyCache) -> None:
    fn = Calls(error=RuntimeError("bug"))
    first = await raised(cache.run(SID, "op", "/v1/a", fn))
    assert isinstance(first, RuntimeError)  # the first caller gets the bug itself (logged by the handler)
    again = await raised(cache.run(SID, "op", "/v1/a", fn))
    # bridge.errors' catch-all answers exactly this, so the HTTP response is the same.
    assert fields(again) == (BridgeError, 500, ErrCode.ServerInternalError, "ServerInternalError", "internal error", {})
    assert fn.runs == 1


@pytest.mark.parametrize(
    "error",
    [
        BridgeError(503, ErrCode.ConnOverMaxNumLimit, "all live cores are busy", headers={"Retry-After": "5"}),
        BridgeError(503, REDIS_UNAVAILABLE_CODE, "Redis unavailable", headers={"retry-after": "1"}),
        BridgeError(421, ErrCode.ServerInternalError, "session is served by bridge node n2"),
    ],
    ids=["pool-full", "redis-outage", "not-owner"],
)
async def test_errors_that_say_not_run_here_are_not_recorded(cache: IdempotencyCache, error: BridgeError) -> None:
    fn = Calls(error=error)
    assert await raised(cache.run(SID, "op", "/v1/a", fn)) is error
    fn.error = None
    assert await cache.run(SID, "op", "/v1/a", fn) == fn.result  # the retry runs
    assert await cache.run(SID, "op", "/v1/a", fn) == fn.result  # and that outcome is kept
    assert fn.runs == 2


async def test_operation_id_reused_for_another_function_is_409(cache: IdempotencyCache) -> None:
    await cache.run(SID, "op", "/v1/friend/delete_friend", Calls())
    err = await raised(cache.run(SID, "op", "/v1/friend/set_friend_remark", never))
    assert isinstance(err, BridgeError)
    assert (err.status, err.code) == (409, ErrCode.ArgsError)
    assert err.detail == "operationID op was already used for /v1/friend/delete_friend"


# --- in flight -----------------------------------------------------------------


async def test_retry_while_running_waits_for_the_first(cache: IdempotencyCache) -> None:
    gate = Gate()
    first = asyncio.create_task(cache.run(SID, "op", "/v1/a", gate))
    await asyncio.wait_for(gate.started.wait(), DEADLINE)
    retry = asyncio.create_task(cache.run(SID, "op", "/v1/a", never))
    await wait_until(lambda: cache.waiting == 1, DEADLINE, "the retry to wait")
    other = await raised(cache.run(SID, "op", "/v1/b", never))  # another function: refused at once
    assert isinstance(other, BridgeError) and other.status == 409
    gate.release.set()
    assert list(await asyncio.wait_for(asyncio.gather(first, retry), DEADLINE)) == ["first", "first"]
    assert gate.runs == 1 and cache.waiting == 0


async def test_retry_while_running_gets_the_first_error(cache: IdempotencyCache) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def failing() -> Any:
        started.set()
        await release.wait()
        raise SdkError(ErrCode.NotPeersFriend, detail="not friends")

    first = asyncio.create_task(cache.run(SID, "op", "/v1/a", failing))
    await asyncio.wait_for(started.wait(), DEADLINE)
    retry = asyncio.create_task(cache.run(SID, "op", "/v1/a", never))
    await wait_until(lambda: cache.waiting == 1, DEADLINE, "the retry to wait")
    release.set()
    errors = await asyncio.wait_for(asyncio.gather(raised(first), raised(retry)), DEADLINE)
    assert fields(errors[0]) == fields(errors[1])
    assert errors[0] is not errors[1]


async def test_cancelled_call_is_forgotten_and_a_retry_runs_it(cache: IdempotencyCache) -> None:
    gate = Gate()
    first = asyncio.create_task(cache.run(SID, "op", "/v1/a", gate))
    await asyncio.wait_for(gate.started.wait(), DEADLINE)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    fn = Calls()
    assert await cache.run(SID, "op", "/v1/a", fn) == fn.result
    assert fn.runs == 1 and cache.replays == 0


async def test_waiting_retry_runs_the_call_when_the_first_is_cancelled(cache: IdempotencyCache) -> None:
    gate = Gate()
    first = asyncio.create_task(cache.run(SID, "op", "/v1/a", gate))
    await asyncio.wait_for(gate.started.wait(), DEADLINE)
    fn = Calls(result="from the retry")
    retry = asyncio.create_task(cache.run(SID, "op", "/v1/a", fn))
    await wait_until(lambda: cache.waiting == 1, DEADLINE, "the retry to wait")
    first.cancel()
    assert await asyncio.wait_for(retry, DEADLINE) == "from the retry"
    assert fn.runs == 1
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await cache.run(SID, "op", "/v1/a", never) == "from the retry"


async def test_cancelling_a_waiting_retry_leaves_the_first_running(cache: IdempotencyCache) -> None:
    gate = Gate()
    first = asyncio.create_task(cache.run(SID, "op", "/v1/a", gate))
    await asyncio.wait_for(gate.started.wait(), DEADLINE)
    retry = asyncio.create_task(cache.run(SID, "op", "/v1/a", never))
    await wait_until(lambda: cache.waiting == 1, DEADLINE, "the retry to wait")
    retry.cancel()
    with pytest.raises(asyncio.CancelledError):
        await retry
    gate.release.set()
    assert await asyncio.wait_for(first, DEADLINE) == "first"


# --- window, bounds --------------------------------------------------------------


async def test_outcome_is_forgotten_after_the_window(backend: Backend) -> None:
    window = SHORT_WINDOW if backend.name == "redis" else WINDOW
    cache = backend.node(window)
    fn = Calls()
    await cache.run(SID, "op", "/v1/a", fn)
    await cache.run(SID, "op", "/v1/a", fn)
    assert fn.runs == 1
    await backend.pass_window(window)
    await cache.run(SID, "op", "/v1/a", fn)
    assert fn.runs == 2


async def test_memory_store_keeps_the_window_and_at_most_max_entries() -> None:
    clock = FakeClock()
    store = MemoryOutcomes(10.0, max_entries=2, clock=clock, per_session=2)
    for op in ("a", "b", "c"):
        await store.put(SID, op, Outcome("/v1/x", op))
    assert len(store) == 2 and await store.get(SID, "a") is None  # the oldest went first
    clock.now += 10.0
    assert await store.get(SID, "b") == Outcome("/v1/x", "b")  # exactly the window: still kept
    clock.now += 0.001
    assert await store.get(SID, "b") is None and len(store) == 0


async def test_one_session_calling_with_fresh_operation_ids_keeps_only_its_own_share() -> None:
    """The client chooses operationIDs: a flood of fresh ones from one session must not push
    another session's outcomes out (their retries would run again)."""
    store = MemoryOutcomes(60.0, max_entries=1_000, clock=FakeClock())  # 10 per session
    await store.put("victim", "send-1", Outcome("/v1/message/send_message", "sent"))
    for i in range(5_000):
        await store.put("flooder", f"op-{i}", Outcome("/v1/x", i))
    assert await store.get("victim", "send-1") == Outcome("/v1/message/send_message", "sent")
    assert len(store) == 11
    assert await store.get("flooder", "op-4999") == Outcome("/v1/x", 4999)  # its newest are kept
    assert await store.get("flooder", "op-4989") is None
    # Expiry and the store-wide cap keep both orders in step.
    many = MemoryOutcomes(60.0, max_entries=3, clock=FakeClock(), per_session=3)
    for sid in ("s1", "s2", "s3", "s4"):
        await many.put(sid, "op", Outcome("/v1/x", sid))
    assert await many.get("s1", "op") is None and len(many) == 3
    await many.put("s1", "op", Outcome("/v1/x", "again"))
    assert await many.get("s1", "op") == Outcome("/v1/x", "again") and await many.get("s2", "op") is None


async def test_first_recorded_outcome_wins(backend: Backend) -> None:
    store = backend.node().store
    await store.put(SID, "op", Outcome("/v1/a", "first"))
    await store.put(SID, "op", Outcome("/v1/a", "second"))
    assert await store.get(SID, "op") == Outcome("/v1/a", "first")


# --- Redis: shared by nodes, layout, outages ---------------------------------------


@pytest.fixture
async def space() -> AsyncIterator[RedisSpace]:
    async with redis_space() as s:
        yield s


def two_nodes(space: RedisSpace) -> tuple[IdempotencyCache, IdempotencyCache]:
    """Two bridge nodes on one Redis: each its own flights, one outcome store."""
    return (
        IdempotencyCache(WINDOW, redis=space.client, prefix=space.prefix),
        IdempotencyCache(WINDOW, redis=space.client, prefix=space.prefix),
    )


@pytest.mark.services
async def test_another_node_replays_the_outcome_without_running(space: RedisSpace) -> None:
    node1, node2 = two_nodes(space)
    fn = Calls()
    assert await node1.run(SID, "op-r", "/v1/a", fn) == fn.result
    assert await node2.run(SID, "op-r", "/v1/a", never) == fn.result
    error = BridgeError(404, ErrCode.RecordNotFoundError, "no such group", headers={"X-A": "b"})
    await raised(node1.run(SID, "op-e", "/v1/a", Calls(error=error)))
    assert fields(await raised(node2.run(SID, "op-e", "/v1/a", never))) == fields(error)
    sdk = SdkError(ErrCode.MutedInGroup, "MutedInGroup", "muted")
    await raised(node1.run(SID, "op-s", "/v1/a", Calls(error=sdk)))
    assert fields(await raised(node2.run(SID, "op-s", "/v1/a", never))) == fields(sdk)
    conflict = await raised(node2.run(SID, "op-r", "/v1/b", never))
    assert isinstance(conflict, BridgeError) and conflict.status == 409 and "/v1/a" in conflict.detail
    assert fn.runs == 1 and node2.replays == 3


@pytest.mark.services
async def test_new_owner_runs_a_call_that_was_still_running_elsewhere(space: RedisSpace) -> None:
    # No claims (see the module docstring): a call in flight on a node that may
    # have died is run by the retry; whichever outcome is recorded first stays.
    node1, node2 = two_nodes(space)
    gate = Gate(result="node1")
    first = asyncio.create_task(node1.run(SID, "op", "/v1/a", gate))
    await asyncio.wait_for(gate.started.wait(), DEADLINE)
    assert await node2.run(SID, "op", "/v1/a", Calls(result="node2")) == "node2"
    gate.release.set()
    assert await asyncio.wait_for(first, DEADLINE) == "node1"  # its own caller gets its own result
    assert await node1.run(SID, "op", "/v1/a", never) == "node2"


@pytest.mark.services
async def test_redis_layout(space: RedisSpace) -> None:
    cache = IdempotencyCache(WINDOW, redis=space.client, prefix=space.prefix)
    await cache.run(SID, "op-ok", "/v1/a", Calls(result={"x": [1]}))
    await raised(cache.run(SID, "op-sdk", "/v1/a", Calls(error=SdkError(ErrCode.NotPeersFriend, detail="d"))))
    long_op = "x" * 41
    err = BridgeError(409, ErrCode.GroupRequestHandled, "handled", headers={"X-Group": "g1"})
    await raised(cache.run(SID, long_op, "/v1/b", Calls(error=err)))
    hashed = hashlib.sha256(long_op.encode()).hexdigest()
    base = f"{space.prefix}idem:{SID}:"
    assert await space.keys() == sorted([base + "op-ok", base + "op-sdk", base + hashed])

    async def doc(key: str) -> Any:
        raw = await space.client.get(key)
        assert raw is not None
        return json.loads(raw)

    assert await doc(base + "op-ok") == {"path": "/v1/a", "status": "done", "kind": "result", "result": {"x": [1]}}
    assert await doc(base + "op-sdk") == {
        "path": "/v1/a",
        "status": "done",
        "kind": "error",
        "error": {
            "status": status_for(ErrCode.NotPeersFriend),
            "code": ErrCode.NotPeersFriend,
            "msg": "NotPeersFriend",
            "detail": "d",
            "sdk": True,
        },
    }
    assert (await doc(base + hashed))["error"] == {
        "status": 409,
        "code": ErrCode.GroupRequestHandled,
        "msg": "GroupRequestHandled",
        "detail": "handled",
        "headers": {"X-Group": "g1"},
        "sdk": False,
    }
    ttl = await space.client.pttl(base + "op-ok")
    assert WINDOW * 1000 - 5000 < ttl <= WINDOW * 1000


@pytest.mark.services
async def test_a_value_not_done_is_absent(space: RedisSpace) -> None:
    cache = IdempotencyCache(WINDOW, redis=space.client, prefix=space.prefix)
    assert isinstance(cache.store, RedisOutcomes)
    await space.client.set(cache.store.key(SID, "op"), json.dumps({"path": "/v1/a", "status": "running"}))
    fn = Calls()
    await cache.run(SID, "op", "/v1/a", fn)
    assert fn.runs == 1


async def test_redis_down_fails_the_call_with_503_and_does_not_run_it() -> None:
    client = create_redis(dead_redis_url())
    try:
        cache = IdempotencyCache(WINDOW, redis=client, prefix="unreachable:")
        err = await raised(asyncio.wait_for(cache.run(SID, "op", "/v1/a", never), DEADLINE))
        assert isinstance(err, BridgeError)
        assert (err.status, err.code, err.headers) == (503, REDIS_UNAVAILABLE_CODE, {"Retry-After": "1"})
        assert "idempotency lookup" in err.detail
        again = await raised(asyncio.wait_for(cache.run(SID, "op", "/v1/a", never), DEADLINE))
        assert isinstance(again, BridgeError) and again.status == 503  # no flight left behind to wait on
    finally:
        await client.aclose()


@pytest.mark.services
async def test_redis_down_while_recording_still_returns_the_outcome(
    space: RedisSpace, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    cache = IdempotencyCache(WINDOW, redis=space.client, prefix=space.prefix)

    async def refused(*args: Any, **kwargs: Any) -> Any:
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(space.client, "set", refused)
    fn = Calls()
    with caplog.at_level(logging.WARNING, "openim.bridge.idempotency"):
        assert await cache.run(SID, "op", "/v1/a", fn) == fn.result
        error = SdkError(ErrCode.NotPeersFriend)
        assert await raised(cache.run(SID, "op-2", "/v1/a", Calls(error=error))) is error
    warnings = [r for r in caplog.records if r.name == "openim.bridge.idempotency"]
    assert len(warnings) == 2 and all(r.levelno == logging.WARNING for r in warnings)
    assert "not recorded" in warnings[0].getMessage() and "Redis unavailable" in warnings[0].getMessage()
    assert SID not in warnings[0].getMessage() and SID[:8] in warnings[0].getMessage()
    assert await cache.run(SID, "op", "/v1/a", fn) == fn.result  # not recorded: a retry runs it again
    assert fn.runs == 2


# --- the recorded form -------------------------------------------------------------


def test_recorded_error_rebuilds_the_exception_type() -> None:
    bridge = RecordedError.of(BridgeError(401, ErrCode.TokenExpiredError, "expired", headers={"A": "1"}))
    assert bridge == RecordedError(401, ErrCode.TokenExpiredError, "TokenExpiredError", "expired", {"A": "1"}, False)
    sdk = RecordedError.of(SdkError(12345, detail="?"))
    assert sdk == RecordedError(status_for(12345), 12345, "UnknownError", "?", {}, True)
    assert type(sdk.exception()) is SdkError and type(bridge.exception()) is BridgeError


async def test_sql_outcomes_outlive_the_process(tmp_path: Path) -> None:
    """A retry that reaches the restarted node (same database) replays the first answer."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'bridge.db'}"
    fn = Calls()
    for _ in range(2):  # two processes, one after the other
        async with sql_stores(url) if fn.runs == 0 else _reopen(url) as stores:
            cache = IdempotencyCache(WINDOW, store=SqlOutcomes(stores.db, stores.writer, window=WINDOW))
            assert await cache.run(SID, "op-restart", "/v1/message/send_message", fn) == fn.result
    assert fn.runs == 1


def _reopen(url: str) -> contextlib.AbstractAsyncContextManager[SqlStores]:
    return open_sql_stores(BridgeSettings(database_url=url), sweep=False)
