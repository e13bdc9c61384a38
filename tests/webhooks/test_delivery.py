"""Webhooks against a real loopback receiver (issue 16): every event of a two-user flow
once, in order, signed; across a receiver outage; per-session URLs and their SSRF guard."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bridge.eventlog import EventLog
from bridge.webhook_signing import verify
from tests.support.stack import BridgeUser, Stack, run_stack
from tests.support.wait import wait_until
from tests.support.webhook_receiver import WebhookReceiver

SECRET = "operator-webhook-secret-0123456789"
FAST_RETRY = {"webhook_retry_base": 0.05, "webhook_retry_cap": 0.2, "webhook_max_attempts": 100}


@pytest_asyncio.fixture
async def hooked(tmp_path: Path) -> AsyncIterator[tuple[WebhookReceiver, Stack]]:
    async with (
        WebhookReceiver() as receiver,
        run_stack(
            tmp_path,
            webhook_url=receiver.url,
            webhook_secret=SECRET,
            webhook_scan_interval=0.05,
            webhook_allow_private=True,
            **FAST_RETRY,
        ) as stack,
    ):
        yield receiver, stack


def _log(stack: Stack) -> EventLog:
    log: EventLog = stack.bridge.app.state.services.events
    return log


async def _logged(stack: Stack, session_id: str) -> list[tuple[int, str]]:
    result = await _log(stack).read_after(session_id, 0, limit=10_000)
    return [(e.id, e.event) for e in result.events]


async def _send(user: BridgeUser, to: str, text: str) -> None:
    msg = await user.call("/v1/message/create_text_message", {"text": text})
    await user.call("/v1/message/send_message", {"message": msg, "recvID": to})


async def _delivered_all(receiver: WebhookReceiver, stack: Stack, user: BridgeUser) -> bool:
    got = [(d.json["id"], d.json["event"]) for d in receiver.of(user.session_id)]
    return got == await _logged(stack, user.session_id)


async def test_every_event_once_in_order_signed_across_an_outage(hooked: tuple[WebhookReceiver, Stack]) -> None:
    receiver, stack = hooked
    a_id, b_id = await stack.new_users(2, "wh")
    a, b = await stack.login(a_id), await stack.login(b_id)
    await b.call("/v1/friend/add_friend", {"toUserID": a_id, "reqMsg": "hi"})
    await a.call("/v1/friend/accept_friend_application", {"toUserID": b_id, "handleMsg": "ok"})
    await _send(b, a_id, "before the outage")

    def texts(user: BridgeUser) -> list[str]:
        got = [d.json for d in receiver.of(user.session_id) if d.json["event"] == "OnRecvNewMessage"]
        return [m["data"]["textElem"]["content"] for m in got if m["data"].get("textElem")]

    await wait_until(lambda: "before the outage" in texts(a), 15, "a's first message delivered")
    await receiver.stop()  # connections refused: the bridge retries with backoff
    await _send(a, b_id, "during the outage")
    await wait_until(lambda: stack.bridge.app.state.webhooks.failed_attempts_total > 0, 10, "a failed attempt")
    await receiver.start()  # same port
    await wait_until(lambda: "during the outage" in texts(b), 15, "b's message delivered after the outage")
    for user in (a, b):
        last: int = (await _logged(stack, user.session_id))[-1][0]

        def caught_up(sid: str = user.session_id, n: int = last) -> bool:
            got = receiver.of(sid)
            return bool(got) and int(got[-1].json["id"]) >= n

        await wait_until(caught_up, 15, "all logged events delivered")
        assert await _delivered_all(receiver, stack, user)  # each once, in log order
    for d in receiver.deliveries:
        body: dict[str, Any] = d.json
        assert verify(SECRET, d.body, d.headers["x-bridge-signature"])
        assert d.headers["x-bridge-delivery"] == f"{body['sessionID']}:{body['id']}"
        assert d.headers["x-bridge-event"] == body["event"]
        assert set(body) == {"sessionID", "userID", "platformID", "id", "event", "operationID", "data"}
    assert not verify(
        "another secret", receiver.deliveries[0].body, receiver.deliveries[0].headers["x-bridge-signature"]
    )
    assert stack.bridge.app.state.webhooks.dead_letters_total == 0


async def test_a_session_webhook_gets_events_from_when_it_was_set(hooked: tuple[WebhookReceiver, Stack]) -> None:
    operator, stack = hooked
    a_id, b_id = await stack.new_users(2, "wh")
    a, b = await stack.login(a_id), await stack.login(b_id)
    async with WebhookReceiver() as own:
        r = await stack.http.put(
            f"{stack.bridge.url}/v1/session/webhook", headers=a.auth, json={"url": own.url, "secret": "s" * 16}
        )
        assert r.status_code == 200, r.text
        start = r.json()["data"]["fromEventID"]
        await b.call("/v1/friend/add_friend", {"toUserID": a_id, "reqMsg": "to a"})
        await wait_until(
            lambda: any(d.json["event"] == "OnFriendApplicationAdded" for d in own.deliveries), 15, "a's own hook"
        )
        assert all(d.json["id"] > start and d.json["sessionID"] == a.session_id for d in own.deliveries)
        assert all(verify("s" * 16, d.body, d.headers["x-bridge-signature"]) for d in own.deliveries)
        # The operator's hook goes on getting a's events beside it.
        await wait_until(
            lambda: any(d.json["event"] == "OnFriendApplicationAdded" for d in operator.of(a.session_id)),
            15,
            "the operator's hook",
        )
        gone = await stack.http.delete(f"{stack.bridge.url}/v1/session/webhook", headers=a.auth)
        assert gone.status_code == 200
        again = await stack.http.delete(f"{stack.bridge.url}/v1/session/webhook", headers=a.auth)
        assert again.status_code == 404 and again.json()["detail"] == "this session has no webhook"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:9/hook", "loopback, link-local or private"),
        ("http://169.254.169.254/latest/meta-data", "loopback, link-local or private"),
        ("http://10.1.2.3/x", "loopback, link-local or private"),
        ("http://[::1]:8080/", "loopback, link-local or private"),
        # IPv4 inside IPv6: NAT64 (RFC 6052; a NAT64 gateway translates it to 169.254.169.254),
        # 6to4 (RFC 3056). Both prefixes are global, the address they carry is not.
        ("http://[64:ff9b::a9fe:a9fe]/", "loopback, link-local or private"),
        ("http://[64:ff9b::10.1.2.3]/", "loopback, link-local or private"),
        ("http://[2002:a9fe:a9fe::1]/", "loopback, link-local or private"),
        ("ftp://example.com/x", "http:// or https://"),
        ("http://user:pw@example.com/", "credentials"),
    ],
)
async def test_session_webhook_urls_to_internal_addresses_are_refused(stack: Stack, url: str, why: str) -> None:
    (u,) = await stack.new_users(1, "wh")
    user = await stack.login(u)
    r = await stack.http.put(
        f"{stack.bridge.url}/v1/session/webhook", headers=user.auth, json={"url": url, "secret": "s" * 16}
    )
    assert r.status_code == 400, r.text
    assert why in r.json()["detail"]


async def test_a_short_secret_is_refused_by_name(stack: Stack) -> None:
    (u,) = await stack.new_users(1, "wh")
    user = await stack.login(u)
    r = await stack.http.put(
        f"{stack.bridge.url}/v1/session/webhook", headers=user.auth, json={"url": "https://example.com/", "secret": "x"}
    )
    assert r.status_code == 400 and r.json()["fields"] == ["secret"]


def test_operator_url_needs_a_secret() -> None:
    from bridge.settings import BridgeSettings

    with pytest.raises(ValueError, match="BRIDGE_WEBHOOK_SECRET"):
        BridgeSettings.from_env({"BRIDGE_WEBHOOK_URL": "https://hooks.example.com/x"})


def test_signature_carries_its_time_so_replays_can_be_refused() -> None:
    from bridge.webhook_signing import sign

    header = sign("k" * 16, b"{}", timestamp=1_000_000)
    assert verify("k" * 16, b"{}", header, now=1_000_100)
    assert not verify("k" * 16, b"{}", header, now=1_000_000 + 301)  # too old: a replay
    assert not verify("k" * 16, b"{ }", header, now=1_000_100)  # body changed


async def test_a_session_on_its_own_webhook_alone_is_not_parked_for_idleness(
    hooked: tuple[WebhookReceiver, Stack],
) -> None:
    """A bot that holds no stream, only its webhook, must go on hearing: idleness parks
    a session that nobody listens to, and its own webhook listens (the operator's does not)."""
    _, stack = hooked
    bot_id, peer_id, other_id = await stack.new_users(3, "whp")
    bot, peer, other = await stack.login(bot_id), await stack.login(peer_id), await stack.login(other_id)
    pool = stack.bridge.pool
    async with WebhookReceiver() as own:
        r = await stack.http.put(
            f"{stack.bridge.url}/v1/session/webhook", headers=bot.auth, json={"url": own.url, "secret": "s" * 16}
        )
        assert r.status_code == 200, r.text
        handle = pool.handle(bot.session_id)
        assert handle is not None
        await wait_until(lambda: handle.hooked, 15, "the bot's webhook worker to start")

        stack.bridge_clock.advance(stack.bridge.settings.idle_park_seconds + 1)
        await pool.sweep()
        assert (await bot.session())["state"] == "live"
        assert (await other.session())["state"] == "parked"  # only the operator's hook: parked as before
        await _send(peer, bot_id, "still there?")
        await wait_until(
            lambda: any(
                d.json["event"] == "OnRecvNewMessage" and d.json["data"]["textElem"]["content"] == "still there?"
                for d in own.deliveries
            ),
            15,
            "the message on the bot's own webhook",
        )

        gone = await stack.http.delete(f"{stack.bridge.url}/v1/session/webhook", headers=bot.auth)
        assert gone.status_code == 200
        await wait_until(lambda: not handle.hooked, 15, "the bot's webhook worker to stop")
        stack.bridge_clock.advance(stack.bridge.settings.idle_park_seconds + 1)
        await pool.sweep()
        assert (await bot.session())["state"] == "parked"


async def test_the_target_is_read_once_and_a_change_or_removal_takes_effect_for_the_next_delivery(
    hooked: tuple[WebhookReceiver, Stack], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker asks for its session's target before every delivery: from memory (it was a
    store read per event), dropped when the routes change it, so the next event goes to the new
    URL and, once removed, to none."""
    import bridge.webhooks

    monkeypatch.setattr(bridge.webhooks, "_IDLE_WAIT", 3600.0)  # no quiet-time refresh reads
    operator, stack = hooked
    a_id, b_id = await stack.new_users(2, "whc")
    a, b = await stack.login(a_id), await stack.login(b_id)
    dispatcher = stack.bridge.app.state.webhooks
    inner = dispatcher.store.inner
    reads = 0
    read = inner.target

    async def counted(session_id: str) -> Any:
        nonlocal reads
        reads += session_id == a.session_id
        return await read(session_id)

    monkeypatch.setattr(inner, "target", counted)

    async def hook(url: str) -> int:
        r = await stack.http.put(
            f"{stack.bridge.url}/v1/session/webhook", headers=a.auth, json={"url": url, "secret": "s" * 16}
        )
        assert r.status_code == 200, r.text
        start: int = r.json()["data"]["fromEventID"]
        return start

    def texts(receiver: WebhookReceiver) -> list[str]:
        return [
            d.json["data"]["textElem"]["content"]
            for d in receiver.of(a.session_id)
            if d.json["event"] == "OnRecvNewMessage"
        ]

    async with WebhookReceiver() as first, WebhookReceiver() as second:
        await hook(first.url)
        handle = stack.bridge.pool.handle(a.session_id)
        assert handle is not None
        await wait_until(lambda: handle.hooked, 15, "a's webhook worker to start")
        reads = 0  # the scan's reads (the memory store's targets() is target() per session) end here
        for i in range(5):
            await _send(b, a_id, f"one {i}")
        await wait_until(lambda: len(texts(first)) == 5, 30, "five messages at the first URL")
        assert len(first.of(a.session_id)) >= 10  # every event of five messages, and:
        assert reads <= 1, reads  # one read of the target, not one per event

        start = await hook(second.url)
        await _send(b, a_id, "two")
        await wait_until(lambda: texts(second) == ["two"], 30, "the next message at the new URL")
        assert texts(first) == [f"one {i}" for i in range(5)]
        assert all(d.json["id"] > start for d in second.deliveries), (start, [d.json["id"] for d in second.deliveries])

        old_worker = dispatcher._workers[(a.session_id, "session")]
        gone = await stack.http.delete(f"{stack.bridge.url}/v1/session/webhook", headers=a.auth)
        assert gone.status_code == 200
        await _send(b, a_id, "three")
        await wait_until(lambda: old_worker.done(), 30, "the worker to stop at the next event")
        await wait_until(lambda: "three" in texts(operator), 30, "the operator's hook to get it")
        assert texts(second) == ["two"] and texts(first) == [f"one {i}" for i in range(5)]
