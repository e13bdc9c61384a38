"""A socket that does not read: bounded queue, producers wait, the reader lags on its cursor,
and once the log's retention has dropped events it never got, it is told and closed."""

from __future__ import annotations

import base64
import json
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

from bridge.eventlog import MemoryEventLog
from bridge.oimws.pump import BACKLOG_CLOSE_CODE
from tests.oimws.client import OimwsClient, ws_url
from tests.support.clock import wait_until
from tests.support.stack import run_stack

# Random, so permessage-deflate cannot shrink it: 64 KiB of text per event.
BLOB = base64.b64encode(os.urandom(48 * 1024)).decode()


def _small_socket(url: str) -> socket.socket:
    """A client socket with a fixed 64 KiB receive buffer (no autotuning up to tens of MB)."""
    parts = urlsplit(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.connect((parts.hostname or "127.0.0.1", parts.port or 80))
    sock.setblocking(False)
    return sock


async def test_slow_reader_is_bounded_then_told_to_resync(tmp_path: Path) -> None:
    # Retention by count here (200 events of 64 KiB): the byte bound is set above them.
    async with run_stack(tmp_path, oimws_send_queue=4, event_max=200, event_max_bytes=64 << 20) as st:
        (a_id,) = await st.new_users(1)
        rest_a = await st.login(a_id)
        url = ws_url(st.bridge.url)
        # max_queue=1: the client stops taking frames off the socket, so TCP fills up.
        c = await OimwsClient.open(
            url, a_id, reading=False, max_queue=1, max_size=None, compression=None, sock=_small_socket(url)
        )
        await c.send("Login", a_id, await st.token(a_id))
        while json.loads(await c.ws.recv())["event"] != "Login":
            pass

        log = st.bridge.app.state.services.events
        assert isinstance(log, MemoryEventLog)
        stats = st.bridge.app.state.oimws.stats
        waits, resets = stats.queue_full_waits, stats.backlog_resets
        payload = json.dumps({"listener": "OnUserListener", "callback": "OnSelfInfoUpdated", "data": {"ex": BLOB}})
        for _ in range(150):  # ~10 MB: more than the socket buffers hold
            await log.append(rest_a.session_id, "OnSelfInfoUpdated", payload)
        # The pump waits on the full queue instead of buffering more.
        await wait_until(lambda: stats.queue_full_waits > waits, what="the send queue to fill")
        assert stats.backlog_resets == resets and log.dropped == 0  # only lagging
        # More than the log keeps: events this reader never got are gone.
        for _ in range(250):
            await log.append(rest_a.session_id, "OnSelfInfoUpdated", payload)
        assert log.dropped > 0

        c.start_reading()
        failed = await c.wait_event("OnConnectFailed", timeout=30)
        assert failed.err_code == 10000 and "re-sync" in failed.err_msg
        assert (await c.wait_closed())[0] == BACKLOG_CLOSE_CODE
        assert stats.backlog_resets == resets + 1
        assert len(c.named("OnSelfInfoUpdated")) < 400
        # The session itself is fine: REST keeps working, and the client can log in again.
        assert await rest_a.call("/v1/auth/get_login_user_id") == a_id
        again = await OimwsClient.open(url, a_id)
        try:
            assert (await again.login(await st.token(a_id))).err_code == 0
        finally:
            await again.close()
