"""examples/webhook_bot.py answers a friend request and a text through webhooks alone (issue 16)."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from tests.support.stack import Stack, run_stack

BOT = Path(__file__).resolve().parents[2] / "examples" / "webhook_bot.py"


@pytest_asyncio.fixture
async def hook_stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with run_stack(tmp_path, webhook_allow_private=True, webhook_scan_interval=0.05) as stack:
        yield stack


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_the_bot_accepts_and_echoes(hook_stack: Stack) -> None:
    stack = hook_stack
    bot_id, human = await stack.new_users(2, "bot")
    port = _free_port()
    env = {
        **os.environ,
        "BRIDGE": stack.bridge.url,
        "BOT_USER": bot_id,
        "BOT_TOKEN": await stack.token(bot_id),
        "WEBHOOK_SECRET": "bot-secret-0123456789",
        "PUBLIC_URL": f"http://127.0.0.1:{port}/hook",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(BOT), env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        assert proc.stdout is not None
        ready = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert b"listening on" in ready, ready
        me = await stack.login(human)
        stream = await me.stream()
        try:
            await me.call("/v1/friend/add_friend", {"toUserID": bot_id, "reqMsg": "hello bot"})
            await stream.wait_for("OnFriendAdded", timeout=20)
            msg = await me.call("/v1/message/create_text_message", {"text": "ping"})
            await me.call("/v1/message/send_message", {"message": msg, "recvID": bot_id})
            (echo,) = await stream.wait_for(
                "OnRecvNewMessage", lambda d: (d["data"].get("textElem") or {}).get("content") == "echo: ping", 20
            )
            assert echo.json["data"]["sendID"] == bot_id
        finally:
            await stream.close()
    finally:
        proc.terminate()
        await proc.wait()
