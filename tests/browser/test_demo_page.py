"""The /demo/ page (plain JS) logs in, accepts a friend, chats and shows live events (issue 16)."""

from __future__ import annotations

from playwright.async_api import Browser

from tests.support.stack import Stack


async def test_demo_page_befriends_and_chats(chromium: Browser, stack: Stack) -> None:
    alice, bob = await stack.new_users(2, "demo")
    b = await stack.login(bob)
    bob_stream = await b.stream()
    page = await chromium.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        await page.goto(stack.bridge.url + "/demo/")
        await page.fill("#userID", alice)
        await page.fill("#token", await stack.token(alice))
        await page.click("#login")
        await page.wait_for_selector(f"#who:has-text('logged in as {alice}')", timeout=15_000)
        await page.wait_for_function("window.events && window.events.readyState === EventSource.OPEN")
        await b.call("/v1/friend/add_friend", {"toUserID": alice, "reqMsg": "hi alice"})
        await page.click("#requests button.accept", timeout=15_000)
        await page.wait_for_selector(f"#friends:has-text('{bob}')", timeout=15_000)
        msg = await b.call("/v1/message/create_text_message", {"text": "hello page"})
        await b.call("/v1/message/send_message", {"message": msg, "recvID": alice})
        await page.wait_for_selector(f"#chat .msg:has-text('{bob}: hello page')", timeout=15_000)
        await page.fill("#peer", bob)
        await page.fill("#text", "hello bob")
        await page.click("#send")
        (got,) = await bob_stream.wait_for(
            "OnRecvNewMessage", lambda d: (d["data"].get("textElem") or {}).get("content") == "hello bob", 15
        )
        assert got.json["data"]["sendID"] == alice
        assert "OnFriendApplicationAdded" in await page.inner_text("#log")
        assert errors == []
    finally:
        await page.close()
        await bob_stream.close()
