"""Cluster mode with real processes: one imserver, three bridge nodes, one Redis, one PostgreSQL.

DESIGN.md "Embedded default and cluster mode": Redis holds the session
directory (session -> owner node, under a lease the owner renews) and each
session's event log, so any node serves any session's calls (forwarded to the
owner) and streams (resumable from any event id), and when an owner dies its
lease lapses and the next call re-creates the core on another node from the
checkpoint, with no event lost or repeated. The nodes run with 2 s leases and a
5 s drain (tests/support/cluster.py), so takeovers take seconds.

One cluster for the module; a test that kills or stops a node leaves it to the
``cluster`` fixture to start it again (same node id, same port) for the next.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.clock import wait_until
from tests.support.cluster import DEFAULT_ENV, Cluster, ClusterUser, Failover, finish, run_cluster
from tests.support.imadmin import admin_token
from tests.support.imadmin import call as im_call
from tests.support.sseclient import SseEvent

pytestmark = pytest.mark.services

DRAIN_SECONDS = float(DEFAULT_ENV["drain_seconds"])


@pytest.fixture(scope="module")
async def running_cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    async with run_cluster(tmp_path_factory.mktemp("cluster"), nodes=3) as cluster:
        yield cluster


@pytest.fixture
async def cluster(running_cluster: Cluster) -> AsyncIterator[Cluster]:
    await running_cluster.ensure_running()
    yield running_cluster
    await running_cluster.close_streams()


def _texts(events: list[SseEvent]) -> list[str]:
    return [e.json["data"]["textElem"]["content"] for e in events]


def _seqs(events: list[SseEvent]) -> list[int]:
    return [e.json["data"]["seq"] for e in events]


def _ids(events: list[SseEvent]) -> list[int]:
    ids = [e.id for e in events]
    assert None not in ids, ids
    return [i for i in ids if i is not None]


def _consecutive(ids: list[int], first: int) -> bool:
    return ids == list(range(first, first + len(ids)))


def _conversation(a_id: str, b_id: str) -> str:
    return f"si_{min(a_id, b_id)}_{max(a_id, b_id)}"


async def _send_text(user: ClusterUser, node: int, to: str, text: str) -> dict[str, Any]:
    msg = await user.call(node, "/v1/message/create_text_message", {"text": text})
    sent: dict[str, Any] = await user.call(node, "/v1/message/send_message", {"message": msg, "recvID": to})
    return sent


async def _history(user: ClusterUser, node: int, conversation_id: str) -> list[dict[str, Any]]:
    """The whole conversation, oldest first, paging back 100 at a time (as tests/e2e/test_messaging.py)."""
    seen: list[dict[str, Any]] = []
    start = ""
    while True:
        page = await user.call(
            node,
            "/v1/message/get_advanced_history_message_list",
            {"conversationID": conversation_id, "startClientMsgID": start, "count": 100},
        )
        seen = page["messageList"] + seen
        if page["isEnd"] or not page["messageList"]:
            return seen
        start = page["messageList"][0]["clientMsgID"]


async def test_calls_alternating_between_nodes_see_one_session(cluster: Cluster) -> None:
    """Calls for one session through different nodes reach its one owner and see one state."""
    a_id, b_id = await cluster.new_users(2)
    a = await cluster.login(a_id, node=1)
    b = await cluster.login(b_id, node=2)
    lease_a = await cluster.lease(a.session_id)
    lease_b = await cluster.lease(b.session_id)
    assert lease_a is not None and lease_a[1] == "node-1", f"the login node owns the session: {lease_a}"
    assert lease_b is not None and lease_b[1] == "node-2", f"the login node owns the session: {lease_b}"
    owners: list[tuple[int, str] | None] = []

    async def sample_owner() -> None:
        owners.append(await cluster.lease(a.session_id))

    # node 2 (not the owner): A applies to be B's friend.
    r = await a.post(2, "/v1/friend/add_friend", {"toUserID": b_id, "reqMsg": "via node 2"}, op="op-cl-add")
    assert r.status_code == 200, r.text
    assert r.json() == {"operationID": "op-cl-add", "data": None}
    await sample_owner()
    # node 1 (the owner): the application made through node 2 is there.
    sent = await a.call(1, "/v1/friend/get_friend_application_list_as_applicant", {})
    assert [(x["toUserID"], x["reqMsg"], x["handleResult"]) for x in sent] == [(b_id, "via node 2", 0)]
    await sample_owner()
    # node 2 again, then node 3.
    assert (await a.call(2, "/v1/user/get_self_user_info"))["userID"] == a_id
    await sample_owner()
    assert (await a.call(3, "/v1/user/get_self_user_info"))["userID"] == a_id
    await sample_owner()
    # B (owned by node 2), asked through node 1, received it.
    recv = await b.call(1, "/v1/friend/get_friend_application_list_as_recipient", {})
    assert [(x["fromUserID"], x["reqMsg"], x["handleResult"]) for x in recv] == [(a_id, "via node 2", 0)]

    # The event the forwarded call caused carries its operationID; A's stream from the start of its
    # log, through node 3, which has never seen A.
    sa = await a.stream(3, last_event_id=0)
    (ev,) = await sa.wait_for("OnFriendApplicationAdded")
    assert ev.json["operationID"] == "op-cl-add" and ev.json["data"]["toUserID"] == b_id

    infos = [await a.session(n) for n in (1, 2, 1, 3)]
    await sample_owner()
    assert [(i["sessionID"], i["userID"], i["platformID"], i["state"]) for i in infos] == [
        (a.session_id, a_id, 5, "live")
    ] * 4
    # One owner the whole time: node 1, under the fence it got at login (the lease never moved).
    assert owners == [lease_a] * len(owners)
    assert await cluster.lease(b.session_id) == lease_b


async def test_stream_resumed_on_other_node_misses_nothing(cluster: Cluster) -> None:
    """A stream closed on node 1 and resumed with Last-Event-ID on node 2 gets exactly what it missed."""
    a_id, b_id = await cluster.new_users(2)
    a = await cluster.login(a_id, node=1)
    b = await cluster.login(b_id, node=2)

    s1 = await a.stream(1)
    for i in range(3):
        await _send_text(b, 2, a_id, f"before{i}")
    assert _texts(await s1.wait_for("OnRecvNewMessage", count=3)) == ["before0", "before1", "before2"]
    assert await finish(s1) is None  # closed by us
    ids1 = _ids(s1.events)
    assert _consecutive(ids1, ids1[0]), ids1
    seen = ids1[-1]

    # While no stream is open, B sends four more.
    for i in range(4):
        await _send_text(b, 2, a_id, f"after{i}")

    s2 = await a.stream(2, last_event_id=seen)
    got = await s2.wait_for("OnRecvNewMessage", count=4, timeout=15)
    assert _texts(got) == ["after0", "after1", "after2", "after3"], "the missed ones, in order, none of before*"
    upto = (await a.session(2))["lastEventID"]
    await wait_until(lambda: bool(s2.events) and (s2.events[-1].id or 0) >= upto, what=f"event {upto} on s2")
    replayed = [e for e in s2.events if (e.id or 0) <= upto]
    assert _ids(replayed) == list(range(seen + 1, upto + 1)), "every id after the last one seen, no gap, no repeat"
    assert not s2.named("reset")

    # Node 1 reads the same log: a long-poll there returns the same events, id for id.
    r = await a.get(1, "/v1/events/poll", {"after": seen, "limit": 1000})
    assert r.status_code == 200, r.text
    polled = [(e["id"], e["event"], e["data"]) for e in r.json()["data"]["events"] if e["id"] <= upto]
    assert polled == [(e.id, e.event, e.json) for e in replayed]


N_MESSAGES = 1000
KILL_AFTER = 300


async def test_kill_owner_mid_conversation(cluster: Cluster) -> None:
    """SIGKILL the node owning both ends of a 1,000-message conversation, 300 messages in.

    A sends through node 1; a call the kill interrupts (or that finds node 1
    gone) is retried unchanged -- same operationID, same message, so the same
    clientMsgID -- on node 2 (then 3), and retried after a 503 while node 1's
    lease has not lapsed yet. B's stream breaks with node 1 and is resumed on
    node 2 from the last event id B got, and an open stream keeps B's session
    live, so its core must come back on a live node. In the end: every message
    reached B exactly once, in order, and the upstream holds each once (a retry
    that node 1 had already run was not run again).
    """
    a_id, b_id = await cluster.new_users(2)
    a = await cluster.login(a_id, node=1)
    b = await cluster.login(b_id, node=1)
    leases_before = [await cluster.lease(a.session_id), await cluster.lease(b.session_id)]
    assert [x and x[1] for x in leases_before] == ["node-1", "node-1"], leases_before
    conv = _conversation(a_id, b_id)

    sb1 = await b.stream(1)
    sender: Failover = a.failover([1, 2, 3], timeout=30.0)
    sent: list[dict[str, Any]] = []

    async def send(text: str, tag: str) -> None:
        msg = await sender.call("/v1/message/create_text_message", {"text": text}, op=f"op-{a_id}-create-{tag}")
        body = {"message": msg, "recvID": b_id}
        sent.append(await sender.call("/v1/message/send_message", body, op=f"op-{a_id}-send-{tag}"))

    async def send_all() -> None:
        for i in range(N_MESSAGES):
            await send(f"m{i:04d}", f"{i:04d}")

    task = asyncio.create_task(send_all())
    try:
        await wait_until(lambda: len(sent) >= KILL_AFTER or task.done(), timeout=120, what=f"{KILL_AFTER} sent")
        if task.done():
            task.result()  # the sender failed before the kill: show why
        await cluster.kill(1)

        await sb1.wait_ended(timeout=10)
        await finish(sb1)
        ids1 = _ids(sb1.events)
        assert ids1 and _consecutive(ids1, ids1[0]), ids1
        sb2 = await b.resume(2, last_event_id=ids1[-1], timeout=30)

        await asyncio.wait_for(task, 240)
        # One more message after all of them: when it arrives, anything delivered twice has shown up before it.
        await send("end", "end")
        expected = [f"m{i:04d}" for i in range(N_MESSAGES)] + ["end"]
        first = len(sb1.named("OnRecvNewMessage"))
        await sb2.wait_for("OnRecvNewMessage", lambda d: d["data"]["textElem"]["content"] == "end", timeout=120)
    finally:
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    assert sender.moved, "the kill interrupted the sender, which moved to another node"
    assert all(node == 1 for _, node, _ in sender.moved[:1]), sender.moved
    assert len(sent) == N_MESSAGES + 1
    assert len({s["clientMsgID"] for s in sent}) == len({s["serverMsgID"] for s in sent}) == N_MESSAGES + 1

    got = sb1.named("OnRecvNewMessage") + sb2.named("OnRecvNewMessage")
    texts = _texts(got)
    duplicated = sorted({t for t in texts if texts.count(t) > 1})
    missing = sorted(set(expected) - set(texts))
    assert texts == expected, (
        f"{len(texts)} received, {first} before the kill; twice: {duplicated[:10]}; missing: {missing[:10]}"
    )
    assert _seqs(got) == list(range(1, N_MESSAGES + 2)), "seq 1..1001: one upstream message per send"
    assert _consecutive(_ids(sb2.events), ids1[-1] + 1), "the resumed stream starts right after B's last event"
    assert not sb2.named("reset")

    # The upstream has exactly 1,001 messages in the conversation: a retried send was not sent twice.
    admin = await admin_token(cluster.http, cluster.api_url)
    seqs = await im_call(
        cluster.http,
        cluster.api_url,
        "/msg/get_conversations_has_read_and_max_seq",
        {"userID": b_id, "conversationIDs": [conv]},
        admin,
    )
    assert seqs["seqs"][conv]["maxSeq"] == N_MESSAGES + 1
    history = await _history(a, sender.node, conv)
    assert [m["textElem"]["content"] for m in history] == expected
    assert [m["seq"] for m in history] == list(range(1, N_MESSAGES + 2))

    # Both sessions moved off the dead node, each under a new, higher fence.
    for user, before in zip((a, b), leases_before, strict=True):
        after = await cluster.lease(user.session_id)
        assert before is not None and after is not None, (before, after)
        assert after[1] in ("node-2", "node-3") and after[0] > before[0], (before, after)


async def test_sigterm_drain(cluster: Cluster) -> None:
    """SIGTERM: a call in flight completes, streams end, the process exits 0 promptly and hands its
    sessions over, so the next call through another node succeeds at once and a resumed stream
    misses nothing."""
    a_id, b_id, c_id = await cluster.new_users(3)
    a = await cluster.login(a_id, node=1)
    c = await cluster.login(c_id, node=1)
    b = await cluster.login(b_id, node=2)
    lease_a = await cluster.lease(a.session_id)
    assert lease_a is not None and lease_a[1] == "node-1", lease_a

    sa = await a.stream(1)
    await _send_text(b, 2, a_id, "d0")
    await sa.wait_for("OnRecvNewMessage")

    # C's long-poll on node 1 waits for an event that does not come: the call in flight at SIGTERM.
    c_last = (await c.session(1))["lastEventID"]
    poll = await c.poll_in_flight(1, after=c_last, wait=2.0, op="op-drain-poll")
    took = await cluster.stop(1, timeout=DRAIN_SECONDS + 10)  # asserts exit code 0
    response = await poll
    assert response.status_code == 200, response.text
    assert response.json()["operationID"] == "op-drain-poll"
    assert took < DRAIN_SECONDS + 3, f"SIGTERM to exit took {took:.1f}s (drain is {DRAIN_SECONDS}s)"

    await sa.wait_ended(timeout=5)
    assert await finish(sa) is None, "the drain ended the stream's response properly, it did not drop it"
    seen = _ids(sa.events)[-1]
    # The node released its leases on the way out: nothing to wait out before another node takes over.
    after = await cluster.lease(a.session_id)
    assert after is None or after[1] != "node-1", after

    await _send_text(b, 2, a_id, "d1")  # reaches A while no node runs A's core
    r = await a.post(2, "/v1/user/get_self_user_info", op="op-after-drain")
    assert r.status_code == 200, f"first call after the drain: {r.status_code} {r.text}"
    assert r.json()["data"]["userID"] == a_id

    sa2 = await a.stream(2, last_event_id=seen)
    (d1,) = await sa2.wait_for("OnRecvNewMessage", timeout=15)
    assert _texts(sa.named("OnRecvNewMessage")) + _texts([d1]) == ["d0", "d1"]
    assert _consecutive(_ids(sa2.events), seen + 1) and not sa2.named("reset")
