"""The bridge with ``BRIDGE_REDIS_URL``: sessions and events live in the machine's Redis.

A real imserver and bridge on loopback, as in the other e2e tests, with the
session directory and event logs switched to Redis (one private key prefix per
test, removed afterwards). Needs Redis at 127.0.0.1:6379: skipped without it,
a failure in CI (tests/support/redis.py).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bridge.eventlog.redis import RedisEventLog
from bridge.redis_client import REDIS_UNAVAILABLE_CODE
from bridge.sessions import hash_token
from bridge.sessions.redis import RedisSessionDirectory
from tests.support.redis import REDIS_URL, RedisSpace, dead_redis_url, redis_space
from tests.support.stack import Stack, run_stack

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
async def space() -> AsyncIterator[RedisSpace]:
    async with redis_space() as space:
        yield space


@pytest.fixture(scope="module")
async def redis_stack(tmp_path_factory: pytest.TempPathFactory, space: RedisSpace) -> AsyncIterator[Stack]:
    tmp: Path = tmp_path_factory.mktemp("redis-stack")
    async with run_stack(tmp, redis_url=REDIS_URL, redis_prefix=space.prefix) as stack:
        yield stack


async def test_the_stores_are_the_redis_ones(redis_stack: Stack) -> None:
    services = redis_stack.bridge.app.state.services
    assert isinstance(services.events, RedisEventLog)
    assert isinstance(services.pool.directory, RedisSessionDirectory)


async def test_login_friend_events_and_resume_through_redis(redis_stack: Stack, space: RedisSpace) -> None:
    stack = redis_stack
    a_id, b_id = await stack.new_users(2)
    a, b = await stack.login(a_id), await stack.login(b_id)

    # The session record and its token index are in Redis (only the token's hash).
    record = await space.hash(f"{space.prefix}s:{a.session_id}")
    assert json.loads(record["user_id"]) == a_id
    assert await space.client.get(f"{space.prefix}tok:{hash_token(a.session_token)}") == a.session_id.encode()
    assert a.session_token not in "".join(record.values())

    sa = await a.stream()
    await b.call("/v1/friend/add_friend", {"toUserID": a_id, "reqMsg": "hi"}, op="op-redis-add")
    (applied,) = await sa.wait_for("OnFriendApplicationAdded")
    assert applied.json["data"]["fromUserID"] == b_id
    seen = sa.events[-1].id
    assert seen is not None
    await sa.close()

    # While A's stream is closed, A accepts: OnFriendAdded and more are logged, unseen.
    await a.call("/v1/friend/accept_friend_application", {"toUserID": b_id}, op="op-redis-accept")
    missed_upto = (await a.session())["lastEventID"]
    assert missed_upto > seen

    # Every event the stream sent or will replay is an entry of A's Redis Stream, id for id.
    entries = await space.stream(f"{space.prefix}ev:{a.session_id}")
    assert [eid for eid, _ in entries] == [f"{n}-0" for n in range(1, len(entries) + 1)]
    assert len(entries) >= missed_upto
    by_id = {int(eid.partition("-")[0]): fields for eid, fields in entries}
    assert by_id[applied.id or 0]["e"] == "OnFriendApplicationAdded"

    s2 = await a.stream(last_event_id=seen)
    try:
        await s2.wait_for("OnFriendAdded")
        ids = [e.id for e in s2.events]
        assert ids[0] == seen + 1 and not s2.named("reset")
        assert [i for i in ids if i is not None and i <= missed_upto] == list(range(seen + 1, missed_upto + 1))
        # Read the Stream again after: what the stream sent was logged before it was sent,
        # and later pushes (the peer's side of the accept) may have logged more meanwhile.
        sent = list(s2.events)
        by_id = {
            int(eid.partition("-")[0]): fields for eid, fields in await space.stream(f"{space.prefix}ev:{a.session_id}")
        }
        for ev in sent:
            assert ev.id is not None
            assert (by_id[ev.id]["e"], by_id[ev.id]["d"]) == (ev.event, ev.data)
    finally:
        await s2.close()


async def test_long_poll_and_logout_through_redis(redis_stack: Stack, space: RedisSpace) -> None:
    stack = redis_stack
    a_id, b_id = await stack.new_users(2)
    a, b = await stack.login(a_id), await stack.login(b_id)
    start = (await a.session())["lastEventID"]
    await b.call("/v1/friend/add_friend", {"toUserID": a_id})
    url = f"{stack.bridge.url}/v1/events/poll"
    names: list[str] = []
    after = start
    while "OnFriendApplicationAdded" not in names:
        r = await stack.http.get(url, params={"after": after, "wait": 5}, headers=a.auth)
        body = r.json()["data"]
        assert body["events"], "the poll waited 5 s without the application arriving"
        names += [e["event"] for e in body["events"]]
        after = body["lastEventID"]

    stream = await a.stream()
    assert (await a.post("/v1/logout")).status_code == 200
    (closed,) = await stream.wait_for("sessionClosed")
    assert closed.json["reason"] == "logout"
    await stream.wait_ended()
    r = await stack.http.get(f"{stack.bridge.url}/v1/session", headers=a.auth)
    assert r.status_code == 401 and r.json()["errCode"] == 10101  # LoginOutError, from the Redis record
    assert await space.client.hget(f"{space.prefix}live", f"5:{a_id}") is None
    assert await space.client.pttl(f"{space.prefix}s:{a.session_id}") > 0  # remembered for a while, then gone


async def test_unreachable_redis_answers_503_problem(tmp_path: Path) -> None:
    async with run_stack(tmp_path, redis_url=dead_redis_url()) as stack:
        (a_id,) = await stack.new_users(1)
        token = await stack.token(a_id)
        r = await stack.http.post(
            f"{stack.bridge.url}/v1/login",
            json={"userID": a_id, "token": token, "platformID": 5},
            headers={"operationID": "op-no-redis"},
        )
        assert r.status_code == 503
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.headers["retry-after"] == "1"
        body = r.json()
        assert body["errCode"] == REDIS_UNAVAILABLE_CODE
        assert "Redis unavailable" in body["detail"] and body["operationID"] == "op-no-redis"
        r = await stack.http.get(f"{stack.bridge.url}/v1/session", headers={"Authorization": "Bearer x"})
        assert r.status_code == 503
