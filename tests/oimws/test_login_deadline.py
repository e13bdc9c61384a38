"""A /ws socket must log in within BRIDGE_HEADER_TIMEOUT. Until its Login it belongs to nobody,
yet it was kept for good: 2,000 such sockets from a client without any token held 79 MB of
the bridge (live, on ./run) and as many file descriptors, until accept() failed for everyone."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit

from tests.oimws.client import OimwsClient, ws_url
from tests.support.stack import run_stack
from tests.support.wait import wait_until


async def test_a_socket_that_never_logs_in_is_closed_and_a_logged_in_one_is_not(tmp_path: Path) -> None:
    async with run_stack(tmp_path, header_timeout=1.0) as stack:
        a_id, stranger_id = await stack.new_users(2)
        member = await OimwsClient.open(ws_url(stack.bridge.url), a_id)
        stranger = await OimwsClient.open(ws_url(stack.bridge.url), stranger_id)
        try:
            assert (await member.login(await stack.token(a_id))).err_code == 0
            await stranger.send_raw("not json")  # talking is not logging in
            code, reason = await stranger.wait_closed()
            assert code == 1008 and reason is not None and "Login" in reason
            assert await member.call("GetLoginUserID") == a_id  # opened at the same time, still served
        finally:
            await stranger.close()
            await member.close()


async def test_a_socket_that_never_reads_its_answers_is_closed_too(tmp_path: Path) -> None:
    """Junk frames whose answers it never reads fill its send queue: the close must not wait
    behind them."""
    async with run_stack(tmp_path, header_timeout=2.0, oimws_send_queue=4) as stack:
        (stranger_id,) = await stack.new_users(1)
        stats = stack.bridge.app.state.oimws.stats
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the answers back up at once
        sock.connect((urlsplit(stack.bridge.url).hostname or "", urlsplit(stack.bridge.url).port or 0))
        stranger = await OimwsClient.open(
            ws_url(stack.bridge.url), stranger_id, reading=False, max_queue=1, sock=sock, compression=None
        )
        try:
            for _ in range(20_000):
                await stranger.ws.send("x")
            await wait_until(lambda: stats.queue_full_waits > 0, 15, "its answers to back up")
            await wait_until(
                lambda: stats.connections_open == 0,
                30,
                "the stranger's socket to be closed (after its close handshake times out)",
            )
        finally:
            stranger.ws.transport.abort()
