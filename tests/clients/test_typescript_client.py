"""A TypeScript client from openapi/openapi.json, as a user makes one (issue 16): types from
openapi-typescript, calls through openapi-fetch, compiled by tsc --strict with zero errors
and no casts, then run with node against a live stack (tests/clients/typescript/client.ts).

The npm packages are the pinned ones in tests/interop (scripts/install-interop.sh). A spec
that regresses fails the compile; the second test proves that the check bites."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.support.stack import Stack

pytestmark = pytest.mark.interop

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "openapi" / "openapi.json"
PROGRAM = Path(__file__).resolve().parent / "typescript" / "client.ts"
NODE_MODULES = ROOT / "tests" / "interop" / "node_modules"
BIN = NODE_MODULES / ".bin"
TSCONFIG = {
    "compilerOptions": {
        "strict": True,
        "target": "ES2022",
        "module": "NodeNext",
        "moduleResolution": "NodeNext",
        "outDir": "out",
        "noEmitOnError": True,
        "types": ["node"],
    },
    "files": ["client.ts"],
}


def _tools() -> str:
    """The node binary; skips (fails in CI) when the pinned npm packages are missing."""
    node = shutil.which("node")
    missing = [t for t in ("openapi-typescript", "tsc") if not (BIN / t).exists()]
    if node is None or missing:
        msg = f"node or the npm packages {missing} are missing: run scripts/install-interop.sh"
        if os.environ.get("CI"):
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    return node


async def _run(*argv: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 240)
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


def _prepare(work: Path, *, regressed: bool = False) -> None:
    spec = json.loads(SPEC.read_text())
    work.mkdir(parents=True, exist_ok=True)
    (work / "openapi.json").write_text(json.dumps(_regress(spec) if regressed else spec))
    (work / "tsconfig.json").write_text(json.dumps(TSCONFIG))
    shutil.copy(PROGRAM, work / "client.ts")
    (work / "node_modules").symlink_to(NODE_MODULES)


async def _compile(work: Path, *, regressed: bool = False) -> tuple[int, str]:
    """Generate schema.d.ts from the spec and type-check the program against it; (rc, tsc output)."""
    node = _tools()
    _prepare(work, regressed=regressed)
    rc, out = await _run(node, str(BIN / "openapi-typescript"), "openapi.json", "-o", "schema.d.ts", cwd=work)
    assert rc == 0, out
    return await _run(node, str(BIN / "tsc"), "-p", ".", cwd=work)


async def test_the_typed_client_compiles_and_runs_against_the_bridge(stack: Stack, tmp_path: Path) -> None:
    rc, out = await _compile(tmp_path)
    assert rc == 0 and out.strip() == "", f"tsc errors:\n{out}"
    a_id, b_id = await stack.new_users(2, "ts")
    env = {
        **os.environ,
        "BRIDGE_URL": stack.bridge.url,
        "USER_A": a_id,
        "USER_B": b_id,
        "TOKEN_A": await stack.token(a_id),
        "TOKEN_B": await stack.token(b_id),
    }
    rc, out = await _run(_tools(), "out/client.js", cwd=tmp_path, env=env)
    assert rc == 0, out
    got = json.loads(out.strip().splitlines()[-1])
    assert got["friendAdded"] == b_id and got["friends"] == [b_id], got
    assert got["asyncStatus"] == 202 and got["asyncOperationMatches"] is True, got
    assert got["asyncOutcome"] == "CreateTextMessage -> 0", got
    assert got["sentStatus"] == 2, got  # MsgStatus.SendSuccess
    assert got["received"].endswith(": typed hello"), got
    assert got["refused"]["status"] == 409 and got["refused"]["errCode"] > 0, got  # typed as the Problem


def _regress(spec: dict[str, Any]) -> dict[str, Any]:
    """The two regressions of issue 16: defaults made required, and a body type on every 202."""
    for item in spec["paths"].values():
        for op in item.values():
            schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            if "properties" in schema:
                schema["required"] = sorted(schema["properties"])
            if "requestBody" in op:
                op["requestBody"]["required"] = True
            accepted = op.get("responses", {}).get("202")
            if accepted is not None:
                accepted["content"] = {
                    "application/json": {
                        "schema": {"type": "object", "properties": {"operationID": {"type": "string"}}}
                    }
                }
    return spec


async def test_a_regressed_spec_fails_the_compile(tmp_path: Path) -> None:
    rc, out = await _compile(tmp_path, regressed=True)
    assert rc != 0
    assert "reqMsg" in out or "handleMsg" in out, out  # a default made required
    assert "get_friend_list" in out or "client.ts(" in out, out
    assert "Property 'data' does not exist" in out, out  # the 202 body in every success union
