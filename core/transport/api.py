"""OpenIM HTTP API client: POST + JSON with `operationID` / `token` headers.

One `httpx.AsyncClient` is shared by every core talking to the same upstream
(connection pooling); an `ApiClient` is a cheap per-core view of it. Given an
`Http1Pool` (the bridge's), API calls to a plain-http upstream go through it
instead: httpx was a third to a half of the bridge's CPU per login (issue 14).
Envelope and errors: openim-v3.md 1.1-1.2 (openimsdk/tools apiresp/resp.go).
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from core.errors import SdkError
from core.protocol.errcodes import ErrCode
from core.transport.http1_pool import Http1Error, Http1Pool, Http1Timeout, target
from core.untrusted import integer, text

__all__ = ["ApiClient"]


class ApiClient:
    __slots__ = ("_base", "_http", "_pool", "_target", "token")

    def __init__(
        self, http: httpx.AsyncClient, base_url: str, token: str = "", *, pool: Http1Pool | None = None
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self.token = token
        self._target = target(self._base) if pool is not None else None
        self._pool = pool if self._target is not None else None

    @property
    def http(self) -> httpx.AsyncClient:
        """The shared pool, for requests that are not API calls (signed object URLs)."""
        return self._http

    @property
    def pool(self) -> Http1Pool | None:
        """The lean pool its API calls use (None: httpx), for views of the same upstream."""
        return self._pool

    @property
    def base_url(self) -> str:
        return self._base

    async def post(self, route: str, body: dict[str, Any], operation_id: str) -> Any:
        """Call `route` and return the envelope's `data` (None when absent).

        Raises SdkError with the server's errCode, or 10000 NetworkError /
        10001 NetworkTimeoutError when the upstream cannot be reached.
        """
        headers = {"operationID": operation_id, "token": self.token}
        if self._pool is not None and self._target is not None:
            # httpx's own JSON encoding (httpx/_content.py encode_json), so the bytes are the same
            content = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
            try:
                answer = await self._pool.post(self._target, route, headers, content)
            except Http1Timeout as exc:
                raise SdkError(ErrCode.NetworkTimeoutError, detail=f"{route}: {exc!r}") from exc
            except Http1Error as exc:
                raise SdkError(ErrCode.NetworkError, detail=f"{route}: {exc!r}") from exc
            status, raw = answer.status, answer.body
        else:
            try:
                resp = await self._http.post(self._base + route, json=body, headers=headers)
            except httpx.TimeoutException as exc:
                raise SdkError(ErrCode.NetworkTimeoutError, detail=f"{route}: {exc!r}") from exc
            except httpx.HTTPError as exc:
                raise SdkError(ErrCode.NetworkError, detail=f"{route}: {exc!r}") from exc
            status, raw = resp.status_code, resp.content
        if status != 200:
            raise SdkError(ErrCode.NetworkError, detail=f"{route}: HTTP {status}")
        try:
            env = json.loads(raw)  # what httpx's Response.json() does
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SdkError(ErrCode.NetworkError, detail=f"{route}: response is not JSON") from exc
        if not isinstance(env, dict):
            raise SdkError(ErrCode.NetworkError, detail=f"{route}: response is not an envelope")
        if env.get("errCode"):  # 0, absent or null: success
            code = integer(env, "errCode") or ErrCode.NetworkError  # not a number: a broken envelope
            raise SdkError(code, text(env, "errMsg"), text(env, "errDlt"))
        return env.get("data")

    async def page_all(
        self,
        route: str,
        body: dict[str, Any],
        list_key: str,
        operation_id: str,
        show_number: int = 100,
    ) -> list[dict[str, Any]]:
        """Fetch every page of a paginated route (openim-v3.md 1.4: stop on a short page)."""
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            data = await self.post(
                route,
                {**body, "pagination": {"pageNumber": page, "showNumber": show_number}},
                operation_id,
            )
            items = (data or {}).get(list_key) or []
            out.extend(items)
            if len(items) < show_number:
                return out
            page += 1
