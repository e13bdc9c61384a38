"""Webhook delivery across a restart of a single node (issue 16), as operators run it.

Real processes on loopback: ``openim-bridge imserver`` and ``openim-bridge serve`` on a
data dir (SQLite) with the operator's webhook (BRIDGE_WEBHOOK_URL) pointing at a real HTTP
receiver. The receiver goes down, B receives messages that are then queued for it (in the
event log, behind the webhook's cursor), the node is stopped (SIGTERM) or killed (kill -9)
and started again on the same data dir, the receiver comes back and each user makes a call
(which runs its core again, README "Webhooks"); a bot with a webhook of its own needs none. Then every event of B's
log reaches the receiver: at least once (README "Webhooks"), in order of first arrival,
signed, each with ``X-Bridge-Delivery`` ``<sessionID>:<id>`` and the id in the body, so
deduplicating on it gives exactly the log.
"""

from __future__ import annotations

import contextlib
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridge.webhook_signing import verify
from tests.support.cluster import ImServerProcess, NodeProcess, _child_env, stable_port
from tests.support.imadmin import register_users, user_token
from tests.support.wait import until, wait_until
from tests.support.webhook_receiver import Delivery, WebhookReceiver

pytestmark = pytest.mark.services

SECRET = "restart-webhook-secret-0123456789"


@dataclass
class Node:
    imserver: ImServerProcess
    bridge: NodeProcess
    http: httpx.AsyncClient
    receiver: WebhookReceiver


@contextlib.asynccontextmanager
async def hooked_node(tmp: Path) -> AsyncIterator[Node]:
    async with httpx.AsyncClient(timeout=30.0) as http, WebhookReceiver() as receiver:
        imserver = ImServerProcess("imserver", tmp / "imserver.log", data_dir=tmp / "imserver")
        bridge = NodeProcess("bridge", tmp / "bridge.log", data_dir=tmp / "bridge", port=stable_port())
        try:
            await imserver.start()
            bridge.args = [sys.executable, "-m", "bridge.cli", "serve", "--host", "127.0.0.1"]
            bridge.args += ["--upstream-api", imserver.api_url, "--upstream-ws", imserver.ws_url]
            bridge.args += ["--data-dir", str(bridge.data_dir)]
            bridge.env = _child_env(
                idle_park_seconds="3600",
                drain_seconds="5",
                webhook_url=receiver.url,
                webhook_secret=SECRET,
                webhook_scan_interval="0.1",
                webhook_retry_base="0.05",
                webhook_retry_cap="0.3",
                webhook_max_attempts="1000",  # the outage must not dead-letter anything
                webhook_allow_private="1",  # the bots' own receivers are on loopback
            )
            await bridge.start(http)
            yield Node(imserver, bridge, http, receiver)
        finally:
            await bridge.shutdown(15.0)
            await imserver.shutdown(10.0)


@dataclass
class User:
    user_id: str
    token: str
    session_id: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def _login(node: Node, user_id: str) -> User:
    token = await user_token(node.http, node.imserver.api_url, user_id, 5)
    r = await node.http.post(f"{node.bridge.url}/v1/login", json={"userID": user_id, "token": token, "platformID": 5})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    return User(user_id, data["sessionToken"], data["sessionID"])


async def _call(node: Node, user: User, path: str, body: Any) -> Any:
    r = await node.http.post(f"{node.bridge.url}{path}", json=body, headers=user.auth)
    assert r.status_code == 200, f"{path}: {r.text}"
    return r.json()["data"]


async def _send(node: Node, a: User, to: str, text: str) -> None:
    msg = await _call(node, a, "/v1/message/create_text_message", {"text": text})
    await _call(node, a, "/v1/message/send_message", {"message": msg, "recvID": to})


async def _log(node: Node, user: User) -> list[tuple[int, str]]:
    r = await node.http.get(
        f"{node.bridge.url}/v1/events/poll", params={"after": 0, "wait": 0, "limit": 1000}, headers=user.auth
    )
    assert r.status_code == 200, r.text
    return [(e["id"], e["event"]) for e in r.json()["data"]["events"]]


def _texts(deliveries: list[Delivery]) -> list[str]:
    out = []
    for d in deliveries:
        body = d.json
        if body["event"] == "OnRecvNewMessage" and body["data"].get("textElem"):
            out.append(body["data"]["textElem"]["content"])
    return out


@pytest.mark.parametrize("kill", [False, True], ids=["sigterm", "kill9"])
async def test_queued_webhook_events_are_delivered_after_a_restart(tmp_path: Path, kill: bool) -> None:
    async with hooked_node(tmp_path) as node:
        receiver = node.receiver
        a_id, b_id = f"a{uuid.uuid4().hex[:10]}", f"b{uuid.uuid4().hex[:10]}"
        await register_users(node.http, node.imserver.api_url, a_id, b_id)
        a, b = await _login(node, a_id), await _login(node, b_id)
        await _call(node, a, "/v1/friend/add_friend", {"toUserID": b_id, "reqMsg": "hi"})
        await _call(node, b, "/v1/friend/accept_friend_application", {"toUserID": a_id, "handleMsg": "ok"})
        await _send(node, a, b_id, "before")
        await wait_until(lambda: "before" in _texts(receiver.of(b.session_id)), 30, "b's first message delivered")

        await receiver.stop()  # refused from now on: B's next events queue behind its cursor
        queued = [f"queued {n}" for n in range(3)]
        for text in queued:
            await _send(node, a, b_id, text)

        async def in_b_log() -> bool:
            logged = await _log(node, b)
            return sum(1 for _, ev in logged if ev == "OnRecvNewMessage") >= 1 + len(queued)

        await until(in_b_log, "the queued messages in B's event log", 30)
        assert not set(queued) & set(_texts(receiver.of(b.session_id)))
        if kill:
            await node.bridge.kill()
        else:
            code, _ = await node.bridge.terminate(15.0)
            assert code == 0, node.bridge.tail()
        await node.bridge.start(node.http)  # same data dir and port
        await receiver.start()  # same port
        # A restarted node runs a session's core (and so its webhook worker) again on its next
        # use; the cursor, in the node's database, says where delivery stopped (README "Webhooks").
        for user in (a, b):
            await _call(node, user, "/v1/friend/get_friend_list", {})

        def all_delivered() -> bool:
            return set(queued) <= set(_texts(receiver.of(b.session_id)))

        await wait_until(all_delivered, 60, "the queued messages delivered after the restart")
        for user in (a, b):
            logged = await _log(node, user)
            last = logged[-1][0]

            def caught_up(sid: str = user.session_id, n: int = last) -> bool:
                return any(d.json["id"] == n for d in receiver.of(sid))

            await wait_until(caught_up, 30, f"{user.user_id}'s webhook caught up with its log")
            got = receiver.of(user.session_id)
            for d in got:
                assert verify(SECRET, d.body, d.headers["x-bridge-signature"]), d.headers
                assert d.headers["x-bridge-delivery"] == f"{user.session_id}:{d.json['id']}"
                assert d.headers["x-bridge-event"] == d.json["event"]
            first_seen: dict[int, str] = {}
            for d in got:
                first_seen.setdefault(d.json["id"], d.json["event"])
            # Deduplicated on the delivery id: the whole log, once, in order.
            assert list(first_seen.items()) == [e for e in logged if e[0] <= last], (kill, list(first_seen.items()))
        # Acknowledged before the outage: the stored cursor keeps it from being sent again.
        assert _texts(receiver.of(b.session_id)).count("before") == 1


@pytest.mark.parametrize("kill", [False, True], ids=["sigterm", "kill9"])
async def test_a_bot_on_its_own_webhook_hears_again_after_a_restart_without_a_call(tmp_path: Path, kill: bool) -> None:
    """A bot holds no stream and may never call: the restarted node revives its session
    because it has a webhook of its own (bridge/webhooks.py revive_hooked), so what arrives
    queued and what is sent after the restart reaches it, with no request from the bot."""
    async with hooked_node(tmp_path) as node, WebhookReceiver() as own:
        a_id, bot_id = f"a{uuid.uuid4().hex[:10]}", f"bot{uuid.uuid4().hex[:10]}"
        await register_users(node.http, node.imserver.api_url, a_id, bot_id)
        a, bot = await _login(node, a_id), await _login(node, bot_id)
        r = await node.http.put(
            f"{node.bridge.url}/v1/session/webhook", headers=bot.auth, json={"url": own.url, "secret": "b" * 16}
        )
        assert r.status_code == 200, r.text
        await _call(node, a, "/v1/friend/add_friend", {"toUserID": bot_id, "reqMsg": "hi"})
        await _call(node, bot, "/v1/friend/accept_friend_application", {"toUserID": a_id, "handleMsg": "ok"})
        await _send(node, a, bot_id, "before")
        await wait_until(lambda: "before" in _texts(own.of(bot.session_id)), 30, "the bot's first message")

        if kill:
            await node.bridge.kill()
        else:
            code, _ = await node.bridge.terminate(15.0)
            assert code == 0, node.bridge.tail()
        await node.bridge.start(node.http)
        await _send(node, a, bot_id, "after")  # A calls; the bot does not
        await wait_until(
            lambda: "after" in _texts(own.of(bot.session_id)), 60, "the after-restart message on the bot's hook"
        )
        got = own.of(bot.session_id)
        assert all(verify("b" * 16, d.body, d.headers["x-bridge-signature"]) for d in got)
        before = {d.headers["x-bridge-delivery"] for d in got if _texts([d]) == ["before"]}
        assert len(before) == 1  # one event, whatever was redelivered
        # Acknowledged before a drain: not sent again. A kill may land between the 2xx and the
        # cursor's commit: that one event comes twice, with the same delivery id (README "Webhooks").
        assert _texts(got).count("before") == 1 or kill
