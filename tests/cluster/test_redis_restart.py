"""Cluster mode across a Redis restart: fail fast while it is down, recover by itself after.

Two bridge nodes on a private ``redis-server`` (tests/support/cluster.py
PrivateRedis: append-only file, fsync always, so a restart keeps every key),
never the machine's Redis. While Redis is down every call that needs it
answers at once with 503 problem+json, errCode 500 (OpenIM's
ErrInternalServer, what its own servers answer when their Redis fails) and a
detail naming Redis; ``/readyz`` says 503 so a load balancer stops sending
traffic; no process crashes. When Redis is back the same session token works
again without a new login, and the stream resumes where it left off.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.support.cluster import Cluster, ClusterUser, PrivateRedis, finish, run_cluster, until
from tests.support.sseclient import SseEvent

pytestmark = pytest.mark.services

#: A failing call must come back within this (fail fast; the bridge's own bound is a few seconds).
FAIL_FAST_SECONDS = 6.0
#: errCode of a Redis outage: OpenIM's ErrInternalServer (bridge.redis_client.REDIS_UNAVAILABLE_CODE).
REDIS_DOWN_ERRCODE = 500


@pytest.fixture(scope="module")
async def private_redis(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[PrivateRedis]:
    redis = PrivateRedis(tmp_path_factory.mktemp("redis"))
    try:
        await redis.start()
        yield redis
    finally:
        await redis.shutdown()


@pytest.fixture(scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory, private_redis: PrivateRedis) -> AsyncIterator[Cluster]:
    async with run_cluster(tmp_path_factory.mktemp("cluster"), nodes=2, redis_url=private_redis.url) as cluster:
        yield cluster
        if not private_redis.running:  # a failed test left it stopped: let the nodes shut down normally
            await private_redis.start()


def _texts(events: list[SseEvent]) -> list[str]:
    return [e.json["data"]["textElem"]["content"] for e in events]


async def _send_text(user: ClusterUser, node: int, to: str, text: str) -> None:
    msg = await user.call(node, "/v1/message/create_text_message", {"text": text})
    await user.call(node, "/v1/message/send_message", {"message": msg, "recvID": to})


async def test_redis_restart(cluster: Cluster, private_redis: PrivateRedis) -> None:
    a_id, b_id, c_id = await cluster.new_users(3)
    a = await cluster.login(a_id, node=1)
    b = await cluster.login(b_id, node=2)
    c_token = await cluster.token(c_id)  # the imserver does not need Redis; C logs in during the outage

    sa = await a.stream(1)
    await _send_text(b, 2, a_id, "r0")
    await sa.wait_for("OnRecvNewMessage")
    assert (await a.call(2, "/v1/user/get_self_user_info"))["userID"] == a_id
    assert await finish(sa) is None
    seen = sa.events[-1].id
    assert seen is not None
    pids = [node.pid for node in cluster.nodes]

    await private_redis.stop()
    try:
        http = cluster.http
        attempts: list[tuple[str, str | None, Callable[[], Awaitable[httpx.Response]]]] = [
            ("call through the owner", "op-rd-1", lambda: a.post(1, "/v1/user/get_self_user_info", op="op-rd-1")),
            ("call through node 2", "op-rd-2", lambda: a.post(2, "/v1/user/get_self_user_info", op="op-rd-2")),
            ("session info", None, lambda: a.get(2, "/v1/session", timeout=10)),
            (
                "login",
                "op-rd-login",
                lambda: http.post(
                    f"{cluster.url(1)}/v1/login",
                    json={"userID": c_id, "token": c_token, "platformID": 5},
                    headers={"operationID": "op-rd-login"},
                ),
            ),
            ("stream", None, lambda: a.get(2, "/v1/events", timeout=10)),
            ("long-poll", None, lambda: a.get(1, "/v1/events/poll", {"after": seen, "wait": 1}, timeout=10)),
        ]
        for what, op, request in attempts:
            started = time.monotonic()
            try:
                r = await request()
            except httpx.TimeoutException:
                raise AssertionError(f"{what}: no answer while Redis is down") from None
            took = time.monotonic() - started
            assert took < FAIL_FAST_SECONDS, f"{what}: answered after {took:.1f}s"
            assert r.status_code == 503, f"{what}: {r.status_code} {r.text}"
            assert r.headers["content-type"].startswith("application/problem+json"), (what, r.headers)
            assert r.headers.get("retry-after"), (what, r.headers)
            body: dict[str, Any] = r.json()
            assert body["errCode"] == REDIS_DOWN_ERRCODE, (what, body)
            assert "Redis" in body["detail"], (what, body)
            if op is not None:
                assert body["operationID"] == op, (what, body)
        for n in (1, 2):
            ready = await http.get(f"{cluster.url(n)}/readyz", timeout=FAIL_FAST_SECONDS)
            assert ready.status_code == 503, f"node {n} /readyz while Redis is down: {ready.status_code} {ready.text}"
            assert (await http.get(f"{cluster.url(n)}/healthz")).status_code == 200, "the process is up"
        assert [node.running for node in cluster.nodes] == [True, True]
    finally:
        await private_redis.start()

    # The restart kept the data (append-only file): A's session record is still there.
    assert await cluster.redis.client.exists(f"{cluster.prefix}s:{a.session_id}") == 1

    # Service resumes by itself, same session token, no new login: through each node, then B too.
    async def answers(user: ClusterUser, node: int) -> bool:
        return (await user.post(node, "/v1/user/get_self_user_info")).status_code == 200

    await until(lambda: answers(a, 1), "A's call through node 1 to succeed again", timeout=20, interval=0.2)
    assert (await a.call(2, "/v1/user/get_self_user_info"))["userID"] == a_id
    await until(lambda: answers(b, 2), "B's call through node 2 to succeed again", timeout=20, interval=0.2)
    for n in (1, 2):

        async def is_ready(n: int = n) -> bool:
            return (await cluster.http.get(f"{cluster.url(n)}/readyz")).status_code == 200

        await until(is_ready, f"node {n} /readyz to answer 200 again", timeout=10, interval=0.2)
    assert [node.pid for node in cluster.nodes] == pids and all(node.running for node in cluster.nodes)

    # The stream resumes from the last event A saw: the new message once, r0 not again, no gap.
    sa2 = await a.stream(2, last_event_id=seen)
    await _send_text(b, 2, a_id, "r1")
    got = await sa2.wait_for("OnRecvNewMessage", timeout=15)
    assert _texts(got) == ["r1"]
    ids = [e.id for e in sa2.events]
    assert ids == list(range(seen + 1, seen + 1 + len(ids))) and not sa2.named("reset")
