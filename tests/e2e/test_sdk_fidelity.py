"""Behaviour the official SDK core has against a real v3.8 server, over REST + SSE (issue 13)."""

from __future__ import annotations

from tests.support.stack import Stack


async def test_logout_over_the_gateway_names_the_device(stack: Stack) -> None:
    """2003 carries DelUserPushTokenReq{userID, platformID} (open_im_sdk/userRelated.go), so
    the push service drops this device's token; empty data would drop nobody's."""
    (a_id,) = await stack.new_users(1)
    a = await stack.login(a_id, platform_id=2)
    before = stack.imserver.hub.stats.push_tokens_dropped
    await a.call("/v1/logout")
    assert stack.imserver.hub.stats.push_tokens_dropped == before + 1
