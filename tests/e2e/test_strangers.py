"""Strangers and other users against someone's session, on real loopback sockets (issue 10).

Each attack is made by a client that does not hold the victim's credentials;
afterwards the victim's session must be exactly as before: its stream open and
delivering the next normal event, its calls answering, its core the same
object. The attacker gets a 4xx (or OpenIM's code over /ws), never a 5xx.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from tests.oimws.client import OimwsClient, ws_url
from tests.support.clock import wait_until
from tests.support.sseclient import SseReader
from tests.support.stack import BridgeUser, Stack


@dataclass
class Victim:
    user: BridgeUser
    stream: SseReader
    core: object
    friend: BridgeUser


@pytest.fixture
async def victim(stack: Stack) -> AsyncIterator[Victim]:
    v_id, f_id = await stack.new_users(2)
    v, f = await stack.login(v_id), await stack.login(f_id)
    stream = await v.stream()
    handle = stack.bridge.pool.handle(v.session_id)
    assert handle is not None and handle.core is not None
    yield Victim(v, stream, handle.core, f)
    await stream.close()


async def assert_untouched(stack: Stack, victim: Victim) -> None:
    """The victim's core, calls and stream are as they were."""
    handle = stack.bridge.pool.handle(victim.user.session_id)
    assert handle is not None and handle.core is victim.core, "the victim's core was replaced"
    assert not victim.stream.named("sessionClosed") and not victim.stream.named("OnUserTokenInvalid")
    assert (await victim.user.session())["state"] == "live"
    await victim.user.call("/v1/user/get_self_user_info")
    # The stream still delivers: a friend request from a normal user arrives.
    await victim.friend.call("/v1/friend/add_friend", {"toUserID": victim.user.user_id, "reqMsg": "hi"})
    await victim.stream.wait_for("OnFriendApplicationAdded")


async def _login(stack: Stack, user_id: str, token: str, platform_id: int = 5) -> tuple[int, dict[str, object]]:
    r = await stack.http.post(
        f"{stack.bridge.url}/v1/login", json={"userID": user_id, "token": token, "platformID": platform_id}
    )
    return r.status_code, r.json()


async def test_login_with_garbage_token_leaves_the_session_alone(
    stack: Stack, victim: Victim, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="openim.bridge.login"):
        status, body = await _login(stack, victim.user.user_id, "x")
    assert status == 401 and body["errCode"] == 1503, body  # TokenMalformedError, from the server
    refused = [r.getMessage() for r in caplog.records if "login refused" in r.getMessage()]
    assert refused and victim.user.user_id in refused[0] and "client=127.0.0.1" in refused[0]
    assert "x" not in refused[0].split("client=")[0].split("reason=")[0]
    await assert_untouched(stack, victim)


async def test_login_with_another_users_token_leaves_the_session_alone(stack: Stack, victim: Victim) -> None:
    (mallory,) = await stack.new_users(1)
    mallory_token = await stack.token(mallory)
    status, body = await _login(stack, victim.user.user_id, mallory_token)
    assert status == 401 and body["errCode"] == 1502, body
    assert "is not a token of user" in str(body["detail"])
    # The victim's own token for another platform is not this session's either.
    status, body = await _login(stack, victim.user.user_id, await stack.token(victim.user.user_id, 2))
    assert status == 401 and body["errCode"] == 1502, body
    await assert_untouched(stack, victim)


async def test_oimws_login_with_a_bad_token_leaves_the_session_alone(stack: Stack, victim: Victim) -> None:
    (mallory,) = await stack.new_users(1)
    c = await OimwsClient.open(ws_url(stack.bridge.url), victim.user.user_id)
    try:
        bad = await c.login("garbage")
        assert bad.err_code == 1503, bad
        other = await c.login(await stack.token(mallory))
        assert other.err_code == 1502, other
    finally:
        await c.close()
    await assert_untouched(stack, victim)


async def test_a_proven_new_token_switches_the_live_session(stack: Stack, victim: Victim) -> None:
    """The same device with a fresh OpenIM token (a token refresh) keeps its session and stream."""
    fresh = await stack.token(victim.user.user_id)
    status, body = await _login(stack, victim.user.user_id, fresh)
    assert status == 200, body
    data = body["data"]
    assert isinstance(data, dict) and data["sessionID"] == victim.user.session_id
    await victim.user.call("/v1/user/get_self_user_info")
    assert not victim.stream.named("sessionClosed")


async def test_admin_users_get_no_session(stack: Stack) -> None:
    status, body = await _login(stack, "imAdmin", "any")
    assert status == 403 and body["errCode"] == 1002 and "administrator" in str(body["detail"])
    c = await OimwsClient.open(ws_url(stack.bridge.url), "imAdmin")
    try:
        assert (await c.login("any")).err_code == 1002
    finally:
        await c.close()


async def test_a_session_keeps_only_its_newest_tokens(stack: Stack) -> None:
    (u_id,) = await stack.new_users(1)
    keep = stack.bridge.settings.max_tokens_per_session
    token = await stack.token(u_id)
    users = [await stack.login(u_id, token=token) for _ in range(keep + 1)]
    assert len({u.session_id for u in users}) == 1
    r = await users[0].post("/v1/user/get_self_user_info")
    assert r.status_code == 401 and r.json()["errCode"] == 1507
    for u in users[1:]:
        await u.call("/v1/user/get_self_user_info")


async def test_streams_per_session_are_capped(stack: Stack) -> None:
    (u_id,) = await stack.new_users(1)
    u = await stack.login(u_id)
    cap = stack.bridge.settings.max_streams_per_session
    streams = [await u.stream() for _ in range(cap)]
    try:
        r = await stack.http.get(f"{stack.bridge.url}/v1/events", headers=u.auth)
        assert r.status_code == 429 and r.json()["errCode"] == 1601, r.text
        assert "Retry-After" in r.headers
        r = await stack.http.get(f"{stack.bridge.url}/v1/events/poll?wait=0", headers=u.auth)
        assert r.status_code == 429
        await streams.pop().close()
        handle = stack.bridge.pool.handle(u.session_id)
        assert handle is not None
        # The closed stream is counted down once its response ends.
        await wait_until(lambda: handle.streams < cap, what="the stream to be counted down")
        r = await stack.http.get(f"{stack.bridge.url}/v1/events/poll?wait=0", headers=u.auth)
        assert r.status_code == 200
    finally:
        for s in streams:
            await s.close()
