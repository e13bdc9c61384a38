"""The bridge's own calls to the upstream OpenIM API: proving a login's token, and readiness.

A login must never touch a live session before its token is proven (issue 10):
`/auth/parse_token` checks the token the way the gateway handshake does
(signature, expiry, the server's token map: kicked and unknown tokens are
refused) and says whose it is. It needs no admin token (open-im-server
internal/api/router.go whitelists it) and, unlike a trial gateway
connection, it registers no connection, so it kicks no device of the user
(multi-login policy, openim-v3.md 2.8).
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from core.errors import SdkError
from core.protocol.errcodes import ErrCode
from core.transport.api import ApiClient
from core.transport.http1_pool import Http1Pool

__all__ = ["TokenOwner", "Upstream"]


@dataclass(frozen=True, slots=True)
class TokenOwner:
    user_id: str
    platform_id: int


class Upstream:
    def __init__(self, http: httpx.AsyncClient, api_addr: str, api_pool: Http1Pool | None = None) -> None:
        self._http = http
        self._api_addr = api_addr.rstrip("/")
        self._api = ApiClient(http, api_addr, pool=api_pool)

    async def token_owner(self, token: str, operation_id: str) -> TokenOwner:
        """Whose token this is; SdkError with the server's token errCode (1501-1507) if it is no good."""
        data = await self._api.post("/auth/parse_token", {"token": token}, operation_id)
        if not isinstance(data, dict):
            raise SdkError(ErrCode.NetworkError, detail="/auth/parse_token: answer has no data")
        user_id, platform_id = data.get("userID"), data.get("platformID")
        if not isinstance(user_id, str) or not isinstance(platform_id, int) or isinstance(platform_id, bool):
            raise SdkError(ErrCode.NetworkError, detail="/auth/parse_token: answer has no userID/platformID")
        return TokenOwner(user_id, platform_id)

    async def ready(self) -> bool:
        """The upstream API answers (any OpenIM envelope, even an error, counts)."""
        try:
            resp = await self._http.post(
                self._api_addr + "/auth/parse_token",
                json={"token": ""},
                headers={"operationID": "readyz"},
                timeout=2.0,
            )
        except httpx.HTTPError:
            return False
        return resp.status_code == 200
