"""The official ``@openim/client-sdk`` and a bridge user exchange images, see each other's
online status and typing (issue 15)."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from playwright.async_api import Browser

from tests.interop.jsclient import PLATFORM_WEB, JsClient, PageServer
from tests.support.stack import Stack

pytestmark = pytest.mark.interop


def _png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (10, 200, 30)).save(buf, "PNG")
    return buf.getvalue()


async def test_images_status_and_typing_between_official_client_and_bridge(
    browser: Browser, page_server: PageServer, stack: Stack
) -> None:
    js_id, br_id = await stack.new_users(2, prefix="p")
    br = await stack.login(br_id)
    stream = await br.stream()
    js = await JsClient.start(browser, name=js_id, page_server=page_server)
    try:
        await js.login(js_id, await stack.token(js_id), PLATFORM_WEB, stack.api_url, stack.ws_url)
        (status,) = await br.call("/v1/user/subscribe_users_status", {"userIDs": [js_id]})
        assert status == {"userID": js_id, "status": 1, "platformIDs": [PLATFORM_WEB]}

        # bridge -> official client: an uploaded image, which the browser downloads
        png = _png(12, 7)
        r = await stack.http.post(
            f"{stack.bridge.url}/v1/third/upload_file",
            headers=br.auth,
            data={"name": "pics/green.png"},
            files={"file": ("green.png", png, "image/png")},
        )
        assert r.status_code == 200, r.text
        url = r.json()["data"]["url"]
        msg = await br.call("/v1/message/create_image_message", {"imagePath": url})
        mark = await js.mark()
        await br.call("/v1/message/send_message", {"message": msg, "recvID": js_id})
        ev = await js.wait_event(
            ["OnRecvNewMessages", "OnRecvNewMessage"], "e => JSON.stringify(e.data).includes('green.png')", since=mark
        )
        assert '"width":12' in str(ev["data"]).replace(" ", "").replace("'", '"')
        size = await js.page.evaluate("u => fetch(u).then(r => r.arrayBuffer()).then(b => b.byteLength)", url)
        assert size == len(png), "the official client's page downloads what the bridge user sent"

        # official client -> bridge: the same picture by URL
        pic = {"uuid": "g", "type": "image/png", "size": len(png), "width": 12, "height": 7, "url": url}
        jmsg = await js.call(
            "createImageMessageByURL",
            {"sourcePath": "", "sourcePicture": pic, "bigPicture": pic, "snapshotPicture": pic},
        )
        await js.call("sendMessageNotOss", {"recvID": br_id, "groupID": "", "message": jmsg})
        (got,) = await stream.wait_for("OnRecvNewMessage", lambda e: e["data"]["contentType"] == 102)
        assert got.json["data"]["pictureElem"]["sourcePicture"]["url"] == url

        # typing, both ways
        conv = await br.call(
            "/v1/conversation/get_conversation_id_by_session_type", {"sourceID": js_id, "sessionType": 1}
        )
        await js.call("changeInputStates", {"conversationID": conv, "focus": True})
        (typing,) = await stream.wait_for("OnConversationUserInputStatusChanged")
        assert typing.json["data"] == {"conversationID": conv, "userID": js_id, "platformIDs": [PLATFORM_WEB]}
        mark = await js.mark()
        await br.call("/v1/conversation/change_input_states", {"conversationID": conv, "focus": True})
        seen = await js.wait_event("OnConversationUserInputStatusChanged", since=mark)
        assert br_id in str(seen["data"])

        # the official client goes offline: the bridge user sees it
        await js.close()
        (off,) = await stream.wait_for("OnUserStatusChanged", lambda e: e["data"]["status"] == 0, timeout=30)
        assert off.json["data"]["userID"] == js_id
    finally:
        await stream.close()
        await js.close()
