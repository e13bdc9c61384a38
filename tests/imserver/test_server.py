"""run_imserver as an embedded component: start-up, signals, concurrency, shutdown."""

from __future__ import annotations

import asyncio
import hashlib
import signal
import uuid
from pathlib import Path

import httpx
import pytest

from imserver.server import run_imserver
from imserver.services.sdkws import go_json_dumps
from imserver.services.versions import id_hash
from imserver.settings import ImServerSettings
from tests.imserver.conftest import ImServer
from tests.support.imadmin import ADMIN_SECRET, admin_token, register_users


async def test_embedding_keeps_the_host_signal_handlers(tmp_path: Path) -> None:
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    settings = ImServerSettings(data_dir=tmp_path, secret=ADMIN_SECRET)
    async with run_imserver(settings, api_port=0, ws_port=0) as running:
        assert {sig: signal.getsignal(sig) for sig in before} == before
        async with httpx.AsyncClient() as client:
            assert await admin_token(client, running.api_url)
        host, _, port = running.ws_url.removeprefix("ws://").partition(":")
        _, writer = await asyncio.open_connection(host, int(port))
        writer.close()
        await writer.wait_closed()
    assert {sig: signal.getsignal(sig) for sig in before} == before
    # both listeners are closed after exit
    for url in (running.api_url.removeprefix("http://"), running.ws_url.removeprefix("ws://")):
        host, _, port = url.partition(":")
        with pytest.raises(OSError):
            await asyncio.open_connection(host, int(port))


async def test_concurrent_writers_do_not_lock_sqlite(im: ImServer) -> None:
    users = [f"c{uuid.uuid4().hex[:12]}" for _ in range(40)]
    await asyncio.gather(*(register_users(im.http, im.api_url, u) for u in users))
    tokens = await asyncio.gather(*(im.token(u) for u in users))
    hub = users[0]
    await asyncio.gather(
        *(
            im.call("/friend/add_friend", {"fromUserID": u, "toUserID": hub, "reqMsg": "x"}, t)
            for u, t in zip(users[1:], tokens[1:], strict=True)
        )
    )
    received = await im.call(
        "/friend/get_friend_apply_list", {"userID": hub, "pagination": {"pageNumber": 1, "showNumber": 100}}, tokens[0]
    )
    assert received["total"] == len(users) - 1


def test_id_hash_is_openims() -> None:
    # hashutil.IdHash: md5 over Go's json.Marshal of the list, first 8 bytes big-endian.
    ids = ["b", "a<&>", "中"]
    assert go_json_dumps(ids) == '["b","a\\u003c\\u0026\\u003e","中"]'
    digest = hashlib.md5('["b","a\\u003c\\u0026\\u003e","中"]'.encode()).digest()
    assert id_hash(ids) == int.from_bytes(digest[:8], "big")
    assert id_hash([]) == 0
