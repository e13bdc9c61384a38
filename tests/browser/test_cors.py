"""A page on another origin listed in BRIDGE_CORS_ORIGINS logs in, calls and streams;
a page on an unlisted origin cannot (issue 16). Real Chromium, real bridge and imserver."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page

from tests.support.pagehost import PageHost
from tests.support.stack import Stack, run_stack

# The page's helpers: plain fetch and EventSource, as a web app would use them.
PAGE = """<!doctype html><meta charset="utf-8"><title>cors</title><script>
window.events = [];
window.login = async (bridge, userID, token) => {
  const r = await fetch(bridge + "/v1/login", {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({userID, token, platformID: 5})});
  return {status: r.status, body: await r.json()};
};
window.call = async (bridge, session, path, body) => {
  const r = await fetch(bridge + path, {method: "POST", body: JSON.stringify(body),
    headers: {"Authorization": "Bearer " + session, "Content-Type": "application/json", "operationID": "page-op-1"}});
  return {status: r.status, operationID: r.headers.get("operationID"), body: await r.json()};
};
window.listen = (bridge, session) => new Promise((resolve, reject) => {
  const es = new EventSource(bridge + "/v1/events?access_token=" + encodeURIComponent(session));
  es.addEventListener("OnFriendApplicationAdded", (e) => window.events.push({id: e.lastEventId, data: e.data}));
  es.onopen = () => resolve("open");
  es.onerror = () => { if (es.readyState === EventSource.CLOSED) reject(new Error("EventSource closed")); };
  window.es = es;
});
</script>"""


@pytest_asyncio.fixture(scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[PageHost, Stack]]:
    """The page host, and a stack whose bridge lists only the host's 127.0.0.1 origin."""
    async with PageHost({"/": PAGE}) as host:
        tmp: Path = tmp_path_factory.mktemp("cors")
        async with run_stack(tmp, cors_origins=(host.origin(),)) as stack:
            yield host, stack


async def _open(chromium: Browser, url: str) -> Page:
    page = await chromium.new_page()
    await page.goto(url)
    return page


async def test_listed_origin_logs_in_calls_and_receives_events(chromium: Browser, site: tuple[PageHost, Stack]) -> None:
    host, stack = site
    alice, bob = await stack.new_users(2, "cors")
    bridge = stack.bridge.url
    page = await _open(chromium, host.origin() + "/")
    try:
        login: dict[str, Any] = await page.evaluate(
            "([b, u, t]) => login(b, u, t)", [bridge, alice, await stack.token(alice)]
        )
        assert login["status"] == 200, login
        session = login["body"]["data"]["sessionToken"]
        # A preflighted call (Authorization, operationID): answered, and the exposed header readable.
        called = await page.evaluate("([b, s]) => call(b, s, '/v1/friend/get_friend_list', {})", [bridge, session])
        assert called["status"] == 200 and called["operationID"] == "page-op-1", called
        assert await page.evaluate("([b, s]) => listen(b, s)", [bridge, session]) == "open"
        b = await stack.login(bob)
        await b.call("/v1/friend/add_friend", {"toUserID": alice, "reqMsg": "hi from bob"})
        await page.wait_for_function("window.events.length > 0", timeout=15_000)
        events = await page.evaluate("window.events")
        data = json.loads(events[0]["data"])
        assert data["data"]["fromUserID"] == bob and int(events[0]["id"]) > 0
        await page.evaluate("window.es.close()")
    finally:
        await page.close()


async def test_unlisted_origin_is_refused(chromium: Browser, site: tuple[PageHost, Stack]) -> None:
    host, stack = site
    (carol,) = await stack.new_users(1, "cors")
    # Same pages, other origin: localhost is not the listed 127.0.0.1.
    page = await _open(chromium, host.origin("localhost") + "/")
    try:
        error = await page.evaluate(
            "([b, u, t]) => login(b, u, t).then(() => 'allowed', (e) => e.name)",
            [stack.bridge.url, carol, await stack.token(carol)],
        )
        assert error == "TypeError"  # "Failed to fetch": the browser withheld the answer
        refused = await page.evaluate(
            "([b]) => listen(b, 'x').then(() => 'open', (e) => e.message)", [stack.bridge.url]
        )
        assert refused == "EventSource closed"
    finally:
        await page.close()
    # And the preflight itself names no origin for it.
    r = await stack.http.options(
        f"{stack.bridge.url}/v1/login",
        headers={"Origin": host.origin("localhost"), "Access-Control-Request-Method": "POST"},
    )
    assert r.status_code == 400 and "access-control-allow-origin" not in r.headers


async def test_preflight_names_headers_for_a_listed_origin(site: tuple[PageHost, Stack]) -> None:
    host, stack = site
    r = await stack.http.options(
        f"{stack.bridge.url}/v1/friend/add_friend",
        headers={
            "Origin": host.origin(),
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, operationid, prefer",
        },
    )
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == host.origin()
    # A problem from the outer checks still carries the CORS headers (so the page can read it).
    bad = await stack.http.post(
        f"{stack.bridge.url}/v1/friend/add_friend", headers={"Origin": host.origin(), "operationID": "bad op!"}
    )
    assert bad.status_code == 400 and bad.headers["access-control-allow-origin"] == host.origin()
    assert "operationID" in bad.headers["access-control-expose-headers"]
