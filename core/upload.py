"""Upload a file to OpenIM's object storage the way the SDK does.

openim-sdk-core internal/third/file/upload.go, for a file already on disk:

1. part size from `/object/part_limit` (the smallest size that fits the
   file in `maxNumSize` parts, at least `minPartSize`);
2. the md5 of every part, and the upload's hash = md5 of the part md5s
   joined by ","; a file the server already holds answers at once;
3. `/object/initiate_multipart_upload` (up to 20 part URLs signed ahead),
   more signatures from `/object/auth_sign` as needed;
4. each part PUT to its signed URL, streamed from the file;
5. `/object/complete_multipart_upload` with the part md5s -> the URL.

The file is read in bounded chunks (in a worker thread), never whole.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx

from core.errors import SdkError
from core.protocol.errcodes import ErrCode
from core.transport.api import ApiClient
from core.untrusted import integer, text

__all__ = ["Progress", "UploadRequest", "Uploader"]

_CHUNK = 256 * 1024
_SIGN_AHEAD = 20  # upload.go maxParts: signatures fetched in one go
# (bytes sent, total): called after each chunk reaches the storage.
Progress = Callable[[int, int], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class UploadRequest:
    """upload.go UploadFileReq, with the content in `file` (seekable; a spooled copy)."""

    file: IO[bytes]
    size: int
    name: str
    content_type: str = ""
    cause: str = ""


def _md5s(f: IO[bytes], part_size: int) -> list[str]:
    f.seek(0)
    out: list[str] = []
    while True:
        digest = hashlib.md5()  # OpenIM's part checksum
        left = part_size
        while left > 0:
            chunk = f.read(min(_CHUNK, left))
            if not chunk:
                break
            digest.update(chunk)
            left -= len(chunk)
        if left == part_size:
            return out
        out.append(digest.hexdigest())
        if left > 0:
            return out


def _signed_url(sign: dict[str, Any], part: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """upload.go buildRequest: the part's URL (else the sign's) with both query and header sets."""
    raw = text(part, "url") or text(sign, "url")
    query: list[tuple[str, str]] = []
    headers: dict[str, str] = {}
    for source in (sign, part):
        for kv in source.get("query") or []:
            query += [(text(kv, "key"), str(v)) for v in kv.get("values") or []]
        for kv in source.get("header") or []:
            values = [str(v) for v in kv.get("values") or []]
            if values:
                headers[text(kv, "key")] = values[0]
    if query:
        scheme, netloc, path, q, frag = urlsplit(raw)
        raw = urlunsplit((scheme, netloc, path, "&".join(x for x in (q, urlencode(query)) if x), frag))
    return raw, headers


class Uploader:
    def __init__(self, api: ApiClient, user_id: str) -> None:
        self._api = api
        self._user_id = user_id
        self._limit: dict[str, Any] | None = None

    async def _part_size(self, size: int, operation_id: str) -> int:
        if self._limit is None:
            self._limit = await self._api.post("/object/part_limit", {}, operation_id) or {}
        lo, hi, num = (integer(self._limit, k) for k in ("minPartSize", "maxPartSize", "maxNumSize"))
        if size <= 0:
            raise SdkError(ErrCode.SdkArgsError, detail="the file is empty")
        if hi and num and size > hi * num:
            raise SdkError(ErrCode.SdkArgsError, detail=f"file larger than the server's {hi * num} bytes")
        if not num or size <= lo * num:
            return max(lo, 1)
        return -(-size // num)

    def object_name(self, name: str) -> str:
        """upload.go UploadFile: names live under `<userID>/`."""
        name = name.lstrip("/")
        prefix = self._user_id + "/"
        return name if name.startswith(prefix) else prefix + name

    async def upload(self, req: UploadRequest, operation_id: str, progress: Progress | None = None) -> str:
        """Upload `req.path` as object `req.name`; the object's URL."""
        size, f = req.size, req.file
        part_size = await self._part_size(size, operation_id)
        md5s = await asyncio.to_thread(_md5s, f, part_size)
        file_hash = hashlib.md5(",".join(md5s).encode()).hexdigest()  # upload.go partMD5
        name = self.object_name(req.name)
        body = {
            "hash": file_hash,
            "size": size,
            "partSize": part_size,
            "maxParts": min(_SIGN_AHEAD, len(md5s)),
            "cause": req.cause,
            "name": name,
            "contentType": req.content_type,
        }
        init = await self._api.post("/object/initiate_multipart_upload", body, operation_id) or {}
        upload = init.get("upload")
        if not isinstance(upload, dict):  # the server holds this content already
            if progress is not None:
                await progress(size, size)
            return text(init, "url")
        upload_id = text(upload, "uploadID")
        if integer(upload, "partSize") != part_size:
            raise SdkError(ErrCode.NetworkError, detail="server answered another part size")
        sign: dict[str, Any] = upload.get("sign") or {}
        sent = 0
        for number in range(1, len(md5s) + 1):
            part = next((p for p in sign.get("parts") or [] if integer(p, "partNumber") == number), None)
            if part is None:
                numbers = list(range(number, min(number + _SIGN_AHEAD, len(md5s) + 1)))
                sign = (
                    await self._api.post(
                        "/object/auth_sign", {"uploadID": upload_id, "partNumbers": numbers}, operation_id
                    )
                    or {}
                )
                part = next((p for p in sign.get("parts") or [] if integer(p, "partNumber") == number), None)
                if part is None:
                    raise SdkError(ErrCode.NetworkError, detail=f"server did not sign part {number}")
            length = min(part_size, size - (number - 1) * part_size)
            await self._put(f, (number - 1) * part_size, length, sign, part)
            sent += length
            if progress is not None:
                await progress(sent, size)
        done = {"uploadID": upload_id, "parts": md5s, "name": name, "contentType": req.content_type,
                "cause": req.cause}  # fmt: skip
        resp = await self._api.post("/object/complete_multipart_upload", done, operation_id) or {}
        return text(resp, "url")

    async def _put(self, f: IO[bytes], offset: int, length: int, sign: dict[str, Any], part: dict[str, Any]) -> None:
        url, headers = _signed_url(sign, part)

        async def chunks() -> AsyncIterator[bytes]:
            f.seek(offset)
            left = length
            while left > 0:
                chunk = await asyncio.to_thread(f.read, min(_CHUNK, left))
                if not chunk:
                    return
                left -= len(chunk)
                yield chunk

        headers["Content-Length"] = str(length)
        try:
            resp = await self._api.http.put(url, content=chunks(), headers=headers)
        except httpx.HTTPError as exc:
            raise SdkError(ErrCode.NetworkError, detail=f"part upload: {type(exc).__name__}") from exc
        if resp.status_code // 100 != 2:
            raise SdkError(ErrCode.NetworkError, detail=f"part upload: HTTP {resp.status_code} {resp.text[:200]}")
