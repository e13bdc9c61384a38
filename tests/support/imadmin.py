"""Talk to an imserver (or any OpenIM server) HTTP API from tests.

Every call sends a fresh `operationID`; `call` returns the envelope's `data`
(`{}` when absent) and turns any non-zero errCode into an AssertionError that
names the code, so a test reads `await call(...)` and fails loudly.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx

__all__ = ["ADMIN_SECRET", "ADMIN_USER_ID", "admin_token", "call", "envelope", "register_users", "user_token"]

ADMIN_USER_ID = "imAdmin"
# The secret every test imserver is configured with. imserver's default is a random one
# kept in its data dir (issue 10); OpenIM's published "openIM123" is refused unless set.
ADMIN_SECRET = "imserver-test-admin-secret-0123456789"


def _operation_id() -> str:
    return uuid.uuid4().hex


async def envelope(
    client: httpx.AsyncClient,
    api_url: str,
    route: str,
    body: Any,
    token: str | None,
    operation_id: str | None = None,
) -> dict[str, Any]:
    """The whole OpenIM envelope `{errCode, errMsg, errDlt, data?}` of one POST."""
    headers = {"operationID": operation_id or _operation_id()}
    if token is not None:
        headers["token"] = token
    response = await client.post(f"{api_url}{route}", json=body, headers=headers)
    assert response.status_code == 200, f"{route}: HTTP {response.status_code} {response.text}"
    result: dict[str, Any] = response.json()
    return result


async def call(
    client: httpx.AsyncClient,
    api_url: str,
    route: str,
    body: Any,
    token: str | None,
    operation_id: str | None = None,
) -> Any:
    result = await envelope(client, api_url, route, body, token, operation_id)
    if result["errCode"] != 0:
        raise AssertionError(f"{route}: errCode {result['errCode']} {result['errMsg']} ({result['errDlt']})")
    return result.get("data", {})


async def admin_token(
    client: httpx.AsyncClient, api_url: str, *, user_id: str = ADMIN_USER_ID, secret: str = ADMIN_SECRET
) -> str:
    data = await call(client, api_url, "/auth/get_admin_token", {"secret": secret, "userID": user_id}, None)
    token: str = data["token"]
    return token


async def register_users(
    client: httpx.AsyncClient, api_url: str, *user_ids: str, nickname_prefix: str = "", secret: str = ADMIN_SECRET
) -> None:
    users = [{"userID": u, "nickname": f"{nickname_prefix}{u}", "faceURL": ""} for u in user_ids]
    admin = await admin_token(client, api_url, secret=secret)
    await call(client, api_url, "/user/user_register", {"users": users}, admin)


async def user_token(
    client: httpx.AsyncClient, api_url: str, user_id: str, platform_id: int = 5, *, secret: str = ADMIN_SECRET
) -> str:
    data = await call(
        client,
        api_url,
        "/auth/get_user_token",
        {"userID": user_id, "platformID": platform_id},
        await admin_token(client, api_url, secret=secret),
    )
    token: str = data["token"]
    return token
