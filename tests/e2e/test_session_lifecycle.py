"""Kicks, token expiry, logout and parking, end to end over loopback."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

from websockets.asyncio.client import connect

from tests.support.clock import wait_until
from tests.support.imadmin import admin_token, call
from tests.support.stack import Stack, run_stack


async def test_second_login_elsewhere_kicks_the_bridge_session(stack: Stack) -> None:
    (a_id,) = await stack.new_users(1)
    a = await stack.login(a_id, platform_id=2)
    s = await a.stream()
    # The same user and platform logs in on another device with a fresh token.
    other = await stack.token(a_id, platform_id=2)
    q = urlencode(
        {
            "sendID": a_id,
            "token": other,
            "platformID": 2,
            "operationID": "dev2",
            "isBackground": "false",
            "sdkType": "js",
        }
    )
    async with connect(f"{stack.ws_url}/?{q}"):
        (kicked,) = await s.wait_for("OnKickedOffline")
        assert kicked.json["listener"] == "OnConnListener"
        (closed,) = await s.wait_for("sessionClosed")
        assert closed.json["reason"] == "kicked" and closed.json["errCode"] == 1506
        await s.wait_ended()
    r = await a.post("/v1/friend/get_friend_list")
    assert r.status_code == 401
    assert r.json()["errCode"] == 1506
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_force_logout_kicks(stack: Stack) -> None:
    (a_id,) = await stack.new_users(1)
    a = await stack.login(a_id)
    s = await a.stream()
    admin = await admin_token(stack.http, stack.api_url)
    await call(stack.http, stack.api_url, "/auth/force_logout", {"userID": a_id, "platformID": 5}, admin)
    await s.wait_for("OnKickedOffline")
    await s.wait_for("sessionClosed")
    r = await a.post("/v1/user/get_self_user_info")
    assert r.status_code == 401 and r.json()["errCode"] == 1506


async def test_expired_upstream_token_ends_session(tmp_path: Path) -> None:
    async with run_stack(tmp_path) as st:
        a_id, b_id = await st.new_users(2)
        a = await st.login(a_id)
        s = await a.stream()
        st.im_clock.advance(91 * 24 * 3600)  # past OpenIM's default 90-day token lifetime
        r = await a.post("/v1/friend/add_friend", {"toUserID": b_id})
        assert r.status_code == 401 and r.json()["errCode"] == 1501
        await s.wait_for("OnUserTokenExpired")
        (closed,) = await s.wait_for("sessionClosed")
        assert closed.json["reason"] == "tokenExpired"
        r = await a.post("/v1/friend/get_friend_list")
        assert r.status_code == 401 and r.json()["errCode"] == 1501
        # A fresh login with an expired token is refused with the same code.
        r = await st.http.post(
            f"{st.bridge.url}/v1/login",
            json={"userID": b_id, "token": await _expired_token(st, b_id), "platformID": 5},
        )
        assert r.status_code == 401 and r.json()["errCode"] == 1501


async def _expired_token(st: Stack, user_id: str) -> str:
    st.im_clock.advance(-91 * 24 * 3600)
    token = await st.token(user_id)
    st.im_clock.advance(91 * 24 * 3600)
    return token


async def test_logout_ends_session_and_streams(stack: Stack) -> None:
    (a_id,) = await stack.new_users(1)
    a = await stack.login(a_id)
    s = await a.stream()
    await a.call("/v1/logout", op="op-bye")
    (closed,) = await s.wait_for("sessionClosed")
    assert closed.json == {"reason": "logout", "errCode": 10101, "operationID": "op-bye"}
    await s.wait_ended()
    r = await a.post("/v1/friend/get_friend_list")
    assert r.status_code == 401


async def test_relogin_reattaches_to_the_same_session(stack: Stack) -> None:
    (a_id,) = await stack.new_users(1)
    token = await stack.token(a_id)
    first = await stack.login(a_id, token=token)
    second = await stack.login(a_id, token=token)
    assert first.session_id == second.session_id
    assert first.session_token != second.session_token
    assert (await first.call("/v1/auth/get_login_user_id")) == a_id
    assert (await second.call("/v1/auth/get_login_status")) == 3


async def test_parked_session_revives_without_losing_friend_events(tmp_path: Path) -> None:
    async with run_stack(tmp_path, idle_park_seconds=60.0, sweep_interval=3600.0) as st:
        a_id, b_id, d_id = await st.new_users(3)
        a, b, d = await st.login(a_id), await st.login(b_id), await st.login(d_id)
        s = await a.stream()
        await a.call("/v1/friend/add_friend", {"toUserID": b_id})
        await s.wait_for("OnFriendApplicationAdded")
        seen = s.events[-1].id
        assert seen is not None
        await s.close()
        handle = st.bridge.pool.handle(a.session_id)
        assert handle is not None
        await wait_until(lambda: handle.streams == 0, what="the server to notice the closed stream")

        st.bridge_clock.advance(61)
        for u in (b, d):  # keep the others busy-recent so only A is idle
            await u.call("/v1/auth/get_login_status")
        assert await st.bridge.pool.sweep() == 1
        assert (await a.session())["state"] == "parked"

        # While A is parked: B accepts A's application, D applies to A.
        await b.call("/v1/friend/accept_friend_application", {"toUserID": a_id})
        await d.call("/v1/friend/add_friend", {"toUserID": a_id})

        # The next call revives A transparently and sees the new friend.
        friends = await a.call("/v1/friend/get_friend_list")
        assert [f["userID"] for f in friends] == [b_id]
        assert (await a.session())["state"] == "live"
        s2 = await a.stream(last_event_id=seen)
        try:
            await s2.wait_for("OnFriendAdded")
            await s2.wait_for("OnFriendApplicationAccepted")
            await s2.wait_for("OnFriendApplicationAdded", lambda e: e["data"]["fromUserID"] == d_id)
            names = [e.event for e in s2.events if e.event.startswith("OnFriend")]
            assert len(names) == len(set(names)), names
        finally:
            await s2.close()
        assert st.bridge.pool.revived_total == 1


async def test_pool_cap_parks_least_recently_used(tmp_path: Path) -> None:
    async with run_stack(tmp_path, max_live_cores=2, sweep_interval=3600.0) as st:
        ids = await st.new_users(3)
        users = [await st.login(u) for u in ids]
        pool = st.bridge.pool
        assert pool.live_cores == 2
        states = [(await u.session())["state"] for u in users]
        assert states == ["parked", "live", "live"]
        # Using the parked one revives it and parks the next least recently used.
        assert await users[0].call("/v1/auth/get_login_user_id") == ids[0]
        assert pool.live_cores == 2
        assert (await users[1].session())["state"] == "parked"


async def test_pool_full_of_busy_cores_answers_503(tmp_path: Path) -> None:
    async with run_stack(tmp_path, max_live_cores=1, sweep_interval=3600.0) as st:
        a_id, b_id = await st.new_users(2)
        a = await st.login(a_id)
        s = await a.stream()  # an open stream keeps A's core from being parked
        try:
            token = await st.token(b_id)
            r = await st.http.post(f"{st.bridge.url}/v1/login", json={"userID": b_id, "token": token, "platformID": 5})
            assert r.status_code == 503
            assert r.headers["retry-after"] == "5"
            assert r.json()["errCode"] == 1601
            assert json.loads(r.text)["operationID"]
        finally:
            await s.close()
