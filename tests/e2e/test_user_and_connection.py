"""User functions, connection callbacks and reconnect, and what logs must never hold."""

from __future__ import annotations

import logging

import pytest

from tests.support.clock import wait_until
from tests.support.imadmin import admin_token, call
from tests.support.stack import Stack


async def test_self_info_and_users_info(stack: Stack) -> None:
    a_id, b_id = await stack.new_users(2)
    a = await stack.login(a_id)
    s = await a.stream()
    try:
        me = await a.call("/v1/user/get_self_user_info")
        assert me["userID"] == a_id and me["nickname"]
        await a.call("/v1/user/set_self_info", {"nickname": "Alice A.", "ex": "e1"}, op="op-self")
        (upd,) = await s.wait_for("OnSelfInfoUpdated")
        assert upd.json["listener"] == "OnUserListener" and upd.json["operationID"] == "op-self"
        assert upd.json["data"]["nickname"] == "Alice A." and upd.json["data"]["ex"] == "e1"
        me = await a.call("/v1/user/get_self_user_info")
        assert (me["nickname"], me["ex"]) == ("Alice A.", "e1")
        users = await a.call("/v1/user/get_users_info", {"userIDs": [b_id, "nobody-here", a_id]})
        assert [u["userID"] for u in users] == [b_id, a_id]
        # A change made by the admin API elsewhere reaches the listener too.
        admin = await admin_token(stack.http, stack.api_url)
        await call(
            stack.http,
            stack.api_url,
            "/user/update_user_info_ex",
            {"userInfo": {"userID": a_id, "faceURL": "f.png"}},
            admin,
        )
        await s.wait_for("OnSelfInfoUpdated", lambda d: d["data"]["faceURL"] == "f.png")
        r = await a.post("/v1/user/set_self_info", {"globalRecvMsgOpt": 7})
        assert r.status_code == 400 and "globalRecvMsgOpt" in r.json()["detail"]
    finally:
        await s.close()


async def test_connection_callbacks_and_reconnect_resync(stack: Stack) -> None:
    a_id, b_id = await stack.new_users(2)
    a = await stack.login(a_id)
    b = await stack.login(b_id)
    s = await a.stream(last_event_id=0)
    try:
        await s.wait_for("OnConnectSuccess")
        assert s.events[0].event == "OnConnecting"
        gateway = stack.bridge.core(a.session_id).gateway
        assert gateway is not None
        await gateway.drop_connection()
        await wait_until(lambda: not gateway.connected.is_set(), what="the socket to drop")
        # While A is disconnected B applies: the push is lost, the resync after
        # reconnect must still surface it exactly once.
        await b.call("/v1/friend/add_friend", {"toUserID": a_id})
        await s.wait_for("OnConnectSuccess", count=2, timeout=15)
        await s.wait_for("OnFriendApplicationAdded")
        recv = await a.call("/v1/friend/get_friend_application_list_as_recipient", {})
        assert [r["fromUserID"] for r in recv] == [b_id]
        assert len(s.named("OnFriendApplicationAdded")) == 1
    finally:
        await s.close()


async def test_no_token_reaches_the_logs(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    a_id, b_id = await stack.new_users(2)
    upstream = await stack.token(a_id)
    a = await stack.login(a_id, token=upstream)
    await a.call("/v1/friend/add_friend", {"toUserID": b_id})
    await a.call("/v1/logout")
    text = "\n".join(r.getMessage() for r in caplog.records) + repr([r.args for r in caplog.records])
    assert upstream not in text
    assert a.session_token not in text
