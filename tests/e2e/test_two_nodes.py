"""Two bridge nodes in this process on one Redis: forwarding, adoption, fencing, marks.

The process-level cluster tests (tests/cluster/) kill and restart real
processes; these look inside the nodes (pools, leases, the Redis keys) to pin
down each mechanism of issue #6 on its own:

- a call that lands on the node that does not run the session is forwarded
  to the one that does, and answered as if sent there;
- a parked session (lease handed back) is adopted by whichever node is asked;
- an owner that lost its lease cannot publish as owner: when the new owner's
  connection kicks it, its OnKickedOffline is refused and the session lives on;
- a core revived elsewhere after a crash resumes after the last message its
  event log marks as delivered, not from its older checkpoint.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.oimws.client import OimwsClient, ws_url
from tests.support.clock import MovableClock, wait_until
from tests.support.redis import REDIS_URL, RedisSpace, redis_space
from tests.support.stack import Bridge, BridgeUser, Stack, run_bridge, run_stack
from tests.support.wait import until

pytestmark = pytest.mark.services


@dataclass
class TwoNodes:
    stack: Stack  # node 1 is stack.bridge
    node2: Bridge
    space: RedisSpace

    @property
    def node1(self) -> Bridge:
        return self.stack.bridge

    async def on(self, node: Bridge, user: BridgeUser, path: str, body: Any = None, op: str | None = None) -> Any:
        headers = dict(user.auth)
        if op:
            headers["operationID"] = op
        return await self.stack.http.post(f"{node.url}{path}", json=body, headers=headers)

    async def lease(self, session_id: str) -> tuple[int, str] | None:
        raw = await self.space.client.get(f"{self.space.prefix}lease:{session_id}")
        if raw is None:
            return None
        fence, _, node = (raw.decode() if isinstance(raw, bytes) else raw).partition(" ")
        return int(fence), node


@pytest.fixture(scope="module")
async def nodes(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TwoNodes]:
    tmp: Path = tmp_path_factory.mktemp("two-nodes")
    async with redis_space() as space:
        # Leases long enough that a loaded machine (both nodes share this event loop) renews in time.
        common = {"redis_url": REDIS_URL, "redis_prefix": space.prefix, "lease_seconds": 6.0}
        async with (
            run_stack(tmp / "n1", node_id=f"n1-{uuid.uuid4().hex[:6]}", **common) as stack,
            run_bridge(
                stack.api_url,
                stack.ws_url,
                tmp / "n2",
                MovableClock(wall=False),
                node_id=f"n2-{uuid.uuid4().hex[:6]}",
                **common,
            ) as node2,
        ):
            yield TwoNodes(stack, node2, space)


async def crash_owner(nodes: TwoNodes, session_id: str) -> None:
    """What a kill -9 of node 1 does to one session: its core stops without
    saving (the checkpoint may be older than the log) and its lease lapses."""
    handle = nodes.node1.pool.handle(session_id)
    assert handle is not None and handle.core is not None
    await handle.core.abandon()
    handle.core, handle.fence = None, None
    nodes.node1.pool._handles.pop(session_id)
    await nodes.space.client.delete(f"{nodes.space.prefix}lease:{session_id}")


def text_message(text: str) -> dict[str, Any]:
    return {"text": text}


async def send_text(nodes: TwoNodes, node: Bridge, sender: BridgeUser, to: str, text: str) -> dict[str, Any]:
    r = await nodes.on(node, sender, "/v1/message/create_text_message", text_message(text))
    assert r.status_code == 200, r.text
    r = await nodes.on(node, sender, "/v1/message/send_message", {"message": r.json()["data"], "recvID": to})
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def test_a_call_on_the_other_node_is_forwarded_to_the_owner(nodes: TwoNodes) -> None:
    (a_id,) = await nodes.stack.new_users(1)
    a = await nodes.stack.login(a_id)  # on node 1
    owner = nodes.node1.pool.handle(a.session_id)
    assert owner is not None and owner.state == "live"
    assert await nodes.lease(a.session_id) == (owner.fence, nodes.node1.settings.node_id)

    r = await nodes.on(nodes.node2, a, "/v1/user/get_self_user_info", op="op-forwarded")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["userID"] == a_id
    assert r.json()["operationID"] == "op-forwarded" and r.headers["operationID"] == "op-forwarded"
    assert nodes.node2.pool.handle(a.session_id) is None  # node 2 started nothing

    r = await nodes.stack.http.get(f"{nodes.node2.url}/v1/session", headers=a.auth)
    assert r.status_code == 200 and r.json()["data"]["state"] == "live"  # the owner's view
    assert r.json()["data"]["node"] == nodes.node1.settings.node_id

    # Bad input is the owner's answer too, word for word.
    r = await nodes.on(nodes.node2, a, "/v1/friend/add_friend", {"toUserID": 5})
    assert r.status_code == 400 and "toUserID" in r.json()["detail"]


async def test_a_parked_session_is_adopted_by_the_node_that_is_asked(nodes: TwoNodes) -> None:
    (a_id,) = await nodes.stack.new_users(1)
    a = await nodes.stack.login(a_id)
    first = await nodes.lease(a.session_id)
    assert first is not None
    handle = nodes.node1.pool.handle(a.session_id)
    assert handle is not None
    assert await nodes.node1.pool.parking.park(handle) == 1
    assert await nodes.lease(a.session_id) is None  # parking hands the lease back

    adopted = nodes.node2.pool.adopted_total
    r = await nodes.on(nodes.node2, a, "/v1/user/get_self_user_info")
    assert r.status_code == 200, r.text
    second = await nodes.lease(a.session_id)
    assert second is not None and second[1] == nodes.node2.settings.node_id and second[0] > first[0]
    assert nodes.node2.pool.adopted_total == adopted + 1
    revived = nodes.node2.pool.handle(a.session_id)
    assert revived is not None and revived.state == "live"

    # Node 1's parked handle is stale now: asked there, the call goes to node 2,
    # and node 1 forgets the handle instead of starting a second core.
    r = await nodes.on(nodes.node1, a, "/v1/user/get_self_user_info")
    assert r.status_code == 200, r.text
    assert nodes.node1.pool.handle(a.session_id) is None


async def test_an_owner_that_lost_its_lease_cannot_end_the_session(nodes: TwoNodes) -> None:
    a_id, b_id = await nodes.stack.new_users(2)
    a = await nodes.stack.login(a_id)
    old = nodes.node1.pool.handle(a.session_id)
    assert old is not None and old.core is not None
    # Node 1 stalls past its lease (we delete it, as its expiry would) and node 2 is asked.
    await nodes.space.client.delete(f"{nodes.space.prefix}lease:{a.session_id}")
    r = await nodes.on(nodes.node2, a, "/v1/user/get_self_user_info")
    assert r.status_code == 200, r.text
    # Node 2's connection kicked node 1's: node 1 heard OnKickedOffline, but as a
    # fenced-out writer it dropped its core instead of ending the session.
    await wait_until(lambda: nodes.node1.pool.handle(a.session_id) is None, 10, "node 1 to drop the core")
    log = await nodes.node2.app.state.services.events.read_after(a.session_id, 0)
    names = [e.event for e in log.events]
    assert "OnKickedOffline" not in names and "sessionClosed" not in names
    r = await nodes.on(nodes.node2, a, "/v1/friend/add_friend", {"toUserID": b_id, "reqMsg": "still here"})
    assert r.status_code == 200, r.text
    lease = await nodes.lease(a.session_id)
    assert lease is not None and lease[1] == nodes.node2.settings.node_id


async def test_a_core_revived_after_a_crash_resumes_after_what_the_log_delivered(nodes: TwoNodes) -> None:
    a_id, b_id = await nodes.stack.new_users(2)
    a, b = await nodes.stack.login(a_id), await nodes.stack.login(b_id)
    for i in range(3):
        await send_text(nodes, nodes.node1, a, b_id, f"before-{i}")
    events = nodes.node1.app.state.services.events

    async def received() -> list[str]:
        log = await events.read_after(b.session_id, 0)
        return [e.data for e in log.events if e.event == "OnRecvNewMessage"]

    await wait_for_count(received, 3)
    marks = await events.delivered(b.session_id)
    assert list(marks.values()) == [3]

    await crash_owner(nodes, b.session_id)
    await nodes.node1.checkpoints.delete(b_id, 5)  # worst case: no checkpoint at all survived

    for i in range(2):
        await send_text(nodes, nodes.node1, a, b_id, f"after-{i}")
    r = await nodes.on(nodes.node2, b, "/v1/user/get_self_user_info")  # node 2 adopts B
    assert r.status_code == 200, r.text
    await wait_for_count(received, 5)
    texts = [_content(d) for d in await received()]
    assert texts == ["before-0", "before-1", "before-2", "after-0", "after-1"]


async def test_a_senders_own_messages_do_not_come_back_after_a_crash(nodes: TwoNodes) -> None:
    """Own messages are delivered silently (no event); their marks still count on revival."""
    a_id, b_id = await nodes.stack.new_users(2)
    a = await nodes.stack.login(a_id)
    store = nodes.node1.checkpoints
    stale = await store.load(a_id, 5)  # A's checkpoint before it sent anything
    assert stale is not None
    for i in range(3):
        await send_text(nodes, nodes.node1, a, b_id, f"mine-{i}")
    events = nodes.node1.app.state.services.events
    conv = f"si_{min(a_id, b_id)}_{max(a_id, b_id)}"

    async def marked() -> list[str]:
        return [str(seq) for c, seq in (await events.delivered(a.session_id)).items() if c == conv]

    await wait_for_count(marked, 1)
    assert await events.delivered(a.session_id) == {conv: 3}

    await crash_owner(nodes, a.session_id)
    await store.save(a_id, 5, stale)  # and its checkpoint from before the sends

    before = await events.last_id(a.session_id)
    r = await nodes.on(nodes.node2, a, "/v1/user/get_self_user_info")  # node 2 revives A
    assert r.status_code == 200, r.text
    await send_text(nodes, nodes.node2, a, b_id, "after")  # its echo is the last thing A's core applies

    async def marked_after() -> list[str]:
        return [str(seq) for c, seq in (await events.delivered(a.session_id)).items() if c == conv and seq == 4]

    await wait_for_count(marked_after, 1)
    later = (await events.read_after(a.session_id, before)).events
    assert [e for e in later if e.event == "OnRecvNewMessage"] == []


def _content(data: str) -> str:
    return str(json.loads(data)["data"]["textElem"]["content"])


async def wait_for_count(read: Callable[[], Awaitable[list[str]]], n: int, timeout: float = 15.0) -> None:
    """Poll the log (a Redis read) until it holds `n` items, or fail after `timeout`."""

    async def enough() -> bool:
        return len(await read()) >= n

    await until(enough, f"{n} items in the log", timeout)


async def test_a_socket_login_waits_for_a_dead_owners_lease_to_lapse(nodes: TwoNodes) -> None:
    """oimws: a socket reconnecting to another node after its owner died logs in there."""
    (a_id,) = await nodes.stack.new_users(1)
    token = await nodes.stack.token(a_id)
    first = await OimwsClient.open(ws_url(nodes.node1.url), a_id, token=token)
    try:
        assert (await first.login(token)).err_code == 0
    finally:
        await first.close()
    (sid,) = [h.session_id for h in nodes.node1.pool._handles.values() if h.record.user_id == a_id]
    # The owner "dies": its lease now names a node that will never renew it.
    await nodes.space.client.set(f"{nodes.space.prefix}lease:{sid}", "999999999 ghost-node", px=1500)
    second = await OimwsClient.open(ws_url(nodes.node2.url), a_id, token=token)
    try:
        answer = await second.login(token)
        assert answer.err_code == 0, answer
        lease = await nodes.lease(sid)
        assert lease is not None and lease[1] == nodes.node2.settings.node_id
        assert (await second.call("GetSelfUserInfo"))["userID"] == a_id
    finally:
        await second.close()


async def test_metrics_show_each_nodes_part(nodes: TwoNodes) -> None:
    """Run after the tests above in this module: node 1 lost a lease, node 2 adopted sessions."""
    scraped = {}
    for name, node in (("n1", nodes.node1), ("n2", nodes.node2)):
        r = await nodes.stack.http.get(f"{node.url}/metrics")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        scraped[name] = {
            line.split(" ")[0]: float(line.split(" ")[1])
            for line in r.text.splitlines()
            if line and not line.startswith("#")
        }
    assert scraped["n1"]["openim_bridge_leases_lost_total"] >= 1
    assert scraped["n2"]["openim_bridge_adopted_total"] >= 2
    assert scraped["n2"]["openim_bridge_live_cores"] == nodes.node2.pool.live_cores
    assert scraped["n1"]["openim_bridge_draining"] == 0
    assert scraped["n2"]["openim_bridge_forwarded_total"] >= 2  # node 2 relayed to node 1 above
    assert scraped["n2"]["openim_bridge_forward_failed_total"] == 0


async def test_an_async_call_on_the_other_node_is_forwarded_before_it_is_accepted(nodes: TwoNodes) -> None:
    (a_id,) = await nodes.stack.new_users(1)
    a = await nodes.stack.login(a_id)  # runs on node 1
    stream = await a.stream()  # on node 1 too: any node serves a stream
    try:
        headers = {**a.auth, "operationID": "op-async-fwd", "Prefer": "respond-async"}
        r = await nodes.stack.http.post(f"{nodes.node2.url}/v1/user/get_self_user_info", headers=headers)
        assert r.status_code == 202, r.text
        (res,) = await stream.wait_for("callResult", lambda d: d["operationID"] == "op-async-fwd")
        assert res.json["errCode"] == 0 and res.json["data"]["userID"] == a_id
        assert nodes.node2.pool.handle(a.session_id) is None  # node 2 ran nothing
    finally:
        await stream.close()
