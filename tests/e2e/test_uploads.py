"""Uploads and media messages over REST + SSE against imserver's object storage (issue 15).

`POST /v1/third/upload_file` (multipart) -> OpenIM's multipart object upload
(/object/initiate_multipart_upload, signed part PUTs, /object/complete_...)
-> an object URL; Create{Image,Sound,Video,File}Message build their elements
from that object, and the peer downloads what was sent.
"""

from __future__ import annotations

import io
import os
import tracemalloc
from pathlib import Path
from typing import Any

from PIL import Image

from tests.support.stack import BridgeUser, Stack, run_stack


def _png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 60)).save(buf, "PNG")
    return buf.getvalue()


async def _upload(u: BridgeUser, content: bytes | io.BufferedReader, name: str, ctype: str, op: str = "") -> Any:
    headers = {**u.auth, **({"operationID": op} if op else {})}
    return await u.stack.http.post(
        f"{u.stack.bridge.url}/v1/third/upload_file",
        headers=headers,
        data={"name": name, "cause": "test"},
        files={"file": (name, content, ctype)},
    )


async def test_image_uploaded_sent_and_downloaded_by_the_peer(stack: Stack) -> None:
    a_id, b_id = await stack.new_users(2)
    a, b = await stack.login(a_id), await stack.login(b_id)
    sa, sb = await a.stream(), await b.stream()
    png = _png(30, 20)
    try:
        r = await _upload(a, png, "pics/red.png", "image/png", op="up-1")
        assert r.status_code == 200, r.text
        url = r.json()["data"]["url"]
        assert url.startswith(stack.api_url + "/object/" + a_id + "/pics/red.png")
        progress = await sa.wait_for("OnProgress", lambda e: e.get("operationID") == "up-1")
        assert progress[-1].json["data"] == {"current": len(png), "size": len(png), "progress": 100}

        msg = await a.call("/v1/message/create_image_message", {"imagePath": url})
        src = msg["pictureElem"]["sourcePicture"]
        assert (msg["contentType"], src["width"], src["height"], src["size"], src["url"]) == (
            102,
            30,
            20,
            len(png),
            url,
        )
        assert src["type"] == "image/png"
        assert "type=image" in msg["pictureElem"]["snapshotPicture"]["url"]

        await a.call("/v1/message/send_message", {"message": msg, "recvID": b_id})
        (got,) = await sb.wait_for("OnRecvNewMessage", lambda e: e["data"]["contentType"] == 102)
        seen_url = got.json["data"]["pictureElem"]["sourcePicture"]["url"]
        download = await stack.http.get(seen_url, follow_redirects=True)
        assert download.status_code == 200 and download.content == png
        assert download.headers["content-type"] == "image/png"

        again = await _upload(a, png, "pics/copy.png", "image/png")  # same content: no parts sent again
        assert again.status_code == 200 and again.json()["data"]["url"].endswith("/pics/copy.png")
    finally:
        await sa.close()
        await sb.close()


async def test_sound_video_and_file_messages_from_uploads(stack: Stack) -> None:
    (a_id,) = await stack.new_users(1)
    a = await stack.login(a_id)
    sound = (await _upload(a, b"RIFF....WAVEfmt " * 64, "v.wav", "audio/wav")).json()["data"]["url"]
    video = (await _upload(a, os.urandom(5000), "v.mp4", "video/mp4")).json()["data"]["url"]
    snap = (await _upload(a, _png(8, 6), "v.png", "image/png")).json()["data"]["url"]
    doc = (await _upload(a, b"%PDF-1.4 hello", "a.pdf", "application/pdf")).json()["data"]["url"]

    m = await a.call("/v1/message/create_sound_message", {"soundPath": sound, "duration": 3})
    assert m["contentType"] == 103 and m["soundElem"]["dataSize"] == 1024 and m["soundElem"]["sourceUrl"] == sound
    assert m["soundElem"]["duration"] == 3 and m["soundElem"]["soundType"] == "audio/wav"
    m = await a.call(
        "/v1/message/create_video_message_from_full_path",
        {"videoFullPath": video, "videoType": "mp4", "duration": 5, "snapshotFullPath": snap},
    )
    v = m["videoElem"]
    assert (v["videoSize"], v["videoUrl"], v["snapshotWidth"], v["snapshotHeight"], v["snapshotUrl"]) == (
        5000,
        video,
        8,
        6,
        snap,
    )
    m = await a.call("/v1/message/create_file_message", {"filePath": doc, "fileName": "report.pdf"})
    assert (m["contentType"], m["fileElem"]["fileName"], m["fileElem"]["fileSize"]) == (105, "report.pdf", 14)

    m = await a.call("/v1/message/create_sound_message", {"soundPath": sound, "duration": 1})
    m["soundElem"]["sourceUrl"] = ""  # not "uploaded" yet: SendMessage fills it, SendMessageNotOss does not
    (b_id,) = await stack.new_users(1)
    sent = await a.call("/v1/message/send_message", {"message": m, "recvID": b_id})
    assert sent["soundElem"]["sourceUrl"] == sound
    m["clientMsgID"] = ""
    sent = await a.call("/v1/message/send_message_not_oss", {"message": m, "recvID": b_id})
    assert sent["soundElem"]["sourceUrl"] == ""

    r = await a.post("/v1/message/create_image_message", {"imagePath": "http://169.254.169.254/latest"})
    assert r.status_code == 400 and "upload_file" in r.json()["detail"], "no fetching of arbitrary URLs"
    r = await a.post("/v1/message/create_image_message", {"imagePath": doc})
    assert r.status_code == 400 and "not an image" in r.json()["detail"]


async def test_upload_refusals_name_the_problem(tmp_path: Path) -> None:
    async with run_stack(tmp_path, upload_max_bytes=10_000, upload_content_types=("image/",)) as stack:
        (a_id,) = await stack.new_users(1)
        a = await stack.login(a_id)
        r = await _upload(a, b"x" * 20_000, "big.png", "image/png")
        assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"
        r = await _upload(a, b"x" * 100, "a.pdf", "application/pdf")
        assert r.status_code == 415 and "application/pdf" in r.json()["detail"]
        r = await a.post("/v1/third/upload_file", {"name": "x"})
        assert r.status_code == 415 and "multipart/form-data" in r.json()["detail"]
        r = await a.stack.http.post(
            f"{stack.bridge.url}/v1/third/upload_file", headers=a.auth, data={"name": "x"}, files={"other": b"1"}
        )
        assert r.status_code == 400 and "`file`" in r.json()["detail"]
        r = await a.stack.http.post(
            f"{stack.bridge.url}/v1/third/upload_file", data={"name": "x"}, files={"file": ("a.png", b"1")}
        )
        assert r.status_code == 401


async def test_twenty_megabytes_pass_through_with_flat_memory(stack: Stack, tmp_path: Path) -> None:
    """The upload is spooled to disk and sent in streamed parts: Python's peak allocation
    while it runs (bridge and imserver share this process) stays far below the file."""
    (a_id,) = await stack.new_users(1)
    a = await stack.login(a_id)
    size = 20 * 1024 * 1024
    path = tmp_path / "big.bin"
    with path.open("wb") as f:
        for _ in range(size // (1 << 20)):
            f.write(os.urandom(1 << 20))
    tracemalloc.start()
    try:
        with path.open("rb") as content:
            r = await _upload(a, content, "big.bin", "application/octet-stream")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.status_code == 200, r.text
    print(f"20 MiB upload: peak Python allocation {peak / 2**20:.1f} MiB")
    assert peak < 8 * 1024 * 1024, f"peak allocation {peak} bytes during a {size}-byte upload"
    url = r.json()["data"]["url"]
    async with stack.http.stream("GET", url, follow_redirects=True) as resp:
        got = 0
        async for chunk in resp.aiter_bytes():
            got += len(chunk)
    assert got == size


def _ppm_header(width: int, height: int) -> bytes:
    """A PPM that claims `width` x `height` pixels in a 20-byte header, with a few bytes of pixels."""
    return f"P6\n{width} {height}\n255\n".encode() + b"\0" * 300


async def test_an_image_claiming_billions_of_pixels_is_a_400_and_a_large_one_is_read_from_its_header(
    stack: Stack,
) -> None:
    """A decompression bomb from a hostile sender: the element needs only the header's size,
    as the SDK's image.DecodeConfig reads it. Pillow's DecompressionBombError escaped as a 500;
    below its limit the incremental parser reserved the whole raster (4 bytes a pixel)."""
    (a_id,) = await stack.new_users(1)
    a = await stack.login(a_id)
    r = await _upload(a, _ppm_header(60_000, 60_000), "bomb.ppm", "image/x-portable-pixmap")
    assert r.status_code == 200, r.text
    bomb = await a.post("/v1/message/create_image_message", {"imagePath": r.json()["data"]["url"]})
    assert bomb.status_code == 400, bomb.text
    assert "3600000000 pixels" in bomb.json()["detail"]

    r = await _upload(a, _ppm_header(12_000, 12_000), "large.ppm", "image/x-portable-pixmap")
    msg = await a.call("/v1/message/create_image_message", {"imagePath": r.json()["data"]["url"]})
    src = msg["pictureElem"]["sourcePicture"]
    assert (src["width"], src["height"]) == (12_000, 12_000)
    assert (await a.call("/v1/auth/get_login_status", {})) is not None  # the session goes on
