"""OpenIM's object storage on local disk: multipart uploads, signed URLs, access URLs.

open-im-server keeps objects in MinIO / S3 behind internal/rpc/third/s3.go; the
SDK uploads in parts to URLs the server signed for it (openim-sdk-core
internal/third/file/upload.go). imserver plays both roles under its data dir:

    objects/uploads/<uploadID>/meta.json, part-<n>   parts as they arrive
    objects/blobs/<hash>                              completed content, by hash
    objects/names/<sha256(name)>.json                 name -> blob, content type

A part PUT, the content GET and their URLs are signed with an HMAC of the
server's secret and an expiry, as a presigned S3 URL is. A completed hash is
kept, so a second upload of the same content answers at once with its URL
(s3.go InitiateMultipartUpload: HashAlreadyExistsError). Disk writes go in
bounded chunks: no object is ever held in memory whole.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from core.protocol.errcodes import ErrCode
from imserver.errors import ImError

__all__ = ["ObjectInfo", "ObjectStore", "PartLimit"]

_CHUNK = 64 * 1024
# A signed URL lives this long (s3.go defaultExpire is 7 days for uploads; URLs are re-signed on use).
_SIGN_SECONDS = 3600
_UPLOAD_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class PartLimit:
    """The minio limits OpenIM answers on /object/part_limit (pkg/common/storage/.../minio)."""

    min_part_size: int = 5 * 1024 * 1024
    max_part_size: int = 5 * 1024 * 1024 * 1024
    max_num_size: int = 10_000


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    name: str
    key: str
    size: int
    content_type: str


def _md5_file(path: Path) -> str:
    digest = hashlib.md5()  # OpenIM's part checksum, not a security hash
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class ObjectStore:
    def __init__(self, root: Path, secret: str, now_ms: Callable[[], int], limit: PartLimit | None = None) -> None:
        self.root = root
        self.limit = limit or PartLimit()
        self._key = hashlib.sha256(b"imserver-object-url:" + secret.encode()).digest()
        self._now_ms = now_ms
        # Set once the API port is bound (imserver/server.py): signed URLs are absolute.
        self.public_url = ""
        for sub in ("uploads", "blobs", "names"):
            (root / sub).mkdir(parents=True, exist_ok=True)

    # -- sizes -------------------------------------------------------------

    def part_size(self, size: int) -> int:
        """s3.go PartSize / the SDK's partSize: the smallest part size fitting maxNumSize parts."""
        lim = self.limit
        if size <= 0:
            raise ImError(ErrCode.ArgsError, "size must be greater than 0")
        if size > lim.max_part_size * lim.max_num_size:
            raise ImError(ErrCode.ArgsError, f"size must be less than {lim.max_part_size * lim.max_num_size}b")
        if size <= lim.min_part_size * lim.max_num_size:
            return lim.min_part_size
        return -(-size // lim.max_num_size)

    # -- signing -----------------------------------------------------------

    def _sig(self, *parts: str) -> str:
        return hmac.new(self._key, "\n".join(parts).encode(), hashlib.sha256).hexdigest()

    def _signed(self, path: str) -> tuple[str, int]:
        expires = self._now_ms() // 1000 + _SIGN_SECONDS
        return f"{self.public_url}{path}?e={expires}&s={self._sig(path, str(expires))}", expires * 1000

    def check_signature(self, path: str, expires: str, sig: str) -> None:
        if not expires.isdigit() or int(expires) < self._now_ms() // 1000:
            raise ImError(ErrCode.NoPermissionError, "signed URL expired")
        if not hmac.compare_digest(self._sig(path, expires), sig):
            raise ImError(ErrCode.NoPermissionError, "bad URL signature")

    def sign_parts(self, upload_id: str, numbers: list[int]) -> dict[str, Any]:
        """third.AuthSignParts: one signed PUT URL per part number."""
        meta = self._upload_meta(upload_id)
        parts = []
        for n in numbers:
            if not 1 <= n <= meta["parts"]:
                raise ImError(ErrCode.ArgsError, f"partNumber {n} out of range 1..{meta['parts']}")
            url, _ = self._signed(f"/object-upload/{upload_id}/{n}")
            parts.append({"partNumber": n, "url": url})
        return {"url": "", "query": None, "header": None, "parts": parts}

    # -- uploads -------------------------------------------------------------

    def _upload_dir(self, upload_id: str) -> Path:
        if not upload_id or not all(c in "0123456789abcdef" for c in upload_id):
            raise ImError(ErrCode.RecordNotFoundError, f"upload {upload_id!r} not found")
        return self.root / "uploads" / upload_id

    def _upload_meta(self, upload_id: str) -> dict[str, Any]:
        path = self._upload_dir(upload_id) / "meta.json"
        try:
            meta: dict[str, Any] = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise ImError(ErrCode.RecordNotFoundError, f"upload {upload_id} not found") from exc
        if meta["expires"] < self._now_ms():
            raise ImError(ErrCode.RecordNotFoundError, f"upload {upload_id} expired")
        return meta

    def _blob(self, hash_: str) -> Path:
        return self.root / "blobs" / hash_

    def initiate(self, hash_: str, size: int, part_size: int, max_parts: int) -> dict[str, Any] | None:
        """Start an upload (third.UploadInfo), or None when content of this hash is stored already."""
        if len(hash_) != 32 or not all(c in "0123456789abcdef" for c in hash_):
            raise ImError(ErrCode.ArgsError, "hash must be 32 lowercase hex digits (md5 of the part md5s)")
        blob = self._blob(hash_)
        if blob.exists() and blob.stat().st_size == size:
            return None
        if part_size != self.part_size(size):
            raise ImError(ErrCode.ArgsError, f"partSize must be {self.part_size(size)} for size {size}")
        upload_id = uuid.uuid4().hex
        count = -(-size // part_size)
        directory = self._upload_dir(upload_id)
        directory.mkdir()
        expires = self._now_ms() + _UPLOAD_SECONDS * 1000
        meta = {"hash": hash_, "size": size, "partSize": part_size, "parts": count, "expires": expires}
        (directory / "meta.json").write_text(json.dumps(meta))
        numbers = list(range(1, min(max(max_parts, 1), count) + 1))
        return {"uploadID": upload_id, "partSize": part_size, "sign": self.sign_parts(upload_id, numbers),
                "expireTime": expires}  # fmt: skip

    async def put_part(self, upload_id: str, number: int, body: AsyncIterator[bytes]) -> None:
        """Store one part as it streams in; larger than the part size is refused."""
        meta = self._upload_meta(upload_id)
        if not 1 <= number <= meta["parts"]:
            raise ImError(ErrCode.ArgsError, f"partNumber {number} out of range")
        limit = meta["partSize"]
        target = self._upload_dir(upload_id) / f"part-{number}"
        partial = target.with_suffix(".tmp")
        written = 0
        try:
            with partial.open("wb") as f:
                async for chunk in body:
                    written += len(chunk)
                    if written > limit:
                        raise ImError(ErrCode.ArgsError, f"part larger than partSize {limit}")
                    f.write(chunk)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)

    async def complete(self, upload_id: str, part_md5s: list[str]) -> str:
        """Check every part against its md5 and the upload's hash; join them into the blob."""
        meta = self._upload_meta(upload_id)
        if len(part_md5s) != meta["parts"]:
            raise ImError(ErrCode.ArgsError, f"{meta['parts']} parts expected, {len(part_md5s)} given")
        combined = hashlib.md5(",".join(part_md5s).encode()).hexdigest()  # OpenIM's partMD5
        if combined != meta["hash"]:
            raise ImError(ErrCode.ArgsError, "parts do not match the upload's hash")
        directory = self._upload_dir(upload_id)
        await asyncio.to_thread(self._join, directory, meta, part_md5s)
        return str(meta["hash"])

    def _join(self, directory: Path, meta: dict[str, Any], part_md5s: list[str]) -> None:
        files = [directory / f"part-{i}" for i in range(1, meta["parts"] + 1)]
        for i, (path, want) in enumerate(zip(files, part_md5s, strict=True), 1):
            if not path.exists():
                raise ImError(ErrCode.ArgsError, f"part {i} was not uploaded")
            if _md5_file(path) != want:
                raise ImError(ErrCode.ArgsError, f"part {i} does not match its md5")
        if sum(p.stat().st_size for p in files) != meta["size"]:
            raise ImError(ErrCode.ArgsError, f"parts do not add up to size {meta['size']}")
        partial = directory / "joined"
        with partial.open("wb") as out:
            for path in files:
                with path.open("rb") as f:
                    shutil.copyfileobj(f, out, _CHUNK)
        os.replace(partial, self._blob(meta["hash"]))
        shutil.rmtree(directory, ignore_errors=True)

    # -- names -----------------------------------------------------------------

    @staticmethod
    def _digest(name: str) -> str:
        return hashlib.sha256(name.encode()).hexdigest()

    def _name_path(self, name: str) -> Path:
        return self.root / "names" / (self._digest(name) + ".json")

    def set_object(self, name: str, hash_: str, content_type: str) -> None:
        blob = self._blob(hash_)
        info = {"name": name, "key": hash_, "size": blob.stat().st_size, "contentType": content_type}
        self._name_path(name).write_text(json.dumps(info))

    def lookup(self, name: str) -> ObjectInfo:
        return self._read_name(self._name_path(name), name)

    def lookup_digest(self, digest: str) -> ObjectInfo:
        if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise ImError(ErrCode.RecordNotFoundError, "no such object")
        return self._read_name(self.root / "names" / (digest + ".json"), digest)

    @staticmethod
    def _read_name(path: Path, name: str) -> ObjectInfo:
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise ImError(ErrCode.RecordNotFoundError, f"object {name} not found") from exc
        return ObjectInfo(raw["name"], raw["key"], raw["size"], raw["contentType"])

    def object_url(self, name: str, prefix: str = "") -> str:
        """s3.go apiAddress: urlPrefix + name; imserver's own /object/ route when no prefix is given."""
        return (prefix or f"{self.public_url}/object/") + quote(name)

    def access_url(self, name: str) -> tuple[str, int]:
        """A signed URL of the content itself (/object/access_url; the redirect of GET /object/<name>)."""
        info = self.lookup(name)
        return self._signed(f"/object-data/{self._digest(info.name)}")

    def content_path(self, info: ObjectInfo) -> Path:
        path = self._blob(info.key)
        if not path.exists():
            raise ImError(ErrCode.RecordNotFoundError, "no such object")
        return path
