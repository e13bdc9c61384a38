"""/docs and /redoc render with no network but the bridge, and Swagger UI's Authorize
button takes a session token so that "Try it out" succeeds (issue 16)."""

from __future__ import annotations

from playwright.async_api import Browser, BrowserContext, Route

from tests.support.stack import Stack


async def _offline(chromium: Browser, bridge: str) -> tuple[BrowserContext, list[str]]:
    """A context where any request not to the bridge is refused (and recorded)."""
    context = await chromium.new_context()
    refused: list[str] = []

    async def gate(route: Route) -> None:
        if route.request.url.startswith(bridge + "/"):
            await route.continue_()
        else:
            refused.append(route.request.url)
            await route.abort("internetdisconnected")

    await context.route("**/*", gate)
    return context, refused


async def test_swagger_ui_renders_offline_and_try_it_out_uses_the_token(chromium: Browser, stack: Stack) -> None:
    (alice,) = await stack.new_users(1, "docs")
    user = await stack.login(alice)
    bridge = stack.bridge.url
    context, refused = await _offline(chromium, bridge)
    try:
        page = await context.new_page()
        await page.goto(bridge + "/docs")
        await page.wait_for_selector("#operations-session-getSession", timeout=20_000)
        await page.click("button.authorize")
        container = page.locator(".auth-container").filter(has_text="sessionToken")
        await container.locator("input").fill(user.session_token)
        await container.locator("button.authorize").click()
        await page.click("button.btn-done")
        await page.click("#operations-session-getSession .opblock-summary")
        await page.click("#operations-session-getSession button.try-out__btn")
        await page.click("#operations-session-getSession button.execute")
        live = page.locator("#operations-session-getSession .live-responses-table")
        status = live.locator("td.response-col_status:not(.col_header)")
        await status.wait_for(timeout=15_000)
        assert (await status.inner_text()).strip() == "200"
        body = await live.locator(".microlight").first.inner_text()
        assert alice in body
        assert refused == []
    finally:
        await context.close()


async def test_redoc_renders_offline(chromium: Browser, stack: Stack) -> None:
    context, refused = await _offline(chromium, stack.bridge.url)
    try:
        page = await context.new_page()
        await page.goto(stack.bridge.url + "/redoc")
        # ReDoc renders the operation list from the spec: an operation's heading appears.
        await page.wait_for_selector("text=Log in with an OpenIM user token", timeout=30_000)
        # Only ReDoc's own "powered by" logo is fetched from outside; the page works without it.
        assert all(url.startswith("https://cdn.redoc.ly/") for url in refused), refused
    finally:
        await context.close()
