"""The official ``@openim/client-sdk`` 0.0.14 against our embedded imserver.

Two official-client users (headless Chromium pages) log in to a running imserver and
play the friend flow; every assertion is on what the *official* SDK reports (its
events and call results), so a pass means imserver speaks OpenIM as that client
expects it: HTTP routes + envelope + CORS, gateway handshake (``sdkType=js``,
``isMsgResp=true``), JSON envelopes with protobuf payloads, heartbeats, pushes of
friend notifications with the originating operationID, and versioned friend sync.

On failure the error carries the page's diagnostics: every HTTP request/response
and WebSocket frame (protobuf decoded) and every SDK event, in order.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser

from tests.interop.jsclient import PLATFORM_WEB, JsClient, PageServer

pytestmark = pytest.mark.interop

imserver_server = pytest.importorskip("imserver.server", reason="imserver/server.py is not written yet")
ImServerSettings = pytest.importorskip("imserver.settings").ImServerSettings

ADMIN_USER_ID = "imAdmin"
SECRET = "openIM123"


# --------------------------------------------------------------------------- server + accounts


def _settings(tmp_path: Path, **overrides: Any) -> Any:
    return ImServerSettings(data_dir=tmp_path, secret=SECRET, admin_user_ids=(ADMIN_USER_ID,), **overrides)


@pytest_asyncio.fixture
async def imserver(tmp_path: Path) -> AsyncIterator[Any]:
    async with imserver_server.run_imserver(_settings(tmp_path), api_port=0, ws_port=0) as server:
        yield server


async def _api(http: httpx.AsyncClient, url: str, route: str, body: dict[str, Any], token: str = "") -> Any:
    headers = {"operationID": f"interop-{uuid.uuid4().hex[:12]}"}
    if token:
        headers["token"] = token
    resp = await http.post(url.rstrip("/") + route, json=body, headers=headers)
    assert resp.status_code == 200, f"{route}: HTTP {resp.status_code} {resp.text}"
    payload = resp.json()
    assert payload.get("errCode") == 0, f"{route} {body}: {payload}"
    return payload.get("data")


async def _admin_token(http: httpx.AsyncClient, api_url: str) -> str:
    data = await _api(http, api_url, "/auth/get_admin_token", {"secret": SECRET, "userID": ADMIN_USER_ID})
    return str(data["token"])


async def _user_token(api_url: str, user_id: str, platform_id: int) -> str:
    """A fresh token for an existing user (admin API ``/auth/get_user_token``)."""
    async with httpx.AsyncClient(timeout=10) as http:
        admin = await _admin_token(http, api_url)
        body = {"userID": user_id, "platformID": platform_id}
        data = await _api(http, api_url, "/auth/get_user_token", body, admin)
    return str(data["token"])


async def _make_users(api_url: str, user_ids: list[str]) -> dict[str, str]:
    """Register users through the admin API; return each one's Web (5) token."""
    async with httpx.AsyncClient(timeout=10) as http:
        admin = await _admin_token(http, api_url)
        users = [{"userID": u, "nickname": f"nick-{u}", "faceURL": ""} for u in user_ids]
        await _api(http, api_url, "/user/user_register", {"users": users}, admin)
    return {u: await _user_token(api_url, u, PLATFORM_WEB) for u in user_ids}


# --------------------------------------------------------------------------- tests


async def test_login_and_sync(browser: Browser, page_server: PageServer, imserver: Any) -> None:
    """Login = gateway handshake + the SDK's full sync, ending in OnSyncServerFinish."""
    tokens = await _make_users(imserver.api_url, ["solo"])
    c = await JsClient.start(browser, name="solo", page_server=page_server)
    try:
        await c.login("solo", tokens["solo"], PLATFORM_WEB, imserver.api_url, imserver.ws_url)
        names = [e["event"] for e in await c.events()]
        assert names[:4] == ["OnConnecting", "OnConnectSuccess", "OnSyncServerStart", "OnSyncServerFinish"]
        me = await c.call("getSelfUserInfo")
        assert me["userID"] == "solo"
        assert me["nickname"] == "nick-solo"
        assert await c.call("getFriendListPage", {"offset": 0, "count": 20}) == []
        assert await c.errors() == []
    finally:
        await c.close()


async def test_friend_flow_between_two_official_clients(
    browser: Browser, page_server: PageServer, imserver: Any
) -> None:
    a_id, b_id = "alice", "bob"
    tokens = await _make_users(imserver.api_url, [a_id, b_id])
    a = await JsClient.start(browser, name=a_id, page_server=page_server)
    b = await JsClient.start(browser, name=b_id, page_server=page_server)
    try:
        await a.login(a_id, tokens[a_id], PLATFORM_WEB, imserver.api_url, imserver.ws_url)
        await b.login(b_id, tokens[b_id], PLATFORM_WEB, imserver.api_url, imserver.ws_url)

        # -- A applies; both sides see the application ------------------------------------
        a_mark, b_mark = await a.mark(), await b.mark()
        await a.call("addFriend", {"toUserID": b_id, "reqMsg": "hi bob"}, operation_id="op-add-friend")
        application = {"data": {"fromUserID": a_id, "toUserID": b_id, "reqMsg": "hi bob", "handleResult": 0}}
        await a.wait_event("OnFriendApplicationAdded", application, since=a_mark)
        ev = await b.wait_event("OnFriendApplicationAdded", application, since=b_mark)
        # pushed notifications carry the operationID of the request that caused them
        assert ev["operationID"] == "op-add-friend"

        received = await b.call("getFriendApplicationListAsRecipient", {"offset": 0, "count": 20})
        assert [(r["fromUserID"], r["toUserID"], r["handleResult"]) for r in received] == [(a_id, b_id, 0)]
        sent = await a.call("getFriendApplicationListAsApplicant", {"offset": 0, "count": 20})
        assert [(r["fromUserID"], r["toUserID"], r["handleResult"]) for r in sent] == [(a_id, b_id, 0)]

        # -- B accepts; both become friends -----------------------------------------------
        a_mark, b_mark = await a.mark(), await b.mark()
        await b.call("acceptFriendApplication", {"toUserID": a_id, "handleMsg": "ok"})
        accepted = {"data": {"fromUserID": a_id, "toUserID": b_id, "handleResult": 1}}
        await b.wait_event("OnFriendApplicationAccepted", accepted, since=b_mark)
        await a.wait_event("OnFriendApplicationAccepted", accepted, since=a_mark)
        await b.wait_event("OnFriendAdded", {"data": {"userID": a_id, "nickname": f"nick-{a_id}"}}, since=b_mark)
        await a.wait_event("OnFriendAdded", {"data": {"userID": b_id, "nickname": f"nick-{b_id}"}}, since=a_mark)

        assert [f["userID"] for f in await a.call("getFriendListPage", {"offset": 0, "count": 20})] == [b_id]
        assert [f["userID"] for f in await b.call("getFriendListPage", {"offset": 0, "count": 20})] == [a_id]
        assert await a.call("checkFriend", [b_id]) == [{"result": 1, "userID": b_id}]

        # -- remark -------------------------------------------------------------------------
        a_mark = await a.mark()
        await a.call("updateFriends", {"friendUserIDs": [b_id], "remark": "Bobby"})
        await a.wait_event("OnFriendInfoChanged", {"data": {"userID": b_id, "remark": "Bobby"}}, since=a_mark)
        [info] = await a.call("getSpecifiedFriendsInfo", [b_id])
        assert info["userID"] == b_id
        assert info["remark"] == "Bobby"

        # -- blacklist ------------------------------------------------------------------------
        a_mark = await a.mark()
        await a.call("addBlack", {"toUserID": b_id, "ex": ""})
        await a.wait_event("OnBlackAdded", {"data": {"userID": b_id}}, since=a_mark)
        blacks = await a.call("getBlackList", {"offset": 0, "count": 20})
        assert [x["userID"] for x in blacks] == [b_id]
        await a.call("removeBlack", b_id)
        # OnBlackDeleted for one's own removeBlack depends on whether get_specified_blacks
        # answers `blacks: []` or null (README, "Events"), so the state is asserted instead.
        assert await a.call("getBlackList", {"offset": 0, "count": 20}) == []

        # -- delete (one direction, as in OpenIM) -----------------------------------------------
        a_mark = await a.mark()
        await a.call("deleteFriend", b_id)
        await a.wait_event("OnFriendDeleted", {"data": {"userID": b_id}}, since=a_mark)
        assert await a.call("getFriendListPage", {"offset": 0, "count": 20}) == []
        assert await a.call("checkFriend", [b_id]) == [{"result": 0, "userID": b_id}]

        assert await a.errors() == []
        assert await b.errors() == []
    finally:
        await a.close()
        await b.close()


async def test_notifications_reach_the_users_other_device(
    browser: Browser, page_server: PageServer, imserver: Any
) -> None:
    """Alice on Web (5) acts; her second official client (platform 3) learns it by notification."""
    a_id, b_id = "alice", "bob"
    tokens = await _make_users(imserver.api_url, [a_id, b_id])
    a_pc_token = await _user_token(imserver.api_url, a_id, 3)
    web = await JsClient.start(browser, name="alice-web", page_server=page_server)
    pc = await JsClient.start(browser, name="alice-pc", page_server=page_server)
    try:
        await web.login(a_id, tokens[a_id], PLATFORM_WEB, imserver.api_url, imserver.ws_url)
        await pc.login(a_id, a_pc_token, 3, imserver.api_url, imserver.ws_url)

        pc_mark = await pc.mark()
        await web.call("addFriend", {"toUserID": b_id, "reqMsg": "hi"})
        # bob answers through the plain HTTP API with his own token
        async with httpx.AsyncClient(timeout=10) as http:
            await _api(
                http,
                imserver.api_url,
                "/friend/add_friend_response",
                {"fromUserID": a_id, "toUserID": b_id, "handleResult": 1, "handleMsg": "ok"},
                tokens[b_id],
            )
        await pc.wait_event(
            "OnFriendApplicationAccepted", {"data": {"fromUserID": a_id, "toUserID": b_id}}, since=pc_mark
        )
        await pc.wait_event("OnFriendAdded", {"data": {"userID": b_id}}, since=pc_mark)

        pc_mark = await pc.mark()
        await web.call("updateFriends", {"friendUserIDs": [b_id], "remark": "Bobby"})
        await pc.wait_event("OnFriendInfoChanged", {"data": {"userID": b_id, "remark": "Bobby"}}, since=pc_mark)

        await web.call("addBlack", {"toUserID": b_id, "ex": ""})
        await pc.wait_event("OnBlackAdded", {"data": {"userID": b_id}}, since=pc_mark)
        await web.call("removeBlack", b_id)
        await pc.wait_event("OnBlackDeleted", {"data": {"userID": b_id}}, since=pc_mark)

        assert await web.errors() == []
        assert await pc.errors() == []
    finally:
        await web.close()
        await pc.close()


async def test_second_login_on_same_platform_kicks_the_first(
    browser: Browser, page_server: PageServer, tmp_path: Path
) -> None:
    """multiLogin policy 1: a new connection with another token kicks the same platform's old one."""
    # Tokens minted in the same second with the same claims are the same JWT; moving the
    # server's injected clock two seconds ahead makes the second token differ without sleeping.
    offset = [0.0]
    settings = _settings(tmp_path, clock=lambda: time.time() + offset[0])
    async with imserver_server.run_imserver(settings, api_port=0, ws_port=0) as imserver:
        tokens = await _make_users(imserver.api_url, ["kim"])
        offset[0] = 2.0
        second_token = await _user_token(imserver.api_url, "kim", PLATFORM_WEB)
        assert second_token != tokens["kim"]
        first = await JsClient.start(browser, name="kim-1", page_server=page_server)
        second = await JsClient.start(browser, name="kim-2", page_server=page_server)
        try:
            await first.login("kim", tokens["kim"], PLATFORM_WEB, imserver.api_url, imserver.ws_url)
            mark = await first.mark()
            await second.login("kim", second_token, PLATFORM_WEB, imserver.api_url, imserver.ws_url)
            await first.wait_event("OnKickedOffline", since=mark)
            assert (await second.call("getSelfUserInfo"))["userID"] == "kim"
        finally:
            await first.close()
            await second.close()
