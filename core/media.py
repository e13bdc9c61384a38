"""What a media message needs to know about an uploaded object: size, type, image size.

The SDK's Create{Image,Sound,Video,File}Message read a file in its data dir
(openim-sdk-core internal/conversation_msg/create_message.go: os.Stat and
getImageInfo). A bridge client has no file on the bridge: its "path" is the
URL `upload_file` answered, an object of the upstream's storage. The object
is read from there, streamed, only as far as needed: the size comes from the
headers, an image's width, height and format from its first bytes (Pillow's
incremental parser). Only URLs of the upstream's own `/object/` route are
read, so a client cannot make the bridge fetch arbitrary addresses.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from PIL import Image

from core.errors import SdkError
from core.protocol.errcodes import ErrCode

__all__ = ["ObjectFacts", "inspect_object", "is_object_url"]

# Enough for the header of any common image format (PNG, JPEG with EXIF, GIF, WebP).
_IMAGE_HEAD = 4 * 1024 * 1024
_REDIRECTS = 3


@dataclass(frozen=True, slots=True)
class ObjectFacts:
    url: str
    size: int
    content_type: str
    width: int = 0
    height: int = 0
    image_format: str = ""  # Pillow's name, lowercased: "png", "jpeg"


def _image_header(head: bytes, url: str) -> tuple[int, int, str] | None:
    """Width, height and format from the first bytes of an image, or None (not one, or not
    enough bytes yet). Header only, as the SDK's getImageInfo reads it with Go's
    image.DecodeConfig (openim-sdk-core internal/conversation_msg/create_message.go): Pillow's
    ImageFile.Parser also set up a decoder, which allocates the whole raster, so a BMP or PPM
    header of a few bytes claiming 9000x9000 pixels made the bridge reserve 324 MB."""
    try:
        with warnings.catch_warnings():
            # Never decoded here: no DecompressionBombWarning; past twice the limit it is an error.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(head)) as img:
                return img.width, img.height, (img.format or "").lower()
    except Image.DecompressionBombError as exc:
        raise SdkError(ErrCode.SdkArgsError, detail=f"object {url}: {exc}") from exc
    except Exception:  # truncated, or not an image: Pillow raises many kinds
        return None


def is_object_url(url: str, api_base: str) -> bool:
    """Is `url` an object of this upstream (`<api>/object/<name>`)?"""
    base, target = urlsplit(api_base), urlsplit(url)
    return (target.scheme, target.netloc) == (base.scheme, base.netloc) and target.path.startswith(
        base.path.rstrip("/") + "/object/"
    )


async def inspect_object(http: httpx.AsyncClient, url: str, api_base: str, *, image: bool) -> ObjectFacts:
    """Size and type of the object at `url` (and, for `image`, its width, height and format)."""
    if not is_object_url(url, api_base):
        raise SdkError(
            ErrCode.SdkArgsError,
            detail="path must be the url answered by POST /v1/third/upload_file (an object of the upstream); "
            "for media stored elsewhere use the ...ByURL function",
        )
    try:
        # identity: the size is the stored size, not that of a compressed answer
        headers = {"Accept-Encoding": "identity"}
        async with http.stream("GET", url, headers=headers, follow_redirects=True, timeout=30.0) as resp:
            if resp.status_code != 200:
                raise SdkError(ErrCode.RecordNotFoundError, detail=f"object {url}: HTTP {resp.status_code}")
            size = int(resp.headers.get("content-length") or 0)
            ctype = resp.headers.get("content-type", "").split(";")[0].strip()
            if not image:
                return ObjectFacts(url, size, ctype)
            head = bytearray()
            facts = None
            attempt = 1024
            async for chunk in resp.aiter_bytes():
                head += chunk
                if len(head) >= attempt or len(head) >= _IMAGE_HEAD:
                    attempt = 2 * len(head)  # parse again once it doubled: a few tries, not one per chunk
                    if (facts := _image_header(bytes(head), url)) is not None or len(head) >= _IMAGE_HEAD:
                        break
            else:
                facts = _image_header(bytes(head), url)  # the whole object: a small image
            if facts is None:
                raise SdkError(ErrCode.SdkArgsError, detail=f"object {url} is not an image Pillow can read")
            width, height, fmt = facts
            return ObjectFacts(url, size, ctype, width, height, fmt)
    except httpx.HTTPError as exc:
        raise SdkError(ErrCode.NetworkError, detail=f"object {url}: {type(exc).__name__}") from exc
