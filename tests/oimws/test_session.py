"""oimws sessions over a real loopback socket: login, shared cores, logout, kick, resume."""

from __future__ import annotations

import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from bridge.server import serve_app
from tests.oimws.client import OimwsClient, ws_url
from tests.support.clock import wait_until
from tests.support.imadmin import admin_token, call
from tests.support.stack import Stack


async def test_login_answers_like_oimws(stack: Stack) -> None:
    (a_id,) = await stack.new_users(1)
    c = await OimwsClient.open(ws_url(stack.bridge.url), a_id, connect_id="conn-1")
    try:
        # oimws greets every socket with an InitSDK event carrying the connect operationID.
        init = await c.wait_event("InitSDK")
        assert (init.err_code, init.data, init.operation_id) == (0, "", "conn-1")
        login = await c.login(await stack.token(a_id), op="op-login")
        assert (login.event, login.err_code, login.err_msg, login.data) == ("Login", 0, "", '""')
        # A session this Login created reports its connection, as the Go SDK does after Login.
        await c.wait_event("OnConnectSuccess")
        assert await c.call("GetLoginUserID") == a_id
        assert await c.call("GetLoginStatus") == 3
        me = await c.call("GetSelfUserInfo")
        assert me["userID"] == a_id
        # An InitSDK request (older clients send one) is acknowledged.
        ack = await c.request("InitSDK", "5")
        assert (ack.err_code, ack.data) == (0, "")
    finally:
        await c.close()


async def test_before_login_repeat_login_and_foreign_user(stack: Stack) -> None:
    a_id, b_id = await stack.new_users(2)
    c = await OimwsClient.open(ws_url(stack.bridge.url), a_id)
    try:
        early = await c.request("GetFriendList")
        assert early.err_code == 10004 and "Login" in early.err_msg
        assert (await c.request("Logout")).err_code == 10004
        # Login must be for the connection's own user (ws_wrapper problem 4).
        other = await c.request("Login", b_id, await stack.token(b_id))
        assert other.err_code == 1002
        assert (await c.request("Login", a_id)).err_code == 10002
        # A token past REST's bound is refused here too, not sent upstream.
        huge = await c.login("x" * 4097)
        assert huge.err_code == 10002 and "4096" in huge.err_msg, huge
        bad = await c.login("not-a-token")
        assert 1501 <= bad.err_code <= 1507, bad
        assert (await c.login(await stack.token(a_id))).err_code == 0
        again = await c.login(await stack.token(a_id))
        assert again.err_code == 10102 and again.event == "Login"
        # Every request must name the connection's user.
        foreign = await c.request("GetFriendList", user_id=b_id)
        assert foreign.err_code == 1002 and b_id in foreign.err_msg
        assert await c.call("GetFriendList") == []
    finally:
        await c.close()


async def test_ws_and_rest_of_one_user_share_one_core(stack: Stack) -> None:
    a_id, b_id = await stack.new_users(2)
    token = await stack.token(a_id)
    c = await OimwsClient.open(ws_url(stack.bridge.url), a_id)
    rest_a = await stack.login(a_id, token=token)
    sse_a = await rest_a.stream()
    b = await stack.login(b_id)
    try:
        assert (await c.login(token)).err_code == 0
        live = stack.bridge.pool.live_cores
        handle = stack.bridge.pool.handle(rest_a.session_id)
        assert handle is not None and handle.streams == 2  # the SSE stream and the socket
        # B's application reaches A's core once and both of A's faces.
        await b.call("/v1/friend/add_friend", {"toUserID": a_id, "reqMsg": "hello"})
        ev = await c.wait_event("OnFriendApplicationAdded")
        assert ev.value["fromUserID"] == b_id and ev.value["reqMsg"] == "hello"
        (sse,) = await sse_a.wait_for("OnFriendApplicationAdded")
        assert sse.json["data"] == ev.value
        # A call on one face changes the state the other face reads.
        assert (await c.request("AcceptFriendApplication", json.dumps({"toUserID": b_id}))).err_code == 0
        assert [f["userID"] for f in await rest_a.call("/v1/friend/get_friend_list")] == [b_id]
        assert stack.bridge.pool.live_cores == live
    finally:
        await c.close()
        await sse_a.close()


async def test_logout_answers_then_closes_and_ends_the_shared_session(stack: Stack) -> None:
    (a_id,) = await stack.new_users(1)
    token = await stack.token(a_id)
    c = await OimwsClient.open(ws_url(stack.bridge.url), a_id)
    assert (await c.login(token)).err_code == 0
    rest_a = await stack.login(a_id, token=token)
    sse = await rest_a.stream()
    try:
        bye = await c.request("Logout", op="op-bye")
        assert (bye.event, bye.err_code, bye.data) == ("Logout", 0, '""')
        assert await c.wait_closed() == (1000, "logout")
        (closed,) = await sse.wait_for("sessionClosed")
        assert closed.json == {"reason": "logout", "errCode": 10101, "operationID": "op-bye"}
        assert (await rest_a.post("/v1/friend/get_friend_list")).status_code == 401
    finally:
        await sse.close()


async def test_rest_logout_tells_the_socket_and_closes_it(stack: Stack) -> None:
    (a_id,) = await stack.new_users(1)
    token = await stack.token(a_id)
    c = await OimwsClient.open(ws_url(stack.bridge.url), a_id)
    assert (await c.login(token)).err_code == 0
    rest_a = await stack.login(a_id, token=token)
    await rest_a.call("/v1/logout", op="op-rest-bye")
    bye = await c.wait_event("Logout")
    assert (bye.err_code, bye.operation_id) == (0, "op-rest-bye")
    assert (await c.wait_closed())[0] == 1000


async def test_kick_delivers_on_kicked_offline_then_closes(stack: Stack) -> None:
    (a_id,) = await stack.new_users(1)
    c = await OimwsClient.open(ws_url(stack.bridge.url), a_id)
    assert (await c.login(await stack.token(a_id))).err_code == 0
    admin = await admin_token(stack.http, stack.api_url)
    await call(stack.http, stack.api_url, "/auth/force_logout", {"userID": a_id, "platformID": 5}, admin)
    kicked = await c.wait_event("OnKickedOffline")
    assert (kicked.err_code, kicked.data) == (0, "")
    assert await c.wait_closed() == (1000, "kicked")
    assert c.frames[-1].event == "OnKickedOffline"


async def test_reconnect_with_the_same_connect_id_replays_missed_events(stack: Stack) -> None:
    a_id, b_id = await stack.new_users(2)
    token = await stack.token(a_id)
    url = ws_url(stack.bridge.url)
    stats = stack.bridge.app.state.oimws.stats
    open_before = stats.connections_open
    first = await OimwsClient.open(url, a_id, connect_id="tab-1")
    assert (await first.login(token)).err_code == 0
    await first.close()
    await wait_until(lambda: stats.connections_open <= open_before, what="the bridge to notice the close")
    b = await stack.login(b_id)
    await b.call("/v1/friend/add_friend", {"toUserID": a_id, "reqMsg": "while you were away"})
    resumed = stats.resumed
    # open-im-sdk reconnects with the same URL (same operationID) and logs in again.
    again = await OimwsClient.open(url, a_id, connect_id="tab-1")
    other = await OimwsClient.open(url, a_id, connect_id="tab-2")
    try:
        assert (await again.login(token)).err_code == 0
        ev = await again.wait_event("OnFriendApplicationAdded")
        assert ev.value["reqMsg"] == "while you were away"
        assert stats.resumed == resumed + 1
        # A different client instance starts from now: nothing replayed.
        assert (await other.login(token)).err_code == 0
        assert await other.call("GetLoginUserID") == a_id
        assert other.named("OnFriendApplicationAdded") == []
    finally:
        await again.close()
        await other.close()


@pytest.mark.parametrize(
    ("query", "problem"),
    [("platformID=5", "sendID"), ("sendID=u1", "platformID"), ("sendID=u1&platformID=10", "platformID")],
)
async def test_handshake_refuses_a_bad_connect_url(stack: Stack, query: str, problem: str) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with connect(f"{ws_url(stack.bridge.url)}?{query}"):
            pass
    response = info.value.response
    assert response.status_code == 400
    body = json.loads(response.body or b"{}")
    assert body["errCode"] == 1001 and problem in body["detail"]


async def test_dedicated_port_answers_on_root_like_oimws(stack: Stack) -> None:
    from bridge.oimws import oimws_app

    (a_id,) = await stack.new_users(1)
    async with serve_app(oimws_app(stack.bridge.app)) as running:
        c = await OimwsClient.open(f"ws://{running.host}:{running.port}", a_id)
        try:
            assert (await c.login(await stack.token(a_id))).err_code == 0
            assert await c.call("GetLoginUserID") == a_id
        finally:
            await c.close()
