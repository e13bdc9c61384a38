"""Smoke test of the official-client page host: the SDK bundle loads and is drivable."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser

from tests.interop.jsclient import JsCallError, JsClient, PageServer

pytestmark = pytest.mark.interop


async def test_page_loads_sdk_without_errors(browser: Browser, page_server: PageServer) -> None:
    client = await JsClient.start(browser, name="smoke", page_server=page_server)
    try:
        info = await client.page.evaluate(
            """() => ({
                hasSdk: typeof window.im.sdk === 'object' && window.im.sdk !== null,
                login: typeof window.im.sdk.login,
                addFriend: typeof window.im.sdk.addFriend,
                on: typeof window.im.sdk.on,
                events: window.im.eventNames.length,
                hasWorker: typeof Worker,
                hasWebSocket: typeof WebSocket,
                hasFetch: typeof fetch,
            })"""
        )
        assert info == {
            "hasSdk": True,
            "login": "function",
            "addFriend": "function",
            "on": "function",
            "events": info["events"],
            "hasWorker": "function",
            "hasWebSocket": "function",
            "hasFetch": "function",
        }
        assert info["events"] >= 40  # every CbEvents name is subscribed
        status = await client.page.evaluate("() => window.im.info()")
        assert status["loginStatus"] == 1  # LoginStatus.Logout
        # A call before login is answered by the SDK itself, not by a thrown page error.
        with pytest.raises(JsCallError):
            await client.call("getSelfUserInfo", timeout=5)
        await client.assert_no_errors()
        assert await client.events() == []
    finally:
        await client.close()
