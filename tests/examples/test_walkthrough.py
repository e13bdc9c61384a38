"""examples/walkthrough.sh (the README's two-user curl walk-through) runs end to end (issue 16)."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from tests.support.imadmin import ADMIN_SECRET
from tests.support.stack import Stack

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "walkthrough.sh"


async def test_curl_walkthrough_befriends_chats_and_reads(stack: Stack) -> None:
    missing = [tool for tool in ("bash", "curl", "jq") if shutil.which(tool) is None]
    if missing:
        msg = f"the walk-through needs {', '.join(missing)} (apt-get install {' '.join(missing)})"
        if os.environ.get("CI"):
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    env = {**os.environ, "BRIDGE": stack.bridge.url, "IMAPI": stack.api_url, "SECRET": ADMIN_SECRET}
    proc = await asyncio.create_subprocess_exec(
        "bash", str(SCRIPT), env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    text = out.decode()
    assert proc.returncode == 0, text
    assert "received: hello from curl" in text, text
    assert "read receipt for 1 message(s)" in text, text
    assert text.rstrip().endswith("walkthrough done")
