"""/auth/* and every token error code (openim-v3.md 1.3), against a running imserver."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.imserver.conftest import ImServer, RecServer
from tests.imserver.tokens_util import claims_of, craft
from tests.support.imadmin import ADMIN_SECRET, envelope


async def _code(im: ImServer, token: str | None, route: str = "/user/get_users_info", body: Any = None) -> int:
    result = await envelope(im.http, im.api_url, route, {"userIDs": []} if body is None else body, token)
    code: int = result["errCode"]
    return code


async def test_admin_token_rules(im: ImServer) -> None:
    data = await im.call("/auth/get_admin_token", {"secret": ADMIN_SECRET, "userID": "imAdmin"}, None)
    assert data["expireTimeSeconds"] == im.settings.token_expire_seconds
    claims = claims_of(data["token"])
    assert set(claims) == {"UserID", "PlatformID", "exp", "iat"}
    assert claims["UserID"] == "imAdmin" and claims["PlatformID"] == 10
    assert claims["exp"] - claims["iat"] == im.settings.token_expire_seconds + 5
    assert abs(claims["iat"] + 5 - im.clock()) < 5

    r = await envelope(im.http, im.api_url, "/auth/get_admin_token", {"secret": "nope", "userID": "imAdmin"}, None)
    assert (r["errCode"], r["errMsg"]) == (1002, "NoPermissionError")
    # OpenIM's published default is just a wrong secret here
    r = await envelope(im.http, im.api_url, "/auth/get_admin_token", {"secret": "openIM123", "userID": "imAdmin"}, None)
    assert (r["errCode"], r["errMsg"]) == (1002, "NoPermissionError")
    r = await envelope(im.http, im.api_url, "/auth/get_admin_token", {"secret": ADMIN_SECRET, "userID": "bob"}, None)
    assert r["errCode"] == 1001
    r = await envelope(im.http, im.api_url, "/auth/get_admin_token", {"secret": ADMIN_SECRET}, None)
    assert r["errCode"] == 1001


async def test_user_token_rules(im: ImServer) -> None:
    [u, v] = await im.users(2)
    data = await im.call("/auth/get_user_token", {"userID": u, "platformID": 5}, im.admin)
    assert data["expireTimeSeconds"] == im.settings.token_expire_seconds
    assert {k: claims_of(data["token"])[k] for k in ("UserID", "PlatformID")} == {"UserID": u, "PlatformID": 5}
    user = data["token"]

    async def code(body: dict[str, Any], token: str) -> int:
        return await _code(im, token, "/auth/get_user_token", body)

    assert await code({"userID": v, "platformID": 5}, user) == 1002  # not an admin
    assert await code({"userID": v, "platformID": 10}, im.admin) == 1002  # admin platform
    assert await code({"userID": "imAdmin", "platformID": 5}, im.admin) == 1002  # admin user
    assert await code({"userID": "ghost-" + u, "platformID": 5}, im.admin) == 1101


async def test_parse_token(im: ImServer) -> None:
    [u] = await im.users(1)
    token = await im.token(u, 2)
    data = await im.call("/auth/parse_token", {"token": token}, None)
    assert data == {"userID": u, "platformID": 2, "expireTimeSeconds": claims_of(token)["exp"]}
    r = await envelope(im.http, im.api_url, "/auth/parse_token", {"token": "garbage"}, None)
    assert r["errCode"] == 1503


async def test_token_error_codes(im: ImServer) -> None:
    [u] = await im.users(1)
    token = await im.token(u)
    secret = im.settings.secret
    now = int(im.clock())
    assert await _code(im, token) == 0
    assert await _code(im, "not.a.jwt") == 1503
    assert await _code(im, "garbage") == 1503
    assert await _code(im, craft("other-secret", UserID=u, PlatformID=5, exp=now + 60)) == 1505
    assert await _code(im, craft(secret, UserID=u, PlatformID=5, exp=now + 60, nbf=now + 3600)) == 1504
    assert await _code(im, craft(secret, UserID=u, PlatformID=5, exp=now + 60, iat=now + 3600)) == 1505
    assert await _code(im, craft(secret, UserID=u, PlatformID="5", exp=now + 60)) == 1503
    # correctly signed and valid, but never issued by this server
    assert await _code(im, craft(secret, UserID=u, PlatformID=5, exp=now + 60, iat=now - 7)) == 1507
    # admins are not looked up in the token table
    assert await _code(im, craft(secret, UserID="imAdmin", PlatformID=10, exp=now + 60)) == 0


async def test_expiry_uses_the_injected_clock(im: ImServer) -> None:
    [u] = await im.users(1)
    token = await im.token(u)
    skip = im.settings.token_expire_seconds + 1
    im.clock.advance(skip)
    try:
        assert await _code(im, token) == 1501
        r = await envelope(im.http, im.api_url, "/auth/parse_token", {"token": token}, None)
        assert (r["errCode"], r["errMsg"]) == (1501, "TokenExpiredError")
    finally:
        im.clock.advance(-skip)
    assert await _code(im, token) == 0
    assert time.time() < claims_of(token)["exp"]


async def test_force_logout_kicks_tokens_of_that_platform(im: ImServer) -> None:
    [u] = await im.users(1)
    web, android = await im.token(u, 5), await im.token(u, 2)
    assert await _code(im, web) == 0  # checked once: remembered by the token cache
    await im.call("/auth/force_logout", {"userID": u, "platformID": 5}, im.admin)
    assert await _code(im, web) == 1506
    r = await envelope(im.http, im.api_url, "/auth/parse_token", {"token": web}, None)
    assert (r["errCode"], r["errMsg"]) == (1506, "TokenKickedError")
    assert await _code(im, android) == 0
    # issuing a new token prunes the kicked one from the table (controller/auth.go CreateToken)
    im.clock.advance(1)
    try:
        fresh = await im.token(u, 5)
    finally:
        im.clock.advance(-1)
    assert await _code(im, fresh) == 0
    assert await _code(im, web) == 1507


async def test_force_logout_permissions_and_checks(im: ImServer) -> None:
    [u] = await im.users(1)
    token = await im.token(u)
    assert await _code(im, token, "/auth/force_logout", {"userID": u, "platformID": 5}) == 1002
    assert await _code(im, im.admin, "/auth/force_logout", {"userID": u, "platformID": 0}) == 1001
    assert await _code(im, im.admin, "/auth/force_logout", {"userID": u, "platformID": 11}) == 1001
    assert await _code(im, token) == 0


async def test_force_logout_calls_hub_kick(rec: RecServer) -> None:
    [u] = await rec.users(1)
    await rec.call("/auth/force_logout", {"userID": u, "platformID": 3}, rec.admin)
    kick = rec.hub.kicks[-1]
    assert (kick.user_id, kick.platform_id, kick.except_token) == (u, 3, None)


@pytest.mark.parametrize("platform", [1, 5, 11])
async def test_tokens_issued_in_one_second_are_distinct_and_valid(im: ImServer, platform: int) -> None:
    [u] = await im.users(1)
    tokens = [await im.token(u, platform) for _ in range(3)]
    assert len(set(tokens)) == 3
    for token in tokens:
        assert await _code(im, token) == 0
